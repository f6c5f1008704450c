"""`codebudget report` and `compare` end to end on real runs of a real model (SmolLM2 via llama.cpp),
and the validation of post-hoc token budgets: cutting a long run at B tokens gives exactly what
a run with max_new_tokens=B generates, so its verdicts are the same."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from test_report_html import _need_chromium, _pixels, _render
from test_run_e2e import MODEL, cli

pytest.importorskip("llama_cpp", reason="the llamacpp extra is not installed")
pytestmark = pytest.mark.slow

LONG, SHORT = 64, (16, 40)
LIMIT = 3


@pytest.fixture(scope="module")
def store(cache_dir: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fetched = cli(cache_dir, "models", "fetch", MODEL)
    assert fetched.returncode == 0, fetched.stderr
    db = tmp_path_factory.mktemp("report") / "runs.db"
    for tokens in (LONG, *SHORT):
        result = cli(cache_dir, "run", "--model", MODEL, "--benchmark", "humaneval,humaneval-pro", "--limit",
                     str(LIMIT), "--max-new-tokens", str(tokens), "--threads", "1", "--store", str(db))
        assert result.returncode == 0, result.stdout + result.stderr
    return db


def _runs(cache: Path, db: Path) -> list[dict]:
    result = cli(cache, "runs", "--json", "--store", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cutting_a_long_run_reproduces_shorter_runs(store: Path, cache_dir: Path) -> None:
    from codebudget.budgets.axes import load_prices
    from codebudget.budgets.curves import load_runs
    from codebudget.prompts import to_program
    from codebudget.sandbox.judge import program_hash
    from codebudget.store import Store

    runs = _runs(cache_dir, store)
    by = {(r["config"]["benchmark"], r["config"]["decoding"]["max_new_tokens"]): r["run_id"] for r in runs}
    compared = cut_differs = 0
    with Store(store) as s:
        for bench in ("humaneval", "humaneval-pro"):
            long_run, *short_runs = load_runs(s, [by[(bench, LONG)]] + [by[(bench, t)] for t in SHORT],
                                              load_prices(None))
            assert long_run.detokenizer is not None, long_run.no_cuts_reason
            full = {x.generation.task_id: x for x in long_run.samples}
            for budget, short in zip(SHORT, short_runs):
                for x in short.samples:
                    g, f = x.generation.generation, full[x.generation.task_id].generation.generation
                    t = long_run.costs.tokens_within("tokens", f, budget)
                    assert t == min(budget, f.completion_tokens)
                    assert g.token_ids == f.token_ids[:t], (bench, budget, g.task_id)  # greedy: the same tokens
                    # where nothing is cut the text is the stored one (a stop string may have cut it)
                    expected = f.text if t == f.completion_tokens else long_run.detokenizer.text(f.token_ids[:t])
                    assert g.text == expected, (bench, budget, g.task_id)
                    # so the cut program is the shorter run's program, and its verdict is the same
                    task = long_run.tasks[g.task_id]
                    cut_program = to_program(task, long_run.style, expected)  # type: ignore[arg-type]
                    assert program_hash(task, cut_program) == x.generation.program_sha256
                    assert (g.finish_reason == "length") == (f.completion_tokens > budget)
                    compared += 1
                    cut_differs += g.text != f.text
    assert compared == 2 * len(SHORT) * LIMIT
    assert cut_differs > 0, "no sample was actually cut: raise LONG or lower SHORT"


def test_report_writes_every_view_and_cut_verdicts_match_the_short_runs(store: Path, cache_dir: Path,
                                                                       tmp_path: Path) -> None:
    runs = _runs(cache_dir, store)
    long_ids = [r["run_id"] for r in runs if r["config"]["decoding"]["max_new_tokens"] == LONG]
    out = tmp_path / "report"
    result = cli(cache_dir, "report", *long_ids, "--store", str(store), "--out", str(out),
                 "--grid", f"tokens={','.join(map(str, SHORT))},{LONG}")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("report.md", "report.html", "budgets.csv", "per.csv", "pass_vs_tokens.png", "pass_vs_tokens.svg",
                 "per_vs_tokens.png", "pareto_flops.png", "base_vs_pro.png", "error_types.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    with (out / "budgets.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:9] == ["model", "benchmark", "axis", "threshold", "pass_rate", "ci_low", "ci_high",
                                 "mean_cost", "cost_unit"]
    assert {r["axis"] for r in rows} >= {"tokens", "samples", "flops", "seconds", "dollars"}
    # the verdict of every cut equals the verdict of the real shorter run (same programs, same judge)
    from codebudget.store import Store

    with Store(store) as s:
        for bench in ("humaneval", "humaneval-pro"):
            for budget in SHORT:
                short = next(r for r in runs if r["config"]["benchmark"] == bench
                             and r["config"]["decoding"]["max_new_tokens"] == budget)
                regenerated = [x.passed for x in s.results(short["run_id"])]
                row = next(r for r in rows if r["benchmark"] == bench and r["axis"] == "tokens"
                           and float(r["threshold"]) == budget)
                assert float(row["pass_rate"]) == pytest.approx(sum(regenerated) / len(regenerated))
                assert float(row["mean_cost"]) <= budget
    with (out / "per.csv").open() as f:
        per = list(csv.DictReader(f))
    assert {"per", "cost_per_solved", "composite_per"} <= set(per[0]) and len(per) == len(rows)
    md = (out / "report.md").read_text()
    for heading in ("## Headline", "## Published reference", "## Budget grid", "## Pareto frontier",
                    "## Crossover", "## Self-invoking gap", "## Quality floors"):
        assert heading in md, heading
    assert "| smollm2-135m | humaneval | humaneval-pro |" in md  # the gap table row
    assert "| cpu, 1 thread | complete |" in md  # what the seconds axis was measured on (--threads 1)


def test_report_html_renders_in_chromium(store: Path, cache_dir: Path, tmp_path: Path) -> None:
    _need_chromium()
    out = tmp_path / "report"
    result = cli(cache_dir, "report", "--store", str(store), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rendered = _render(out / "report.html", tmp_path / "browser")
    assert rendered.console == [], rendered.console
    px = _pixels(rendered.screenshot)
    assert px.std() > 20 and int((px.max(axis=2) < 90).sum()) > 500  # not blank, has text
    assert "Headline" in rendered.dom and rendered.dom.count('src="data:image/png;base64,') >= 5


def test_compare_two_runs_reports_a_paired_difference(store: Path, cache_dir: Path) -> None:
    runs = [r for r in _runs(cache_dir, store) if r["config"]["benchmark"] == "humaneval"]
    a, b = runs[0]["run_id"], runs[1]["run_id"]
    result = cli(cache_dir, "compare", a[:8], b[:8], "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "B − A =" in result.stdout and "paired bootstrap" in result.stdout
    other = next(r for r in _runs(cache_dir, store) if r["config"]["benchmark"] == "humaneval-pro")
    bad = cli(cache_dir, "compare", a[:8], other["run_id"][:8], "--store", str(store))
    assert bad.returncode == 2 and "same benchmark" in bad.stderr and "Traceback" not in bad.stderr


def test_report_errors_are_one_line(tmp_path: Path, cache_dir: Path, store: Path) -> None:
    missing = cli(cache_dir, "report", "--store", str(tmp_path / "nope.db"), "--out", str(tmp_path / "r"))
    assert missing.returncode == 2 and "no store at" in missing.stderr
    bad_grid = cli(cache_dir, "report", "--store", str(store), "--grid", "tokens=abc", "--out", str(tmp_path / "r"))
    assert bad_grid.returncode == 2 and "--grid" in bad_grid.stderr and "Traceback" not in bad_grid.stderr
    unknown = cli(cache_dir, "report", "zzzz", "--store", str(store), "--out", str(tmp_path / "r"))
    assert unknown.returncode == 2 and "no run matches" in unknown.stderr


def test_a_store_from_another_machine_finds_the_model_in_this_cache(store: Path, cache_dir: Path) -> None:
    from codebudget.budgets.truncate import detokenizer_for

    moved, reason = detokenizer_for("llamacpp", {"model_path": "/elsewhere/model.gguf"}, MODEL)
    assert moved is not None and reason == "" and moved.text([]) == ""
    gone, reason = detokenizer_for("llamacpp", {"model_path": "/elsewhere/model.gguf"}, "my-own.gguf")
    assert gone is None and "no longer there" in reason
