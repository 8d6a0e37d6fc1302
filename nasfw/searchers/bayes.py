"""Bayesian and evolution-strategy search through Optuna's samplers, driven by ask/tell.

Optuna's TPE, GP and CMA-ES samplers are used as they are; this module only translates a nasfw `Space`
into define-by-run suggestions (conditions and repeats become conditional parameters, which TPE models
natively) and architectures the searcher did not ask for (deduplicated or replayed ones) into
`optuna.trial.create_trial` records, so resume and deduplication work as for every other searcher.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from nasfw.errors import ConfigError
from nasfw.option_types import NonNegativeInt
from nasfw.searchers.base import FAILED, INFEASIBLE, ReplayedHistory, Result, Searcher
from nasfw.space import Arch, Choice, Float, IntRange, Permutation, Repeat, Space, Tie

_SCALAR = (str, int, float, bool, type(None))


def _choice_values(d: Choice) -> list:
    return d.options if all(isinstance(o, _SCALAR) for o in d.options) else list(range(len(d.options)))


def suggest(trial, space: Space, rng, prefix: str = "") -> Arch:
    """Walk `space` asking `trial` for each active decision."""
    arch: Arch = {}
    for d in space.decisions:
        if not d.active(arch):
            continue
        key = f"{prefix}{d.name}"
        if isinstance(d, Tie):
            arch[d.name] = arch[d.of]
        elif isinstance(d, Choice):
            vals = _choice_values(d)
            v = trial.suggest_categorical(key, vals)
            arch[d.name] = v if vals is d.options else d.options[v]
        elif isinstance(d, IntRange):
            arch[d.name] = trial.suggest_int(key, d.low, d.high, step=d.step)
        elif isinstance(d, Float):
            arch[d.name] = trial.suggest_float(key, d.low, d.high, log=d.log)
        elif isinstance(d, Permutation):
            idx = [trial.suggest_categorical(f"{key}[{i}]", list(range(len(d.items)))) for i in range(d.k)]
            arch[d.name] = d.repair([d.items[i] for i in idx], rng)  # duplicates replaced, joined along d.edges
        elif isinstance(d, Repeat):
            n = trial.suggest_int(f"{key}.n", d.min, d.max)
            arch[d.name] = [suggest(trial, d.inner, rng, f"{key}[{i}].") for i in range(n)]
        else:
            raise ConfigError(f"decision {d.name!r} of kind {d.kind!r} has no Optuna translation")
    return arch


def params_of(space: Space, arch: Arch, prefix: str = "") -> tuple[dict, dict]:
    """The Optuna params and distributions that `suggest` would have produced for `arch`."""
    import optuna.distributions as od

    params: dict[str, Any] = {}
    dists: dict[str, Any] = {}
    for d in space.decisions:
        if d.name not in arch or isinstance(d, Tie):
            continue
        key, v = f"{prefix}{d.name}", arch[d.name]
        if isinstance(d, Choice):
            vals = _choice_values(d)
            params[key] = v if vals is d.options else d.index(v)
            dists[key] = od.CategoricalDistribution(vals)
        elif isinstance(d, IntRange):
            params[key], dists[key] = v, od.IntDistribution(d.low, d.high, step=d.step)
        elif isinstance(d, Float):
            params[key], dists[key] = v, od.FloatDistribution(d.low, d.high, log=d.log)
        elif isinstance(d, Permutation):
            for i, item in enumerate(v):
                k = f"{key}[{i}]"
                params[k] = d.items.index(item)
                dists[k] = od.CategoricalDistribution(list(range(len(d.items))))
        elif isinstance(d, Repeat):
            params[f"{key}.n"], dists[f"{key}.n"] = len(v), od.IntDistribution(d.min, d.max)
            for i, item in enumerate(v):
                p, q = params_of(d.inner, item, f"{key}[{i}].")
                params.update(p)
                dists.update(q)
    return params, dists


class OptunaSearcher(ReplayedHistory, Searcher):
    """Optuna's samplers through ask/tell: TPE by default.

    `sampler`: tpe, gp, cmaes (continuous spaces; categorical decisions fall back to random),
    random, or nsga2 (Optuna's own). Several objectives give a multi-objective study. `multivariate`
    None keeps Optuna's default for TPE (multivariate in Optuna 5, and several times faster per ask)."""

    name = "bayes"
    SAMPLERS = ("tpe", "gp", "cmaes", "random", "nsga2")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 sampler: Literal["tpe", "gp", "cmaes", "random", "nsga2"] = "tpe",
                 n_startup_trials: NonNegativeInt = 10, multivariate: bool | None = None):
        super().__init__(space, objectives, constraints, seed, feasible)
        if sampler not in self.SAMPLERS:
            raise ConfigError(f"searcher.settings.sampler = {sampler!r}; allowed: {list(self.SAMPLERS)}")
        if n_startup_trials < 0:
            raise ConfigError(f"searcher.settings.n_startup_trials = {n_startup_trials} must be >= 0")
        self.sampler_name, self.n_startup_trials, self.multivariate = sampler, n_startup_trials, multivariate
        self.history: list[tuple[Arch, Result]] = []
        self._new_study()

    def random_start(self) -> tuple[int, str] | None:
        return (self.n_startup_trials, "n_startup_trials") if self.sampler_name in ("tpe", "gp", "cmaes") else None

    def _make_sampler(self):
        import optuna

        s = self.sampler_name
        seed = int(self.rng.integers(2**31))
        if s == "tpe":
            kw = {} if self.multivariate is None else {"multivariate": self.multivariate}
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials, **kw)
        if s == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials)
        if s == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=self.n_startup_trials,
                                                warn_independent_sampling=False)
        if s == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)

    def _new_study(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(directions=[("maximize" if o.direction == "max" else "minimize")
                                                     for o in self.objectives], sampler=self._make_sampler())
        self.pending: dict[str, list] = {}
        self.seen: set[str] = set()

    def _ask(self) -> Arch:
        from optuna.trial import TrialState

        if self.initial:  # seeded candidates are Optuna's first trials
            self.study.enqueue_trial(params_of(self.space, self.initial.pop(0))[0], skip_if_exists=False)
        trial = self.study.ask()
        arch = suggest(trial, self.space, self.rng)
        key = self.space.key(arch)
        if key in self.seen:
            # TPE re-proposes cells it already knows; telling them back as trials would bloat the study
            # (every ask is linear in its size). Drop the trial and enqueue an unseen neighbour instead.
            self.study.tell(trial, state=TrialState.FAIL)
            cand = arch
            for _ in range(200):
                cand = self.space.mutate(cand, self.rng)
                if self.space.key(cand) not in self.seen and self.is_feasible(cand):
                    break
            self.study.enqueue_trial(params_of(self.space, cand)[0], skip_if_exists=False)
            trial = self.study.ask()
            arch = suggest(trial, self.space, self.rng)
            key = self.space.key(arch)
        self.seen.add(key)
        self.pending.setdefault(key, []).append(trial)
        return arch

    def _values(self, result: Result) -> list[float] | None:
        vals = []
        for o in self.objectives:
            v = result.metrics.get(o.metric)
            if v is None or not math.isfinite(float(v)):
                return None
            vals.append(float(v))
        return vals

    def _worst(self) -> list[float] | None:
        done = [t.values for t in self.study.get_trials(deepcopy=False) if t.values is not None]
        if not done:
            return None
        return [min(v[i] for v in done) if o.direction == "max" else max(v[i] for v in done)
                for i, o in enumerate(self.objectives)]

    def _tell(self, arch: Arch, result: Result) -> None:
        import optuna
        from optuna.trial import TrialState

        self.history.append((arch, result))
        self.seen.add(self.space.key(arch))
        vals = self._values(result) if result.status != FAILED else None
        violation = sum(c.violation(result.metrics) for c in self.constraints)
        if result.status == INFEASIBLE:
            violation = max(violation, 1.0)
            vals = vals or self._worst()
        constraints = {"nasfw_violation": violation} if self.constraints else None
        trials = self.pending.get(self.space.key(arch))
        if trials:
            trial = trials.pop(0)
            if constraints:  # Optuna's constrained TPE/GP/NSGA-II read these (feasible when <= 0)
                trial.set_constraint("nasfw_violation", violation)
            if vals is None:
                self.study.tell(trial, state=TrialState.FAIL)
            else:
                self.study.tell(trial, vals)
            return
        params, dists = params_of(self.space, arch)
        self.study.add_trial(optuna.trial.create_trial(
            params=params, distributions=dists, values=vals, constraints=constraints,
            state=TrialState.FAIL if vals is None else TrialState.COMPLETE))

    def _rebuild(self) -> None:
        self._new_study()
