"""The report's figures (matplotlib, Agg): each saved as PNG and SVG, named by what it shows."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from codebudget.budgets.axes import COST_UNITS, PER_SCALES, Axis  # noqa: E402
from codebudget.report.analysis import Analysis  # noqa: E402

AXIS_LABEL: dict[Axis, str] = {
    "tokens": "max new tokens per sample", "samples": "k (samples per problem)", "flops": "FLOPs per sample",
    "seconds": "seconds per sample", "dollars": "USD per sample", "energy": "joules per sample",
}


def _save(fig: plt.Figure, out: Path, name: str) -> list[str]:
    fig.tight_layout()
    files = []
    for ext in ("png", "svg"):
        path = out / f"{name}.{ext}"
        fig.savefig(path, dpi=110, metadata={"Date": None} if ext == "svg" else None)
        files.append(path.name)
    plt.close(fig)
    return files


def _grid(n: int) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.2 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def curve_plots(a: Analysis, out: Path) -> dict[str, str]:
    """pass rate vs budget and PER vs budget for each axis, one panel per benchmark."""
    made: dict[str, str] = {}
    order = a.series_order()
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(order)}
    per_of = {(r.point.series, r.point.benchmark, r.point.axis, r.point.threshold): r.per for r in a.per_rows}
    for axis in ("tokens", "samples", "flops", "seconds", "dollars", "energy"):
        benches = [b for b in a.benchmarks if any(p.axis == axis and p.benchmark == b for p in a.points)]
        if not benches:
            continue
        for kind in ("pass", "per"):
            fig, panels = _grid(len(benches))
            for ax, bench in zip(panels, benches):
                for series in order:
                    pts = sorted((p for p in a.points if p.series == series and p.benchmark == bench
                                  and p.axis == axis), key=lambda p: p.threshold)
                    if not pts:
                        continue
                    xs = [p.threshold for p in pts]
                    if kind == "pass":
                        ys = [100 * p.pass_rate for p in pts]
                        ax.plot(xs, ys, marker="o", color=colors[series], label=series)
                        ax.fill_between(xs, [100 * p.ci_low for p in pts], [100 * p.ci_high for p in pts],
                                        color=colors[series], alpha=0.12)
                    else:
                        pairs = [(x, per_of.get((series, bench, axis, x))) for x in xs]
                        pairs = [(x, y) for x, y in pairs if y is not None]
                        if pairs:
                            ax.plot([x for x, _ in pairs], [y for _, y in pairs], marker="o",
                                    color=colors[series], label=series)
                ax.set_xscale("log", base=2 if axis in ("tokens", "samples") else 10)
                if axis in ("tokens", "samples"):
                    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                ax.set_xlabel(AXIS_LABEL[axis])
                ax.set_ylabel("pass rate (%)" if kind == "pass" else f"PER (pass rate {PER_SCALES[axis][1]})")
                ax.set_title(bench)
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=8)
            title = "pass rate" if kind == "pass" else "PER"
            fig.suptitle(f"{title} vs {axis} budget")
            name = f"{kind}_vs_{axis}"
            _save(fig, out, name)
            made[name] = f"{title} vs {axis} budget"
    return made


def pareto_plots(a: Analysis, out: Path) -> dict[str, str]:
    made = {}
    order = a.series_order()
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(order)}
    for axis in ("flops", "seconds", "tokens", "dollars"):
        benches = [b for b in a.benchmarks if (b, axis) in a.frontiers]
        if not benches:
            continue
        fig, panels = _grid(len(benches))
        for ax, bench in zip(panels, benches):
            for series in order:
                pts = [(p.mean_cost, 100 * p.pass_rate) for p in a.points
                       if p.series == series and p.benchmark == bench and p.axis == axis and p.mean_cost]
                if pts:
                    ax.scatter([x for x, _ in pts], [y for _, y in pts], color=colors[series], label=series, s=22)
            front = a.frontiers[(bench, axis)]
            if front:
                ax.step([c for _, c, _ in front], [100 * r for _, _, r in front], where="post", color="black",
                        linewidth=1.2, label="Pareto frontier")
            ax.set_xscale("log")
            ax.set_xlabel(f"mean cost per problem ({COST_UNITS[axis]})")
            ax.set_ylabel("pass rate (%)")
            ax.set_title(bench)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"Pareto frontier: pass rate vs {axis} spent")
        _save(fig, out, f"pareto_{axis}")
        made[f"pareto_{axis}"] = f"Pareto frontier ({axis})"
    return made


def gap_plots(a: Analysis, out: Path) -> dict[str, str]:
    made = {}
    if a.gaps:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(a.gaps) + 2), 4.2))
        labels = [f"{textwrap.fill(g.series, 16)}\n{g.base}" for g in a.gaps]
        xs = range(len(a.gaps))
        ax.bar([x - 0.2 for x in xs], [100 * g.base_rate for g in a.gaps], width=0.4, label="base")
        ax.bar([x + 0.2 for x in xs], [100 * g.pro_rate for g in a.gaps], width=0.4, label="Pro (self-invoking)")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("pass@1 (%)")
        ax.set_title("base vs Pro")
        ax.legend()
        ax.grid(True, axis="y", alpha=0.3)
        _save(fig, out, "base_vs_pro")
        made["base_vs_pro"] = "base vs Pro pass@1"
    keys = [k for k in sorted(a.errors) if sum(a.errors[k].values())]
    if keys:
        categories = [c for c in _categories(a) if any(a.errors[k].get(c) for k in keys)]
        fig, ax = plt.subplots(figsize=(max(7.0, 1.5 * len(keys) + 3), 4.6))
        bottom = [0.0] * len(keys)
        for i, cat in enumerate(categories):
            values = [a.errors[k].get(cat, 0) for k in keys]
            ax.bar(range(len(keys)), values, bottom=bottom, label=cat, color=plt.cm.tab20(i % 20))
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xticks(range(len(keys)), [f"{textwrap.fill(s, 16)}\n{b}" for s, b in keys], fontsize=7)
        ax.set_ylabel("failing samples")
        ax.set_title("error types of failing samples")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        _save(fig, out, "error_types")
        made["error_types"] = "error types"
    return made


def _categories(a: Analysis) -> list[str]:
    first = ["AssertionError", "NameError", "ValueError", "IndexError", "TypeError", "other"]
    rest = sorted({c for d in a.errors.values() for c in d} - set(first))
    return first + rest
