"""The judge end to end on small inline tasks: every status, IO oracles, dedup, caching."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from codebudget.benchmarks.task import IOTests, ScriptTests, Task
from codebudget.sandbox.judge import BrokenReference, Judge, TimePolicy
from codebudget.sandbox.references import ReferenceCache
from codebudget.sandbox.verdict import Status

PROMPT = 'def add(a, b):\n    """Return a + b."""\n'
ADD = Task(
    "unit", "unit/add", PROMPT, "add", PROMPT + "    return a + b\n",
    ScriptTests("def check(candidate):\n    assert candidate(1, 2) == 3\n"
                "    assert candidate(-1, 1) == 0\n\ncheck(add)\n", ("add",)),
    completion_prefix=PROMPT,
)
RAISES = Task(
    "unit", "unit/raises", "", "parse", "def parse(s):\n    return int(s)\n",
    ScriptTests("try:\n    parse('x')\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no error')\n"
                "assert parse('12') == 12\n", ("parse",)),
)
FLOATS = Task(
    "unit", "unit/half", "", "half", "def half(x):\n    return x / 2\n",
    IOTests("half", ((1,), (3,), (10,)), base_count=2, atol=0.0),
)
SETS = Task(
    "unit", "unit/common", "", "common", "def common(a, b):\n    return list(set(a) & set(b))\n",
    IOTests("common", (([1, 2, 3], [3, 2]),), base_count=1, oracle="set_eq"),
)


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Judge]:
    cache = ReferenceCache(tmp_path_factory.mktemp("refs"))
    with Judge(workers=2, cache=cache, policy=TimePolicy(floor_s=0.5, wall_extra_s=2.0)) as j:
        yield j


def completion(body: str) -> str:
    return ADD.program_from_completion(body)


def test_each_status(judge: Judge) -> None:
    items = [
        (ADD, completion("    return a + b\n")),
        (ADD, completion("    return a - b\n")),
        (ADD, completion("    return undefined_name\n")),
        (ADD, completion("    return (\n")),
        (ADD, completion("    while True:\n        pass\n")),
        (ADD, completion("    x = bytearray(8 << 30)\n")),
        (ADD, completion("    import os\n    os._exit(0)\n")),
        (ADD, completion("    import time\n    time.sleep(60)\n")),
    ]
    got = [(v.status, v.error_type) for v in judge.judge(items)]
    assert got == [
        (Status.PASS, None),
        (Status.FAIL, "AssertionError"),
        (Status.FAIL, "NameError"),
        (Status.SYNTAX, "SyntaxError"),
        (Status.TIMEOUT, "Timeout"),
        (Status.MEMORY, "MemoryError"),
        (Status.CRASH, "Crash"),
        (Status.TIMEOUT, "Timeout"),
    ]


def test_failure_detail_names_the_test_line(judge: Judge) -> None:
    (v,) = judge.judge([(ADD, completion("    return 3\n"))])
    assert v.status is Status.FAIL
    assert "assert candidate(-1, 1) == 0" in v.detail


def test_candidate_exceptions_reach_the_tests_as_their_builtin_type(judge: Judge) -> None:
    good, swallowed = judge.judge([
        (RAISES, "def parse(s):\n    return int(s)\n"),
        (RAISES, "def parse(s):\n    try:\n        return int(s)\n    except ValueError:\n        return 0\n"),
    ])
    assert good.status is Status.PASS
    assert swallowed.status is Status.FAIL and swallowed.error_type == "AssertionError"


def test_io_tests_use_evalplus_float_tolerance(judge: Judge) -> None:
    close, off, wrong_type = judge.judge([
        (FLOATS, "def half(x):\n    return x / 2 + 1e-9\n"),
        (FLOATS, "def half(x):\n    return x / 2 + 1e-3\n"),
        (FLOATS, "def half(x):\n    return str(x / 2)\n"),
    ])
    assert close.status is Status.PASS
    assert off.status is Status.FAIL and "base input #0" in off.detail
    assert wrong_type.status is Status.FAIL


def test_set_oracle_ignores_order(judge: Judge) -> None:
    (v,) = judge.judge([(SETS, "def common(a, b):\n    return sorted(set(a) & set(b), reverse=True)\n")])
    assert v.status is Status.PASS


def test_identical_programs_are_judged_once(judge: Judge) -> None:
    program = completion("    return a + b\n")
    verdicts = judge.judge([(ADD, program)] * 5)
    assert len({v.program_hash for v in verdicts}) == 1
    assert all(v is verdicts[0] for v in verdicts)


def test_references_are_cached_by_content(tmp_path: Path) -> None:
    cache = ReferenceCache(tmp_path)
    with Judge(workers=1, cache=cache) as j:
        first = j.references([ADD])["unit/add"]
    assert first.ok and (tmp_path / "unit.json").exists()
    assert ReferenceCache(tmp_path).get(ADD) == first
    changed = Task(ADD.benchmark, ADD.task_id, ADD.prompt, ADD.entry_point,
                   ADD.reference + "\n# edited\n", ADD.tests)
    assert ReferenceCache(tmp_path).get(changed) is None


def test_a_broken_reference_stops_judging_with_its_task_named(tmp_path: Path) -> None:
    broken = Task("unit", "unit/broken", "", "f", "def f():\n    return 1\n",
                  ScriptTests("assert f() == 2\n", ("f",)))
    with Judge(workers=1, cache=ReferenceCache(tmp_path)) as j:
        with pytest.raises(BrokenReference, match="unit/broken"):
            j.judge([(broken, "def f():\n    return 2\n")])
    assert not (tmp_path / "unit.json").exists()  # failures are never cached


def test_verdicts_are_deterministic(judge: Judge) -> None:
    items = [(ADD, completion(body)) for body in (
        "    return a + b\n", "    return a * b\n", "    import random\n    return a + b + random.randint(0, 0)\n",
        "    return sum({a: 1, b: 2})\n")]
    first = [(v.status, v.error_type) for v in judge.judge(items)]
    judge2 = [(v.status, v.error_type) for v in judge.judge(items)]
    assert first == judge2
