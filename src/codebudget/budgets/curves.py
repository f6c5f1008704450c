"""From stored runs to budget curves: pass rate and mean cost at every threshold of every axis.

Two phases, so that every program any cut produces is judged in one parallel batch:
`plan` cuts every sample at every threshold (decoding and post-processing, no judging) and
`judge_cuts` judges the programs the store has no verdict for; `points` then only counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from codebudget.benchmarks import get_benchmark
from codebudget.benchmarks.task import Task
from codebudget.budgets.axes import (AXES, COST_UNITS, DEFAULT_SAMPLE_GRID, DEFAULT_TOKEN_GRID, Axis,
                                     PriceTable, grid_within, nice_grid)
from codebudget.budgets.truncate import CostModel, Detokenizer, detokenizer_for
from codebudget.models import generation_flops, get_preset, preset_names
from codebudget.prompts import to_program
from codebudget.sandbox.judge import Judge, program_hash
from codebudget.sandbox.verdict import Verdict
from codebudget.scoring import bootstrap_ci, pass_at_k
from codebudget.store import RunRecord, SampleResult, Store


@dataclass
class RunData:
    """One stored run with what its analysis needs: its samples, tasks, costs and tokenizer."""

    record: RunRecord
    series: str  # the name the run goes by in tables and plots
    samples: list[SampleResult]
    tasks: dict[str, Task]
    costs: CostModel
    detokenizer: Detokenizer | None
    no_cuts_reason: str = ""

    @property
    def model(self) -> str:
        return str(self.record.config.get("model"))

    @property
    def benchmark(self) -> str:
        return str(self.record.config.get("benchmark"))

    @property
    def style(self) -> str:
        return str(self.record.config.get("prompt_style"))

    @property
    def max_new_tokens(self) -> int:
        return int(self.record.config.get("decoding", {}).get("max_new_tokens", 0))

    @property
    def n(self) -> int:
        return int(self.record.config.get("n", 1))

    @property
    def greedy(self) -> bool:
        return float(self.record.config.get("decoding", {}).get("temperature", 0.0)) == 0.0


def load_runs(store: Store, run_ids: Iterable[str], prices: PriceTable) -> list[RunData]:
    """The runs with every sample judged; series names are the label, else the model (made unique)."""
    records = [store.run(r) for r in run_ids]
    names = [r.label or str(r.config.get("model")) for r in records]
    keys = [(n, r.config.get("benchmark")) for n, r in zip(names, records)]
    clashes = {n for n, b in keys if keys.count((n, b)) > 1}  # two runs of a model on one benchmark
    out = []
    for record, name in zip(records, names):
        if name in clashes:
            d = record.config.get("decoding", {})
            name = f"{name} [{record.config.get('prompt_style')}, T={d.get('temperature')}, " \
                   f"{d.get('max_new_tokens')} tok, n={record.config.get('n')}]"
        bench = get_benchmark(str(record.config.get("benchmark")))
        tasks = {t.task_id: t for t in bench.load()}
        model = str(record.config.get("model"))
        preset = get_preset(model) if model in preset_names() else None
        flops = None
        if preset is not None and (preset.arch is not None or preset.params):
            arch, params = preset.arch, preset.params
            flops = lambda p, c, _a=arch, _n=params: generation_flops(_a, _n, p, c)  # noqa: E731
        device = str(record.backend.get("device") or "cpu")
        detok, reason = detokenizer_for(str(record.config.get("backend")), record.backend, model)
        out.append(RunData(record, name, store.results(record.run_id), tasks,
                           CostModel(prices.for_run(model, device), flops), detok, reason))
    return out


@dataclass(frozen=True)
class Cut:
    task_id: str
    sample: int
    program_hash: str
    cost: float | None


@dataclass(frozen=True)
class BudgetPoint:
    """One model on one benchmark at one threshold of one axis."""

    series: str
    model: str
    benchmark: str
    axis: Axis
    threshold: float
    pass_rate: float
    ci_low: float
    ci_high: float
    mean_cost: float | None
    cost_unit: str
    tasks: int
    per_task: Mapping[str, float] = field(default_factory=dict, compare=False, repr=False)
    tokens_per_sample: float | None = field(default=None, compare=False)
    seconds_per_sample: float | None = field(default=None, compare=False)


def full_cost(run: RunData, axis: Axis, sample: SampleResult) -> float | None:
    g = sample.generation.generation
    return run.costs.cost_at(axis, g, g.completion_tokens or 0)


def grids_for(runs: list[RunData], overrides: Mapping[Axis, tuple[float, ...]]) -> dict[str, dict[Axis, tuple[float, ...]]]:
    """Thresholds per benchmark and axis, shared by every model on that benchmark so curves line
    up: the token ladder up to the largest max_new_tokens, k up to the smallest n, and for the
    continuous axes 1-2-5 steps from the cheapest first token to the dearest whole sample."""
    grids: dict[str, dict[Axis, tuple[float, ...]]] = {}
    for bench in sorted({r.benchmark for r in runs}):
        mine = [r for r in runs if r.benchmark == bench]
        out: dict[Axis, tuple[float, ...]] = {}
        for axis in AXES:
            if axis in overrides:
                out[axis] = overrides[axis]
            elif axis == "tokens":
                top = max(r.max_new_tokens for r in mine if r.detokenizer is not None) if any(
                    r.detokenizer is not None for r in mine) else 0
                out[axis] = grid_within(DEFAULT_TOKEN_GRID, top) if top else ()
            elif axis == "samples":
                n = min(r.n for r in mine)
                out[axis] = tuple(k for k in DEFAULT_SAMPLE_GRID if k <= n)
            else:
                lows, highs = [], []
                for r in mine:
                    for s in r.samples:
                        g = s.generation.generation
                        high = full_cost(r, axis, s)
                        low = r.costs.cost_at(axis, g, min(1, g.completion_tokens or 0))
                        if high is not None and high > 0:
                            highs.append(high)
                        if low is not None and low > 0:
                            lows.append(low)
                out[axis] = nice_grid(min(lows), max(highs)) if lows and highs else ()
        grids[bench] = out
    return grids


def plan(runs: list[RunData], grids: Mapping[str, Mapping[Axis, tuple[float, ...]]]
         ) -> tuple[dict[tuple[int, Axis, float], list[Cut]], dict[str, tuple[Task, str]]]:
    """Every sample cut at every threshold of the per-problem axes, and the programs to judge."""
    cuts: dict[tuple[int, Axis, float], list[Cut]] = {}
    programs: dict[str, tuple[Task, str]] = {}
    for index, run in enumerate(runs):
        cache: dict[tuple[str, int, int], str] = {}
        for axis, thresholds in grids[run.benchmark].items():
            if axis == "samples":
                continue
            for threshold in thresholds:
                rows: list[Cut] = []
                for s in run.samples:
                    g = s.generation.generation
                    t = run.costs.tokens_within(axis, g, threshold)
                    if t is None:
                        rows = []
                        break
                    digest = _cut_program(run, s, t, cache, programs)
                    if digest is None:
                        rows = []
                        break
                    cost = run.costs.cost_at(axis, g, t)
                    if t == 0 and cost is not None and cost > threshold:
                        cost = 0.0  # not even the prompt fits: the sample is not attempted
                    rows.append(Cut(g.task_id, g.sample, digest, cost))
                if rows:
                    cuts[(index, axis, threshold)] = rows
    return cuts, programs


def _cut_program(run: RunData, s: SampleResult, t: int, cache: dict[tuple[str, int, int], str],
                 programs: dict[str, tuple[Task, str]]) -> str | None:
    g = s.generation.generation
    if t >= (g.completion_tokens or 0):
        return s.generation.program_sha256
    if run.detokenizer is None or g.token_ids is None:
        return None
    key = (g.task_id, g.sample, t)
    if key not in cache:
        task = run.tasks[g.task_id]
        program = to_program(task, run.style, run.detokenizer.text(g.token_ids[:t]))  # type: ignore[arg-type]
        digest = program_hash(task, program)
        programs.setdefault(digest, (task, program))
        cache[key] = digest
    return cache[key]


def judge_cuts(store: Store, programs: Mapping[str, tuple[Task, str]], judge: Callable[[], Judge],
               progress: Callable[[int, int], None] | None = None) -> dict[str, Verdict]:
    """Verdicts for every program, judging (and storing) only those the store lacks."""
    known = store.verdicts_for(programs)
    todo = [programs[h] for h in programs if h not in known]
    if todo:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(todo))

        engine = judge()
        new = engine.judge(todo, advance)
        store.add_verdicts(new)
        known.update({v.program_hash: v for v in new})
    return known


def points(runs: list[RunData], grids: Mapping[str, Mapping[Axis, tuple[float, ...]]],
           cuts: Mapping[tuple[int, Axis, float], list[Cut]], verdicts: Mapping[str, Verdict]) -> list[BudgetPoint]:
    out: list[BudgetPoint] = []
    for index, run in enumerate(runs):
        for axis, thresholds in grids[run.benchmark].items():
            for threshold in thresholds:
                if axis == "samples":
                    point = _samples_point(run, int(threshold), verdicts)
                else:
                    rows = cuts.get((index, axis, threshold))
                    point = _cut_point(run, axis, threshold, rows, verdicts) if rows else None
                if point is not None:
                    out.append(point)
    return out


def _summarise(run: RunData, axis: Axis, threshold: float, per_task: dict[str, float],
               costs: list[float], tokens: list[float], seconds: list[float]) -> BudgetPoint:
    values = list(per_task.values())
    low, high = bootstrap_ci(values)
    return BudgetPoint(
        run.series, run.model, run.benchmark, axis, threshold, math.fsum(values) / len(values), low, high,
        math.fsum(costs) / len(costs) if costs else None, COST_UNITS[axis], len(values), per_task,
        math.fsum(tokens) / len(tokens) if tokens else None,
        math.fsum(seconds) / len(seconds) if seconds else None)


def _cut_point(run: RunData, axis: Axis, threshold: float, rows: list[Cut],
               verdicts: Mapping[str, Verdict]) -> BudgetPoint | None:
    passed: dict[str, list[bool]] = defaultdict(list)
    costs: list[float] = []
    for cut in rows:
        verdict = verdicts.get(cut.program_hash)
        if verdict is None:
            return None
        passed[cut.task_id].append(verdict.passed)
        if cut.cost is not None:
            costs.append(cut.cost)
    per_task = {t: sum(v) / len(v) for t, v in passed.items()}
    by_key = {(s.generation.task_id, s.generation.sample): s for s in run.samples}
    tokens, seconds = [], []
    for cut in rows:
        g = by_key[(cut.task_id, cut.sample)].generation.generation
        t = run.costs.tokens_within(axis, g, threshold)
        if t is not None:
            tokens.append(float(t))
            time_t = run.costs.time_at(g, t)
            if time_t is not None:
                seconds.append(time_t)
    # Every task has the run's n samples, so the mean over samples is the mean over problems.
    return _summarise(run, axis, threshold, per_task, costs, tokens, seconds)


def _samples_point(run: RunData, k: int, verdicts: Mapping[str, Verdict]) -> BudgetPoint | None:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tokens: list[float] = []
    seconds: list[float] = []
    for s in run.samples:
        verdict = verdicts.get(s.generation.program_sha256) or s.verdict
        if verdict is None:
            return None
        nc = counts[s.generation.task_id]
        nc[0] += 1
        nc[1] += verdict.passed
        g = s.generation.generation
        if g.completion_tokens is not None:
            tokens.append(float(g.completion_tokens))
        if g.seconds is not None:
            seconds.append(g.seconds)
    if not counts or min(n for n, _ in counts.values()) < k:
        return None
    per_task = {t: pass_at_k(n, c, k) for t, (n, c) in counts.items()}
    # k samples per problem: k times a sample's tokens and (generated one after another) seconds
    per_problem_tokens = [k * math.fsum(tokens) / len(tokens)] if tokens else []
    per_problem_seconds = [k * math.fsum(seconds) / len(seconds)] if seconds else []
    return _summarise(run, "samples", float(k), per_task, per_problem_tokens, per_problem_tokens,
                      per_problem_seconds)
