"""Everything a report shows, computed once from the store: curves, PER, frontiers, gaps.

The files (markdown, CSV, plots, HTML) are written from an `Analysis` by other modules and
never recompute anything, so every view of a report shows the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from codebudget.benchmarks.pro import base_task_ids
from codebudget.budgets.axes import AXES, PER_SCALES, Axis, PriceTable
from codebudget.budgets.curves import BudgetPoint, RunData, full_cost, grids_for, judge_cuts, load_runs, plan, points
from codebudget.budgets.per import (EfficiencyMetrics, MarginalGain, composite_per, cost_normalised_per,
                                    cost_per_solved, crossover, marginal_gains, pareto_frontier, quality_floor)
from codebudget.errors import UserError
from codebudget.models import get_preset, preset_names
from codebudget.sandbox.judge import Judge
from codebudget.scoring import bootstrap_ci
from codebudget.scoring.self_invoking import PassFailMatrix, SelfInvokingGap, calls_base, error_distribution
from codebudget.store import Store

QUALITY_TARGETS = (0.10, 0.25, 0.50)
PRO_OF = {"humaneval": "humaneval-pro", "mbpp-plus": "mbpp-pro", "mbpp": "mbpp-pro"}


@dataclass(frozen=True)
class Headline:
    """One model on one benchmark at its full budget."""

    series: str
    model: str
    params: int | None
    benchmark: str
    run_id: str
    tasks: int
    samples: int
    pass_at_1: float
    ci_low: float
    ci_high: float
    completion_tokens: float | None
    seconds: float | None
    tokens_per_second: float | None
    flops: float | None
    dollars: float | None
    peak_memory_bytes: float | None
    per_1k_tokens: float | None
    dollars_per_solved: float | None
    composite_per: float | None
    finish_length: int


@dataclass(frozen=True)
class PerRow:
    point: BudgetPoint
    per: float | None
    per_unit: str
    cost_per_solved: float | None
    composite_per: float | None


@dataclass(frozen=True)
class GapRow:
    series: str
    base: str
    pro: str
    base_rate: float
    pro_rate: float
    drop_points: float
    drop_relative: float | None
    matrix: PassFailMatrix
    calls_base: int  # Pro programs whose new function calls the base one
    checked: int  # Pro programs the static check could read


@dataclass
class Analysis:
    created: str
    store: str
    runs: list[RunData]
    grids: dict[str, dict[Axis, tuple[float, ...]]]
    points: list[BudgetPoint]
    per_rows: list[PerRow]
    headline: list[Headline]
    marginal: dict[tuple[str, str], list[MarginalGain]]  # (series, benchmark) on the tokens axis
    floors: dict[tuple[str, str, str, float], tuple[float, float | None] | None]  # series, bench, axis, target
    frontiers: dict[tuple[str, Axis], list[tuple[str, float, float]]]  # (benchmark, axis)
    crossovers: list[dict[str, Any]]
    gaps: list[GapRow]
    errors: dict[tuple[str, str], dict[str, int]]  # (series, benchmark) -> category counts
    prices: PriceTable
    notes: list[str] = field(default_factory=list)

    @property
    def benchmarks(self) -> list[str]:
        return sorted({r.benchmark for r in self.runs})

    def series_order(self) -> list[str]:
        """Smallest model first (by parameters where known), then by name."""
        params = {h.series: h.params for h in self.headline}
        return sorted({r.series for r in self.runs}, key=lambda s: (params.get(s) or math.inf, s))


def model_params(model: str) -> int | None:
    return get_preset(model).params if model in preset_names() else None


def analyse(store: Store, run_ids: list[str], prices: PriceTable, grid_overrides: Mapping[Axis, tuple[float, ...]],
            judge: Callable[[], Judge], progress: Callable[[int, int], None] | None = None) -> Analysis:
    loaded = load_runs(store, run_ids, prices)
    runs = [r for r in loaded if r.samples]
    if not runs:
        raise UserError("none of the runs has a generated sample yet", "run `codebudget run ...` first")
    notes = [f"{r.series} on {r.benchmark}: no samples yet, left out" for r in loaded if not r.samples]
    notes += [f"{r.series} on {r.benchmark}: token budgets unavailable: {r.no_cuts_reason}"
              for r in runs if r.detokenizer is None]
    notes += restrict_to_common_tasks(runs)
    unjudged = {s.generation.program_sha256: (r.tasks[s.generation.task_id], s.generation.program)
                for r in runs for s in r.samples if s.verdict is None}
    grids = grids_for(runs, grid_overrides)
    cuts, programs = plan(runs, grids)
    programs.update(unjudged)
    verdicts = judge_cuts(store, programs, judge, progress)
    uncut = {c.program_hash for rows in cuts.values() for c in rows} - verdicts.keys()
    verdicts.update(store.verdicts_for(uncut))  # whole samples: judged when their run ran
    for r in runs:  # the samples' own verdicts, now all known
        r.samples = [s if s.verdict is not None else type(s)(s.generation, verdicts.get(s.generation.program_sha256))
                     for s in r.samples]
    pts = points(runs, grids, cuts, verdicts)
    headline = _headline(runs)
    analysis = Analysis(
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), store=str(store.path), runs=runs,
        grids=grids, points=pts, per_rows=_per_rows(pts, runs), headline=headline,
        marginal={}, floors={}, frontiers={}, crossovers=[], gaps=_gaps(runs), errors=_errors(runs),
        prices=prices, notes=notes)
    _curve_views(analysis)
    return analysis


def restrict_to_common_tasks(runs: list[RunData]) -> list[str]:
    """Models are compared on the same problems: where runs of one benchmark cover different
    tasks (an unfinished run, a --limit), every run of it is cut to the tasks all of them have.
    Returns a note for each benchmark that was cut."""
    notes = []
    for bench in sorted({r.benchmark for r in runs}):
        group = [r for r in runs if r.benchmark == bench]
        covered = [{s.generation.task_id for s in r.samples} for r in group]
        common = set.intersection(*covered)
        if all(c == common for c in covered):
            continue
        for r in group:
            r.samples = [s for s in r.samples if s.generation.task_id in common]
        notes.append(f"{bench}: the runs cover different tasks, so every model is compared on the "
                     f"{len(common)} tasks all of them have ({', '.join(f'{r.series}: {len(c)}' for r, c in zip(group, covered))})")
    return notes


def _headline(runs: list[RunData]) -> list[Headline]:
    rows = []
    for r in runs:
        per_task: dict[str, list[bool]] = defaultdict(list)
        for s in r.samples:
            per_task[s.generation.task_id].append(s.passed)
        values = [sum(v) / len(v) for v in per_task.values()]
        if not values:
            continue
        rate = math.fsum(values) / len(values)
        low, high = bootstrap_ci(values)
        gens = [s.generation.generation for s in r.samples]
        tokens = _mean([g.completion_tokens for g in gens])
        seconds = _mean([g.seconds for g in gens])
        total_s = math.fsum(g.seconds for g in gens if g.seconds is not None)
        total_t = sum(g.completion_tokens for g in gens if g.completion_tokens is not None and g.seconds is not None)
        memory = [float(m) for g in gens for m in (g.peak_gpu_bytes or g.peak_rss_bytes,) if m is not None]
        dollars = _mean([full_cost(r, "dollars", s) for s in r.samples])
        rows.append(Headline(
            r.series, r.model, model_params(r.model), r.benchmark, r.record.run_id, len(values), len(gens), rate,
            low, high, tokens, seconds, total_t / total_s if total_s > 0 else None,
            _mean([full_cost(r, "flops", s) for s in r.samples]), dollars, max(memory) if memory else None,
            cost_normalised_per(rate, tokens, 1e3), cost_per_solved(rate, dollars), None,
            sum(1 for g in gens if g.finish_reason == "length")))
    by_bench: dict[str, list[Headline]] = defaultdict(list)
    for h in rows:
        by_bench[h.benchmark].append(h)
    out = []
    for bench, group in by_bench.items():
        usable = {h.series: EfficiencyMetrics(h.pass_at_1, h.tokens_per_second, h.peak_memory_bytes, h.seconds)
                  for h in group if None not in (h.tokens_per_second, h.peak_memory_bytes, h.seconds)}
        composite = composite_per(usable) if len(usable) == len(group) else {}  # type: ignore[arg-type]
        out += [Headline(**{**h.__dict__, "composite_per": composite.get(h.series)}) for h in group]
    return out


def _mean(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return math.fsum(present) / len(present) if present else None


def _per_rows(pts: list[BudgetPoint], runs: list[RunData]) -> list[PerRow]:
    memory = {}
    for r in runs:
        m = [float(x) for s in r.samples for x in (s.generation.generation.peak_gpu_bytes
                                                    or s.generation.generation.peak_rss_bytes,) if x is not None]
        memory[(r.series, r.benchmark)] = max(m) if m else None
    groups: dict[tuple[str, Axis, float], list[BudgetPoint]] = defaultdict(list)
    for p in pts:
        groups[(p.benchmark, p.axis, p.threshold)].append(p)
    composite: dict[tuple[str, str, Axis, float], float] = {}
    for (bench, axis, threshold), group in groups.items():
        metrics = {}
        for p in group:
            mem = memory.get((p.series, bench))
            if None in (p.tokens_per_sample, p.seconds_per_sample, mem) or not p.seconds_per_sample:
                break
            metrics[p.series] = EfficiencyMetrics(p.pass_rate, p.tokens_per_sample / p.seconds_per_sample,  # type: ignore[operator]
                                                  mem, p.seconds_per_sample)  # type: ignore[arg-type]
        else:
            for series, value in composite_per(metrics).items():
                composite[(series, bench, axis, threshold)] = value
    rows = []
    for p in pts:
        scale, unit = PER_SCALES[p.axis]
        rows.append(PerRow(p, cost_normalised_per(p.pass_rate, p.mean_cost, scale), unit,
                           cost_per_solved(p.pass_rate, p.mean_cost),
                           composite.get((p.series, p.benchmark, p.axis, p.threshold))))
    return rows


def _curve_views(a: Analysis) -> None:
    by_curve: dict[tuple[str, str, Axis], list[BudgetPoint]] = defaultdict(list)
    for p in a.points:
        by_curve[(p.series, p.benchmark, p.axis)].append(p)
    for (series, bench, axis), curve in by_curve.items():
        if axis == "tokens":
            a.marginal[(series, bench)] = marginal_gains([(p.threshold, p.pass_rate) for p in curve])
        for target in QUALITY_TARGETS:
            a.floors[(series, bench, axis, target)] = quality_floor(
                [(p.threshold, p.pass_rate, p.mean_cost) for p in curve], target)
    for bench in a.benchmarks:
        for axis in AXES:
            pts = [(f"{p.series} @ {_fmt(p.threshold)}", p.mean_cost, p.pass_rate) for p in a.points
                   if p.benchmark == bench and p.axis == axis and p.mean_cost is not None]
            if pts:  # points that solve nothing are on no useful frontier (the frontier may be empty)
                a.frontiers[(bench, axis)] = pareto_frontier([q for q in pts if q[2] > 0])  # type: ignore[arg-type, misc]
    a.crossovers = _crossovers(a, by_curve)


def _crossovers(a: Analysis, by_curve: Mapping[tuple[str, str, Axis], list[BudgetPoint]]) -> list[dict[str, Any]]:
    """For every smaller/larger pair on a benchmark: the smallest k (samples axis) or token budget
    at which the smaller model reaches the larger one's pass@1 at full budget."""
    out = []
    heads = {(h.series, h.benchmark): h for h in a.headline}
    for bench in a.benchmarks:
        group = sorted((h for h in a.headline if h.benchmark == bench), key=lambda h: (h.params or math.inf, h.series))
        for i, small in enumerate(group):
            for large in group[i + 1:]:
                if small.params is not None and large.params is not None and small.params >= large.params:
                    continue
                for axis in ("samples", "tokens"):
                    curve = by_curve.get((small.series, bench, axis))  # type: ignore[call-overload]
                    if not curve:
                        continue
                    # both curves cost completion tokens per problem (k samples: k times a sample's)
                    target_cost = heads[(large.series, bench)].completion_tokens
                    cross = crossover([(p.threshold, p.pass_rate, p.mean_cost) for p in curve],
                                      large.pass_at_1, target_cost)
                    out.append({"benchmark": bench, "small": small.series, "large": large.series, "axis": axis,
                                "target": large.pass_at_1, "crossover": cross,
                                "max_threshold": max(p.threshold for p in curve)})
    return out


def _gaps(runs: list[RunData]) -> list[GapRow]:
    rows = []
    by_key = {(r.series, r.benchmark): r for r in runs}
    for (series, bench), base in sorted(by_key.items()):
        pro_name = PRO_OF.get(bench)
        pro = by_key.get((series, pro_name)) if pro_name else None
        if pro is None:
            continue
        base_solved = _solved(base)
        pro_solved = _solved(pro)
        mapping = base_task_ids(list(pro.tasks.values()))
        matrix = PassFailMatrix.from_results(base_solved, pro_solved, mapping)
        base_rate = _rate(base)
        pro_rate = _rate(pro)
        checks = [calls_base(s.generation.program, pro.tasks[s.generation.task_id].entry_point,
                             pro.tasks[s.generation.task_id].base_entry_point or "")
                  for s in pro.samples]
        gap = SelfInvokingGap(base_rate, pro_rate)
        rows.append(GapRow(series, bench, pro_name or "", base_rate, pro_rate, gap.drop_points,
                           gap.relative_drop_percent, matrix,
                           sum(1 for c in checks if c), sum(1 for c in checks if c is not None)))
    return rows


def _solved(run: RunData) -> dict[str, bool]:
    """A task is solved when most of its samples pass (with greedy n = 1: when the sample passes)."""
    per: dict[str, list[bool]] = defaultdict(list)
    for s in run.samples:
        per[s.generation.task_id].append(s.passed)
    return {t: sum(v) * 2 > len(v) for t, v in per.items()}


def _rate(run: RunData) -> float:
    per: dict[str, list[bool]] = defaultdict(list)
    for s in run.samples:
        per[s.generation.task_id].append(s.passed)
    return math.fsum(sum(v) / len(v) for v in per.values()) / len(per) if per else 0.0


def _errors(runs: list[RunData]) -> dict[tuple[str, str], dict[str, int]]:
    return {(r.series, r.benchmark): error_distribution(
        (s.verdict.status.value, s.verdict.error_type) for s in r.samples if s.verdict is not None)
        for r in runs}


def _fmt(value: float) -> str:
    return f"{value:g}"


__all__ = ["Analysis", "GapRow", "Headline", "PerRow", "analyse"]
