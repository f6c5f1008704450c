"""The benchmarks codebudget knows, by name.

Adding a benchmark is one module that builds a `Benchmark` plus one line in `_REGISTERED`.
"""

from __future__ import annotations

from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.evalplus import HUMANEVAL_PLUS, MBPP_PLUS
from codebudget.benchmarks.humaneval import HUMANEVAL
from codebudget.benchmarks.mbpp import MBPP, MBPP_FULL
from codebudget.benchmarks.pro import HUMANEVAL_PRO, MBPP_PRO
from codebudget.errors import UserError

_REGISTERED: tuple[Benchmark, ...] = (
    HUMANEVAL,
    HUMANEVAL_PLUS,
    MBPP,
    MBPP_FULL,
    MBPP_PLUS,
    HUMANEVAL_PRO,
    MBPP_PRO,
)
_BY_NAME = {benchmark.name: benchmark for benchmark in _REGISTERED}


def benchmark_names() -> list[str]:
    """Registered names, in a stable order (base benchmarks, then EvalPlus, then Pro)."""
    return [benchmark.name for benchmark in _REGISTERED]


def get_benchmark(name: str) -> Benchmark:
    """The benchmark registered as `name`; UserError listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UserError(
            f"unknown benchmark {name!r}",
            f"choose one of: {', '.join(benchmark_names())}",
        ) from None
