"""The pinned data files every benchmark is built from.

Each file is named by its place in the data layout (the same layout as a `--data-dir`
folder and the user cache), its official source at a pinned commit and its sha256. A file
whose bytes do not hash to `sha256` is never used: the hash, not the URL, is what makes a
result reproducible. Values come from shared/data/PROVENANCE.md.
"""

from __future__ import annotations

from dataclasses import dataclass

_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class DataFile:
    """One original data file, byte for byte as its authors published it."""

    relpath: str  # place in the data layout, e.g. "humaneval/HumanEval.jsonl.gz"
    url: str  # official download at a pinned commit
    sha256: str
    size: int  # bytes
    source: str  # repository@commit, for listings and error messages

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]


HUMANEVAL = DataFile(
    relpath="humaneval/HumanEval.jsonl.gz",
    url=f"{_RAW}/openai/human-eval/6d43fb980f9fee3c892a914eda09951f772ad10d/data/HumanEval.jsonl.gz",
    sha256="b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    size=44877,
    source="openai/human-eval@6d43fb9",
)

HUMANEVAL_PLUS = DataFile(
    relpath="humanevalplus/HumanEvalPlus.jsonl.gz",
    url=f"{_RAW}/evalplus/humanevalplus_release/200defce9e3429d28ca215b6dd061c0f7f31c18b/HumanEvalPlus.jsonl.gz",
    sha256="272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
    size=925932,
    source="evalplus/humanevalplus_release@200defc (v0.1.10)",
)

# google-research/google-research is too large to pin by clone; the files are fetched from
# master (where huggingface/datasets fetches them too) and pinned by the sha256 that
# huggingface/datasets records for them.
MBPP_SANITIZED = DataFile(
    relpath="mbpp/sanitized-mbpp.json",
    url=f"{_RAW}/google-research/google-research/master/mbpp/sanitized-mbpp.json",
    sha256="ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
    size=255053,
    source="google-research/google-research@master (sha256-pinned)",
)

MBPP_FULL = DataFile(
    relpath="mbpp/mbpp.jsonl",
    url=f"{_RAW}/google-research/google-research/master/mbpp/mbpp.jsonl",
    sha256="ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    size=563743,
    source="google-research/google-research@master (sha256-pinned)",
)

MBPP_PLUS = DataFile(
    relpath="mbppplus/MbppPlus.jsonl.gz",
    url=f"{_RAW}/evalplus/mbppplus_release/dadf43da556a00f7bacd71cb154f2932757d9144/MbppPlus.jsonl.gz",
    sha256="af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
    size=336032,
    source="evalplus/mbppplus_release@dadf43d (v0.2.0)",
)

_CODEEVAL_PRO = f"{_RAW}/CodeEval-Pro/CodeEval-Pro/36f292eafc597b38535fbc8b4aafea8e5c654e3c/dataset"

HUMANEVAL_PRO = DataFile(
    relpath="humaneval-pro/humaneval_pro.json",
    url=f"{_CODEEVAL_PRO}/humaneval_pro.json",
    sha256="d67ad94366d8182804d8cb59de558d211072493b13a6c23ddda42a2e1367dc7a",
    size=277552,
    source="CodeEval-Pro/CodeEval-Pro@36f292e",
)

MBPP_PRO = DataFile(
    relpath="mbpp-pro/mbpp_pro.json",
    url=f"{_CODEEVAL_PRO}/mbpp_pro.json",
    sha256="bb2edf4f2da393403083977e94cb4e4bbbe68fcb85495dfdf500885a945e8b3b",
    size=406121,
    source="CodeEval-Pro/CodeEval-Pro@36f292e",
)

ALL_FILES: tuple[DataFile, ...] = (
    HUMANEVAL,
    HUMANEVAL_PLUS,
    MBPP_SANITIZED,
    MBPP_FULL,
    MBPP_PLUS,
    HUMANEVAL_PRO,
    MBPP_PRO,
)
