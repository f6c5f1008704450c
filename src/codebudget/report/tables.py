"""The report's CSV files and markdown tables, from an `Analysis` (no computation here)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Sequence

from codebudget.report.analysis import Analysis

BUDGET_COLUMNS = ("model", "benchmark", "axis", "threshold", "pass_rate", "ci_low", "ci_high", "mean_cost",
                  "cost_unit", "run_id", "tasks")
PER_COLUMNS = ("model", "benchmark", "axis", "threshold", "per", "per_unit", "cost_per_solved", "composite_per",
               "pass_rate", "mean_cost", "cost_unit")


def budget_rows(a: Analysis) -> list[dict[str, Any]]:
    run_of = {(r.series, r.benchmark): r.record.run_id for r in a.runs}
    return [{"model": p.series, "benchmark": p.benchmark, "axis": p.axis, "threshold": p.threshold,
             "pass_rate": p.pass_rate, "ci_low": p.ci_low, "ci_high": p.ci_high, "mean_cost": p.mean_cost,
             "cost_unit": p.cost_unit, "run_id": run_of.get((p.series, p.benchmark)), "tasks": p.tasks}
            for p in a.points]


def per_rows(a: Analysis) -> list[dict[str, Any]]:
    return [{"model": r.point.series, "benchmark": r.point.benchmark, "axis": r.point.axis,
             "threshold": r.point.threshold, "per": r.per, "per_unit": r.per_unit,
             "cost_per_solved": r.cost_per_solved, "composite_per": r.composite_per,
             "pass_rate": r.point.pass_rate, "mean_cost": r.point.mean_cost, "cost_unit": r.point.cost_unit}
            for r in a.per_rows]


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A pipe table; cells are escaped so a model name cannot break the table or inject markup."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "–" if value is None else str(value)
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("\n", " "),
                          ("*", "\\*"), ("_", "\\_"), ("`", "\\`"), ("[", "\\["), ("]", "\\]")):
        text = text.replace(char, escaped)
    return text


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
