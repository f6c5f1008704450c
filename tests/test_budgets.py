"""Budget axes, price tables and the per-sample cuts that turn a budget into a token count."""

from __future__ import annotations

from pathlib import Path

import pytest

from codebudget.backends.base import Generation
from codebudget.budgets.axes import Price, grid_within, load_prices, nice_grid, parse_grid
from codebudget.budgets.truncate import CostModel
from codebudget.errors import UserError


def gen(c: int = 10, prompt: int = 20, step: float = 0.5, ttft: float = 1.0, energy: float | None = None,
        seconds: float | None = None) -> Generation:
    times = tuple(ttft + i * step for i in range(c))
    return Generation("T/0", 0, "x" * c, prompt, c, tuple(range(c)), times, ttft,
                      seconds if seconds is not None else (times[-1] + step if times else ttft),
                      "stop", energy_j=energy)


def test_nice_grid_covers_the_range_in_1_2_5_steps() -> None:
    assert nice_grid(0.3, 40) == (0.5, 1, 2, 5, 10, 20, 50)
    assert nice_grid(1e11, 1e12) == (1e11, 2e11, 5e11, 1e12)
    assert nice_grid(0, 5) == ()
    assert grid_within((64, 128, 256, 512, 1024), 300) == (64, 128, 256, 512)


def test_parse_grid_and_its_errors() -> None:
    assert parse_grid("tokens=128,64; seconds=1,5") == {"tokens": (64.0, 128.0), "seconds": (1.0, 5.0)}
    for bad in ("bogus=1,2", "tokens=", "tokens=a,b", "tokens=0,5"):
        with pytest.raises(UserError):
            parse_grid(bad)


def test_price_table_file(tmp_path: Path) -> None:
    f = tmp_path / "prices.toml"
    f.write_text('[default]\ncpu = { usd_per_hour = 0.36 }\n[models."api-model"]\n'
                 'usd_per_million_input = 1.0\nusd_per_million_output = 4.0\n')
    table = load_prices(f)
    assert table.for_run("local", "cpu").usd_per_hour == 0.36
    api = table.for_run("api-model", "cpu")
    assert api.dollars(1000, 500, None) == pytest.approx((1000 * 1.0 + 500 * 4.0) / 1e6)
    assert table.for_run("local", "cuda").usd_per_hour == 2.5  # built-in default kept
    f.write_text('[default]\ncpu = { usd_per_hour = "cheap" }\n')
    with pytest.raises(UserError, match=r"default\.cpu\.usd_per_hour"):
        load_prices(f)
    f.write_text("[defaults]\n")
    with pytest.raises(UserError, match="unknown section"):
        load_prices(f)
    f.write_text("[default\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_prices(f)


def test_tokens_and_seconds_cuts_follow_the_time_curve() -> None:
    m = CostModel(Price(usd_per_hour=3600.0), flops=None)  # $1 per second, for easy numbers
    g = gen(c=10, ttft=1.0, step=0.5)  # token i (1-based) at 1.0 + 0.5 (i - 1) s; whole sample 6.0 s
    assert m.tokens_within("tokens", g, 4) == 4 and m.tokens_within("tokens", g, 4096) == 10
    assert m.tokens_within("seconds", g, 0.9) == 0  # the first token comes at 1.0 s
    assert m.tokens_within("seconds", g, 2.0) == 3  # tokens at 1.0, 1.5, 2.0
    assert m.tokens_within("seconds", g, 6.0) == 10  # the whole sample fits
    assert m.cost_at("seconds", g, 3) == 2.0 and m.cost_at("seconds", g, 10) == 6.0
    assert m.tokens_within("dollars", g, 2.0) == 3 and m.cost_at("dollars", g, 3) == pytest.approx(2.0)


def test_flops_cut_is_the_most_tokens_within_budget() -> None:
    m = CostModel(Price(usd_per_hour=1.0), flops=lambda p, c: 100.0 * (p + c))
    g = gen(c=10, prompt=20)
    assert m.tokens_within("flops", g, 2_500) == 5  # 100 * (20 + 5) = 2500
    assert m.tokens_within("flops", g, 2_599) == 5
    assert m.tokens_within("flops", g, 10_000) == 10
    assert m.tokens_within("flops", g, 1_000) == 0  # not even the prompt fits
    assert CostModel(Price(usd_per_hour=1.0), flops=None).tokens_within("flops", g, 1e9) is None


def test_token_priced_dollars_and_energy_cuts() -> None:
    m = CostModel(Price(usd_per_million_input=0.0, usd_per_million_output=1e6), flops=None)  # $1 a token
    g = gen(c=10, energy=60.0, seconds=6.0)
    assert m.tokens_within("dollars", g, 4.5) == 4
    assert m.cost_at("energy", g, 10) == 60.0
    assert m.cost_at("energy", g, 3) == pytest.approx(60.0 * 2.0 / 6.0)  # 3rd token at 2.0 s of 6.0 s
    assert m.tokens_within("energy", g, 20.0) == 3
    assert m.tokens_within("energy", gen(c=10), 20.0) is None  # no energy measured: no energy axis


def test_models_are_compared_on_the_tasks_every_run_has() -> None:
    from types import SimpleNamespace

    from codebudget.budgets.curves import RunData
    from codebudget.report.analysis import restrict_to_common_tasks

    def run(series: str, bench: str, tasks: list[int]) -> RunData:
        samples = [SimpleNamespace(generation=SimpleNamespace(task_id=f"HumanEval/{t}")) for t in tasks]
        return RunData(SimpleNamespace(config={"benchmark": bench}), series, samples, {},  # type: ignore[arg-type]
                       CostModel(Price(usd_per_hour=1.0), None), None)

    full, partial, other = run("big", "humaneval", [0, 1, 2, 3]), run("small", "humaneval", [0, 1]), \
        run("big", "mbpp", [5])
    notes = restrict_to_common_tasks([full, partial, other])
    assert [s.generation.task_id for s in full.samples] == ["HumanEval/0", "HumanEval/1"]
    assert len(partial.samples) == 2 and len(other.samples) == 1
    assert len(notes) == 1 and "2 tasks all of them have" in notes[0] and "big: 4" in notes[0]
    assert restrict_to_common_tasks([full, partial]) == []  # already aligned: nothing to say


def test_samples_axis_is_pass_at_k_with_k_times_the_cost() -> None:
    from types import SimpleNamespace

    from codebudget.budgets.curves import RunData, points

    verdict = {True: SimpleNamespace(passed=True), False: SimpleNamespace(passed=False)}
    outcomes = {"T/0": [True, False, False, False], "T/1": [True, True, False, False]}
    samples = [SimpleNamespace(generation=SimpleNamespace(task_id=t, program_sha256=f"{t}-{i}",
                                                          generation=gen(c=10 * (i + 1))), verdict=verdict[ok])
               for t, oks in outcomes.items() for i, ok in enumerate(oks)]
    record = SimpleNamespace(config={"benchmark": "humaneval", "model": "m"})
    run = RunData(record, "m", samples, {}, CostModel(Price(usd_per_hour=1.0), None), None)  # type: ignore[arg-type]
    got = {p.threshold: p for p in points([run], {"humaneval": {"samples": (1.0, 2.0, 5.0)}}, {}, {})}
    assert set(got) == {1.0, 2.0}  # k = 5 > n = 4 is not estimable
    # pass@2 with n = 4: c = 1 -> 1 - C(3,2)/C(4,2) = 1/2; c = 2 -> 1 - C(2,2)/C(4,2) = 5/6
    assert got[2.0].pass_rate == pytest.approx((1 / 2 + 5 / 6) / 2)
    assert got[1.0].pass_rate == pytest.approx((1 / 4 + 2 / 4) / 2)
    assert got[2.0].mean_cost == pytest.approx(2 * 25.0)  # k × mean tokens per sample (10, 20, 30, 40)
