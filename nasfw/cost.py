"""Cost models, objectives and constraints: the vocabulary a campaign uses to say what "better" is.

Searchers never hard-code a metric; they receive `Objective`s and `Constraint`s from the campaign and use
the helpers here (scalarising, Pareto dominance, constraint violation) so every searcher reads a
campaign the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from nasfw.errors import ConfigError

Metrics = dict[str, float]


@runtime_checkable
class CostModel(Protocol):
    """Pure function of an architecture (or a built model) to metrics such as latency_ms, macs,
    peak_sram_kb, params. `cheap` cost models run before the expensive evaluation to filter."""

    name: str
    cheap: bool

    def evaluate(self, arch_or_model: Any) -> Metrics: ...


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str = "max"  # "max" or "min"

    def __post_init__(self):
        if self.direction not in ("max", "min"):
            raise ConfigError(f"objective {self.metric!r}: direction = {self.direction!r}; allowed: 'max', 'min'")

    @property
    def sign(self) -> float:
        """Multiply a metric by this to get a value where larger is better."""
        return 1.0 if self.direction == "max" else -1.0

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction}


@dataclass(frozen=True)
class Constraint:
    metric: str
    max: float | None = None
    min: float | None = None

    def __post_init__(self):
        if self.max is None and self.min is None:
            raise ConfigError(f"constraint on {self.metric!r} needs 'max' or 'min'")

    def violation(self, metrics: Mapping[str, float]) -> float:
        """0 when satisfied, else how far off, relative to the bound (comparable across metrics).
        A missing metric is not judged here: it may come from a later, more expensive stage."""
        v = metrics.get(self.metric)
        if v is None:
            return 0.0
        if v != v:  # NaN
            return math.inf
        out = 0.0
        if self.max is not None and v > self.max:
            out += (v - self.max) / max(abs(self.max), 1e-12)
        if self.min is not None and v < self.min:
            out += (self.min - v) / max(abs(self.min), 1e-12)
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"metric": self.metric}
        if self.max is not None:
            d["max"] = self.max
        if self.min is not None:
            d["min"] = self.min
        return d


def total_violation(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> float:
    return sum(c.violation(metrics) for c in constraints)


def violated(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> list[str]:
    """The constraints these metrics break, as a person reads them: `peak_sram_kb <= 64 (is 81.2)`."""
    return [f"{c.metric} {_bound(c)} (is {metrics.get(c.metric, float('nan')):.4g})"
            for c in constraints if c.violation(metrics) > 0]


def _bound(c: Constraint) -> str:
    return " and ".join(([f">= {c.min:g}"] if c.min is not None else []) +
                        ([f"<= {c.max:g}"] if c.max is not None else []))


def nearest_misses(constraints: Sequence[Constraint], rows: Sequence[Mapping[str, float]]) -> list[str]:
    """Each constraint these candidates broke, how many broke it and the value nearest to meeting it
    (`params_m <= 0.0001: 967 of 967, nearest 0.07312`): a bound that nothing in the space can meet shows
    itself as such, rather than as a search that found nothing."""
    out = []
    for c in constraints:
        values = [float(m[c.metric]) for m in rows if isinstance(m.get(c.metric), (int, float))]
        broken = [v for v in values if c.violation({c.metric: v}) > 0]
        if broken:
            nearest = min(broken, key=lambda v: c.violation({c.metric: v}))
            out.append(f"{c.metric} {_bound(c)}: {len(broken)} of {len(values)}, nearest {nearest:.4g}")
    return out


def objective_vector(objectives: Sequence[Objective], metrics: Mapping[str, float]) -> list[float]:
    """Larger-is-better values, -inf for a missing or NaN metric."""
    out = []
    for o in objectives:
        v = metrics.get(o.metric)
        out.append(-math.inf if v is None or v != v else o.sign * float(v))
    return out


def scalarize(objectives: Sequence[Objective], constraints: Sequence[Constraint],
              metrics: Mapping[str, float], weights: Sequence[float] | None = None) -> float:
    """One larger-is-better fitness for single-objective searchers: the weighted objectives (weights
    default to the first objective only), pushed below every feasible value when a constraint fails: to
    INFEASIBLE_FITNESS x (1 + violation), so that a smaller violation still ranks higher. The band lies below any
    objective a metric reaches (a fixed -1e12 lay above NAAS's minimised EDP, about -4e16, and a violation won)."""
    vec = objective_vector(objectives, metrics)
    w = list(weights) if weights is not None else [1.0] + [0.0] * (len(vec) - 1)
    val = sum(wi * vi for wi, vi in zip(w, vec) if wi)
    viol = total_violation(constraints, metrics)
    if viol > 0:
        return -math.inf if math.isinf(viol) else INFEASIBLE_FITNESS * (1.0 + min(viol, 1e6))
    return val


INFEASIBLE_FITNESS = -1e300  # x (1 + violation, at most 1e6) stays a finite float


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Pareto dominance on larger-is-better vectors."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points (larger-is-better): one numpy comparison per point rather than
    `dominates` over every pair in Python, since `nasfw compare` holds every run's evaluations together (ten runs
    of 500: 25 million pairs)."""
    import numpy as np

    p = np.asarray(points, dtype=float)
    return [i for i in range(len(p)) if not ((p >= p[i]).all(axis=1) & (p > p[i]).any(axis=1)).any()]


def mnasnet_reward(accuracy: float, latency: float, target: float, alpha: float = -0.07,
                   beta: float = -0.07) -> float:
    """MnasNet's latency-aware reward ACC * (LAT/T)^w with w = alpha when LAT <= T else beta
    (the soft constraint of Tan et al. 2019; alpha = beta = -0.07 by default)."""
    if latency <= 0 or target <= 0:
        raise ConfigError(f"mnasnet reward needs positive latency and target, got {latency!r}, {target!r}")
    w = alpha if latency <= target else beta
    return float(accuracy) * (latency / target) ** w
