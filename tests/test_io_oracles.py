"""EvalPlus's comparison rules, reproduced exactly (evalplus/eval/__init__.py @6eb1e19)."""

from __future__ import annotations

from codebudget.benchmarks.task import IOTests
from codebudget.sandbox.codec import Digest
from codebudget.sandbox.io_oracles import outputs_match


def io(*inputs: tuple[object, ...], atol: float = 0.0, oracle: str = "exact") -> IOTests:
    return IOTests("f", tuple(inputs), base_count=len(inputs), atol=atol, oracle=oracle)  # type: ignore[arg-type]


def test_exact_match_and_mismatch() -> None:
    t = io((1,))
    assert outputs_match(t, 0, [1, 2], [1, 2], 0.0) == (True, 0.0)
    assert outputs_match(t, 0, [1, 2], [2, 1], 0.0)[0] is False
    assert outputs_match(t, 0, 1, 1.0, 0.0)[0] is True  # Python equality, as in evalplus


def test_float_outputs_get_1e6_and_it_sticks_for_later_inputs() -> None:
    t = io((1,), (2,))
    ok, atol = outputs_match(t, 0, 0.5 + 5e-7, 0.5, 0.0)
    assert ok and atol == 1e-6
    # the next input's expected output is an int list, but atol stays 1e-6 (evalplus quirk)
    ok, atol = outputs_match(t, 1, [1.0000005], [1.0], atol)
    assert ok and atol == 1e-6
    assert outputs_match(t, 0, 0.5 + 1e-5, 0.5, 0.0)[0] is False


def test_tolerance_requires_same_type_and_length() -> None:
    t = io((1,), atol=1e-3)
    assert outputs_match(t, 0, (1.0001, 2.0), [1.0, 2.0], 1e-3)[0] is False
    assert outputs_match(t, 0, [1.0001], [1.0, 2.0], 1e-3)[0] is False
    assert outputs_match(t, 0, [1.0001, 2.0], [1.0, 2.0], 1e-3)[0] is True


def test_find_zero_checks_the_polynomial_not_the_reference_root() -> None:
    t = io(([-6, 11, -6, 1],), atol=1e-6, oracle="find_zero")  # roots 1, 2, 3
    assert outputs_match(t, 0, 3.0, 1.0, 1e-6)[0] is True
    assert outputs_match(t, 0, 2.5, 1.0, 1e-6)[0] is False
    assert outputs_match(t, 0, "3", 1.0, 1e-6)[0] is False


def test_special_oracles() -> None:
    assert outputs_match(io(([1],), oracle="set_eq"), 0, [2, 1], [1, 2], 0.0)[0]
    assert outputs_match(io(("x",), oracle="not_none"), 0, object(), True, 0.0)[0]
    assert not outputs_match(io(("x",), oracle="not_none"), 0, None, True, 0.0)[0]
    assert outputs_match(io((10,), oracle="sum_div"), 0, 0, 8, 0.0)[0]
    assert outputs_match(io((123, 256), oracle="digit_distance_nums"), 0, 7, 99, 0.0)[0]
    assert outputs_match(io((3, 4), oracle="surface_area"), 0, 35, 33, 0.0)[0]  # evalplus formula
    assert not outputs_match(io((3, 4), oracle="surface_area"), 0, 34, 33, 0.0)[0]


def test_digests_compare_exactly() -> None:
    t = io((1,))
    assert outputs_match(t, 0, Digest("ab"), Digest("ab"), 0.0)[0]
    assert not outputs_match(t, 0, Digest("ab"), Digest("cd"), 0.0)[0]
    assert not outputs_match(t, 0, [1], Digest("ab"), 0.0)[0]
