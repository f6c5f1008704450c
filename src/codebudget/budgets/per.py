"""The Performance-Efficiency Ratio and the views built on budget curves (formulas in README).

Pure functions over numbers: every one has hand-computed unit tests (tests/test_per.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


def cost_normalised_per(pass_rate: float, mean_cost: float | None, scale: float = 1.0) -> float | None:
    """PER = pass rate / (mean cost per problem / scale): problems solved per `scale` units spent."""
    if mean_cost is None or mean_cost <= 0:
        return None
    return pass_rate / (mean_cost / scale)


def cost_per_solved(pass_rate: float, mean_cost: float | None) -> float | None:
    """Mean cost per problem / pass rate: what one solved problem costs (None: nothing solved)."""
    if mean_cost is None or pass_rate <= 0:
        return None
    return mean_cost / pass_rate


@dataclass(frozen=True)
class EfficiencyMetrics:
    """The four measurements the composite PER combines, for one model."""

    accuracy: float  # pass rate, 0..1 (higher is better)
    throughput: float  # generated tokens per second (higher is better)
    memory: float  # peak memory in bytes (lower is better)
    latency: float  # mean seconds per problem (lower is better)


COMPOSITE_EPSILON = 0.01


def composite_per(models: Mapping[str, EfficiencyMetrics], epsilon: float = COMPOSITE_EPSILON) -> dict[str, float]:
    """Composite PER of arXiv 2603.21389: the geometric mean of accuracy, throughput, memory and
    latency, each min-max normalised over the compared models (memory and latency inverted, so
    1 is best on every factor):  PER = (Â · T̂ · M̂ · L̂)^(1/4).

    Min-max puts the worst model at 0 on each factor, which would zero its PER however good it
    is elsewhere; so each normalised factor is lifted to ε + (1 − ε)·x̂ (ε = 0.01). A factor on
    which every model is equal carries no information and is 1 for all. The values depend on
    the set of models compared: the report names that set.
    """
    if not models:
        return {}
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon}")
    names = list(models)
    factors = {
        "accuracy": _minmax([models[n].accuracy for n in names], higher_is_better=True),
        "throughput": _minmax([models[n].throughput for n in names], higher_is_better=True),
        "memory": _minmax([models[n].memory for n in names], higher_is_better=False),
        "latency": _minmax([models[n].latency for n in names], higher_is_better=False),
    }
    out = {}
    for i, name in enumerate(names):
        lifted = [epsilon + (1 - epsilon) * values[i] for values in factors.values()]
        out[name] = math.exp(math.fsum(math.log(x) for x in lifted) / len(lifted))
    return out


def _minmax(values: Sequence[float], higher_is_better: bool) -> list[float]:
    if any(not math.isfinite(v) for v in values):
        raise ValueError(f"composite PER needs finite measurements, got {list(values)}")
    low, high = min(values), max(values)
    if high == low:
        return [1.0] * len(values)
    scaled = [(v - low) / (high - low) for v in values]
    return scaled if higher_is_better else [1.0 - x for x in scaled]


@dataclass(frozen=True)
class MarginalGain:
    low: float
    high: float
    points_per_doubling: float  # pass-rate percentage points gained per doubling of the budget


def marginal_gains(curve: Sequence[tuple[float, float]]) -> list[MarginalGain]:
    """Between consecutive budgets b1 < b2 with pass rates p1, p2 (fractions):
    100·(p2 − p1) / log2(b2 / b1) percentage points per doubling."""
    ordered = sorted((b, p) for b, p in curve if b > 0)
    return [MarginalGain(b1, b2, 100.0 * (p2 - p1) / math.log2(b2 / b1))
            for (b1, p1), (b2, p2) in zip(ordered, ordered[1:]) if b2 > b1]


def quality_floor(curve: Sequence[tuple[float, float, float | None]], target: float) -> tuple[float, float | None] | None:
    """The cheapest point (threshold, mean cost) whose pass rate reaches `target` (None: never).
    Points are (threshold, pass rate, mean cost); cheapest by mean cost, else by threshold."""
    reached = [(c if c is not None else b, b, c) for b, p, c in curve if p >= target - 1e-12]
    if not reached:
        return None
    _, threshold, cost = min(reached)
    return threshold, cost


def pareto_frontier(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """The (label, cost, pass rate) points no other point beats: none is at most as costly and at
    least as good with one of the two strictly better. Sorted by cost."""
    ordered = sorted(points, key=lambda p: (p[1], -p[2]))
    frontier: list[tuple[str, float, float]] = []
    best = -math.inf
    for label, cost, rate in ordered:
        if rate > best:
            frontier.append((label, cost, rate))
            best = rate
    return frontier


@dataclass(frozen=True)
class Crossover:
    threshold: float  # the smallest budget (e.g. k) at which the small model reaches the target
    small_pass: float
    target_pass: float
    cost_ratio: float | None  # small model's cost there / the large model's cost


def crossover(small: Sequence[tuple[float, float, float | None]], target_pass: float,
              target_cost: float | None) -> Crossover | None:
    """The smallest budget at which the small model's curve (threshold, pass, cost) reaches the
    large model's pass rate `target_pass` (its pass@1, or its rate at full budget)."""
    for threshold, rate, cost in sorted(small):
        if rate >= target_pass - 1e-12:
            ratio = cost / target_cost if cost is not None and target_cost else None
            return Crossover(threshold, rate, target_pass, ratio)
    return None


@dataclass(frozen=True)
class PairedDifference:
    mean_a: float
    mean_b: float
    difference: float  # mean_b − mean_a
    ci_low: float
    ci_high: float
    p_value: float  # two-sided, from the bootstrap distribution of the difference
    tasks: int


def paired_bootstrap(a: Mapping[str, float], b: Mapping[str, float], resamples: int = 10_000,
                     seed: int = 0, confidence: float = 0.95) -> PairedDifference:
    """B − A over the tasks both runs have, resampling tasks (the same ones for both runs, which
    is what makes it paired). The p-value is twice the smaller tail of the resampled
    differences beyond zero (at least 1/resamples)."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("the two runs share no task")
    x = np.array([a[t] for t in common], dtype=np.float64)
    y = np.array([b[t] for t in common], dtype=np.float64)
    d = y - x
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(resamples, len(d)))
    means = d[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    if np.all(d == 0):
        p = 1.0
    else:
        below = float(np.mean(means <= 0))
        above = float(np.mean(means >= 0))
        p = min(1.0, max(2 * min(below, above), 1.0 / resamples))
    return PairedDifference(float(x.mean()), float(y.mean()), float(d.mean()), float(low), float(high), p, len(common))
