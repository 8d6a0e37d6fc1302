"""Ray Tune's own search algorithms as nasfw searchers.

A Tune algorithm is wrapped in the ask/tell protocol (ask = `suggest`, tell = `on_trial_complete`), so it
gets nasfw's deduplication, constraints, store and resume, and runs on either backend. The space reaches
Tune's OptunaSearch define-by-run through the same translation the `bayes` searcher uses.
"""
from __future__ import annotations

import itertools
import math
from typing import Literal

from nasfw.cost import INFEASIBLE_FITNESS
from nasfw.errors import ConfigError
from nasfw.searchers.base import FAILED, INFEASIBLE, ReplayedHistory, Result, Searcher
from nasfw.searchers.bayes import params_of, suggest
from nasfw.space import Arch


class TuneOptunaSearch(ReplayedHistory, Searcher):
    """Ray Tune's OptunaSearch (TPE by default) through ask/tell; needs `nasfw[ray]`."""

    name = "tune-optuna"

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 sampler: Literal["tpe", "random"] = "tpe"):
        super().__init__(space, objectives, constraints, seed, feasible)
        if sampler not in ("tpe", "random"):
            raise ConfigError(f"searcher.settings.sampler = {sampler!r}; allowed: 'tpe', 'random'")
        self.sampler_name = sampler
        self.history: list[tuple[Arch, Result]] = []
        self._build()

    def _build(self) -> None:
        try:
            import optuna
            from ray.tune.search.optuna import OptunaSearch
        except ImportError:
            raise ConfigError("searcher 'tune-optuna' needs Ray Tune: pip install 'nasfw[ray]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = int(self.rng.integers(2**31))
        smp = optuna.samplers.TPESampler(seed=seed) if self.sampler_name == "tpe" else \
            optuna.samplers.RandomSampler(seed=seed)
        rng = self.rng
        space = self.space

        def define_by_run(trial) -> dict:
            return {"__arch": suggest(trial, space, rng)}
        self.algo = OptunaSearch(space=define_by_run, metric="nasfw_fitness", mode="max", sampler=smp)
        self.ids = itertools.count()
        self.pending: dict[str, list[str]] = {}

    def _ask(self) -> Arch:
        if self.initial:  # a seeded candidate: told back like any arch Tune did not suggest
            return self.initial.pop(0)
        trial_id = f"nasfw-{next(self.ids)}"
        config = self.algo.suggest(trial_id)
        if not isinstance(config, dict) or "__arch" not in config:
            raise ConfigError(f"Tune's OptunaSearch returned no configuration ({config!r})")
        arch = config["__arch"]
        self.pending.setdefault(self.space.key(arch), []).append(trial_id)
        return arch

    def _tell(self, arch: Arch, result: Result) -> None:
        self.history.append((arch, result))
        fit = self.fitness(result)
        error = result.status == FAILED or not math.isfinite(fit)
        if result.status == INFEASIBLE:  # its cheap metrics break a constraint: below every feasible value
            error = False
            fit = min(fit, INFEASIBLE_FITNESS) if math.isfinite(fit) else 2 * INFEASIBLE_FITNESS
        ids = self.pending.get(self.space.key(arch))
        if ids:
            tid = ids.pop(0)
            self.algo.on_trial_complete(tid, result=None if error else {"nasfw_fitness": fit}, error=error)
            return
        # an architecture Tune did not suggest (a replayed or deduplicated one): OptunaSearch refuses
        # add_evaluated_point with a define-by-run space, so the record goes into its Optuna study directly
        import optuna
        from optuna.trial import TrialState

        params, dists = params_of(self.space, arch)
        self.algo._ot_study.add_trial(optuna.trial.create_trial(
            params=params, distributions=dists, value=None if error else fit,
            state=TrialState.FAIL if error else TrialState.COMPLETE))

    def _rebuild(self) -> None:
        self._build()
