"""The real CLI on the real data: datasets, verify, evaluate, and its errors."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codebudget.benchmarks import benchmark_names, get_benchmark

CLI = str(Path(sys.executable).with_name("codebudget"))
COUNTS = {"humaneval": 164, "humaneval-plus": 164, "mbpp": 427, "mbpp-full": 500,
          "mbpp-plus": 378, "humaneval-pro": 164, "mbpp-pro": 378}


def run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEBUDGET_CACHE": str(cache), "COLUMNS": "200"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=900)


def test_datasets_lists_every_benchmark_with_its_count(cache_dir: Path, data_dir: Path) -> None:
    result = run("datasets", cache=cache_dir)
    assert result.returncode == 0, result.stderr
    assert set(benchmark_names()) == set(COUNTS)
    for name, count in COUNTS.items():
        line = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        assert f" {count} " in line and "data-dir" in line


@pytest.mark.slow
def test_verify_passes_every_reference_of_every_benchmark(cache_dir: Path, data_dir: Path) -> None:
    result = run("verify", "all", cache=cache_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, count in COUNTS.items():
        row = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        cells = [c.strip() for c in row.split("│") if c.strip()]
        assert cells[:4] == [name, str(count), str(count), "0"], row
    assert "seccomp" in result.stdout and "landlock" in result.stdout


def write_samples(path: Path, rows: list[dict[str, object]], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def test_evaluate_humaneval_samples(tmp_path: Path, cache_dir: Path, data_dir: Path) -> None:
    tasks = get_benchmark("humaneval").load()
    rows: list[dict[str, object]] = []
    for task in tasks[:20]:
        canonical = task.reference[len(task.prompt):]
        rows += [{"task_id": task.task_id, "completion": canonical}] * 3
        rows.append({"task_id": task.task_id, "completion": "    return None\n"})
    rows.append({"task_id": tasks[0].task_id, "solution": tasks[0].reference})  # evalplus format
    samples = write_samples(tmp_path / "samples.jsonl.gz", rows, gz=True)
    out = tmp_path / "out"
    result = run("evaluate", "humaneval", str(samples), "--out", str(out), "--workers", "2",
                 cache=cache_dir)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == len(rows) == summary["samples"]
    assert summary["tasks"] == 20 and summary["tasks_in_benchmark"] == 164
    # task 0 has 5 samples (4 pass), the others 4 (3 pass): pass@1 = mean of c/n
    expected = (4 / 5 + 19 * 3 / 4) / 20
    assert summary["pass_at_k"]["1"] == pytest.approx(expected)
    assert set(summary["pass_at_k"]) == {"1", "2"}  # the smallest n is 4
    assert summary["statuses"]["pass"] == 61 and summary["statuses"]["fail"] == 20
    lo, hi = summary["pass_at_1_ci95"]
    assert lo <= expected <= hi
    assert "seccomp" in summary["isolation"]
    first = results[0]
    assert {"task_id", "sample", "status", "error_type", "detail", "seconds"} <= set(first)
    assert [r["sample"] for r in results[:4]] == [0, 1, 2, 3]
    assert "pass@1" in result.stdout


@pytest.mark.parametrize("content, needle", [
    (b'{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": \n', ":2:"),
    (b'{"task_id": "HumanEval/999", "completion": "x"}\n', ":1:"),
    (b'{"task_id": "HumanEval/0"}\n', ":1:"),
    (b'', "contains no samples"),
    (b'{"task_id": "HumanEval/0", "completion": "\xff"}\n', ":1:"),
])
def test_bad_samples_give_a_clear_error_and_write_nothing(
        tmp_path: Path, cache_dir: Path, data_dir: Path, content: bytes, needle: str) -> None:
    samples = tmp_path / "bad.jsonl"
    samples.write_bytes(content)
    out = tmp_path / "out"
    result = run("evaluate", "humaneval", str(samples), "--out", str(out), cache=cache_dir)
    assert result.returncode == 2
    assert "error:" in result.stderr and needle in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_unknown_benchmark_is_a_clear_error(cache_dir: Path, tmp_path: Path) -> None:
    result = run("verify", "humaneval-pro-max", cache=cache_dir)
    assert result.returncode == 2
    assert "humaneval-pro" in result.stderr and "Traceback" not in result.stderr


def test_missing_data_offline_names_the_file(tmp_path: Path) -> None:
    env = {**os.environ, "CODEBUDGET_DATA": str(tmp_path / "nothing"), "CODEBUDGET_OFFLINE": "1",
           "CODEBUDGET_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([CLI, "verify", "humaneval"], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "HumanEval.jsonl.gz" in result.stderr and "Traceback" not in result.stderr
