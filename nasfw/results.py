"""Reading a run folder: ranking, Pareto fronts and best-so-far curves from the store.
Used by `nasfw show`, `nasfw report`, `nasfw export` and the finalize phase."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nasfw.campaign import Campaign, parse
from nasfw.cost import Objective, objective_vector, pareto_front, scalarize, total_violation
from nasfw.errors import NasfwError
from nasfw.provenance import later_changes
from nasfw.store import Evaluation, Store


@dataclass(repr=False)
class RunView:
    run_dir: Path
    campaign: Campaign
    evaluations: list[Evaluation]
    phase_s: dict[str, float] = field(default_factory=dict)  # wall seconds per phase (Store.phase_seconds)
    stopped: str | None = None  # why the search ended before its budget (space taken, fail_fast), if it did
    environments: list[dict] = field(default_factory=list)  # what each session ran with (nasfw.provenance)
    worker_code: dict[str, list[str]] = field(default_factory=dict)  # Ray workers' other code: {difference: workers}

    def __repr__(self) -> str:
        """One line: a notebook cell ending in `nasfw.search(...)` shows the run, not every evaluation's dict."""
        s = self.summary()
        best = self.best
        o = self.campaign.objectives[0]
        shown = ""
        if best and o.metric in best.metrics:
            unmet = "" if self.feasible(best) else ", constraints not met"
            shown = f"; best {o.metric} {best.metrics[o.metric]:.6g} (#{best.id}{unmet})"
        if not s["ok"] and s["failed"]:  # what the CLI's exit status 1 says: a notebook sees why at once
            shown = f"; every evaluation failed, most often with: {self.failures(1)[0]['error'][:300]}"
        skipped = f", {s['infeasible']} infeasible skipped" if s["infeasible"] else ""
        return (f"RunView({str(self.run_dir)!r}: {s['campaign']}, {s['evaluations']} of {s['budget']} evaluations, "
                f"{s['ok']} ok, {s['failed']} failed{skipped}{shown})")

    @classmethod
    def open(cls, run_dir: str | Path) -> "RunView":
        store = Store(run_dir, read_only=True)
        try:
            raw = store.get_meta("campaign")
            evals = list(store.evaluations())
            phase_s = store.phase_seconds()
            stopped = store.get_meta("stopped")
            environments = store.get_meta("environment") or []
            worker_code = store.get_meta("worker_code") or {}
        finally:
            store.close()
        return cls(Path(run_dir), parse(raw), evals, phase_s, stopped or None, environments, worker_code)

    @property
    def environment(self) -> dict | None:
        """What the run began with (nasfw's code, the campaign's plugins, packages, machine); None for a run made
        before nasfw recorded it. `environments` holds every session's, `summary()['environment_changes']`
        what a resume ran with that differs."""
        return self.environments[0] if self.environments else None

    def origin(self) -> dict[str, str]:
        """What the campaign was built from, for people: its plugin, or (a campaign naming its own parts) its
        space and task; a run without a plugin showed `plugin=None`."""
        c = self.campaign
        if c.plugin:
            return {"plugin": c.plugin}
        space = c.space.get("name", "inline") if isinstance(c.space, dict) else c.space
        return {"space": str(space), "task": str(c.task)}

    def state(self) -> str:
        """'running (process 123 on host, since ...)' while a search holds the folder, 'finished' when its
        summary.json covers every evaluation, else 'interrupted' (to be continued with --resume): `nasfw show`
        from another terminal said how far a run was, not whether it was still going."""
        from nasfw.run_lock import holder

        who = holder(self.run_dir)
        if who:
            return f"running ({who})"
        done = self.finalized
        s = self.summary()
        return "finished" if done and done.get("evaluations") == s["evaluations"] else "interrupted"

    @property
    def finalized(self) -> dict | None:
        """What the finalize phase wrote (summary.json: the best, its exports, the task's report such as
        QuantumNAS's baseline table); None while the run has not finished."""
        path = self.run_dir / "summary.json"
        return json.loads(path.read_text()) if path.is_file() else None

    @property
    def ok(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.status == "ok"]

    def fitness(self, e: Evaluation) -> float:
        return scalarize(self.campaign.objectives, self.campaign.constraints, e.metrics)

    def feasible(self, e: Evaluation) -> bool:
        return total_violation(self.campaign.constraints, e.metrics) == 0

    def top(self, k: int = 10) -> list[Evaluation]:
        return sorted(self.ok, key=self.fitness, reverse=True)[:k]

    @property
    def best(self) -> Evaluation | None:
        """The run's best evaluation as `nasfw show` ranks it (one meeting the constraints first), None before
        any succeeded: what Optuna's users reach for as `study.best_trial`."""
        top = self.top(1)
        return top[0] if top else None

    def pareto(self) -> list[Evaluation]:
        cands = [e for e in self.ok if self.feasible(e)]
        pts = [objective_vector(self.campaign.objectives, e.metrics) for e in cands]
        front = [cands[i] for i in pareto_front(pts)]
        o = self.campaign.objectives[0]
        return sorted(front, key=lambda e: -o.sign * e.metrics.get(o.metric, 0.0))

    def best_so_far(self, objective: Objective | None = None) -> list[tuple[int, float]]:
        """(evaluation number, best value of the first objective, or of `objective`, among feasible ones so far);
        evaluations rejected before running (infeasible) or lost to a crash are not counted."""
        o = objective or self.campaign.objectives[0]
        best, out, n = None, [], 0
        for e in self.evaluations:
            if e.status in ("infeasible", "lost"):
                continue
            n += 1
            if e.status == "ok" and self.feasible(e) and o.metric in e.metrics:
                v = o.sign * e.metrics[o.metric]
                best = v if best is None else max(best, v)
            if best is not None:
                out.append((n, o.sign * best))
        return out

    def to_dataframe(self):
        """Every evaluation as a pandas DataFrame, one row each in the order recorded (locally the order they
        were asked for, on Ray the order trials finished): `evaluation`, `status`, one column per metric,
        `meets_constraints`, `duration_s`, `error`, `arch` (the dict) and `arch.<decision>` for each top-level
        decision with a single value, so that a notebook can group by a decision or plot one metric against
        another without parsing JSON."""
        try:
            import pandas as pd
        except ImportError:
            raise NasfwError("RunView.to_dataframe needs pandas: pip install 'nasfw[analysis]' (or pandas)") from None
        metrics = list(dict.fromkeys(k for e in self.evaluations for k in e.metrics))
        rows = []
        for e in self.evaluations:
            row = {"evaluation": e.id, "status": e.status, **{m: e.metrics.get(m) for m in metrics},
                   "meets_constraints": e.status == "ok" and self.feasible(e), "duration_s": e.duration_s,
                   "error": e.error, "arch": e.arch}
            row.update({f"arch.{k}": v for k, v in e.arch.items() if isinstance(v, (int, float, str, bool))})
            rows.append(row)
        return pd.DataFrame(rows)

    def report(self, out: str | Path | None = None, top_k: int = 10) -> dict:
        """Write report.md and the plots (best so far, Pareto front) as `nasfw report` does, by default into the
        run's `report/` folder; returns their paths ({"report": ..., "plots": [...]}) for a notebook to show."""
        from nasfw.report import write_report  # the report draws on this module, not the other way round

        return write_report(self.run_dir, out, top_k)

    def failures(self, limit: int = 5) -> list[dict]:
        """The failed evaluations' errors, most frequent first, each with its count and first evaluation: a run
        whose candidates all fail for one reason says so once."""
        groups: dict[str, dict] = {}
        for e in self.evaluations:
            if e.status == "failed":
                msg = e.error or "(no message)"
                groups.setdefault(msg, {"error": msg, "count": 0, "first": e.id})["count"] += 1
        return sorted(groups.values(), key=lambda g: (-g["count"], g["first"]))[:limit]

    def summary(self) -> dict:
        counts: dict[str, int] = {}
        for e in self.evaluations:
            counts[e.status] = counts.get(e.status, 0) + 1
        elapsed = self.phase_s.get("search")
        if elapsed is None:  # a store without the time: from the first start to the last finish
            elapsed = (max(e.finished for e in self.evaluations) - min(e.started for e in self.evaluations)
                       if self.evaluations else 0.0)
        return {"campaign": self.campaign.name, "plugin": self.campaign.plugin, "searcher": self.campaign.searcher,
                "evaluations": counts.get("ok", 0) + counts.get("failed", 0), "ok": counts.get("ok", 0),
                "failed": counts.get("failed", 0), "infeasible": counts.get("infeasible", 0),
                "lost": counts.get("lost", 0),
                "budget": self.campaign.budget_evaluations, "elapsed_s": round(elapsed, 3),
                "phase_s": {k: round(v, 3) for k, v in self.phase_s.items()}, "stopped": self.stopped,
                "objectives": [o.to_dict() for o in self.campaign.objectives],
                "constraints": [c.to_dict() for c in self.campaign.constraints],
                "environment": self.environment, "environment_changes": later_changes(self.environments),
                "worker_code_changes": [f"{', '.join(w)}: {d}" for d, w in self.worker_code.items()]}


def campaign_yaml(run_dir: str | Path) -> dict:
    return yaml.safe_load((Path(run_dir) / "campaign.yaml").read_text())
