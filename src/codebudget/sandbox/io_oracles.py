"""EvalPlus's output comparison, reproduced on the trusted side.

Follows `evalplus/eval/__init__.py::unsafe_execute` and `eval/_special_oracle.py`
(evalplus @6eb1e19): exact equality, else `np.allclose(rtol=1e-7, atol)` for float outputs
after checking type and length, with the dataset's special oracles. One quirk is kept on
purpose because it decides verdicts: once an expected output is a float (or a list of
floats) and the task's atol is 0, EvalPlus sets atol = 1e-6 for that input *and every later
input of the same program*. The comparison runs in the judge's process on values rebuilt
from plain data, so none of the candidate's code takes part in it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from codebudget.benchmarks.task import IOTests
from codebudget.sandbox.codec import Digest


def outputs_match(tests: IOTests, index: int, out: Any, expected: Any, atol: float) -> tuple[bool, float]:
    """Whether `out` is accepted for input `index`; returns the atol for the next input."""
    inp = tests.inputs[index]
    if isinstance(expected, Digest) or isinstance(out, Digest):  # too large to send: exact only
        return out == expected, atol
    try:
        if tests.oracle == "find_zero":
            return abs(_poly(*inp, out)) <= atol, atol
        exact = _equal(out, expected)
        exact = _special(tests.oracle, exact, inp, out, expected, atol)
        if atol == 0 and _is_floats(expected):
            atol = 1e-6
        if not exact and atol != 0:
            if type(out) is not type(expected):
                return False, atol
            if isinstance(expected, (list, tuple)) and len(out) != len(expected):
                return False, atol
            return bool(np.allclose(out, expected, rtol=1e-07, atol=atol)), atol
        return bool(exact), atol
    except Exception:  # the candidate's value broke the comparison: not a match
        return False, atol


def _equal(out: Any, expected: Any) -> bool:
    result = out == expected
    if isinstance(result, np.ndarray):
        raise TypeError("ambiguous array comparison")
    return bool(result)


def _special(oracle: str, exact: bool, inp: tuple[Any, ...], out: Any, exp: Any, atol: float) -> bool:
    if oracle == "always":  # Mbpp/164 are_equivalent
        return True
    if oracle == "sum_div":  # Mbpp/295
        return exact or out == 0
    if oracle == "surface_area":  # Mbpp/581
        return exact or abs(out - _surface_area(*inp)) <= atol
    if oracle == "digit_distance_nums":  # Mbpp/558
        return exact or out == _digit_distance(*inp)
    if oracle == "set_eq":
        return set(out) == set(exp)
    if oracle == "not_none":  # exp is True when the reference returned something
        return out == exp if isinstance(out, bool) else exp == (out is not None)
    return exact


def _is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _poly(xs: list[float], x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> float:
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance(num1: int, num2: int) -> int:
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))
