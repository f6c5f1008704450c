"""PER and the views on budget curves, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from codebudget.budgets.per import (EfficiencyMetrics, composite_per, cost_normalised_per, cost_per_solved,
                                    crossover, marginal_gains, paired_bootstrap, pareto_frontier, quality_floor)


def test_cost_normalised_per_and_cost_per_solved() -> None:
    # 40 % solved at 250 tokens per problem: 0.4 / (250 / 1000) = 1.6 problems per 1k tokens
    assert cost_normalised_per(0.4, 250.0, 1e3) == pytest.approx(1.6)
    assert cost_per_solved(0.4, 250.0) == pytest.approx(625.0)  # 250 / 0.4
    assert cost_normalised_per(0.4, 2e11, 1e12) == pytest.approx(2.0)  # per TFLOP
    assert cost_per_solved(0.0, 250.0) is None  # nothing solved: no finite cost per solved problem
    assert cost_normalised_per(0.4, 0.0) is None and cost_normalised_per(0.4, None) is None


def test_composite_per_matches_the_hand_computed_geometric_mean() -> None:
    models = {
        "A": EfficiencyMetrics(accuracy=0.50, throughput=10, memory=100, latency=2),
        "B": EfficiencyMetrics(accuracy=0.25, throughput=20, memory=300, latency=1),
        "C": EfficiencyMetrics(accuracy=0.75, throughput=15, memory=200, latency=4),
    }
    # min-max: accuracy A .5 B 0 C 1; throughput A 0 B 1 C .5; memory (inverted) A 1 B 0 C .5;
    # latency (inverted) A 2/3 B 1 C 0; each lifted to 0.01 + 0.99 x
    lift = lambda x: 0.01 + 0.99 * x  # noqa: E731
    expected = {
        "A": (lift(0.5) * lift(0) * lift(1) * lift(2 / 3)) ** 0.25,
        "B": (lift(0) * lift(1) * lift(0) * lift(1)) ** 0.25,
        "C": (lift(1) * lift(0.5) * lift(0.5) * lift(0)) ** 0.25,
    }
    got = composite_per(models)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12)
    assert got["A"] == pytest.approx(0.2412, abs=1e-4)
    assert all(v > 0 for v in got.values())  # the ε lift: no model is zeroed by one worst factor


def test_composite_per_ignores_a_factor_every_model_shares() -> None:
    same = composite_per({"x": EfficiencyMetrics(0.5, 10, 100, 1), "y": EfficiencyMetrics(0.5, 10, 100, 1)})
    assert same == {"x": 1.0, "y": 1.0}
    one = composite_per({"x": EfficiencyMetrics(0.5, 10, 100, 1)})
    assert one == {"x": 1.0}
    with pytest.raises(ValueError):
        composite_per({"x": EfficiencyMetrics(math.nan, 10, 100, 1), "y": EfficiencyMetrics(0.5, 10, 100, 1)})


def test_marginal_gain_is_points_per_doubling() -> None:
    gains = marginal_gains([(128, 0.30), (64, 0.10), (512, 0.50)])
    assert [(g.low, g.high) for g in gains] == [(64, 128), (128, 512)]
    assert gains[0].points_per_doubling == pytest.approx(20.0)  # +20 points over one doubling
    assert gains[1].points_per_doubling == pytest.approx(10.0)  # +20 points over two doublings


def test_quality_floor_is_the_cheapest_point_reaching_the_target() -> None:
    curve = [(64, 0.1, 60.0), (128, 0.3, 110.0), (256, 0.5, 200.0), (512, 0.5, 230.0)]
    assert quality_floor(curve, 0.25) == (128, 110.0)
    assert quality_floor(curve, 0.5) == (256, 200.0)
    assert quality_floor(curve, 0.6) is None


def test_pareto_frontier_keeps_only_undominated_points() -> None:
    pts = [("a", 1.0, 0.1), ("b", 2.0, 0.3), ("c", 3.0, 0.2), ("d", 4.0, 0.5), ("e", 2.0, 0.25), ("f", 5.0, 0.5)]
    assert pareto_frontier(pts) == [("a", 1.0, 0.1), ("b", 2.0, 0.3), ("d", 4.0, 0.5)]


def test_crossover_finds_the_first_budget_reaching_the_target() -> None:
    small = [(1, 0.2, 100.0), (2, 0.3, 200.0), (5, 0.45, 500.0), (10, 0.55, 1000.0)]
    c = crossover(small, target_pass=0.4, target_cost=250.0)
    assert c is not None and c.threshold == 5 and c.small_pass == 0.45
    assert c.cost_ratio == pytest.approx(2.0)  # 500 tokens against the large model's 250
    assert crossover(small, target_pass=0.9, target_cost=250.0) is None


def test_paired_bootstrap_p_value_matches_the_exact_resampling_probability() -> None:
    a = {"t1": 0.0, "t2": 0.0, "t3": 1.0, "t4": 1.0}
    b = {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 1.0, "extra": 0.0}
    d = paired_bootstrap(a, b, resamples=40_000)
    assert d.tasks == 4 and d.difference == pytest.approx(0.5)
    assert d.mean_a == pytest.approx(0.5) and d.mean_b == pytest.approx(1.0)
    # differences are [1, 1, 0, 0]: a resampled mean is <= 0 only if all 4 draws are 0: (1/2)^4
    assert d.p_value == pytest.approx(2 / 16, abs=0.01)
    assert 0.0 <= d.ci_low <= 0.5 <= d.ci_high <= 1.0
    same = paired_bootstrap(a, a)
    assert same.difference == 0 and same.p_value == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap({"x": 1.0}, {"y": 1.0})
