"""The files of a comparison of runs (`nasfw compare --out DIR`): compare.md with the groups' and runs' tables,
best_so_far.png (each group's mean over its seeds with the range they span, every run faintly behind it) and,
when the runs share two objectives, pareto.png with each group's front over all its seeds."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasfw.compare import Comparison, RunResult
from nasfw.figures import colour_cycle, new_figure, save_figure
from nasfw.report import axis_scale


def step_values(curve: list[tuple[int, float]], upto: int) -> np.ndarray:
    """The best-so-far value after each of evaluations 1..upto (NaN before the first feasible one)."""
    out = np.full(upto, np.nan)
    for (n, v), nxt in zip(curve, [c[0] for c in curve[1:]] + [upto + 1]):
        if n <= upto:
            out[n - 1:min(nxt, upto + 1) - 1] = v
    return out


def plot_best_so_far(comp: Comparison, path: Path) -> Path:
    fig, ax = new_figure(7, 4.5)
    colours = colour_cycle()
    by_run = {r.run: r for r in comp.runs}
    shown: list[float] = []
    for i, g in enumerate(comp.groups):
        colour = colours[i % len(colours)]
        members: list[RunResult] = [by_run[r] for r in g.runs]
        for r in members:
            if r.curve:
                values = step_values(r.curve, r.evaluations)
                ax.step(np.arange(1, len(values) + 1), values, where="post", color=colour, lw=0.8,
                        alpha=0.3 if len(members) > 1 else 1.0, label=None if len(members) > 1 else g.label)
                shown += [v for _, v in r.curve]
        if len(members) > 1:  # the mean where every seed has a value, between the worst and best seed
            upto = min(r.evaluations for r in members)
            stack = np.vstack([step_values(r.curve, upto) for r in members])
            full = ~np.isnan(stack).any(axis=0)
            if full.any():
                xs = np.arange(1, upto + 1)[full]
                ax.step(xs, stack[:, full].mean(axis=0), where="post", color=colour, lw=2,
                        label=f"{g.label} (mean of {len(members)})")
                ax.fill_between(xs, stack[:, full].min(axis=0), stack[:, full].max(axis=0), step="post",
                                color=colour, alpha=0.15)
    ax.axvline(comp.at, color="gray", ls=":", lw=1)
    ax.set_yscale(axis_scale(shown))
    ax.set_xlabel("evaluation")
    ax.set_ylabel(f"best {comp.objective.metric} so far")
    ax.set_title(f"{comp.objective.metric}: best so far (band: range over seeds; dotted: compared at {comp.at})",
                 fontsize=9)
    if shown:
        ax.legend(fontsize=8, loc="lower right" if comp.objective.direction == "max" else "upper right")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_fronts(comp: Comparison, path: Path) -> Path | None:
    if comp.front_metrics is None or not any(g.front for g in comp.groups):
        return None
    x, y = comp.front_metrics
    fig, ax = new_figure(7, 4.5)
    for g in comp.groups:
        if g.front:
            ax.plot(*zip(*sorted(g.front)), "o-", ms=4, label=f"{g.label} ({len(g.runs)} runs)")
    ax.set_xscale(axis_scale([p[0] for g in comp.groups for p in g.front]))
    ax.set_yscale(axis_scale([p[1] for g in comp.groups for p in g.front]))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"Pareto fronts: {y} vs {x} (each group's seeds together)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows])


def write_comparison(comp: Comparison, out: Path) -> dict[str, Any]:
    from nasfw.errors import output_folder

    output_folder(out)
    plots = [plot_best_so_far(comp, out / "best_so_far.png")]
    front = plot_fronts(comp, out / "pareto.png")
    if front:
        plots.append(front)
    lines = ["# Comparison of runs", ""]
    if comp.differing:
        lines += [f"The runs differ in: {', '.join(f'`{k}`' for k in comp.differing)}.", ""]
    lines += [f"Note: {c}." for c in comp.caveats] + ([""] if comp.caveats else [])
    if comp.code_differences:
        lines += ["The runs were not all made with the same code and data (nasfw, plugins, packages, data files):", ""]
        lines += [f"- {d}" for d in comp.code_differences] + [""]
    for title, head, rows in comp.tables():
        lines += [f"## {title[0].upper()}{title[1:]}", "", markdown_table(head, rows), ""]
    lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    md = out / "compare.md"
    md.write_text("\n".join(lines) + "\n")
    return {"report": str(md), "plots": [str(p) for p in plots]}
