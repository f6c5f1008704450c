"""HumanEval (openai/human-eval), scored exactly as its authors score it.

Official program: `prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"`.
Here the tests run on the judge's side instead: `check` is defined and called in the
trusted namespace of the reference program, and only `entry_point` is answered by the
candidate. Helpers the tests use (HumanEval/32's `poly`, HumanEval/38's `encode_cyclic`)
therefore come from the reference, as they would from the prompt in the official program.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codebudget.benchmarks import catalog
from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.formats import read_records
from codebudget.benchmarks.task import ScriptTests, Task


def check_code(test: str, entry_point: str) -> str:
    """HumanEval's test block as the official harness runs it after the program."""
    return test + "\n" + f"check({entry_point})\n"


def parse_humaneval(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    return [
        Task(
            benchmark=name,
            task_id=record["task_id"],
            prompt=record["prompt"],
            entry_point=record["entry_point"],
            reference=record["prompt"] + record["canonical_solution"],
            tests=ScriptTests(
                code=check_code(record["test"], record["entry_point"]),
                under_test=(record["entry_point"],),
            ),
            completion_prefix=record["prompt"],
            metadata={"canonical_solution": record["canonical_solution"]},
        )
        for record in read_records(path)
    ]


HUMANEVAL = Benchmark(
    name="humaneval",
    description="HumanEval: 164 hand-written Python problems with check() tests (OpenAI)",
    version="HumanEval (openai/human-eval@6d43fb9)",
    files=(catalog.HUMANEVAL,),
    parse=parse_humaneval,
)
