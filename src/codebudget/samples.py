"""Reading the samples files people already have.

A samples file is JSONL (optionally gzipped: detected by the magic bytes, since names lie), one
object per line, in any of these shapes:

- human-eval: ``{"task_id": ..., "completion": ...}`` (the text after the prompt)
- evalplus: ``{"task_id": ..., "solution": ...}`` (a whole program)
- ours: either of the above plus an optional integer ``sample`` (the sample's index)

Extra fields are ignored. Every mistake in the file is a `UserError` that names the file, the
1-based line and what to do, because a judge that guesses (or skips a bad line) would report a
pass rate over samples the user never meant. The file is streamed line by line, so n = 200
samples for every task of a benchmark reads in well under a second.
"""

from __future__ import annotations

import difflib
import gzip
import json
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codebudget.errors import UserError

_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_COMPRESSIONS = {  # magic bytes -> name, for formats we refuse with a precise hint
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_SHAPE_HINT = (
    'each line must be one JSON object such as {"task_id": "HumanEval/0", "completion": "..."} '
    'or {"task_id": "Mbpp/2", "solution": "..."}'
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated sample: exactly one of `completion` and `solution` is set.

    `completion` is text that follows the task's prompt; `solution` is a whole program.
    `index` is the sample's number within its task; `line` is where it was read (1-based),
    kept so that later stages can point the user back at the file.
    """

    task_id: str
    index: int
    completion: str | None
    solution: str | None
    line: int


def read_samples(path: Path, valid_task_ids: Collection[str] | None = None) -> list[Sample]:
    """Every sample in `path`, in file order, with indices assigned per task.

    Without a `sample` field, a task's samples are numbered 0, 1, 2, ... in file order. With
    one, it must be a non-negative integer and unique within its task; mixing the two styles in
    one task is refused because the implicit numbers could collide with the explicit ones.
    When `valid_task_ids` is given, a task id outside it is an error (with a close match, if
    any), since such a sample could never be judged and would otherwise vanish from the score.
    """
    path = Path(path)
    known = _as_set(valid_task_ids)
    indexer = _Indexer(path)
    samples: list[Sample] = []
    for line_number, text in _numbered_lines(path):
        if not text or text.isspace():
            continue
        record = _parse_object(path, line_number, text)
        task_id, completion, solution, explicit = _fields(path, line_number, record)
        if known is not None and task_id not in known:
            raise _unknown_task_error(path, line_number, task_id, known)
        index = indexer.assign(task_id, explicit, line_number)
        samples.append(Sample(task_id, index, completion, solution, line_number))
    if not samples:
        raise UserError(
            f"{path}: contains no samples",
            "write one JSON object per line, e.g. "
            '{"task_id": "HumanEval/0", "completion": "    return 1\\n"}',
        )
    return samples


def _as_set(task_ids: Collection[str] | None) -> Collection[str] | None:
    """A container with fast membership tests (a list of 400 ids would be scanned per line)."""
    if task_ids is None or isinstance(task_ids, (set, frozenset)):
        return task_ids
    return frozenset(task_ids)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded text) for every line; I/O and decoding errors as UserError."""
    opener = _opener(path)
    line_number = 0
    try:
        with opener(path) as stream:
            for line_number, raw in enumerate(stream, start=1):
                yield line_number, _decode(path, line_number, raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise UserError(
            f"{path}: corrupt gzip data at line {line_number + 1} ({error})",
            "the file looks truncated or damaged; re-create or re-download it",
        ) from None
    except OSError as error:
        raise UserError(
            f"{path}: cannot read the file ({error.strerror or error})",
            "check the path and its permissions",
        ) from None


def _opener(path: Path) -> Any:
    """`gzip.open` or plain `open`, chosen by the file's first bytes, not its name."""
    try:
        with open(path, "rb") as probe:
            head = probe.read(6)
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such samples file",
            "check the path (it is relative to the current directory)",
        ) from None
    except IsADirectoryError:
        raise UserError(
            f"{path}: is a directory, not a samples file", "pass the .jsonl file itself"
        ) from None
    except OSError as error:
        raise UserError(
            f"{path}: cannot open the samples file ({error.strerror or error})",
            "check the path and its permissions",
        ) from None
    if head.startswith(_GZIP_MAGIC):
        return lambda p: gzip.open(p, "rb")
    for magic, name in _OTHER_COMPRESSIONS.items():
        if head.startswith(magic):
            raise UserError(
                f"{path}: is {name}-compressed, which samples files cannot be",
                "decompress it, or recompress it with gzip (plain JSONL and .jsonl.gz are read)",
            )
    return lambda p: open(p, "rb")


def _decode(path: Path, line_number: int, raw: bytes) -> str:
    """The line as text; a UTF-8 byte-order mark on the first line is tolerated."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}:{line_number}: not valid UTF-8 (bad byte {raw[error.start]:#04x} "
            f"at byte {error.start + 1} of the line)",
            "save the file as UTF-8; JSON text must be UTF-8",
        ) from None
    if line_number == 1 and text.startswith("\ufeff"):
        text = text[1:]
    return text


def _parse_object(path: Path, line_number: int, text: str) -> dict[str, Any]:
    """The line's JSON object, or a UserError saying where the JSON goes wrong."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path}:{line_number}: malformed JSON at column {error.colno}: {error.msg}",
            f"{_SHAPE_HINT}; a JSON array or pretty-printed JSON is not JSONL",
        ) from None
    except RecursionError:
        raise UserError(f"{path}:{line_number}: JSON nested too deeply", _SHAPE_HINT) from None
    if not isinstance(record, dict):
        raise UserError(
            f"{path}:{line_number}: expected a JSON object, got {_json_type(record)}", _SHAPE_HINT
        )
    return record


def _fields(
    path: Path, line_number: int, record: dict[str, Any]
) -> tuple[str, str | None, str | None, int | None]:
    """(task_id, completion, solution, explicit index or None), each checked for type."""
    where = f"{path}:{line_number}"
    if "task_id" not in record:
        raise UserError(f'{where}: missing "task_id"', _SHAPE_HINT)
    task_id = record["task_id"]
    if not isinstance(task_id, str) or not task_id:
        raise UserError(
            f'{where}: "task_id" must be a non-empty string, got {_json_type(task_id)} {task_id!r}',
            'use the benchmark\'s ids as strings, e.g. "HumanEval/0" or "Mbpp/2"',
        )
    has_completion, has_solution = "completion" in record, "solution" in record
    if has_completion and has_solution:
        raise UserError(
            f'{where}: has both "completion" and "solution"; which one to judge is ambiguous',
            'keep "completion" for text that follows the prompt, or "solution" for a whole program',
        )
    if not has_completion and not has_solution:
        raise UserError(f'{where}: missing "completion" (or "solution")', _SHAPE_HINT)
    key = "completion" if has_completion else "solution"
    text = record[key]
    if not isinstance(text, str):
        raise UserError(
            f'{where}: "{key}" must be a string, got {_json_type(text)}',
            "write the generated code as a JSON string (an empty string is allowed)",
        )
    completion, solution = (text, None) if has_completion else (None, text)
    return task_id, completion, solution, _index(where, record)


def _index(where: str, record: dict[str, Any]) -> int | None:
    """The explicit `sample` index, or None when the line has none."""
    if "sample" not in record:
        return None
    index = record["sample"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise UserError(
            f'{where}: "sample" must be a non-negative integer, got {_json_type(index)} {index!r}',
            'number a task\'s samples 0, 1, 2, ..., or drop "sample" to number them in file order',
        )
    return index


class _Indexer:
    """Assigns sample indices per task and refuses duplicates and mixed numbering styles."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._style: dict[str, tuple[bool, int]] = {}  # task -> (explicit?, first line)
        self._next_implicit: dict[str, int] = {}
        self._explicit_lines: dict[tuple[str, int], int] = {}

    def assign(self, task_id: str, explicit: int | None, line_number: int) -> int:
        is_explicit = explicit is not None
        style = self._style.setdefault(task_id, (is_explicit, line_number))
        if style[0] != is_explicit:
            raise self._mixed_error(task_id, style, line_number)
        if explicit is None:
            index = self._next_implicit.get(task_id, 0)
            self._next_implicit[task_id] = index + 1
            return index
        first_line = self._explicit_lines.setdefault((task_id, explicit), line_number)
        if first_line != line_number:
            raise UserError(
                f"{self._path}:{line_number}: task {task_id!r} sample {explicit} appears twice "
                f"(first on line {first_line})",
                'give each of a task\'s samples its own "sample" index, or remove the duplicate',
            )
        return explicit

    def _mixed_error(self, task_id: str, style: tuple[bool, int], line_number: int) -> UserError:
        first_explicit, first_line = style
        this_line = 'no "sample" index' if first_explicit else 'a "sample" index'
        other_line = "one" if first_explicit else "none"
        return UserError(
            f"{self._path}:{line_number}: this sample of task {task_id!r} has {this_line}, "
            f"but line {first_line} of the same task has {other_line}",
            'give every line of a task a "sample" index, or none of them',
        )


def _unknown_task_error(
    path: Path, line_number: int, task_id: str, known: Collection[str]
) -> UserError:
    """An unknown-task error that suggests the id the user most likely meant."""
    by_lower = {candidate.lower(): candidate for candidate in known}
    guess = by_lower.get(task_id.lower())
    if guess is None:
        close = difflib.get_close_matches(task_id, list(known), n=1, cutoff=0.6)
        guess = close[0] if close else None
    hint = f"did you mean {guess!r}?" if guess else "check that the samples are for this benchmark"
    return UserError(f"{path}:{line_number}: unknown task id {task_id!r}", hint)


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as the user wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
