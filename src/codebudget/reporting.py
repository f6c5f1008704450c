"""Turn stored results into numbers: pass@k and the cost of a run, and export rows.

Costs are means per sample of what the backend measured; a field no sample measured is
None (shown as "-"), never zero. Rebuilt from the store alone, without re-running models.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from codebudget.benchmarks import get_benchmark
from codebudget.sandbox.verdict import Status
from codebudget.scoring import pass_at_k_summary
from codebudget.store import SampleResult, Store


def run_summary(store: Store, run_id: str) -> dict[str, Any]:
    results = store.results(run_id)
    counts: dict[str, list[int]] = {}
    for r in results:
        nc = counts.setdefault(r.generation.task_id, [0, 0])
        nc[0] += 1
        nc[1] += r.passed
    per_task = {t: (n, c) for t, (n, c) in counts.items()}
    statuses = Counter(r.verdict.status.value for r in results if r.verdict)
    return {
        "run_id": run_id,
        "samples": len(results),
        "tasks": len(per_task),
        **pass_at_k_summary(per_task),
        "statuses": {s.value: statuses.get(s.value, 0) for s in Status},
        "unjudged": sum(1 for r in results if r.verdict is None),
        "cost": cost_summary(results),
    }


def cost_summary(results: list[SampleResult]) -> dict[str, Any]:
    def values(name: str) -> list[float]:
        out = []
        for r in results:
            v = getattr(r.generation, name) if name == "flops" else getattr(r.generation.generation, name)
            if v is not None:
                out.append(float(v))
        return out

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    completion, seconds = values("completion_tokens"), values("seconds")
    return {
        "prompt_tokens_mean": mean(values("prompt_tokens")),
        "completion_tokens_mean": mean(completion),
        "seconds_mean": mean(seconds),
        "ttft_s_mean": mean(values("ttft_s")),
        "tokens_per_second": sum(completion) / sum(seconds) if completion and seconds and sum(seconds) > 0 else None,
        "flops_mean": mean(values("flops")),
        "peak_rss_bytes_max": max(values("peak_rss_bytes"), default=None),
        "finish_length": sum(1 for r in results if r.generation.generation.finish_reason == "length"),
    }


def export_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    """One dict per sample; `completion` is what human-eval appends to the prompt."""
    run = store.run(run_id)
    bench = str(run.config.get("benchmark"))
    prompts = {t.task_id: t.completion_prefix for t in get_benchmark(bench).load()}
    rows = []
    for r in store.results(run_id):
        g, program = r.generation.generation, r.generation.program
        prefix = prompts.get(g.task_id, "")
        completion = program[len(prefix):] if prefix and program.startswith(prefix) else program
        rows.append({
            "task_id": g.task_id, "sample": g.sample, "completion": completion, "solution": program,
            "raw_output": g.text, "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
            "ttft_s": g.ttft_s, "seconds": g.seconds, "flops": r.generation.flops,
            "finish_reason": g.finish_reason, "peak_rss_bytes": g.peak_rss_bytes,
            "status": r.verdict.status.value if r.verdict else None,
            "error_type": r.verdict.error_type if r.verdict else None,
        })
    return rows
