"""Several runs side by side (`nasfw compare`, `nasfw.compare_runs`): is this searcher better than that one, does
this device or this supernet change the searched result, and by how much across seeds?

A single run says little: a searcher is judged over seeds, at an equal number of evaluations (a run given 500
evaluations beats one given 40 whatever its searcher). So runs are put in groups by the campaign settings they
differ in (everything but the seed and where and how fast they ran), each run's best is read at the same
evaluation count (the shortest run's, or `at`), and a group reports the mean, spread and range of its runs'
bests, as the NAS-Bench-201 comparisons of searchers do. The plots are in `nasfw.compare_plots`.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from nasfw.cost import Objective, objective_vector, pareto_front
from nasfw.errors import ConfigError, unknown_name
from nasfw.provenance import differences_across
from nasfw.results import RunView
from nasfw.store import Store

# campaign fields that do not make another search: the seed (what a group repeats over), names, where and how
# fast it ran, how long (bests are read at equal evaluation counts) and the finalize phase, which runs after it
NOT_COMPARED = ("seed", "name", "description", "out", "workers", "backend", "address", "resources", "budget",
                "budgets", "evaluation", "phases.finalize")
# what a comparison is most often about, preferred in group names (a field, or every field under a prefix `x.`)
LABEL_PRIORITY = ("searcher.name", "plugin", "task", "space", "task_options.", "space_options.", "hardware",
                  "objectives", "constraints", "searcher.", "phases.")


@dataclass
class RunResult:
    run: str
    group: str
    searcher: str
    seed: int
    evaluations: int  # ok + failed, as the budget counts them
    best: float | None  # among feasible evaluations within the first `at` (the comparison's count)
    best_overall: float | None  # over the whole run
    found_at: int | None  # the evaluation number at which `best` was first reached
    search_s: float
    hypervolume: float | None = None  # of its feasible evaluations within `at`, when the runs share objectives
    curve: list[tuple[int, float]] = field(default_factory=list, repr=False)  # best so far, for the plot


@dataclass
class GroupResult:
    label: str
    settings: dict[str, Any]  # the differing campaign fields, as this group has them
    runs: list[str]
    mean: float | None
    std: float | None  # sample standard deviation over the runs (None with one run)
    best: float | None
    worst: float | None
    without_value: int  # runs with no feasible evaluation within `at`
    values: list[float] = field(default_factory=list)  # each run's best within `at`
    p_vs_first: float | None = None  # two-sided Mann-Whitney U against the first group's bests
    hypervolume: list[float] = field(default_factory=list)  # each run's, when the runs share their objectives
    front: list[tuple[float, float]] = field(default_factory=list, repr=False)  # the group's Pareto front


@dataclass
class Comparison:
    objective: Objective
    at: int
    runs: list[RunResult]
    groups: list[GroupResult]  # best first
    differing: list[str]  # the campaign fields the groups differ in
    front_metrics: tuple[str, str] | None = None  # (x, y) of the fronts, when every run has two objectives
    reference: dict[str, float] | None = None  # the hypervolumes' reference point, in the metrics' units
    # the numbers each run's finalize reported (summary.json's `task`: QuantumNAS's qiskit-aer accuracies, NAAS's
    # EDP gains, TinyNAS's fine-tuned accuracy), per dotted key and group, in the groups' order
    final: dict[str, list[list[float]]] = field(default_factory=dict)
    # code the runs were made with that is not the same in all (nasfw.provenance.differences_across)
    code_differences: list[str] = field(default_factory=list)
    # what makes the groups' numbers incomparable, said beside them (runs of different tasks)
    caveats: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        best = self.groups[0] if self.groups else None
        shown = f"; best {best.label}: {_stat(best)}" if best and best.mean is not None else ""
        return (f"Comparison({len(self.runs)} runs in {len(self.groups)} groups, {self.objective.metric} "
                f"({self.objective.direction}) at {self.at} evaluations{shown})")

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.objective.metric, "direction": self.objective.direction, "at": self.at,
                "differing": self.differing, "hypervolume_reference": self.reference,
                "code_differences": self.code_differences, "caveats": self.caveats,
                "final": {k: {g.label: v for g, v in zip(self.groups, values)} for k, values in self.final.items()},
                "groups": [{k: v for k, v in asdict(g).items() if k != "front"} for g in self.groups],
                "runs": [{k: v for k, v in asdict(r).items() if k != "curve"} for r in self.runs]}

    def to_dataframe(self):
        """One row per run (pandas): its group, searcher, seed, evaluations, best within `at`, where it was found,
        its best overall, hypervolume, and one column per differing campaign field, for a notebook's own plots."""
        try:
            import pandas as pd
        except ImportError:
            raise ConfigError("Comparison.to_dataframe needs pandas: pip install 'nasfw[analysis]'") from None
        settings = {r: g.settings for g in self.groups for r in g.runs}
        return pd.DataFrame([{**{k: v for k, v in asdict(r).items() if k != "curve"}, **settings[r.run]}
                             for r in self.runs])

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, header, rows) of the groups' table, the runs' table and (when the runs were finalized) the
        finalize's numbers per group, for the terminal and the markdown."""
        o = self.objective
        hv = self.reference is not None
        groups = [[str(i), g.label, str(len(g.runs)), _stat(g), _num(g.best), _num(g.worst),
                   "-" if g.p_vs_first is None else f"{g.p_vs_first:.2g}", *([_spread(g.hypervolume)] if hv else [])]
                  for i, g in enumerate(self.groups, 1)]
        number = {g.label: i for i, g in enumerate(self.groups, 1)}
        ordered = sorted(self.runs, key=lambda r: number[r.group])
        runs = [[r.run, f"#{number[r.group]}", r.searcher, str(r.seed), str(r.evaluations), _num(r.best),
                 "-" if r.found_at is None else str(r.found_at), _num(r.best_overall), f"{r.search_s:.1f}",
                 *([_num(r.hypervolume)] if hv else [])] for r in ordered]
        what = f"{o.metric} ({o.direction}), best feasible within the first {self.at} evaluations of each run"
        lengths = sorted({r.evaluations for r in self.runs})
        if len(lengths) > 1:  # the shortest run sets the default: say so, and how to read them elsewhere
            what += f" (the runs have {lengths[0]} to {lengths[-1]}; another count with --at N)"
        extra = ["hypervolume"] if hv else []
        out = [(f"groups: {what}", ["#", "group", "runs", "mean ± std", "best", "worst", "p vs #1", *extra], groups),
               ("runs", ["run", "group", "searcher", "seed", "evaluations", f"best @{self.at}", "found at",
                         "best overall", "search s", *extra], runs)]
        if self.final:
            out.append(("after the search (each run's finalize, summary.json), mean ± std over the group's runs",
                        ["value", *[f"#{i}" for i in range(1, len(self.groups) + 1)]],
                        [[k, *[_spread(v) for v in per_group]] for k, per_group in self.final.items()]))
        return out

    def write(self, out: str | Path) -> dict[str, Any]:
        """compare.md with both tables and the plots (best so far; the groups' Pareto fronts when the runs
        share two objectives) in `out`; returns their paths."""
        from nasfw.compare_plots import write_comparison

        return write_comparison(self, Path(out))


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"


def _spread(values: list[float], digits: int = 4) -> str:
    """'mean ± sample std' ('mean' alone for one value, '-' for none)."""
    if not values:
        return "-"
    mean = statistics.fmean(values)
    return f"{mean:.{digits}g}" if len(values) < 2 else f"{mean:.{digits}g} ± {statistics.stdev(values):.2g}"


def _stat(g: GroupResult) -> str:
    return _spread(g.values, 6)


def run_folders(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders as given; a folder that is not a run but holds runs (`runs/`) stands for each of them."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ConfigError(f"run {str(p)!r}: no such folder")
        if (p / Store.FILENAME).is_file():
            found = [p]
        else:
            found = sorted(c for c in p.iterdir() if (c / Store.FILENAME).is_file())
            if not found:
                raise ConfigError(f"{str(p)!r} is not a nasfw run folder (no {Store.FILENAME} inside) and holds none")
        out += [f for f in found if f.resolve() not in {o.resolve() for o in out}]
    if not out:
        raise ConfigError("comparing runs needs at least one run folder")
    return out


def parse_metric(text: str, where: str = "metric") -> tuple[str, str | None]:
    """'accuracy' or 'accuracy:max' -> (metric, direction or None)."""
    name, _, direction = text.partition(":")
    if not name or (direction and direction not in ("max", "min")):
        raise ConfigError(f"{where} = {text!r}; allowed: a metric name, optionally with its direction "
                          "(accuracy:max, latency_ms:min)")
    return name, direction or None


def _objective(views: list[RunView], metric: str | None, where: str) -> Objective:
    """The compared objective: the one named (its direction given or read from the runs' objectives), else the
    first run's first objective, which every run must then have among its objectives with the same direction."""
    name, given = parse_metric(metric, where) if metric else (views[0].campaign.objectives[0].metric, None)
    direction = given
    for v in views:
        own = {o.metric: o.direction for o in v.campaign.objectives}
        listed = ", ".join(f"{m}:{d}" for m, d in own.items())
        if name not in own and given is None:  # the example takes the direction the other runs give the metric
            known = [o.direction for w in views for o in w.campaign.objectives if o.metric == name]
            example = f"{where} {name}:{known[0]}" if known else f"{where} {name}:max or {name}:min"
            raise ConfigError(f"{where}: run {str(v.run_dir)!r} has no objective {name!r} (its objectives: {listed});"
                              f" name the metric to compare with its direction, e.g. {example}")
        if name in own and direction is not None and own[name] != direction:
            raise ConfigError(f"{where}: {name!r} is to be {direction}imised, but run {str(v.run_dir)!r} "
                              f"{own[name]}imises it; runs that disagree on a metric's direction are not compared")
        direction = direction or own[name]
    return Objective(name, direction or "max")


def flat_settings(raw: dict, prefix: str = "") -> dict[str, Any]:
    """A campaign's fields as dotted paths (`searcher.settings.population_size`), the compared ones only."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        path = f"{prefix}{k}"
        if path == "searcher" and isinstance(v, str):  # `searcher: random` is `searcher: {name: random}`
            v = {"name": v}
        if path in NOT_COMPARED:
            continue
        if isinstance(v, dict) and v:
            out.update(flat_settings(v, path + "."))
        else:
            out[path] = v
    return out


def run_settings(campaign) -> dict[str, Any]:
    """A run's compared fields. A task seed written equal to the run's own is the one the runner passes the task
    anyway (runner.task_options): it repeats the seed, and would otherwise make every seed a group of one run."""
    settings = flat_settings(campaign.raw)
    if "task_options.seed" in settings and settings["task_options.seed"] == campaign.seed:
        del settings["task_options.seed"]
    return settings


def _show(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _key(s: dict[str, Any], keys: list[str]) -> str:
    return json.dumps([[k, s[k]] for k in keys if k in s], sort_keys=True, default=str)


def label_rank(key: str) -> tuple[int, str]:
    for i, p in enumerate(LABEL_PRIORITY):
        if key == p or (p.endswith(".") and key.startswith(p)):
            return i, key
    return len(LABEL_PRIORITY), key


def group_labels(settings: list[dict[str, Any]], differing: list[str]) -> list[str]:
    """Each run's group name: `field=value` for those of the differing fields, taken in `LABEL_PRIORITY` order,
    that tell more groups apart than the fields before them; fields a run leaves unset are not shown. A comparison
    of searchers reads `searcher.name=evolution`, not that and every setting the other searcher has not; one of two
    devices reads `task_options.device=lima`, not the supernet settings that differ along with it."""
    shown: list[str] = []
    for k in sorted(differing, key=label_rank):
        if len({_key(s, shown + [k]) for s in settings}) > len({_key(s, shown) for s in settings}):
            shown.append(k)
    labels = [", ".join(f"{k}={_show(s[k])}" for k in shown if k in s) or "(defaults)" for s in settings]
    groups: dict[str, set[str]] = {}
    for s, label in zip(settings, labels):
        groups.setdefault(label, set()).add(_key(s, differing))
    if any(len(g) > 1 for g in groups.values()):  # two groups cut to one name: number them
        number = {k: i for i, k in enumerate(dict.fromkeys(_key(s, differing) for s in settings), 1)}
        labels = [f"#{number[_key(s, differing)]} {label}" for s, label in zip(settings, labels)]
    return labels


def _best_at(curve: list[tuple[int, float]], at: int) -> tuple[float | None, int | None]:
    best, found = None, None
    for n, v in curve:
        if n > at:
            break
        if best is None or v != best:
            best, found = v, n
    return best, found


def compare_runs(runs: Iterable[str | Path], metric: str | None = None, at: int | None = None,
                 by: Sequence[str] = (), where: tuple[str, str, str] = ("metric", "at", "by")) -> Comparison:
    """Compare run folders (a folder holding runs stands for each): `metric` ('accuracy' or 'accuracy:max';
    default the first run's first objective), read at `at` evaluations (default the shortest run's count), grouped
    by the campaign fields `by` (dotted, `searcher.name`) or else by every field the runs differ in. `where` names
    the three arguments in errors (the command line's `--metric`, `--at`, `--by`)."""
    folders = run_folders(runs)
    views = [RunView.open(f) for f in folders]
    o = _objective(views, metric, where[0])
    summaries = [v.summary() for v in views]
    counts = [s["evaluations"] for s in summaries]
    if at is not None and (isinstance(at, bool) or not isinstance(at, int) or at < 1):
        raise ConfigError(f"{where[1]} = {at!r}; allowed: a positive number of evaluations")
    n_at = at if at is not None else min([c for c in counts if c] or [1])  # a run not yet started has no say
    if not any(o.metric in e.metrics for v in views for e in v.ok):
        seen = sorted({k for v in views for e in v.ok for k in e.metrics})
        raise ConfigError(f"{where[0]}: no evaluation of these runs reports {o.metric!r}; they report {seen}")
    settings = [run_settings(v.campaign) for v in views]
    keys = sorted(set().union(*settings), key=label_rank)
    differing = [k for k in keys if len({_key(s, [k]) for s in settings}) > 1]
    if isinstance(by, str) or not all(isinstance(f, str) for f in by):
        raise ConfigError(f"{where[2]} = {by!r}; allowed: a list of dotted campaign fields, e.g. ['searcher.name']")
    for f in by:  # a field the user names: the groups are its values alone (other differences are still listed)
        if f == "seed":  # left out of the settings on purpose: a group's runs are its seeds
            raise ConfigError(f"{where[2]} seed: the seed is what a group's runs differ in (each group is shown as "
                              "mean ± std over its seeds); group by a setting, e.g. searcher.name")
        if f not in keys:
            raise ConfigError(unknown_name(f"{where[2]} field", f, differing or keys))
    if by:
        labels = [", ".join(f"{f}={_show(s.get(f, '(unset)'))}" for f in by) for s in settings]
    else:
        labels = group_labels(settings, differing) if differing else [views[0].campaign.name] * len(views)
    grouped_by = list(by) or differing
    results = []
    for v, label, count, s in zip(views, labels, counts, summaries):
        curve = v.best_so_far(o)
        best, found = _best_at(curve, n_at)
        results.append(RunResult(str(v.run_dir), label, v.campaign.searcher, v.campaign.seed, count, best,
                                 curve[-1][1] if curve else None, found, float(s["elapsed_s"]), curve=curve))
    fronts = _front_metrics(views)
    shared = shared_objectives(views)
    volumes, reference = hypervolumes(views, shared, n_at) if shared else ([None] * len(views), None)
    for r, hv in zip(results, volumes):
        r.hypervolume = hv
    groups = []
    for label in dict.fromkeys(labels):
        members = [i for i, lab in enumerate(labels) if lab == label]
        values = [results[i].best for i in members if results[i].best is not None]
        ranked = sorted(values, key=lambda x: o.sign * x)
        groups.append(GroupResult(
            label, {k: settings[members[0]][k] for k in grouped_by if k in settings[members[0]]},
            [results[i].run for i in members], statistics.fmean(values) if values else None,
            statistics.stdev(values) if len(values) > 1 else None, ranked[-1] if ranked else None,
            ranked[0] if ranked else None, len(members) - len(values), values=values,
            hypervolume=[volumes[i] for i in members if volumes[i] is not None],
            front=_group_front([views[i] for i in members], fronts, n_at) if fronts else []))
    groups.sort(key=lambda g: (g.mean is None, -o.sign * (g.mean or 0.0)))
    for g in groups[1:]:
        g.p_vs_first = rank_test(groups[0].values, g.values)
    number = {g.label: i for i, g in enumerate(groups)}
    final: dict[str, list[list[float]]] = {}
    for v, label in zip(views, labels):
        for k, x in final_numbers((v.finalized or {}).get("task")).items():
            final.setdefault(k, [[] for _ in groups])[number[label]].append(x)
    code = differences_across([(_name(v.run_dir, folders), v.environments) for v in views])
    return Comparison(o, n_at, results, groups, differing, fronts, reference, final, code_differences=code,
                      caveats=_caveats(views, o))


def _caveats(views: list[RunView], o: Objective) -> list[str]:
    """Runs of different tasks score their architectures each on its own scale (a tabular benchmark's accuracy
    beside a toy task's): the table still compares them, and says so."""
    tasks = list(dict.fromkeys(str(v.campaign.task) for v in views))
    if len(tasks) < 2:
        return []
    return [f"the runs score different tasks ({', '.join(tasks)}): their {o.metric} need not be on one scale"]


def _name(folder: Path, folders: list[Path]) -> str:
    """A run's folder name, or its path where two compared runs share the name."""
    return folder.name if sum(f.name == folder.name for f in folders) == 1 else str(folder)


def final_numbers(report: Any, prefix: str = "") -> dict[str, float]:
    """The numbers of a finalize report as dotted keys (`aer_accuracy.searched + pruned`, `geomean.edp_gain`,
    `best.int8.test_accuracy`); lists (per-network rows) and text are left out, as are flags."""
    import math

    out: dict[str, float] = {}
    if not isinstance(report, dict):
        return out
    for k, v in report.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(final_numbers(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[key] = float(v)
    return out


def rank_test(a: list[float], b: list[float]) -> float | None:
    """The two-sided Mann-Whitney U p-value of two groups' bests (None with fewer than two runs in either): how
    likely a difference this large is between seeds of one searcher. With three seeds a side it cannot go below
    0.1, which is itself worth knowing before calling one searcher better."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _front_metrics(views: list[RunView]) -> tuple[str, str] | None:
    """(x, y): the second and first objectives, when every run has the same first two."""
    pairs = {tuple(o.metric for o in v.campaign.objectives[:2]) for v in views}
    if len(pairs) != 1:
        return None
    pair = pairs.pop()
    return (pair[1], pair[0]) if len(pair) == 2 else None


def counted(view: RunView, at: int) -> list:
    """The run's first `at` evaluations as its budget counts them (not those refused before running, nor lost)."""
    return [e for e in view.evaluations if e.status not in ("infeasible", "lost")][:at]


def _group_front(views: list[RunView], metrics: tuple[str, str], at: int) -> list[tuple[float, float]]:
    """The Pareto front of a group's feasible evaluations within `at` (all its seeds together)."""
    objectives = views[0].campaign.objectives[:2]
    points = sorted({(e.metrics[metrics[0]], e.metrics[metrics[1]]) for v in views for e in counted(v, at)
                     if e.status == "ok" and v.feasible(e) and all(m in e.metrics for m in metrics)})
    if not points:
        return []
    vectors = [objective_vector(objectives, {metrics[1]: y, metrics[0]: x}) for x, y in points]
    return [points[i] for i in pareto_front(vectors)]


def shared_objectives(views: list[RunView]) -> list[Objective] | None:
    """The runs' objectives when every run has the same two or more (metric and direction), else None."""
    kinds = {tuple((o.metric, o.direction) for o in v.campaign.objectives) for v in views}
    objectives = views[0].campaign.objectives
    return list(objectives) if len(kinds) == 1 and len(objectives) > 1 else None


HV_MARGIN = 1.1  # the reference point lies 10% of each objective's range beyond the worst value seen


def hypervolumes(views: list[RunView], objectives: list[Objective], at: int
                 ) -> tuple[list[float | None], dict[str, float] | None]:
    """Each run's hypervolume over its feasible evaluations within `at`, the usual measure of a multi-objective
    search. Every objective is scaled to [0, 1] between the best and the worst value on the front of all compared
    runs together (the ideal and nadir points; the worst over every point, such as NAS-Bench-201's 10% accuracy,
    squeezed every volume to 0.96-0.98); the reference point lies at `HV_MARGIN`, so the extreme points count; the
    volume is divided by the reference box's, so 1 would be a run that found the ideal point. One scale for all
    runs, so their volumes compare. The volume itself is Optuna's (`optuna._hypervolume.compute_hypervolume`, what
    its multi-objective samplers use; the module is private, so tests/test_compare.py checks it against a
    two-objective sum of rectangles)."""
    import math

    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    per_run = []
    for v in views:
        pts = [[-o.sign * e.metrics[o.metric] for o in objectives] for e in counted(v, at)
               if e.status == "ok" and v.feasible(e)
               and all(isinstance(e.metrics.get(o.metric), (int, float)) and math.isfinite(e.metrics[o.metric])
                       for o in objectives)]
        per_run.append(np.array(pts, dtype=float).reshape(-1, len(objectives)))
    if not any(len(p) for p in per_run):
        return [None] * len(views), None
    every = np.vstack([p for p in per_run if len(p)])
    front = every[pareto_front(-every)]  # the nadir is the worst of the joint front, not of every point
    ideal, worst = front.min(axis=0), front.max(axis=0)
    span = np.where(worst > ideal, worst - ideal, 1.0)
    ref = np.full(len(objectives), HV_MARGIN)

    def volume(p: np.ndarray) -> float | None:
        q = (p - ideal) / span
        q = q[(q < ref).all(axis=1)]  # points beyond the reference add nothing
        return float(compute_hypervolume(q, ref)) / HV_MARGIN ** len(ref) if len(q) else 0.0
    volumes = [volume(p) if len(p) else None for p in per_run]
    reference = {o.metric: float(-o.sign * (ideal[i] + HV_MARGIN * span[i])) for i, o in enumerate(objectives)}
    return volumes, reference
