"""Benchmarks: typed `Task` records built from the original, sha256-pinned data files.

    from codebudget.benchmarks import get_benchmark
    tasks = get_benchmark("humaneval-plus").load()   # data dir, user cache, or one download
"""

from __future__ import annotations

from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.catalog import ALL_FILES, DataFile
from codebudget.benchmarks.registry import benchmark_names, get_benchmark
from codebudget.benchmarks.sources import Location
from codebudget.benchmarks.task import IOTests, Oracle, ScriptTests, Task, Tests

__all__ = [
    "ALL_FILES",
    "Benchmark",
    "DataFile",
    "IOTests",
    "Location",
    "Oracle",
    "ScriptTests",
    "Task",
    "Tests",
    "benchmark_names",
    "get_benchmark",
]
