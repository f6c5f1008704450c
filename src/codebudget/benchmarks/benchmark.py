"""A benchmark as a declared value: a name, its pinned data files and a parser.

A benchmark module builds one `Benchmark` and the registry lists it; that is all it takes to
add one. Loading resolves and verifies the files (see `sources`), parses them once per
process and returns the same tuple of `Task`s on every later call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codebudget.benchmarks.catalog import DataFile
from codebudget.benchmarks.sources import Location, fetch, find
from codebudget.benchmarks.task import Task

# (registered name, one path per entry of `files`, in order) -> tasks
Parser = Callable[[str, Sequence[Path]], Sequence[Task]]

_FileKey = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, eq=False)
class Benchmark:
    """One registered benchmark. `load` is cached per process by the files it read."""

    name: str
    description: str
    version: str
    files: tuple[DataFile, ...]
    parse: Parser = field(repr=False)
    _loaded: dict[_FileKey, tuple[Task, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def locate(self, data_dir: Path | None = None, *, download: bool = False) -> tuple[Location, ...]:
        """Where each file is (data-dir / cache / downloaded); with `download`, fetch missing ones."""
        if download:
            return tuple(fetch(file, data_dir) for file in self.files)
        return tuple(find(file, data_dir) for file in self.files)

    def load(self, data_dir: Path | None = None) -> tuple[Task, ...]:
        """All tasks, in the benchmark's own order; downloads missing files once if allowed."""
        paths = [location.path for location in self.locate(data_dir, download=True)]
        resolved = [path for path in paths if path is not None]
        key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in resolved)
        tasks = self._loaded.get(key)
        if tasks is None:
            tasks = tuple(self.parse(self.name, resolved))
            self._loaded[key] = tasks
        return tasks

    def task(self, task_id: str, data_dir: Path | None = None) -> Task:
        """One task by id (KeyError if the benchmark has no such task)."""
        for task in self.load(data_dir):
            if task.task_id == task_id:
                return task
        raise KeyError(f"{self.name} has no task {task_id!r}")
