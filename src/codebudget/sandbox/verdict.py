"""The judge's output: one `Verdict` per distinct program."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"  # a test failed or the program raised
    TIMEOUT = "timeout"  # CPU limit or wall-clock backstop
    MEMORY = "memory"  # MemoryError under the address-space limit
    CRASH = "crash"  # the process died, exited, or broke the protocol
    SYNTAX = "syntax"  # the program does not compile


@dataclass(frozen=True)
class Verdict:
    status: Status
    error_type: str | None  # AssertionError, NameError, TypeError, ... (None on pass)
    detail: str  # short and human-readable
    seconds: float  # wall time spent judging
    cpu_s: float  # CPU time of the candidate's process
    program_hash: str

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS
