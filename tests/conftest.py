"""Shared test setup: the real benchmark data and a per-session reference cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CODEBUDGET_DATA") or REPO.parent / "shared" / "data")
os.environ.setdefault("CODEBUDGET_DATA", str(DATA_DIR))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "humaneval" / "HumanEval.jsonl.gz").exists():
        pytest.fail(f"benchmark data not found in {DATA_DIR}: set CODEBUDGET_DATA")
    return DATA_DIR


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reference cache for the whole session, so each reference is timed once."""
    path = tmp_path_factory.mktemp("codebudget-cache")
    os.environ["CODEBUDGET_CACHE"] = str(path)
    return path
