"""The store's typed records, run identity, and the compact encodings of token arrays."""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Mapping

from codebudget.backends.base import Generation
from codebudget.sandbox.verdict import Verdict


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a value: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def descriptive_json(value: Any) -> str:
    """JSON for descriptive records (backend, machine, extra): odd values become their str()."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def run_id_for(config: Mapping[str, Any]) -> str:
    """A run's id: the first 16 hex digits of the sha256 of its configuration's canonical JSON."""
    return hashlib.sha256(canonical_json(dict(config)).encode("ascii")).hexdigest()[:16]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class RunStatus(str, Enum):
    RUNNING = "running"  # generating (or resumed and generating)
    GENERATED = "generated"  # every planned sample generated; judging not finished
    COMPLETE = "complete"  # generated and judged
    INTERRUPTED = "interrupted"  # stopped early (Ctrl-C, error); resumable


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    label: str | None
    config: dict[str, Any]
    planned: int
    backend: dict[str, Any]
    machine: dict[str, Any]
    status: RunStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunSummary:
    """One line of `codebudget runs`: a run and how far it got."""

    run_id: str
    label: str | None
    config: dict[str, Any]
    backend: dict[str, Any]  # the engine, device and threads the run was created with
    planned: int
    generated: int  # samples stored
    judged: int  # stored samples whose program has a verdict
    status: RunStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class GeneratedProgram:
    """What `add_generation(s)` stores for one sample: the generation and the program extracted from it."""

    generation: Generation
    program: str
    program_sha256: str  # the judge's program hash (benchmark + task + program text)
    flops: float | None = None


@dataclass(frozen=True)
class StoredGeneration:
    """A stored sample, every field decoded; `generation` equals the `Generation` that was added."""

    run_id: str
    generation: Generation
    program: str
    program_sha256: str
    flops: float | None
    created_at: datetime

    @property
    def task_id(self) -> str:
        return self.generation.task_id

    @property
    def sample(self) -> int:
        return self.generation.sample


@dataclass(frozen=True)
class Unjudged:
    """A stored sample whose program has no verdict yet."""

    task_id: str
    sample: int
    program: str
    program_sha256: str


@dataclass(frozen=True)
class SampleResult:
    """A stored sample with its verdict (None while unjudged)."""

    generation: StoredGeneration
    verdict: Verdict | None

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed


# Token arrays are little-endian blobs: uint32 ids, float64 cumulative seconds. None stays NULL;
# an empty tuple is an empty blob.
_U32 = next(code for code in "IL" if array(code).itemsize == 4)
_BIG_ENDIAN = sys.byteorder == "big"


def _pack(code: str, values: tuple[Any, ...] | None) -> bytes | None:
    if values is None:
        return None
    packed = array(code, values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _unpack(code: str, blob: bytes | None) -> array[Any] | None:
    if blob is None:
        return None
    unpacked = array(code)
    if len(blob) % unpacked.itemsize:
        raise ValueError(f"token array blob of {len(blob)} bytes is not a multiple of {unpacked.itemsize}")
    unpacked.frombytes(blob)
    if _BIG_ENDIAN:
        unpacked.byteswap()
    return unpacked


def pack_token_ids(ids: tuple[int, ...] | None) -> bytes | None:
    return _pack(_U32, ids)


def unpack_token_ids(blob: bytes | None) -> tuple[int, ...] | None:
    values = _unpack(_U32, blob)
    return None if values is None else tuple(values)


def pack_token_times(times: tuple[float, ...] | None) -> bytes | None:
    return _pack("d", times)


def unpack_token_times(blob: bytes | None) -> tuple[float, ...] | None:
    values = _unpack("d", blob)
    return None if values is None else tuple(values)
