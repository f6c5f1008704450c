"""Decode the on-disk formats the benchmark files use into plain records.

The files are read as their authors wrote them (JSON array, JSONL, gzip-compressed JSONL);
nothing is re-encoded, so what a loader sees is exactly what the official harness sees.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def read_records(path: Path) -> list[Record]:
    """All records of a `.json` array, a `.jsonl` file or a `.jsonl.gz` file."""
    name = path.name
    if name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return _jsonl(handle.read())
    text = path.read_text(encoding="utf-8")
    if name.endswith(".jsonl"):
        return _jsonl(text)
    if name.endswith(".json"):
        records = json.loads(text)
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON array of records")
        return records
    raise ValueError(f"{path}: unknown data format")


def _jsonl(text: str) -> list[Record]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
