"""MBPP (google-research): the hand-verified sanitized set and the full 500-task test split.

The tests are MBPP's own assert lines, run in the judge's trusted namespace on top of the
reference code. That order also fixes the one known defect of the full set: tasks 367 and
927 have `test_setup_code` that builds `Node` trees before `code` defines `Node`; running the
setup after the reference (as `ScriptTests.setup` does) makes them pass as intended.
Task ids are "Mbpp/<n>", the same ids EvalPlus uses, so results join across MBPP and MBPP+.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codebudget.benchmarks import catalog
from codebudget.benchmarks.benchmark import Benchmark
from codebudget.benchmarks.codeinfo import functions_used_by, referenced_names
from codebudget.benchmarks.formats import Record, read_records
from codebudget.benchmarks.task import ScriptTests, Task

# google-research/mbpp README: 1-10 few-shot prompts, 11-510 test, 511-600 validation, 601-974 train.
FULL_TEST_IDS = range(11, 511)


def docstring_prompt(description: str, first_assert: str) -> str:
    """MBPP+'s prompt style: the description and one example assert in a docstring."""
    return f'"""\n{description}\n{first_assert}\n"""\n'


def mbpp_tests(code: str, test_list: Sequence[str], setup: str) -> tuple[str, ScriptTests]:
    """(entry point, tests): the functions of `code` the asserts use are the ones under test."""
    test_code = "\n".join(test_list)
    under_test = functions_used_by(code, test_code)
    if not under_test:
        raise ValueError(f"MBPP tests use no function of the reference: {test_list[0]!r}")
    first = referenced_names(test_list[0])
    entry_point = next((name for name in under_test if name in first), under_test[0])
    return entry_point, ScriptTests(code=test_code, under_test=under_test, setup=setup)


def _sanitized_task(name: str, record: Record) -> Task:
    entry_point, tests = mbpp_tests(
        record["code"], record["test_list"], "\n".join(record["test_imports"])
    )
    return Task(
        benchmark=name,
        task_id=f"Mbpp/{record['task_id']}",
        prompt=docstring_prompt(record["prompt"], record["test_list"][0]),
        entry_point=entry_point,
        reference=record["code"],
        tests=tests,
        completion_prefix="",
        metadata={
            "text": record["prompt"],
            "test_imports": tuple(record["test_imports"]),
            "source_file": record["source_file"],
        },
    )


def _full_task(name: str, record: Record) -> Task:
    entry_point, tests = mbpp_tests(record["code"], record["test_list"], record["test_setup_code"])
    return Task(
        benchmark=name,
        task_id=f"Mbpp/{record['task_id']}",
        prompt=docstring_prompt(record["text"], record["test_list"][0]),
        entry_point=entry_point,
        reference=record["code"],
        tests=tests,
        completion_prefix="",
        metadata={
            "text": record["text"],
            "challenge_test_list": tuple(record["challenge_test_list"]),
        },
    )


def parse_sanitized(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    return [_sanitized_task(name, record) for record in read_records(path)]


def parse_full_test_split(name: str, paths: Sequence[Path]) -> list[Task]:
    (path,) = paths
    return [
        _full_task(name, record)
        for record in read_records(path)
        if record["task_id"] in FULL_TEST_IDS
    ]


MBPP = Benchmark(
    name="mbpp",
    description="MBPP sanitized: 427 hand-verified basic Python problems with assert tests",
    version="MBPP sanitized (google-research, sha256 ca95deaa)",
    files=(catalog.MBPP_SANITIZED,),
    parse=parse_sanitized,
)

MBPP_FULL = Benchmark(
    name="mbpp-full",
    description="MBPP full test split: tasks 11-510 of mbpp.jsonl with assert tests",
    version="MBPP full (google-research, sha256 ccf64cea)",
    files=(catalog.MBPP_FULL,),
    parse=parse_full_test_split,
)
