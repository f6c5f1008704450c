"""Scoring: from per-sample verdicts to benchmark numbers with honest uncertainty."""

from __future__ import annotations

from codebudget.scoring.passk import (
    STANDARD_KS,
    bootstrap_ci,
    ks_for,
    mean_pass_at_k,
    pass_at_k,
    pass_at_k_per_task,
    pass_at_k_summary,
)

__all__ = [
    "STANDARD_KS",
    "bootstrap_ci",
    "ks_for",
    "mean_pass_at_k",
    "pass_at_k",
    "pass_at_k_per_task",
    "pass_at_k_summary",
]
