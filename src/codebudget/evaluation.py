"""Samples in, verdicts out: the `codebudget evaluate` job as a library function.

Everything that can be wrong with the input is checked before any program runs, and the
output files are written whole at the end (to a temporary name, then renamed), so an
error never leaves a half-written results directory behind.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codebudget import __version__
from codebudget.benchmarks.task import Task
from codebudget.errors import UserError
from codebudget.samples import Sample, read_samples
from codebudget.sandbox.judge import Judge
from codebudget.sandbox.verdict import Status, Verdict
from codebudget.scoring import pass_at_k_summary


@dataclass(frozen=True)
class SampleResult:
    task_id: str
    sample: int
    verdict: Verdict

    def as_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "task_id": self.task_id,
            "sample": self.sample,
            "status": v.status.value,
            "error_type": v.error_type,
            "detail": v.detail,
            "seconds": round(v.seconds, 6),
            "cpu_seconds": round(v.cpu_s, 6),
            "program_sha256": v.program_hash,
        }


def program_for(task: Task, sample: Sample) -> str:
    """The program a sample stands for, assembled the benchmark's own way."""
    if sample.solution is not None:
        return sample.solution
    assert sample.completion is not None
    return task.program_from_completion(sample.completion)


def judge_samples(judge: Judge, tasks: Sequence[Task], samples: Sequence[Sample],
                  progress: Callable[[int], None] | None = None) -> list[SampleResult]:
    by_id = {task.task_id: task for task in tasks}
    items = [(by_id[s.task_id], program_for(by_id[s.task_id], s)) for s in samples]
    verdicts = judge.judge(items, progress)
    return [SampleResult(s.task_id, s.index, v) for s, v in zip(samples, verdicts)]


def summarize(benchmark: str, tasks: Sequence[Task], results: Sequence[SampleResult],
              seconds: float, judge: Judge) -> dict[str, Any]:
    """The summary.json record: pass@k for every k the smallest per-task n allows."""
    counts: dict[str, list[int]] = {}
    for r in results:
        n_c = counts.setdefault(r.task_id, [0, 0])
        n_c[0] += 1
        n_c[1] += r.verdict.passed
    per_task = {t: (n, c) for t, (n, c) in counts.items()}
    statuses = Counter(r.verdict.status.value for r in results)
    errors = Counter(r.verdict.error_type for r in results if r.verdict.error_type)
    return {
        "benchmark": benchmark,
        "tasks": len(per_task),
        "tasks_in_benchmark": len(tasks),
        "samples": len(results),
        "samples_per_task": {"min": min((n for n, _ in per_task.values()), default=0),
                             "max": max((n for n, _ in per_task.values()), default=0)},
        **pass_at_k_summary(per_task),
        "statuses": {s.value: statuses.get(s.value, 0) for s in Status},
        "error_types": dict(errors.most_common()),
        "distinct_programs": len({r.verdict.program_hash for r in results}),
        "seconds": round(seconds, 3),
        "isolation": judge.layers,
        "isolation_missing": judge.missing_layers,
        "time_limits": {"cpu_floor_s": judge.policy.floor_s, "reference_factor": judge.policy.factor,
                        "wall_backstop": f"{judge.policy.wall_factor} x cpu limit + {judge.policy.wall_extra_s} s"},
        "memory_limit_bytes": judge.limits.memory_bytes,
        "workers": judge.workers,
        "codebudget": __version__,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }


def write_results(out_dir: Path, results: Sequence[SampleResult], summary: dict[str, Any]) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory {out_dir}: {exc.strerror}",
                        "choose a writable --out directory") from None
    lines = "".join(json.dumps(r.as_json(), ensure_ascii=False) + "\n" for r in results)
    _atomic_write(out_dir / "results.jsonl", lines)
    _atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def evaluate_file(judge: Judge, benchmark: str, tasks: Sequence[Task], samples_path: Path,
                  out_dir: Path, progress: Callable[[int], None] | None = None,
                  on_samples: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Read, judge, score and write; returns the summary."""
    samples = read_samples(samples_path, valid_task_ids={t.task_id for t in tasks})
    if on_samples:
        on_samples(len(samples))
    start = time.monotonic()
    results = judge_samples(judge, tasks, samples, progress)
    summary = summarize(benchmark, tasks, results, time.monotonic() - start, judge)
    write_results(out_dir, results, summary)
    return summary
