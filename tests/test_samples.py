"""Reading samples files: the formats in the wild, index assignment, and every user mistake."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from codebudget.errors import UserError
from codebudget.samples import Sample, read_samples


def write_lines(path: Path, lines: list[str], *, compress: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_records(
    path: Path, records: Sequence[Mapping[str, object]], *, compress: bool = False
) -> Path:
    return write_lines(path, [json.dumps(record) for record in records], compress=compress)


def user_error(path: Path, line: int | None = None, **kwargs: object) -> UserError:
    """Read `path`, expecting a UserError that names the file (and the line, if given)."""
    with pytest.raises(UserError) as caught:
        read_samples(path, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert str(path) in error.message
    if line is not None:
        assert f"{path}:{line}:" in error.message
    assert error.hint
    return error


# --- formats ------------------------------------------------------------------------------


def test_human_eval_format(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl",
        [
            {"task_id": "HumanEval/0", "completion": "    return 1\n"},
            {"task_id": "HumanEval/0", "completion": "    return 2\n"},
            {"task_id": "HumanEval/1", "completion": ""},
        ],
    )
    assert read_samples(path) == [
        Sample("HumanEval/0", 0, "    return 1\n", None, 1),
        Sample("HumanEval/0", 1, "    return 2\n", None, 2),
        Sample("HumanEval/1", 0, "", None, 3),
    ]


def test_evalplus_format(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl", [{"task_id": "Mbpp/2", "solution": "def f():\n    return 1\n"}]
    )
    assert read_samples(path) == [Sample("Mbpp/2", 0, None, "def f():\n    return 1\n", 1)]


def test_our_format_with_explicit_indices_and_extra_fields(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl",
        [
            {"task_id": "T/0", "completion": "a", "sample": 3, "passed": True, "result": "ok"},
            {"task_id": "T/0", "solution": "b", "sample": 0},
            {"task_id": "T/1", "completion": "c", "sample": 0},
        ],
    )
    samples = read_samples(path)
    assert [(s.task_id, s.index, s.line) for s in samples] == [
        ("T/0", 3, 1),
        ("T/0", 0, 2),
        ("T/1", 0, 3),
    ]
    assert samples[1].solution == "b" and samples[1].completion is None


def test_samples_are_frozen(tmp_path: Path) -> None:
    sample = read_samples(
        write_records(tmp_path / "s.jsonl", [{"task_id": "T", "completion": "x"}])
    )[0]
    with pytest.raises(AttributeError):
        sample.index = 5  # type: ignore[misc]


def test_gzip_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    records = [{"task_id": "T/0", "completion": "x"}, {"task_id": "T/0", "completion": "y"}]
    misnamed = write_records(tmp_path / "plain-looking.jsonl", records, compress=True)
    named = write_records(tmp_path / "s.jsonl.gz", records, compress=True)
    plain_named_gz = write_records(tmp_path / "not-really.jsonl.gz", records)
    expected = [Sample("T/0", 0, "x", None, 1), Sample("T/0", 1, "y", None, 2)]
    assert read_samples(misnamed) == read_samples(named) == read_samples(plain_named_gz) == expected


def test_blank_lines_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"task_id": "T/0", "completion": "x"}\r\n\r\n   \n'
        b'{"task_id": "T/0", "completion": "y"}'  # no trailing newline
    )
    assert read_samples(path) == [Sample("T/0", 0, "x", None, 1), Sample("T/0", 1, "y", None, 4)]


def test_unicode_completions(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "s.jsonl", ['{"task_id": "T", "completion": "return \'héllo ✓\'"}']
    )
    assert read_samples(path)[0].completion == "return 'héllo ✓'"


def test_implicit_indices_count_per_task_in_file_order(tmp_path: Path) -> None:
    ids = ["A", "B", "A", "C", "B", "A"]
    path = write_records(tmp_path / "s.jsonl", [{"task_id": t, "completion": ""} for t in ids])
    assert [(s.task_id, s.index) for s in read_samples(path)] == [
        ("A", 0),
        ("B", 0),
        ("A", 1),
        ("C", 0),
        ("B", 1),
        ("A", 2),
    ]


def test_valid_task_ids_accepts_known(tmp_path: Path) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": ""}])
    assert len(read_samples(path, ["HumanEval/0", "HumanEval/1"])) == 1


def test_accepts_a_string_path(tmp_path: Path) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": "T", "completion": ""}])
    assert len(read_samples(str(path))) == 1  # type: ignore[arg-type]


# --- errors -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    error = user_error(tmp_path / "nope.jsonl")
    assert "no such" in error.message


def test_directory(tmp_path: Path) -> None:
    assert "directory" in user_error(tmp_path).message


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(content)
    assert "no samples" in user_error(path).message


def test_empty_gzip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(gzip.compress(b""))
    assert "no samples" in user_error(path).message


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "s.jsonl",
        ['{"task_id": "T", "completion": "x"}', '{"task_id": "T", "completion": "x",}'],
    )
    error = user_error(path, 2)
    assert "column 36" in error.message


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"task_id": "T", "completion": ""}], indent=2))
    assert "malformed JSON" in user_error(path, 1).message


@pytest.mark.parametrize(
    ("line", "kind"), [("[1, 2]", "array"), ('"x"', "string"), ("3", "number"), ("null", "null")]
)
def test_line_not_an_object(tmp_path: Path, line: str, kind: str) -> None:
    path = write_lines(tmp_path / "s.jsonl", ['{"task_id": "T", "completion": ""}', "", line])
    assert f"got {kind}" in user_error(path, 3).message


def test_missing_task_id(tmp_path: Path) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"completion": ""}])
    assert "task_id" in user_error(path, 1).message


@pytest.mark.parametrize("task_id", [11, None, "", ["T"]])
def test_task_id_wrong_type(tmp_path: Path, task_id: object) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": task_id, "completion": ""}])
    assert "task_id" in user_error(path, 1).message


def test_missing_completion_and_solution(tmp_path: Path) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": "T", "code": "x"}])
    assert "completion" in user_error(path, 1).message


def test_both_completion_and_solution(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl", [{"task_id": "T", "completion": "a", "solution": "b"}]
    )
    assert "both" in user_error(path, 1).message


@pytest.mark.parametrize(
    ("key", "value"), [("completion", None), ("completion", 3), ("solution", ["x"])]
)
def test_code_wrong_type(tmp_path: Path, key: str, value: object) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": "T", key: value}])
    assert key in user_error(path, 1).message


@pytest.mark.parametrize("index", [-1, 1.0, "0", True, None])
def test_sample_index_wrong_type_or_negative(tmp_path: Path, index: object) -> None:
    path = write_records(
        tmp_path / "s.jsonl", [{"task_id": "T", "completion": "", "sample": index}]
    )
    assert '"sample"' in user_error(path, 1).message


def test_duplicate_explicit_index(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl",
        [
            {"task_id": "T", "completion": "", "sample": 0},
            {"task_id": "U", "completion": "", "sample": 0},
            {"task_id": "T", "completion": "", "sample": 0},
        ],
    )
    assert "line 1" in user_error(path, 3).message


@pytest.mark.parametrize("explicit_first", [True, False])
def test_mixed_explicit_and_implicit_indices(tmp_path: Path, explicit_first: bool) -> None:
    explicit: dict[str, object] = {"task_id": "T", "completion": "", "sample": 1}
    implicit: dict[str, object] = {"task_id": "T", "completion": ""}
    records = [explicit, implicit] if explicit_first else [implicit, explicit]
    path = write_records(tmp_path / "s.jsonl", records)
    assert "line 1" in user_error(path, 2).message


def test_mixing_styles_across_tasks_is_fine(tmp_path: Path) -> None:
    path = write_records(
        tmp_path / "s.jsonl",
        [{"task_id": "T", "completion": "", "sample": 5}, {"task_id": "U", "completion": ""}],
    )
    assert [s.index for s in read_samples(path)] == [5, 0]


@pytest.mark.parametrize(
    ("task_id", "suggestion"),
    [
        ("HumanEval/1000", "HumanEval/100"),
        ("humaneval/0", "HumanEval/0"),
        ("HumanEval-3", "HumanEval/3"),
    ],
)
def test_unknown_task_id_suggests_a_close_match(
    tmp_path: Path, task_id: str, suggestion: str
) -> None:
    valid = [f"HumanEval/{i}" for i in range(164)]
    path = write_records(
        tmp_path / "s.jsonl",
        [{"task_id": "HumanEval/0", "completion": ""}, {"task_id": task_id, "completion": ""}],
    )
    error = user_error(path, 2, valid_task_ids=valid)
    assert task_id in error.message
    assert repr(suggestion) in (error.hint or "")


def test_unknown_task_id_without_a_close_match(tmp_path: Path) -> None:
    path = write_records(tmp_path / "s.jsonl", [{"task_id": "Mbpp/2", "completion": ""}])
    error = user_error(path, 1, valid_task_ids={"HumanEval/0"})
    assert "did you mean" not in (error.hint or "")


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        b'{"task_id": "T", "completion": "x"}\n{"task_id": "T", "completion": "caf\xe9"}\n'
    )
    assert "UTF-8" in user_error(path, 2).message


def test_non_utf8_inside_gzip_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"task_id": "T", "completion": "x"}\n\xff\n'))
    assert "UTF-8" in user_error(path, 2).message


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(
        "".join(
            json.dumps({"task_id": f"T/{i}", "completion": "x" * 50}) + "\n" for i in range(2000)
        ).encode()
    )
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "gzip" in user_error(path).message


def test_corrupt_gzip_header(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x00garbage that is not deflate")
    assert "gzip" in user_error(path).message


def test_corrupt_gzip_body(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b'{"task_id": "T", "completion": "x"}\n' * 100))
    data[20:30] = b"\xff" * 10
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(bytes(data))
    user_error(path)


@pytest.mark.parametrize(
    "magic", [b"PK\x03\x04", b"BZh91AY", b"\xfd7zXZ\x00\x00", b"\x28\xb5\x2f\xfd"]
)
def test_other_compression_is_named(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "s.jsonl.zip"
    path.write_bytes(magic + b"\x00" * 40)
    assert "compressed" in user_error(path).message


# --- scale --------------------------------------------------------------------------------


def test_large_file(tmp_path: Path) -> None:
    records = (
        json.dumps({"task_id": f"HumanEval/{i % 164}", "completion": "    return x + 1\n" * 5})
        for i in range(50_000)
    )
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(records) + "\n").encode()))
    samples = read_samples(path, {f"HumanEval/{i}" for i in range(164)})
    assert len(samples) == 50_000
    assert samples[-1].index == (50_000 - 1) // 164
