"""The typed-in leaderboard must equal the authors' data.csv, number for number."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from codebudget.report.published import (
    CITATION,
    PUBLISHED,
    SOURCE,
    PublishedRow,
    published_for,
)

COLUMNS = ("HumanEval", "MBPP", "HumanEval Pro (0 shot)", "MBPP Pro (0 shot)")


def _leaderboard_csv() -> Path:
    data = os.environ.get("CODEBUDGET_DATA")
    if not data:
        pytest.fail("CODEBUDGET_DATA is not set: it must point at the benchmark data folder")
    path = Path(data) / "codeeval-pro-results" / "data.csv"
    if not path.is_file():
        pytest.fail(f"published leaderboard not found at {path}: the check against the "
                    "original numbers cannot run (see shared/data/PROVENANCE.md, section 1b)")
    return path


def _number(text: str) -> float | None:
    text = text.strip()  # a few rows print " 72.0"
    return None if text == "-" else float(text)


def _rows_from_csv() -> list[PublishedRow]:
    with _leaderboard_csv().open(newline="", encoding="utf-8") as file:
        records = list(csv.DictReader(file))
    rows = []
    for record in records:
        humaneval, mbpp, humaneval_pro, mbpp_pro = (_number(record[c]) for c in COLUMNS)
        assert humaneval_pro is not None and mbpp_pro is not None, record
        rows.append(PublishedRow(record["Model"], humaneval, mbpp, humaneval_pro, mbpp_pro))
    return rows


def test_table_equals_the_published_csv_exactly() -> None:
    from_csv = _rows_from_csv()
    assert len(from_csv) == 30
    assert [r.model for r in PUBLISHED] == [r.model for r in from_csv]  # same set, same order
    for ours, theirs in zip(PUBLISHED, from_csv):
        assert ours == theirs  # float equality: both sides are the same decimal literals


def test_published_for_each_benchmark() -> None:
    humaneval_pro = published_for("humaneval-pro")
    assert len(humaneval_pro) == 30
    assert humaneval_pro["O1-mini"] == 76.2
    assert published_for("mbpp-pro")["Deepseek-V2.5"] == 71.2
    humaneval = published_for("humaneval")
    assert humaneval["Qwen2.5-Coder-32B-instruct"] == 92.7
    assert "Deepseek-V3" not in humaneval  # "-" on the leaderboard: no number, not 0
    assert len(humaneval) == 24 and len(published_for("mbpp")) == 24
    assert published_for("mbpp")["GPT-4o"] == 86.8
    assert list(humaneval_pro)[:2] == ["O1-mini", "GPT-4o"]  # leaderboard order


@pytest.mark.parametrize("name", ["humaneval-plus", "HumanEval Pro", "bigcodebench-lite-pro", ""])
def test_published_for_unknown_benchmark(name: str) -> None:
    with pytest.raises(KeyError, match="no published numbers.*humaneval-pro"):
        published_for(name)


def test_source_and_citation_name_the_paper() -> None:
    assert "2412.21199" in SOURCE and "not measured by us" in SOURCE
    assert CITATION.startswith("@misc{") and "2412.21199" in CITATION
    assert "Yu, Zhaojian" in CITATION
    assert CITATION.count("{") == CITATION.count("}")
