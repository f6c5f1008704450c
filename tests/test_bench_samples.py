"""The benchmark's samples helpers (benchmarks/bench_evaluate.py): pure functions, no timing."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_evaluate.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROMPT = 'def add(a, b):\n    """Add."""\n'
PROBLEMS = {"HumanEval/0": {"task_id": "HumanEval/0", "prompt": PROMPT}}
ROWS = [
    {"task_id": "HumanEval/0", "completion": "    return a + b\n", "variant": "canon0"},
    {"task_id": "HumanEval/0", "completion": "    return a + b\n", "variant": "canon1"},
    {"task_id": "HumanEval/0", "completion": "    return (\n", "variant": "syntax"},
    {"task_id": "HumanEval/0", "completion": "    while True:\n        pass", "variant": "loop"},
]


def test_make_unique_makes_every_sample_distinct_and_is_deterministic(bench):
    out = bench.make_unique(ROWS)
    assert out == bench.make_unique(ROWS)
    assert len({(r["task_id"], r["completion"]) for r in out}) == len(ROWS)
    assert [r["variant"] for r in out] == [r["variant"] for r in ROWS]
    assert out[3]["completion"] == "    while True:\n        pass\n# sample 3\n"
    assert ROWS[3]["completion"] == "    while True:\n        pass"  # input untouched


def test_make_unique_keeps_what_parses(bench):
    out = bench.make_unique(ROWS)
    bench.check_samples(PROBLEMS, out)  # raises if a variant's parseability changed
    with pytest.raises(SyntaxError):
        ast.parse(PROMPT + out[2]["completion"] + "\n\ndef check(candidate):\n    pass\n")
    ns: dict = {}
    exec(PROMPT + out[0]["completion"], ns)
    assert ns["add"](2, 3) == 5


def test_check_samples_catches_a_changed_verdict(bench):
    broken = [dict(ROWS[0], completion="    return (\n")]
    with pytest.raises(AssertionError):
        bench.check_samples(PROBLEMS, broken)


def test_expected_verdicts_and_keys(bench):
    assert bench.sample_keys(ROWS) == [("HumanEval/0", i) for i in range(4)]
    assert [bench.expected_verdict(r["variant"]) for r in ROWS] == ["pass", "pass", "not pass", "timeout"]
    assert bench.meets("not pass", "syntax") and bench.meets("not pass", "timeout")
    assert not bench.meets("timeout", "fail") and not bench.meets("pass", "fail")
    assert bench.coarse("syntax") == "fail" and bench.coarse("timeout") == "timeout"
