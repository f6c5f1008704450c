"""The example files the README points to stay valid."""

from __future__ import annotations

from pathlib import Path

from codebudget.config import load_sweep
from codebudget.models import preset_names

REPO = Path(__file__).resolve().parents[1]


def test_ladder_sweep_expands_to_every_model_and_benchmark() -> None:
    configs = load_sweep(REPO / "examples" / "ladder.toml")
    models = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b-instruct")
    assert {(c.model, c.benchmark, c.limit) for c in configs} == (
        {(m, b, None) for m in models for b in ("humaneval", "humaneval-pro")}
        # MBPP on a subset, the same on both: MBPP Pro task N is built on MBPP+ task N
        | {(m, b, 80) for m in models for b in ("mbpp-plus", "mbpp-pro")})
    assert len(configs) == 12
    assert all(c.model in preset_names() and c.decoding.temperature == 0.0 for c in configs)
