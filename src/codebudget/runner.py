"""`codebudget run`: generate, extract, store, judge — resumable at every sample.

The run id is a hash of the run's configuration, so repeating a command resumes it: the
samples already in the store are skipped, every new sample is committed the moment it is
generated (a kill loses at most the one in flight), and programs that already have a
verdict (from this run or any other) are not judged again. Generation finishes before
judging starts, so judging never competes with the model for the CPU and the recorded
times are the model's alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codebudget import __version__
from codebudget.backends import Backend, Decoding, load_backend
from codebudget.benchmarks import get_benchmark
from codebudget.benchmarks.task import Task
from codebudget.config import RunConfig
from codebudget.machine import describe_machine
from codebudget.errors import UserError
from codebudget.models import ModelPreset, generation_flops, get_preset, preset_names, resolve_model
from codebudget.prompts.styles import STYLE_VERSION
from codebudget.prompts import build_request, choose_style, style_spec, to_program
from codebudget.sandbox.judge import Judge, program_hash
from codebudget.store import Store, run_id_for

Progress = Callable[..., None]  # (phase, done, total[, completion tokens generated in this session])


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    config: RunConfig
    style: str
    generated_now: int
    judged_now: int


def plan_tasks(config: RunConfig) -> tuple[Task, ...]:
    tasks = get_benchmark(config.benchmark).load()
    return tasks[: config.limit] if config.limit else tasks


def open_backend(config: RunConfig) -> tuple[Backend, ModelPreset | None]:
    if config.backend == "openai":
        backend = load_backend("openai", model=config.model, base_url=config.base_url)
        return backend, None
    if config.backend == "vllm":  # vLLM loads checkpoints itself (hub id or local folder)
        preset = get_preset(config.model) if config.model in preset_names() else None
        repo = (preset.base_repo or preset.hf_repo) if preset else config.model
        return load_backend("vllm", model=repo), preset
    preset, path = resolve_model(config.model)
    if config.backend == "llamacpp":
        return load_backend("llamacpp", model_path=path, n_ctx=config.n_ctx, n_threads=config.threads), preset
    if config.backend == "transformers":
        return load_backend("transformers", model=str(path), preset=preset, threads=config.threads), preset
    raise UserError(f"unknown backend {config.backend!r}", "choose llamacpp, transformers, vllm or openai")


def execute(config: RunConfig, store: Store, judge: Callable[[], Judge],
            progress: Progress | None = None, backend: Backend | None = None,
            preset: ModelPreset | None = None) -> RunOutcome:
    """Run (or resume) one configuration to completion."""
    tasks = plan_tasks(config)
    by_id = {t.task_id: t for t in tasks}
    owns_backend = backend is None
    if backend is None:
        backend, preset = open_backend(config)
    try:
        instruct = bool(getattr(backend, "has_chat_template", True))
        style = choose_style(config.benchmark, instruct) if config.prompt_style == "auto" else config.prompt_style
        identity = {**config.identity(), "prompt_style": style, "style_version": STYLE_VERSION}
        run_id = run_id_for(identity)
        planned = len(tasks) * config.n
        store.ensure_run(run_id, identity, planned, {**backend.describe(), "codebudget": __version__},
                         describe_machine(), label=config.label)
        done = store.done_samples(run_id)
        todo = [(t, s) for t in tasks for s in range(config.n) if (t.task_id, s) not in done]
        spec = style_spec(style, config.benchmark)
        d = config.decoding
        decoding = Decoding(max_new_tokens=d.max_new_tokens, temperature=d.temperature, top_p=d.top_p,
                            top_k=d.top_k, seed=d.seed, stop=tuple(spec.stop))
        requests = [build_request(task, style, sample) for task, sample in todo]
        generated = tokens = 0
        try:
            for gen in backend.generate(requests, decoding):
                task = by_id[gen.task_id]
                program = to_program(task, style, gen.text)
                flops = None
                if preset is not None and gen.prompt_tokens is not None and gen.completion_tokens is not None:
                    flops = generation_flops(preset.arch, preset.params, gen.prompt_tokens, gen.completion_tokens)
                store.add_generation(run_id, gen, program, program_hash(task, program), flops)
                generated += 1
                tokens += gen.completion_tokens or 0
                if progress:
                    progress("generate", len(done) + generated, planned, tokens)
            store.set_status(run_id, "generated")
        except BaseException:  # Ctrl-C, a crash: what is stored stays; the same command resumes
            store.set_status(run_id, "interrupted")
            raise
    finally:
        if owns_backend:
            backend.close()
    try:
        judged = judge_run(store, run_id, by_id, judge, progress)
    except BaseException:
        store.set_status(run_id, "interrupted")
        raise
    store.set_status(run_id, "complete")
    return RunOutcome(run_id, config, style, generated, judged)


def judge_run(store: Store, run_id: str, tasks: dict[str, Task], judge: Callable[[], Judge],
              progress: Progress | None = None) -> int:
    """Judge every stored program of the run that has no verdict yet."""
    missing = store.missing_verdicts(run_id)
    if not missing:
        return 0
    known = store.verdicts_for(u.program_sha256 for u in missing)
    todo = [u for u in missing if u.program_sha256 not in known]
    if not todo:
        return 0
    items = [(tasks[u.task_id], u.program) for u in todo]
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("judge", done, len(items))

    engine = judge()
    verdicts = engine.judge(items, advance)
    store.add_verdicts(verdicts)
    return len(verdicts)


__all__ = ["RunOutcome", "execute", "judge_run", "plan_tasks"]
