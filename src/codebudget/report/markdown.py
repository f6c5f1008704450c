"""report.md: the headline table first, then each view, each with the numbers behind its plot."""

from __future__ import annotations

from typing import Any, Mapping

from codebudget.budgets.axes import AXES, COST_UNITS, EXACTNESS
from codebudget.report.analysis import QUALITY_TARGETS, Analysis
from codebudget.report.published import SOURCE, published_for
from codebudget.report.tables import md_table, num, pct


def render_markdown(a: Analysis, figures: dict[str, str]) -> str:
    parts: list[str] = []
    add = parts.append
    machines = sorted({f"{r.record.machine.get('cpu')} ({r.record.machine.get('cores')} cores)"
                       + (f", GPU {', '.join(map(str, r.record.machine.get('gpus') or []))}"
                          if r.record.machine.get("gpus") else "") for r in a.runs})
    add("# codebudget report\n")
    add(f"Built {a.created} from `{a.store}`: {len(a.runs)} run(s), "
        f"{sum(len(r.samples) for r in a.runs)} samples. Machine: {'; '.join(machines)}.\n")
    for note in a.notes:
        add(f"- Note: {note}")
    if a.notes:
        add("")
    add("## Headline: each model at its full budget\n")
    add("pass@1 with its 95 % bootstrap interval over tasks; costs are means per problem as measured; "
        "PER = pass rate per 1k completion tokens; composite PER (arXiv 2603.21389) is computed over the "
        "models on the same benchmark in this report.\n")
    order = {s: i for i, s in enumerate(a.series_order())}
    heads = sorted(a.headline, key=lambda h: (h.benchmark, order.get(h.series, 0)))
    add(md_table(
        ["model", "params", "benchmark", "tasks", "pass@1 %", "95 % CI", "tokens", "s/problem", "tok/s",
         "FLOPs/problem", "$/problem", "peak mem (MiB)", "PER /1k tok", "$/solved", "composite PER", "hit max"],
        [[h.series, num(h.params / 1e9, 3) + "B" if h.params else None, h.benchmark, h.tasks, pct(h.pass_at_1),
          f"{pct(h.ci_low)}–{pct(h.ci_high)}", num(h.completion_tokens), num(h.seconds), num(h.tokens_per_second),
          num(h.flops), num(h.dollars), num(h.peak_memory_bytes / 2**20 if h.peak_memory_bytes else None),
          num(h.per_1k_tokens), num(h.dollars_per_solved), num(h.composite_per), h.finish_length]
         for h in heads]))
    add("")
    _published(a, add)
    _runs(a, add)
    _grid(a, add)
    _curves(a, figures, add)
    _floors(a, add)
    _frontiers(a, figures, add)
    _crossovers(a, add)
    _gaps(a, figures, add)
    add("## Definitions\n")
    add("PER (cost-normalised) = pass rate / (mean cost per problem / scale); cost per solved problem = mean cost "
        "per problem / pass rate. Composite PER = (Â·T̂·M̂·L̂)^(1/4): accuracy, throughput (tokens/s), memory "
        "and latency (s/problem), each min-max normalised over the models compared (memory and latency "
        "inverted) and lifted to 0.01 + 0.99·x so that no factor is zero. Marginal gain = pass-rate points "
        "per doubling of budget between adjacent thresholds. Quality floor = the cheapest point reaching a "
        "target pass rate. Full formulas: README, section \"PER: definitions\".\n")
    return "\n".join(parts) + "\n"


def _published(a: Analysis, add) -> None:
    benches = [b for b in a.benchmarks if b in ("humaneval", "mbpp", "humaneval-pro", "mbpp-pro")]
    if not benches:
        return
    add("## Published reference (not measured here)\n")
    add(f"{SOURCE} Pass@1 in %, greedy, full-precision models on GPUs: for orientation, never mixed with the "
        "numbers measured above.\n")
    tables = {b: published_for(b) for b in benches}
    models = list(dict.fromkeys(m for t in tables.values() for m in t))
    add(md_table(["model (published)"] + benches, [[m] + [num(tables[b].get(m), 3) for b in benches]
                                                   for m in models]))
    add("")


def _runs(a: Analysis, add) -> None:
    add("## Runs\n")
    rows = []
    for r in a.runs:
        d = r.record.config.get("decoding", {})
        rows.append([r.record.run_id, r.series, r.benchmark, r.style, r.record.config.get("backend"),
                     f"T={d.get('temperature')}, top_p={d.get('top_p')}, max_new_tokens={d.get('max_new_tokens')}",
                     r.n, len(r.samples), r.record.backend.get("version"), _where(r.record.backend),
                     r.record.status.value])
    add(md_table(["run", "model", "benchmark", "style", "backend", "decoding", "n", "samples", "engine version",
                  "device", "status"], rows))
    add("")


def _where(backend: Mapping[str, Any]) -> str:
    """Device and CPU threads as the run recorded them: the seconds axis means little without them.

    A run resumed under another setting says so: its samples were timed under both.
    """
    def one(d: Mapping[str, Any]) -> str:
        threads = d.get("n_threads")
        device = str(d.get("device") or "?")
        return f"{device}, {threads} thread{'s' if threads != 1 else ''}" if threads else device

    later = [one(d) for d in backend.get("resumed_with", [])]
    return one(backend) + "".join(f"; resumed on {w}" for w in later)


def _grid(a: Analysis, add) -> None:
    add("## Budget grid and what is exact\n")
    rows = []
    for bench, grids in sorted(a.grids.items()):
        for axis in AXES:
            values = grids.get(axis) or ()
            rows.append([bench, axis, ", ".join(f"{v:g}" for v in values) if values else "not available",
                         COST_UNITS[axis], EXACTNESS[axis]])
    add(md_table(["benchmark", "axis", "thresholds", "cost unit", "how exact"], rows))
    add("\nPrices: " + "; ".join(a.prices.describe()) + f" (from {a.prices.source}).\n")


def _curves(a: Analysis, figures: dict[str, str], add) -> None:
    add("## Pass rate and PER across budgets\n")
    for axis in AXES:
        for kind in ("pass", "per"):
            name = f"{kind}_vs_{axis}"
            if name in figures:
                add(f"![{figures[name]}]({name}.png)\n")
        rows = []
        per_of = {(r.point.series, r.point.benchmark, r.point.axis, r.point.threshold): r for r in a.per_rows}
        for p in sorted((p for p in a.points if p.axis == axis), key=lambda p: (p.benchmark, p.series, p.threshold)):
            r = per_of[(p.series, p.benchmark, p.axis, p.threshold)]
            rows.append([p.series, p.benchmark, f"{p.threshold:g}", pct(p.pass_rate),
                         f"{pct(p.ci_low)}–{pct(p.ci_high)}", num(p.mean_cost), num(r.per), num(r.cost_per_solved),
                         num(r.composite_per)])
        if rows:
            add(f"### {axis}\n")
            add(md_table(["model", "benchmark", "threshold", "pass %", "95 % CI", f"mean cost ({COST_UNITS[axis]})",
                          "PER", "cost per solved", "composite PER"], rows))
            add("")
    if a.marginal:
        add("### Marginal gain (tokens axis): pass-rate points per doubling of max new tokens\n")
        rows = [[series, bench, *(f"{g.low:g}→{g.high:g}: {g.points_per_doubling:+.1f}" for g in gains)]
                for (series, bench), gains in sorted(a.marginal.items())]
        width = max(len(r) for r in rows)
        add(md_table(["model", "benchmark"] + [f"step {i + 1}" for i in range(width - 2)],
                     [r + [""] * (width - len(r)) for r in rows]))
        add("")


def _floors(a: Analysis, add) -> None:
    add("## Quality floors: the cheapest budget reaching a target pass rate\n")
    keys = sorted({(series, bench, axis) for series, bench, axis, _ in a.floors
                   if axis in ("tokens", "seconds", "flops", "dollars")})
    rows = []
    for series, bench, axis in keys:
        cells = []
        for target in QUALITY_TARGETS:
            floor = a.floors.get((series, bench, axis, target))
            cells.append("not reached" if floor is None else f"{floor[0]:g} (mean {num(floor[1])})")
        rows.append([series, bench, axis, *cells])
    add(md_table(["model", "benchmark", "axis", *(f"reach {100 * t:.0f} %" for t in QUALITY_TARGETS)], rows)
        if rows else "No curves.")
    add("")


def _frontiers(a: Analysis, figures: dict[str, str], add) -> None:
    add("## Pareto frontier: the (model, budget) points nothing beats\n")
    for axis in ("flops", "seconds", "tokens", "dollars"):
        if f"pareto_{axis}" in figures:
            add(f"![Pareto frontier ({axis})](pareto_{axis}.png)\n")
    rows = [[bench, axis, "; ".join(f"{label} ({num(cost)} → {pct(rate)} %)" for label, cost, rate in front)
             or "no point solves a problem"]
            for (bench, axis), front in sorted(a.frontiers.items()) if axis in ("flops", "seconds", "tokens", "dollars")]
    if rows:
        add(md_table(["benchmark", "axis", "frontier (mean cost → pass %)"], rows))
        add("")


def _crossovers(a: Analysis, add) -> None:
    add("## Crossover: when does a smaller model catch a larger one?\n")
    if not a.crossovers:
        add("Needs two or more models on one benchmark.\n")
        return
    rows = []
    for c in a.crossovers:
        cross = c["crossover"]
        where = "k" if c["axis"] == "samples" else "max new tokens"
        if cross is None:
            text = f"not within the grid (up to {where} = {c['max_threshold']:g})"
        else:
            ratio = f"{cross.cost_ratio:.2f}×" if cross.cost_ratio is not None else "–"
            text = f"{where} = {cross.threshold:g} ({pct(cross.small_pass)} %), token cost ratio {ratio}"
        rows.append([c["benchmark"], c["small"], c["large"], pct(c["target"]), c["axis"], text])
    add(md_table(["benchmark", "smaller model", "larger model", "larger pass@1 %", "axis", "crossover"], rows))
    add("\nWith greedy runs (n = 1) only k = 1 exists; sample more (`--n 10 --temperature 0.8`) for pass@k.\n")


def _gaps(a: Analysis, figures: dict[str, str], add) -> None:
    add("## Self-invoking gap: base vs Pro\n")
    if not a.gaps:
        add("Needs a model run on both a base benchmark and its Pro version.\n")
    else:
        if "base_vs_pro" in figures:
            add("![base vs Pro](base_vs_pro.png)\n")
        add(md_table(["model", "base", "Pro", "base %", "Pro %", "drop (points)", "drop (% of base)",
                      "both", "base only", "Pro only", "neither", "Pro calls base (static)"],
                     [[g.series, g.base, g.pro, pct(g.base_rate), pct(g.pro_rate), f"{g.drop_points:.1f}",
                       "–" if g.drop_relative is None else f"{g.drop_relative:.1f}", g.matrix.n_both,
                       g.matrix.n_base_only, g.matrix.n_pro_only, g.matrix.n_neither,
                       f"{g.calls_base}/{g.checked}"] for g in a.gaps]))
        add("\nThe matrix counts Pro tasks by whether the model solved the base task and the Pro task (solved: "
            "most samples pass). \"Pro calls base\" is a static check of the generated Pro programs: the new "
            "function calls (or passes on) the base function, directly or through helpers. The benchmark's "
            "tests do not check this; the official reference solutions themselves call it in 155/164 "
            "(HumanEval Pro) and 334/378 (MBPP Pro) tasks.\n")
    if "error_types" in figures:
        add("### Error types of failing samples\n")
        add("![error types](error_types.png)\n")
        keys = sorted(a.errors)
        cats = [c for c in next(iter(a.errors.values()))] if a.errors else []
        add(md_table(["model", "benchmark"] + cats, [[s, b] + [a.errors[(s, b)].get(c, 0) for c in cats]
                                                     for s, b in keys]))
        add("")
