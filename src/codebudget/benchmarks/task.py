"""The records a benchmark is made of.

A `Task` carries everything the judge needs and nothing about how it was stored on disk.
Its tests are one of two shapes, both run on the *trusted* side of the sandbox:

- `ScriptTests`: the benchmark's own test code (HumanEval's `check`, MBPP's asserts, the Pro
  benchmarks' asserts). It runs in the judge's process on top of the reference program's
  namespace; every call to a name in `under_test` is sent to the candidate's process and
  its return value comes back as plain data. The candidate never sees the tests.
- `IOTests`: EvalPlus style. Argument lists whose expected outputs come from the reference
  solution (computed once and cached); outputs are compared with EvalPlus's tolerance and
  special oracles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

Oracle = Literal[
    "exact",  # out == expected, or allclose for floats (EvalPlus default)
    "find_zero",  # HumanEval/32: |poly(coeffs, out)| <= atol
    "set_eq",  # MBPP+: set(out) == set(expected)
    "not_none",  # MBPP+: bool outputs compared, anything else means "matched"
    "always",  # MBPP+ Mbpp/164 are_equivalent: every output accepted (EvalPlus oracle)
    "sum_div",  # MBPP+ Mbpp/295: out == expected or out == 0
    "surface_area",  # MBPP+ Mbpp/581: out == expected or |out - evalplus _surface_Area(*inp)| <= atol
    "digit_distance_nums",  # MBPP+ Mbpp/558: out == expected or out == evalplus _digit_distance_nums(*inp)
]


@dataclass(frozen=True)
class ScriptTests:
    """Trusted test code; calls to `under_test` names are answered by the candidate."""

    code: str
    under_test: tuple[str, ...]
    setup: str = ""  # runs in the trusted namespace after the reference program


@dataclass(frozen=True)
class IOTests:
    """Inputs whose expected outputs are the reference solution's outputs."""

    entry_point: str
    inputs: tuple[tuple[Any, ...], ...]  # each is one argument list, already deserialized
    base_count: int  # inputs[:base_count] are the original tests, the rest EvalPlus's extra ones
    atol: float = 0.0
    oracle: Oracle = "exact"


Tests = Union[ScriptTests, IOTests]


@dataclass(frozen=True)
class Task:
    """One problem of one benchmark. `reference` is a complete program without tests."""

    benchmark: str
    task_id: str
    prompt: str  # what a completion-style model is given
    entry_point: str  # the function the tests exercise (for Pro: the new, self-invoking one)
    reference: str  # complete reference program: the benchmark's canonical solution, runnable
    tests: Tests
    completion_prefix: str = ""  # program = completion_prefix + completion
    base_entry_point: str | None = None  # Pro only: the base function the new one must call
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def program_from_completion(self, completion: str) -> str:
        """Assemble the program exactly as the benchmark's authors do from a completion."""
        return self.completion_prefix + completion
