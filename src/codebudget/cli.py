"""The `codebudget` command line: thin; parses, calls the library, prints with rich."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codebudget.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="How much correct code does each model buy per unit of inference cost?")
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DataDirOption = typer.Option(None, "--data-dir", help="Folder with the benchmark files "
                             "(default: $CODEBUDGET_DATA, then the user cache, then download).")
WorkersOption = typer.Option(None, "--workers", "-w", help="Parallel judges (default: all cores).")
WeakOption = typer.Option(False, "--allow-weak-isolation",
                          help="Run even if this machine lacks seccomp or Landlock.")


def user_errors(fn: F) -> F:
    """Print a UserError as a one-line error with its fix and exit 2; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            # escaped: messages name TOML tables ("[sweep]") and user paths, which are not markup
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
            if exc.hint:
                err_console.print(f"  [bold]fix:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _benchmarks(names: str) -> list[str]:
    from codebudget.benchmarks import benchmark_names, get_benchmark

    chosen = benchmark_names() if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    for name in chosen:
        get_benchmark(name)  # raises a UserError listing the valid names
    return chosen


def _open_judge(workers: int | None, allow_weak: bool, memory_mb: int | None = None,
                time_floor: float | None = None) -> Any:
    from codebudget.sandbox.isolation import Limits, weaknesses
    from codebudget.sandbox.judge import TimePolicy
    from codebudget.sandbox.supervisor import SupervisedJudge

    limits = Limits(memory_bytes=memory_mb << 20) if memory_mb else Limits()
    policy = TimePolicy(floor_s=time_floor) if time_floor else TimePolicy()
    judge = SupervisedJudge(workers=workers, limits=limits, policy=policy)
    weak = weaknesses(judge.layers)
    if weak:
        for line in weak:
            err_console.print(f"[bold red]WEAK ISOLATION:[/] {line}")
        if not allow_weak:
            judge.close()
            raise UserError("this machine cannot isolate generated programs well enough",
                            "run on a Linux kernel with seccomp and Landlock (5.13+), or pass "
                            "--allow-weak-isolation if you trust the programs")
    return judge


@app.command()
@user_errors
def datasets(data_dir: Optional[Path] = DataDirOption) -> None:
    """List every benchmark, where its data was found, its task count and version."""
    from codebudget.benchmarks import benchmark_names, get_benchmark

    table = Table("benchmark", "tasks", "version", "data", title="benchmarks")
    for name in benchmark_names():
        bench = get_benchmark(name)
        locations = bench.locate(data_dir)
        if all(loc.found for loc in locations):
            tasks = str(len(bench.load(data_dir)))
            where = "; ".join(f"{loc.path} ({loc.origin})" for loc in locations)
        else:
            tasks = "-"
            where = "missing: " + ", ".join(loc.file.relpath for loc in locations if not loc.found) + \
                    " (downloaded on first use when online)"
        table.add_row(name, tasks, bench.version, where)
    console.print(table)


@app.command()
@user_errors
def verify(
    benchmarks: str = typer.Argument(..., help="Benchmark name(s), comma-separated, or 'all'."),
    data_dir: Optional[Path] = DataDirOption,
    workers: Optional[int] = WorkersOption,
    allow_weak_isolation: bool = WeakOption,
    remeasure: bool = typer.Option(False, "--remeasure", help="Re-time the references instead of "
                                   "using the cached timings."),
) -> None:
    """Run every reference solution through the real engine; exit 1 if any fails."""
    from codebudget.benchmarks import get_benchmark
    from codebudget.progress import progress_bar

    names = _benchmarks(benchmarks)
    failed_total = 0
    table = Table("benchmark", "tasks", "passed", "failed", "seconds", title="verify")
    with _open_judge(workers, allow_weak_isolation) as judge:
        for name in names:
            tasks = get_benchmark(name).load(data_dir)
            start = time.monotonic()
            with progress_bar(console, f"{name}: references", len(tasks), "tasks") as advance:
                refs = judge.references(tasks, advance, refresh=remeasure)
            good = [t for t in tasks if refs[t.task_id].ok]
            with progress_bar(console, f"{name}: verify", len(good), "programs") as advance:
                verdicts = dict(zip((t.task_id for t in good),
                                    judge.judge([(t, t.reference) for t in good], advance)))
            failures = [(t, verdicts.get(t.task_id)) for t in tasks
                        if not refs[t.task_id].ok or not verdicts[t.task_id].passed]
            failed_total += len(failures)
            table.add_row(name, str(len(tasks)), str(len(tasks) - len(failures)), str(len(failures)),
                          f"{time.monotonic() - start:.1f}")
            for task, v in failures[:20]:
                ref = refs[task.task_id]
                why = f"reference: {ref.detail}" if v is None else f"{v.status.value}: {v.detail}"
                err_console.print(f"[red]FAIL[/] {task.task_id}: {why}", highlight=False)
    console.print(table)
    console.print("isolation: " + ", ".join(judge.layers), highlight=False)
    if failed_total:
        raise typer.Exit(1)


@app.command()
@user_errors
def evaluate(
    benchmark: str = typer.Argument(..., help="Benchmark name (see `codebudget datasets`)."),
    samples: Path = typer.Argument(..., help="Samples file: JSONL or JSONL.gz with task_id and "
                                   "completion (human-eval) or solution (evalplus)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for results.jsonl and summary.json."),
    data_dir: Optional[Path] = DataDirOption,
    workers: Optional[int] = WorkersOption,
    allow_weak_isolation: bool = WeakOption,
    memory_mb: Optional[int] = typer.Option(None, "--memory-mb", help="Address-space limit per "
                                            "program in MiB (default 4096)."),
    time_floor: Optional[float] = typer.Option(None, "--time-floor", help="Minimum CPU seconds per "
                                               "program (default 1.0; limits scale from the reference)."),
) -> None:
    """Judge a samples file and write per-sample verdicts and pass@k."""
    from codebudget.benchmarks import get_benchmark
    from codebudget.evaluation import evaluate_file
    from codebudget.progress import progress_bar
    from codebudget.samples import read_samples
    from codebudget.sandbox.judge import BrokenReference

    tasks = get_benchmark(_benchmarks(benchmark)[0]).load(data_dir)
    read_samples(samples, valid_task_ids={t.task_id for t in tasks})  # fail fast, before the sandbox
    with _open_judge(workers, allow_weak_isolation, memory_mb, time_floor) as judge:
        with progress_bar(console, "references", len(tasks), "tasks") as advance:
            judge.references(tasks, advance)
        total = sum(1 for line in _lines(samples) if line.strip())
        with progress_bar(console, f"judging {benchmark}", total, "samples") as advance:
            try:
                summary = evaluate_file(judge, benchmark, tasks, samples, out, advance)
            except BrokenReference as exc:
                raise UserError(f"{benchmark}: {exc}", f"run `codebudget verify {benchmark}` and "
                                "check the benchmark's data files") from None
    _print_summary(summary, out)


def _lines(path: Path) -> Any:
    import gzip

    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table("metric", "value", title=f"{summary['benchmark']}: {summary['samples']} samples, "
                  f"{summary['tasks']}/{summary['tasks_in_benchmark']} tasks")
    for k, v in summary["pass_at_k"].items():
        table.add_row(f"pass@{k}", f"{100 * v:.2f}%")
    if summary["pass_at_1_ci95"]:
        lo, hi = summary["pass_at_1_ci95"]
        table.add_row("pass@1 95% CI", f"{100 * lo:.2f}% – {100 * hi:.2f}%")
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in summary["statuses"].items() if v))
    top = list(summary["error_types"].items())[:6]
    table.add_row("errors", ", ".join(f"{k} {v}" for k, v in top) or "-")
    table.add_row("seconds", f"{summary['seconds']:.2f} ({summary['samples'] / max(summary['seconds'], 1e-9):.0f} samples/s)")
    console.print(table)
    if summary["tasks"] < summary["tasks_in_benchmark"]:
        err_console.print(f"[yellow]note:[/] the samples cover {summary['tasks']} of "
                          f"{summary['tasks_in_benchmark']} tasks; pass@k is over the covered tasks only")
    console.print(f"results: {out / 'results.jsonl'}  summary: {out / 'summary.json'}", highlight=False)


def main() -> None:
    app()


from codebudget import cli_report, cli_run  # noqa: E402,F401  (registers run, runs, export, models, report, compare)


if __name__ == "__main__":
    sys.exit(main())
