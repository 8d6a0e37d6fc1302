"""NSGA-II (Deb et al., 2002) for Pareto fronts over the campaign's objectives.

Selection uses Deb's constraint-domination: a feasible candidate beats an infeasible one, two infeasible
ones compare by total violation, two feasible ones by Pareto rank and crowding distance. Variation is
the space's own crossover and mutation, so it works on any space (permutations and repeats included).

Written here rather than taken from Optuna's `NSGAIISampler`, which draws each parameter from Optuna's own
distributions and so cannot use a space's permutation (qubit mapping) or repeat (elastic depth) operators, nor hand
cheap-constraint filtering to the engine. The ranking and crowding distance are Optuna's in substance:
tests/test_searchers.py compares them with its `_fast_non_domination_rank` (penalties included) and
`_calc_crowding_distance` on random populations.
"""
from __future__ import annotations

import math
from typing import Annotated

from nasfw.cost import dominates, objective_vector, total_violation
from nasfw.errors import ConfigError
from nasfw.option_types import Bounds, Fraction
from nasfw.searchers.base import FAILED, INFEASIBLE, MAX_POPULATION, GenerationalSearcher, Result
from nasfw.space import Arch


def non_dominated_sort(points: list[list[float]], violations: list[float]) -> list[list[int]]:
    """Fronts of indices under constraint-domination (larger-is-better objective vectors)."""
    n = len(points)

    def beats(i: int, j: int) -> bool:
        vi, vj = violations[i], violations[j]
        if vi == 0 and vj > 0:
            return True
        if vi > 0 or vj > 0:
            return vi < vj
        return dominates(points[i], points[j])

    dominated_by = [[] for _ in range(n)]
    count = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if beats(i, j):
                dominated_by[i].append(j)
                count[j] += 1
            elif beats(j, i):
                dominated_by[j].append(i)
                count[i] += 1
    fronts, current = [], [i for i in range(n) if count[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        current = nxt
    return fronts

def crowding_distance(points: list[list[float]], front: list[int]) -> dict[int, float]:
    dist = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        order = sorted(front, key=lambda i: points[i][m])
        lo, hi = points[order[0]][m], points[order[-1]][m]
        dist[order[0]] = dist[order[-1]] = math.inf
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi == lo:
            continue
        for k in range(1, len(order) - 1):
            dist[order[k]] += (points[order[k + 1]][m] - points[order[k - 1]][m]) / (hi - lo)
    return dist

class NSGA2(GenerationalSearcher):
    """NSGA-II: non-dominated sorting and crowding distance over the objectives, constraint-domination first."""

    name = "nsga2"
    needs = ("mutate", "crossover")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 population_size: Annotated[int, Bounds(low=4, high=MAX_POPULATION)] = 20,
                 crossover_prob: Fraction = 0.9, mutate_prob: Fraction = 0.1):
        super().__init__(space, objectives, constraints, seed, feasible)
        if population_size < 4:
            raise ConfigError(f"searcher.settings.population_size = {population_size} must be >= 4")
        for k, v in (("crossover_prob", crossover_prob), ("mutate_prob", mutate_prob)):
            if not 0 <= v <= 1:
                raise ConfigError(f"searcher.settings.{k} = {v!r} must be in [0, 1]")
        self.population_size, self.crossover_prob, self.mutate_prob = population_size, crossover_prob, mutate_prob
        # population entries: (objective vector, violation, arch)

    def random_start(self) -> tuple[int, str]:
        return self.population_size, "population_size"

    def _entry(self, arch: Arch, result: Result):
        if result.status == FAILED:
            return None
        return (objective_vector(self.objectives, result.metrics),
                total_violation(self.constraints, result.metrics) + (1.0 if result.status == INFEASIBLE else 0.0),
                arch)

    def _next_generation(self, pool: list) -> list:
        pts, viol = [p[0] for p in pool], [p[1] for p in pool]
        chosen: list[int] = []
        for front in non_dominated_sort(pts, viol):
            cd = crowding_distance(pts, front)
            if len(chosen) + len(front) <= self.population_size:
                chosen += front
            else:
                rest = sorted(front, key=lambda i: -cd[i])
                chosen += rest[: self.population_size - len(chosen)]
                break
        return [pool[i] for i in chosen]

    def _tournament(self, ranks: list[tuple[int, float]]) -> int:
        i, j = self.rng.integers(len(ranks), size=2)
        (ri, ci), (rj, cj) = ranks[i], ranks[j]
        return int(i) if (ri, -ci) <= (rj, -cj) else int(j)

    def _children(self) -> list[Arch]:
        if len(self.population) < 2:
            return self.initial_population(self.population_size)
        pts, viol = [p[0] for p in self.population], [p[1] for p in self.population]
        ranks = [(0, 0.0)] * len(self.population)
        for r, front in enumerate(non_dominated_sort(pts, viol)):
            cd = crowding_distance(pts, front)
            for i in front:
                ranks[i] = (r, cd[i])
        kids = []
        for _ in range(self.population_size):
            a = self.population[self._tournament(ranks)][2]
            b = self.population[self._tournament(ranks)][2]

            def make(a=a, b=b) -> Arch:
                child = self.space.crossover(a, b, self.rng) if self.rng.random() < self.crossover_prob else dict(a)
                return self.space.mutate(child, self.rng, self.mutate_prob)
            kids.append(self.propose(make))
        return kids

    def pareto(self) -> list[tuple[list[float], Arch]]:
        pts = [p[0] for p in self.population]
        viol = [p[1] for p in self.population]
        fronts = non_dominated_sort(pts, viol) if pts else [[]]
        return [(self.population[i][0], self.population[i][2]) for i in fronts[0]]

