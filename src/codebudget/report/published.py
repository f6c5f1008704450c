"""Published numbers: the HumanEval Pro / MBPP Pro leaderboard, as its authors report it.

These are *published* pass@1 scores, copied from the authors' leaderboard, never measured by
us. They are here so a report can place our own measurements next to the paper's, and they
must always be labelled as the paper's numbers, never mixed into our results.

Source: Zhaojian Yu, Yilun Zhao, Arman Cohan, Xiao-Ping Zhang, "HumanEval Pro and MBPP Pro:
Evaluating Large Language Models on Self-invoking Code Generation", arXiv 2412.21199 (2024).
The table is the leaderboard data of the paper's website, `data.csv` in
github.com/answers111/evalpro.github.io at commit 470f9ea0dfba17076545c0b8efb22a16ec7c3eff
(2025-01-23; MIT license), which serves it as
https://answers111.github.io/evalpro.github.io/leaderboard.html, linked from the
benchmark's repository, github.com/CodeEval-Pro/CodeEval-Pro.
The site states that every score is pass@1 with greedy decoding, run with the CodeEval-Pro code.

The values were typed in from that file (30 models), not loaded from it at run time, so the
package ships no copy of it; tests/test_published.py compares every number with the original
file. A `None` is the leaderboard's "-": the authors report no score there.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = (
    "Published pass@1 (%), not measured by us: Yu et al., 'HumanEval Pro and MBPP Pro', "
    "arXiv 2412.21199, leaderboard data.csv (github.com/answers111/evalpro.github.io@470f9ea)"
)

CITATION = """\
@misc{yu2024humanevalpro,
  title = {{HumanEval Pro and MBPP Pro}: Evaluating Large Language Models on
           Self-invoking Code Generation},
  author = {Yu, Zhaojian and Zhao, Yilun and Cohan, Arman and Zhang, Xiao-Ping},
  year = {2024},
  eprint = {2412.21199},
  archivePrefix = {arXiv},
  url = {https://arxiv.org/abs/2412.21199},
}
"""


@dataclass(frozen=True)
class PublishedRow:
    """One model's published pass@1, in percent, exactly as printed (one decimal)."""

    model: str  # the leaderboard's spelling, not one of our model presets
    humaneval: float | None
    mbpp: float | None
    humaneval_pro: float  # "HumanEval Pro (0 shot)"
    mbpp_pro: float  # "MBPP Pro (0 shot)"


PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("O1-mini",                     97.6, 93.9, 76.2, 68.3),
    PublishedRow("GPT-4o",                      90.2, 86.8, 75.0, 70.9),
    PublishedRow("GPT-4-Turbo",                 90.2, 85.7, 72.0, 69.3),
    PublishedRow("Claude-3.5-sonnet",           92.1, 91.0, 72.6, 66.4),
    PublishedRow("Deepseek-V2.5",               90.2, 87.6, 73.8, 71.2),
    PublishedRow("Deepseek-V3",                 None, None, 73.2, 64.0),
    PublishedRow("Deepseek-R1",                 None, None, 79.2, 68.8),
    PublishedRow("DeepseekCoder-V2-Instruct",   90.2, 89.4, 77.4, 71.4),
    PublishedRow("DeepSeek-R1-Distill-Qwen-7B", None, None, 43.3, 45.8),
    PublishedRow("Qwen2.5-Coder-1.5B-base",     43.9, 69.2, 37.2, 48.4),
    PublishedRow("Qwen2.5-Coder-1.5B-instruct", 70.7, 69.2, 33.5, 42.1),
    PublishedRow("DeepseekCoder-6.7B-base",     49.4, 70.2, 35.4, 50.5),
    PublishedRow("DeepseekCoder-6.7B-instruct", 78.6, 74.9, 55.5, 57.1),
    PublishedRow("Magicoder-S-DS-6.7B",         76.8, 75.7, 54.3, 58.7),
    PublishedRow("WaveCoder-Ultra-6.7B",        78.6, 74.9, 54.9, 60.1),
    PublishedRow("Qwen2.5-Coder-7B-base",       61.6, 76.9, 54.9, 61.4),
    PublishedRow("Qwen2.5-Coder-7B-instruct",   88.4, 83.5, 65.9, 64.8),
    PublishedRow("OpenCoder-8B-base",           66.5, 79.9, 39.0, 52.4),
    PublishedRow("OpenCoder-8B-instruct",       83.5, 79.1, 59.1, 57.9),
    PublishedRow("Yi-Coder-9B-base",            53.7, 78.3, 42.7, 60.3),
    PublishedRow("Yi-Coder-9B-chat",            85.4, 81.5, 59.8, 64.8),
    PublishedRow("Codestral-22B-v0.1",          81.1, 78.2, 59.1, 63.8),
    PublishedRow("DeepseekCoder-33B-base",      56.1, 74.2, 49.4, 59.0),
    PublishedRow("DeepseekCoder-33B-instruct",  79.3, 80.4, 56.7, 64.0),
    PublishedRow("Qwen2.5-Coder-32B-base",      65.9, 83.0, 61.6, 67.7),
    PublishedRow("Qwen2.5-Coder-32B-instruct",  92.7, 90.2, 70.1, 69.8),
    PublishedRow("LLaMA3-70B-instruct",         81.7, 82.3, 60.4, 63.5),
    PublishedRow("QwQ-32B-preview",             None, None, 72.0, 67.5),
    PublishedRow("Mistral-Large-instruct-2411", None, None, 75.0, 69.3),
    PublishedRow("LLaMA-3.3-70B-instruct",      None, None, 67.1, 64.6),
)  # fmt: skip

# Our benchmark names -> the row field holding that column.
_FIELD_OF_BENCHMARK = {
    "humaneval": "humaneval",
    "mbpp": "mbpp",
    "humaneval-pro": "humaneval_pro",
    "mbpp-pro": "mbpp_pro",
}


def published_for(benchmark: str) -> dict[str, float]:
    """Model -> published pass@1 (%) on one of our benchmark names, in leaderboard order.

    Models the leaderboard has no score for ("-") are left out rather than given a number.
    """
    field = _FIELD_OF_BENCHMARK.get(benchmark)
    if field is None:
        known = ", ".join(_FIELD_OF_BENCHMARK)
        raise KeyError(f"no published numbers for benchmark {benchmark!r}; known: {known}")
    scores: dict[str, float] = {}
    for row in PUBLISHED:
        value: float | None = getattr(row, field)
        if value is not None:
            scores[row.model] = value
    return scores
