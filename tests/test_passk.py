"""pass@k against exact arithmetic, and the bootstrap interval's basic promises."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from codebudget.scoring import (
    STANDARD_KS,
    bootstrap_ci,
    ks_for,
    mean_pass_at_k,
    pass_at_k,
    pass_at_k_per_task,
)


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    """The textbook formula in exact rational arithmetic."""
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (200, 0, 100, 0.0),
        (200, 200, 200, 1.0),
        (10, 8, 3, 1.0),  # n - c < k: every draw of 3 contains a correct sample
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    ],
)
def test_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-15)


def test_pass_at_1_is_the_fraction_correct() -> None:
    for n in range(1, 60):
        for c in range(n + 1):
            assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-14)


def test_matches_exact_formula_up_to_n_200() -> None:
    for n in (1, 2, 3, 7, 10, 20, 50, 99, 100, 150, 200):
        for c in sorted({0, 1, 2, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
            for k in sorted({1, 2, 5, 10, 20, 50, 100, n // 2, n} & set(range(1, n + 1))):
                assert pass_at_k(n, c, k) == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-12), (
                    n,
                    c,
                    k,
                )


@pytest.mark.parametrize(("c", "k"), [(1, 500), (1, 999), (3, 1000), (10, 900), (500, 400), (2, 1)])
def test_stable_for_n_1000_with_large_k(c: int, k: int) -> None:
    value = pass_at_k(1000, c, k)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(exact_pass_at_k(1000, c, k), abs=1e-12)


def test_monotone_in_k_and_c() -> None:
    values_in_k = [pass_at_k(100, 7, k) for k in range(1, 101)]
    assert values_in_k == sorted(values_in_k)
    values_in_c = [pass_at_k(100, c, 10) for c in range(101)]
    assert values_in_c == sorted(values_in_c)


def test_accepts_numpy_integers() -> None:
    n, c, k = np.int64(10), np.int64(3), np.int64(1)
    assert pass_at_k(n, c, k) == pytest.approx(0.3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 11, 1), (10, -1, 1), (10, 3, 0), (10, 3, 11), (0, 0, 1), (5, 2, -1)]
)
def test_invalid_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_non_integer_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        pass_at_k(10.0, 3, 1)  # type: ignore[arg-type]


def test_per_task_and_mean() -> None:
    counts = {"HumanEval/0": (10, 3), "HumanEval/1": (10, 0), "HumanEval/2": (10, 10)}
    assert pass_at_k_per_task(counts, 1) == pytest.approx(
        {"HumanEval/0": 0.3, "HumanEval/1": 0.0, "HumanEval/2": 1.0}
    )
    assert mean_pass_at_k(counts, 1) == pytest.approx(1.3 / 3)
    assert mean_pass_at_k(counts, 10) == pytest.approx(2 / 3)


def test_per_task_error_names_the_task() -> None:
    with pytest.raises(ValueError, match="HumanEval/7"):
        pass_at_k_per_task({"HumanEval/0": (10, 1), "HumanEval/7": (3, 1)}, 5)


def test_mean_of_no_tasks_is_an_error() -> None:
    with pytest.raises(ValueError):
        mean_pass_at_k({}, 1)


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        ([1], [1]),
        ([7, 10], [1, 2, 5]),  # the smallest n bounds k; 7 itself is off the ladder
        ([10, 200], [1, 2, 5, 10]),
        ([200, 200], [1, 2, 5, 10, 20, 50, 100, 200]),
        ([5000], list(STANDARD_KS)),
    ],
)
def test_ks_for(ns: list[int], expected: list[int]) -> None:
    counts = {f"T/{i}": (n, 0) for i, n in enumerate(ns)}
    assert ks_for(counts) == expected


def test_ks_for_invalid() -> None:
    with pytest.raises(ValueError):
        ks_for({})
    with pytest.raises(ValueError):
        ks_for({"T/0": (0, 0)})


def test_every_reported_k_is_computable() -> None:
    counts = {"a": (13, 4), "b": (57, 0), "c": (21, 21)}
    for k in ks_for(counts):
        assert 0.0 <= mean_pass_at_k(counts, k) <= 1.0


def _bernoulli_tasks(count: int, seed: int) -> list[float]:
    return [float(v) for v in np.random.default_rng(seed).binomial(1, 0.4, size=count)]


def test_ci_contains_the_mean() -> None:
    for seed in range(5):
        values = np.random.default_rng(seed).uniform(size=164).tolist()
        low, high = bootstrap_ci(values)
        assert low < float(np.mean(values)) < high


def test_ci_narrows_with_more_tasks() -> None:
    few_low, few_high = bootstrap_ci(_bernoulli_tasks(40, 1))
    many_low, many_high = bootstrap_ci(_bernoulli_tasks(4000, 1))
    assert many_high - many_low < (few_high - few_low) / 4


def test_ci_width_matches_the_normal_approximation() -> None:
    values = np.random.default_rng(3).uniform(size=500)
    low, high = bootstrap_ci(values.tolist())
    standard_error = values.std() / np.sqrt(values.size)
    assert high - low == pytest.approx(2 * 1.959964 * standard_error, rel=0.1)


def test_ci_higher_confidence_is_wider() -> None:
    values = _bernoulli_tasks(100, 2)
    low90, high90 = bootstrap_ci(values, confidence=0.90)
    low99, high99 = bootstrap_ci(values, confidence=0.99)
    assert low99 <= low90 and high90 <= high99


def test_ci_is_deterministic_with_the_seed() -> None:
    values = _bernoulli_tasks(164, 4)
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_ci_with_many_tasks_uses_bounded_chunks() -> None:
    values = _bernoulli_tasks(20_000, 5)
    low, high = bootstrap_ci(values, resamples=2_000)
    assert low < float(np.mean(values)) < high


def test_ci_single_task_and_all_equal() -> None:
    assert bootstrap_ci([0.3]) == (0.3, 0.3)
    assert bootstrap_ci([0.3] * 50) == (0.3, 0.3)
    assert bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"per_task_values": []},
        {"per_task_values": [0.1, float("nan")]},
        {"per_task_values": [0.1, 0.2], "confidence": 1.0},
        {"per_task_values": [0.1, 0.2], "confidence": 0.0},
        {"per_task_values": [0.1, 0.2], "resamples": 0},
    ],
)
def test_ci_invalid_arguments(kwargs: dict[str, object]) -> None:
    values = kwargs.pop("per_task_values")
    with pytest.raises(ValueError):
        bootstrap_ci(values, **kwargs)  # type: ignore[arg-type]


def test_summary_has_every_reportable_k_and_an_interval() -> None:
    from codebudget.scoring import pass_at_k_summary

    summary = pass_at_k_summary({"a": (5, 2), "b": (5, 5)})
    assert summary["pass_at_k"] == {"1": pytest.approx(0.7), "2": pytest.approx((0.7 + 1.0) / 2), "5": 1.0}
    lo, hi = summary["pass_at_1_ci95"]  # type: ignore[misc]
    assert lo <= 0.7 <= hi
    assert pass_at_k_summary({}) == {"pass_at_k": {}, "pass_at_1_ci95": None}
