"""Write a report folder from an Analysis: report.md, report.html, budgets.csv, per.csv, plots."""

from __future__ import annotations

import json
from pathlib import Path

from codebudget.report.analysis import Analysis
from codebudget.report.html import render_html
from codebudget.report.markdown import render_markdown
from codebudget.report.plots import curve_plots, gap_plots, pareto_plots
from codebudget.report.tables import BUDGET_COLUMNS, PER_COLUMNS, budget_rows, per_rows, write_csv


def write_report(a: Analysis, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, str] = {}
    figures.update(curve_plots(a, out))
    figures.update(pareto_plots(a, out))
    figures.update(gap_plots(a, out))
    write_csv(out / "budgets.csv", BUDGET_COLUMNS, budget_rows(a))
    write_csv(out / "per.csv", PER_COLUMNS, per_rows(a))
    md = render_markdown(a, figures)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(render_html(md, out, "codebudget report"), encoding="utf-8")
    (out / "headline.json").write_text(json.dumps([h.__dict__ for h in a.headline], indent=1), encoding="utf-8")
    names = ["report.md", "report.html", "budgets.csv", "per.csv", "headline.json"]
    names += [f"{f}.{ext}" for f in figures for ext in ("png", "svg")]
    return [out / n for n in names]
