"""The analysis commands: report (budgets, PER, plots, HTML) and compare (two runs, paired)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from codebudget.cli import app, console, err_console, user_errors
from codebudget.errors import UserError


def _open_store(store_path: Path) -> Any:
    from codebudget.store import Store

    if not store_path.is_file():
        raise UserError(f"no store at {store_path}", "pass --store PATH, or run `codebudget run` first")
    return Store(store_path)


def _judge_factory(workers: int | None, holder: list[Any]) -> Any:
    def judge() -> Any:
        if not holder:
            from codebudget.cli import _open_judge

            holder.append(_open_judge(workers, False))
        return holder[0]

    return judge


@app.command()
@user_errors
def report(
    runs: Optional[list[str]] = typer.Argument(None, help="Run ids (or unique prefixes, or labels); none: every run."),
    store_path: Path = typer.Option(Path("codebudget.db"), "--store", help="SQLite store of runs."),
    out: Path = typer.Option(Path("report"), "--out", help="Folder for report.md, report.html, CSVs and plots."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Thresholds per axis, e.g. 'tokens=64,128,256;seconds=1,5,10'."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price table (TOML) for the dollar axis."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel judges for cut programs."),
) -> None:
    """Budgets, PER, Pareto frontiers, crossovers and the base-vs-Pro gap, from stored runs."""
    from codebudget.budgets.axes import load_prices, parse_grid
    from codebudget.report.analysis import analyse
    from codebudget.report.build import write_report

    overrides = parse_grid(grid) if grid else {}
    price_table = load_prices(prices)
    holder: list[Any] = []
    try:
        with _open_store(store_path) as store:
            ids = [store.find_run(r).run_id for r in runs] if runs else [s.run_id for s in store.runs()]
            ids = [i for i in ids if store.run(i).planned > 0]
            if not ids:
                raise UserError(f"{store_path} has no runs", "run `codebudget run ...` first")
            unfinished = [s for s in store.runs() if s.run_id in ids and s.generated < s.planned]
            for s in unfinished:
                err_console.print(f"[yellow]note:[/] run {s.run_id} ({s.config.get('model')} · "
                                  f"{s.config.get('benchmark')}) has {s.generated}/{s.planned} samples: "
                                  "reported on those", highlight=False)
            with console.status("cutting samples at each budget and judging the cut programs"):
                analysis = analyse(store, ids, price_table, overrides, _judge_factory(workers, holder))
            files = write_report(analysis, out)
    finally:
        for judge in holder:
            judge.close()
    table = Table("model", "benchmark", "pass@1", "tokens", "s/problem", "PER /1k tok", "composite PER",
                  title=f"report written to {out}")
    for h in sorted(analysis.headline, key=lambda h: (h.benchmark, h.params or 0)):
        table.add_row(h.series, h.benchmark, f"{100 * h.pass_at_1:.1f}%",
                      f"{h.completion_tokens:.0f}" if h.completion_tokens is not None else "-",
                      f"{h.seconds:.2f}" if h.seconds is not None else "-",
                      f"{h.per_1k_tokens:.3f}" if h.per_1k_tokens is not None else "-",
                      f"{h.composite_per:.3f}" if h.composite_per is not None else "-")
    console.print(table)
    console.print(f"{len(files)} files: " + ", ".join(p.name for p in files[:5]) + ", plots")


@app.command()
@user_errors
def compare(
    run_a: str = typer.Argument(..., help="First run (id prefix or label)."),
    run_b: str = typer.Argument(..., help="Second run (id prefix or label)."),
    store_path: Path = typer.Option(Path("codebudget.db"), "--store", help="SQLite store of runs."),
    resamples: int = typer.Option(10_000, "--resamples", min=100),
) -> None:
    """Two runs side by side: pass@1 and cost, and whether the difference is significant
    (paired bootstrap over the tasks both runs have)."""
    from codebudget.budgets.per import paired_bootstrap
    from codebudget.reporting import run_summary

    with _open_store(store_path) as store:
        a, b = store.find_run(run_a), store.find_run(run_b)
        if a.config.get("benchmark") != b.config.get("benchmark"):
            raise UserError(f"run {a.run_id} is on {a.config.get('benchmark')} and run {b.run_id} on "
                            f"{b.config.get('benchmark')}", "compare two runs on the same benchmark")
        per = []
        for run in (a, b):
            results = store.results(run.run_id)
            if any(r.verdict is None for r in results):
                raise UserError(f"run {run.run_id} has unjudged samples",
                                "finish it first: repeat its `codebudget run` command")
            tasks: dict[str, list[bool]] = {}
            for r in results:
                tasks.setdefault(r.generation.task_id, []).append(r.passed)
            per.append({t: sum(v) / len(v) for t, v in tasks.items()})
        if not set(per[0]) & set(per[1]):
            raise UserError("the two runs share no task", "compare runs of the same benchmark")
        diff = paired_bootstrap(per[0], per[1], resamples=resamples)
        summaries = [run_summary(store, r.run_id) for r in (a, b)]
    table = Table("", f"A: {a.run_id}", f"B: {b.run_id}", title=f"compare on {a.config.get('benchmark')} "
                  f"({diff.tasks} shared tasks)")
    table.add_row("model", str(a.label or a.config.get("model")), str(b.label or b.config.get("model")))
    table.add_row("pass@1 (shared tasks)", f"{100 * diff.mean_a:.1f}%", f"{100 * diff.mean_b:.1f}%")
    for key, label in (("completion_tokens_mean", "completion tokens / sample"), ("seconds_mean", "seconds / sample"),
                       ("flops_mean", "FLOPs / sample")):
        values = [s["cost"].get(key) for s in summaries]
        table.add_row(label, *[f"{v:.4g}" if v is not None else "-" for v in values])
    console.print(table)
    verdict = "significant" if diff.p_value < 0.05 else "not significant"
    console.print(f"B − A = {100 * diff.difference:+.1f} points, 95% CI [{100 * diff.ci_low:+.1f}, "
                  f"{100 * diff.ci_high:+.1f}], p = {diff.p_value:.3g} (paired bootstrap, {resamples} resamples): "
                  f"{verdict} at 0.05")
