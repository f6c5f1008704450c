"""What the reference solutions tell the judge: how long they take and what they return.

EvalPlus-style time limits are scaled from the reference's measured CPU time, and IOTests
compare against the reference's outputs. Both are measured once, by running the reference
through the same sandbox, and cached on disk keyed by a hash of everything that could
change them (the task's code and inputs, the Python version, this file's format). A
changed dataset therefore recomputes itself; nothing stale is ever reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codebudget.benchmarks.task import IOTests, Task
from codebudget.paths import cache_dir

FORMAT = 2  # bump whenever the judge's protocol or measurement changes


@dataclass(frozen=True)
class Reference:
    cpu_s: float  # CPU seconds of the reference's process (load + all tests)
    ok: bool  # the reference passed its own tests / returned for every input
    detail: str = ""
    outputs: list[Any] | None = None  # IOTests: encoded expected outputs


def task_key(task: Task) -> str:
    """A content hash of everything the reference's timing and outputs depend on."""
    h = hashlib.sha256()
    tests = task.tests
    parts: list[str] = [str(FORMAT), sys.version.split()[0], task.benchmark, task.task_id, task.reference]
    if isinstance(tests, IOTests):
        parts += [tests.entry_point, repr(tests.inputs)]
    else:
        parts += [tests.code, tests.setup, repr(tests.under_test)]
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def default_cache_dir() -> Path:
    return cache_dir("references")


class ReferenceCache:
    """One JSON file per benchmark: {task_key: {cpu_s, ok, detail, outputs}}."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir()
        self._loaded: dict[str, dict[str, Any]] = {}

    def _file(self, benchmark: str) -> Path:
        return self.directory / f"{benchmark}.json"

    def _entries(self, benchmark: str) -> dict[str, Any]:
        if benchmark not in self._loaded:
            try:
                data = json.loads(self._file(benchmark).read_text())
                self._loaded[benchmark] = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._loaded[benchmark] = {}
        return self._loaded[benchmark]

    def get(self, task: Task) -> Reference | None:
        entry = self._entries(task.benchmark).get(task_key(task))
        if not isinstance(entry, dict):
            return None
        return Reference(float(entry["cpu_s"]), bool(entry["ok"]), str(entry.get("detail", "")),
                         entry.get("outputs"))

    def put_many(self, refs: list[tuple[Task, Reference]]) -> None:
        by_bench: dict[str, list[tuple[Task, Reference]]] = {}
        for task, ref in refs:
            by_bench.setdefault(task.benchmark, []).append((task, ref))
        self.directory.mkdir(parents=True, exist_ok=True)
        for bench, items in by_bench.items():
            entries = self._entries(bench)
            for task, ref in items:
                entries[task_key(task)] = {"cpu_s": ref.cpu_s, "ok": ref.ok, "detail": ref.detail,
                                           "outputs": ref.outputs}
            tmp = self._file(bench).with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(entries))
            os.replace(tmp, self._file(bench))
