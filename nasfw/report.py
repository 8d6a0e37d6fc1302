"""Plots and a markdown summary of a run folder (`nasfw report`)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from nasfw.errors import ConfigError
from nasfw.figures import new_figure, save_figure
from nasfw.number_format import column
from nasfw.results import RunView


PHASES = ("supernet", "search", "finalize")


def duration_text(seconds: float) -> str:
    """'11.5 s', '2 min 47 s', '3 h 05 min': a paper-budget run lasts hours, and seconds by the thousand are
    read wrong."""
    if seconds < 59.95:  # (59.97 s would read '60.0 s')
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def phase_times_text(phase_s: dict[str, float]) -> str:
    """Where a run's time went, phase by phase: 'supernet 1 min 35 s, search 11.5 s, finalize 1 min 00 s; 2 min
    47 s in all'. The search's seconds alone said 11.5 s of a QuantumNAS run that took three minutes."""
    parts = [f"{p} {duration_text(phase_s[p])}" for p in PHASES if p in phase_s]
    parts += [f"{p} {duration_text(v)}" for p, v in phase_s.items() if p not in PHASES]
    if len(parts) < 2:
        return parts[0] if parts else "not recorded"
    return f"{', '.join(parts)}; {duration_text(sum(phase_s.values()))} in all"


def axis_scale(values) -> str:
    """'log' for positive values spread over more than a decade and a half (NAAS's EDP runs from 4e16 to 2e18: on
    a linear axis its Pareto front lies flat on the floor), 'linear' otherwise (accuracies, losses, parameter
    counts within one decade, anything signed)."""
    vals = [float(v) for v in values if v == v]
    return "log" if vals and min(vals) > 0 and max(vals) / min(vals) >= 30 else "linear"


def plot_best_so_far(view: RunView, path: Path) -> Path:
    curve = view.best_so_far()
    o = view.campaign.objectives[0]
    fig, ax = new_figure(6, 4)
    if curve:
        xs, ys = zip(*curve)
        ax.step(xs, ys, where="post", color="tab:blue", label=f"best {o.metric}")
    counted = [e for e in view.evaluations if e.status != "infeasible"]
    ok = [(i, e.metrics[o.metric]) for i, e in enumerate(counted, 1) if e.status == "ok" and o.metric in e.metrics]
    if ok:
        ax.scatter(*zip(*ok), s=6, alpha=0.35, color="gray", label="evaluations")
    ax.set_yscale(axis_scale([v for _, v in ok] + [v for _, v in curve]))
    ax.set_xlabel("evaluation")
    ax.set_ylabel(o.metric)
    ax.set_title(f"{view.campaign.name}: best so far ({view.campaign.searcher})")
    if curve or ok:
        ax.legend(loc="lower right" if o.direction == "max" else "upper right")
    else:
        ax.text(0.5, 0.5, "no successful evaluation", ha="center", va="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_pareto(view: RunView, path: Path, x_metric: str | None = None) -> Path | None:
    """First objective against the second (or against `x_metric`, or the first cost metric found)."""
    objs = view.campaign.objectives
    y = objs[0].metric
    if x_metric is None:
        x_metric = objs[1].metric if len(objs) > 1 else next(
            (k for e in view.ok for k in e.metrics if k != y), None)
    if x_metric is None:
        return None
    pts = [(e.metrics[x_metric], e.metrics[y]) for e in view.ok if x_metric in e.metrics and y in e.metrics]
    if not pts:
        return None
    fig, ax = new_figure(6, 4)
    ax.scatter(*zip(*pts), s=8, alpha=0.4, color="gray", label="evaluated")
    if len(objs) > 1:
        front = [(e.metrics[x_metric], e.metrics[y]) for e in view.pareto()]
    else:  # the trade-off front of the run against the chosen cost metric (smaller cost is better)
        from nasfw.cost import pareto_front

        idx = pareto_front([(-px, objs[0].sign * py) for px, py in pts])
        front = [pts[i] for i in idx]
    front.sort()
    if front:
        ax.plot(*zip(*front), "o-", color="tab:red", label="Pareto front")
    ax.set_xscale(axis_scale([px for px, _ in pts]))
    ax.set_yscale(axis_scale([py for _, py in pts]))
    for c in view.campaign.constraints:  # a bound on a plotted metric (TinyNAS's SRAM limit) is drawn on it,
        for bound, sign in ((c.max, "<="), (c.min, ">=")):  # unless it lies so far out that the points would shrink
            values = [px for px, _ in pts] if c.metric == x_metric else [py for _, py in pts]
            span = max(values) - min(values) or abs(max(values)) or 1.0
            if bound is not None and c.metric in (x_metric, y) and min(values) - span <= bound <= max(values) + span:
                line = ax.axvline if c.metric == x_metric else ax.axhline
                line(bound, color="tab:green", ls="--", lw=1, label=f"{c.metric} {sign} {bound:g}")
    ax.set_xlabel(x_metric)
    ax.set_ylabel(y)
    ax.set_title(f"{view.campaign.name}: {y} vs {x_metric}")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _finalized(run_dir: Path, key: str) -> object:
    """What the task's finalize reported under `key` in the run's summary.json; None where there is none."""
    try:
        return (json.loads((run_dir / "summary.json").read_text()).get("task") or {}).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def _found(run_dir: Path, path: str | Path) -> Path | None:
    """A file finalize named, where it was or in the run folder by its name: the folder may have moved since."""
    return next((c for c in (Path(path), run_dir / Path(path).name) if c.is_file()), None)


def final_table(run_dir: str | Path, path: str | None = None) -> tuple[str, str] | None:
    """(file name, markdown) of the table the task's finalize wrote (QuantumNAS: the searched circuit beside its
    baselines on the reference simulator), named by `path` or by the run's summary.json; None without one."""
    run_dir = Path(run_dir)
    path = path if path is not None else _finalized(run_dir, "table")
    found = _found(run_dir, path) if path else None
    return (found.name, found.read_text()) if found else None


def final_figures(run_dir: str | Path, named: list | None = None) -> list[Path]:
    """The pictures the task's finalize drew (`named`, or summary.json's task `figures`: QuantumNAS's rows side by
    side), those still there."""
    run_dir = Path(run_dir)
    named = named if named is not None else _finalized(run_dir, "figures")
    return [f for f in (_found(run_dir, p) for p in (named if isinstance(named, list) else [])) if f]


def write_report(run_dir: str | Path, out: str | Path | None = None, top_k: int = 10,
                 table: str | None = None, field: str = "out", figures: list | None = None) -> dict:
    """report.md with the run's summary, its top architectures, Pareto front, the task's final table (`table`,
    or the one summary.json names) and the plots, the task's own (`figures`, or summary.json's) among them.
    `field` names `out` in errors (the command line's --out)."""
    from nasfw.errors import output_folder

    view = RunView.open(run_dir)
    folder = output_folder(out if out else Path(run_dir) / "report", field)
    files = [plot_best_so_far(view, folder / "best_so_far.png")]
    p = plot_pareto(view, folder / "pareto.png")
    if p:
        files.append(p)
    for figure in final_figures(run_dir, figures):  # beside report.md, which links its pictures by name
        if figure.resolve() != (folder / figure.name).resolve():
            shutil.copyfile(figure, folder / figure.name)
        files.append(folder / figure.name)
    s = view.summary()
    origin = [f"- {k}: {v}" for k, v in view.origin().items()]
    lines = [f"# {s['campaign']}", "", *origin, f"- searcher: {s['searcher']}",
             (f"- evaluations: {s['evaluations']} of budget {s['budget']} ({s['ok']} ok, {s['failed']} failed, "
              f"{s['infeasible']} rejected as infeasible before evaluation)"),
             f"- time: {phase_times_text(s['phase_s'] or {'search': s['elapsed_s']})}",
             *([f"- stopped early: {s['stopped']}"] if s["stopped"] else []),
             f"- objectives: {', '.join(o['metric'] + ' (' + o['direction'] + ')' for o in s['objectives'])}"]
    if s["constraints"]:
        lines.append(f"- constraints: {json.dumps(s['constraints'])}")
    top = view.top(top_k)
    lines += ["", "## Top architectures", "", table_markdown(view, top) if top else "No successful evaluation.", ""]
    failures = view.failures()
    if failures:
        lines += ["## Failures (most frequent first)", "", "| count | first evaluation | error |", "|---|---|---|"]
        lines += [f"| {f['count']} | {f['first']} | {' '.join(f['error'].replace('|', '/').split())} |"
                  for f in failures] + [""]
    if len(view.campaign.objectives) > 1:
        lines += ["## Pareto front", "", table_markdown(view, view.pareto()), ""]
    final = final_table(run_dir, table)
    if final:
        body = final[1].strip().splitlines()
        if body and body[0].startswith("# "):
            body = body[1:]  # its own title: the section names it
        while body and not body[0].strip():
            body = body[1:]
        lines += [f"## Final evaluation ({final[0]})", ""] + body + [""]
    lines += environment_markdown(view.environments, s["worker_code_changes"])
    lines += ["## Plots", ""] + [f"![{f.stem}]({f.name})" for f in files]
    md = folder / "report.md"
    md.write_text("\n".join(lines) + "\n")
    return {"report": str(md), "plots": [str(f) for f in files]}


def environment_markdown(sessions: list[dict], workers: list[str] = ()) -> list[str]:
    """The section saying what the run was made with: its first session's code and machine, then what each
    later session (a resume) and each Ray worker ran with that differs; nothing for a run made before nasfw
    recorded it."""
    from nasfw.provenance import code_fields, later_changes, machine_fields

    if not sessions:
        return []
    first = sessions[0]
    rows = {**code_fields(first), **machine_fields(first)}
    lines = ["## Environment", "", f"Started {first.get('at', '?')} with:", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()] + [""]
    later = later_changes(sessions)
    if later:
        lines += ["Resumed with other code or data:", ""] + [f"- {c}" for c in later] + [""]
    if workers:
        lines += ["Workers that ran other code than the driver:", ""] + [f"- {w}" for w in workers] + [""]
    return lines


SHOWN_METRICS = 6  # metric columns of a table when none are chosen: the arch column needs the rest of the line


def shown_metrics(view: RunView, evals, chosen: Sequence[str] | None = None) -> list[str]:
    """The table's metric columns. Chosen ones are checked against what the evaluations hold, once there are any
    (a typo would otherwise give an empty column). Left to the table, the objectives come first, then what the
    constraints bound, then the task's metrics in the order it reports them: a campaign is read by what steered
    it, and a task with many metrics would otherwise push a constrained one off the line."""
    held = list(dict.fromkeys(k for e in evals for k in e.metrics))
    if chosen:
        unknown = [m for m in chosen if m not in held]
        if unknown and held:  # a run with no finished evaluation yet has nothing to check them against
            raise ConfigError(f"metrics {unknown} are not in this run's evaluations; allowed: {held}")
        return list(dict.fromkeys(chosen))
    first = [o.metric for o in view.campaign.objectives] + [c.metric for c in view.campaign.constraints]
    return list(dict.fromkeys(first + held))[:SHOWN_METRICS]


def table_rows(view: RunView, evals, metrics: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """`metrics`: columns already checked (`shown_metrics` over the whole run: a table of a few rows may lack one
    that other evaluations hold); left out, the table's own choice."""
    metrics = list(metrics) if metrics else shown_metrics(view, evals)
    fits = bool(view.campaign.constraints)  # a column saying which rows meet the constraints
    head = ["#", "eval", *metrics, *(["meets constraints"] if fits else []), "arch"]
    cells = list(zip(*[column([e.metrics.get(m) for e in evals]) for m in metrics])) or [()] * len(evals)
    rows = []
    for i, (e, values) in enumerate(zip(evals, cells), 1):
        arch = json.dumps(e.arch, separators=(",", ":"))
        meets = ["yes" if view.feasible(e) else "no"] if fits else []
        rows.append([str(i), str(e.id), *values, *meets, arch if len(arch) <= 70 else arch[:67] + "..."])
    return head, rows


def table_markdown(view: RunView, evals) -> str:
    head, rows = table_rows(view, evals)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def table_text(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in rows])
