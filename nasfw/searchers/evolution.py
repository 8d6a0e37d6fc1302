"""Evolutionary searchers.

`RegularizedEvolution` is aging evolution (Real et al., AAAI 2019): tournament selection, one mutation
per child, the oldest member dies. `OFAEvolution` is the generational variant of Once-for-All's search
(Cai et al., ICLR 2020), also used by MCUNet and QuantumNAS: keep the top `parent_ratio` of the
population, refill with mutants (each decision changes with `mutate_prob`) and crossovers. Both reject
candidates that the campaign's cheap cost models rule out before anything is evaluated.
"""
from __future__ import annotations

from collections import deque
from typing import Annotated

from nasfw.errors import ConfigError
from nasfw.option_types import Bounds, Fraction, NonNegativeInt, PositiveInt
from nasfw.searchers.base import (FAILED, INFEASIBLE, MAX_POPULATION, GenerationalSearcher, Result, Searcher,
                                  check_at_least)
from nasfw.space import Arch


def _ratio(name: str, v: float) -> None:
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"searcher.settings.{name} = {v!r} must be in [0, 1]")


PopulationSize = Annotated[int, Bounds(low=2, high=MAX_POPULATION)]


class RegularizedEvolution(Searcher):
    """Aging evolution: tournament selection of `sample_size`, one mutation per child, the oldest dies."""

    name = "evolution"
    needs = ("mutate",)
    _state = ("population", "n_asked_init")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 population_size: PopulationSize = 20, sample_size: PositiveInt = 5, mutate_prob: Fraction = 0.0):
        super().__init__(space, objectives, constraints, seed, feasible)
        check_at_least("population_size", population_size, 2)
        check_at_least("sample_size", sample_size, 1)
        _ratio("mutate_prob", mutate_prob)
        if sample_size > population_size:
            raise ConfigError(f"searcher.settings.sample_size = {sample_size} must be <= population_size "
                              f"({population_size})")
        self.population_size, self.sample_size, self.mutate_prob = population_size, sample_size, mutate_prob
        self.population: deque = deque(maxlen=population_size)  # (fitness, arch), oldest first
        self.n_asked_init = 0

    def _ask(self) -> Arch:
        if len(self.population) < self.population_size and self.n_asked_init < self.population_size:
            self.n_asked_init += 1
            return self.random_arch()
        if not self.population:
            return self.random_arch()
        k = min(self.sample_size, len(self.population))
        idx = self.rng.choice(len(self.population), size=k, replace=False)
        parent = max((self.population[i] for i in idx), key=lambda p: p[0])[1]
        return self.propose(lambda: self.space.mutate(parent, self.rng, self.mutate_prob))

    def random_start(self) -> tuple[int, str]:
        return self.population_size, "population_size"

    def _tell(self, arch: Arch, result: Result) -> None:
        if result.status in (FAILED, INFEASIBLE):
            return
        self.population.append((self.fitness(result), arch))

    def state_dict(self):
        s = super().state_dict()
        s["population"] = list(self.population)
        return s

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.population = deque(state["population"], maxlen=self.population_size)


class OFAEvolution(GenerationalSearcher):
    """Once-for-All's generational evolution: the best `parent_ratio` survive, mutants and crossovers refill."""

    name = "ofa-evolution"
    needs = ("mutate", "crossover")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None, *,
                 population_size: PopulationSize = 100, parent_ratio: Fraction = 0.25, mutation_ratio: Fraction = 0.5,
                 mutate_prob: Fraction = 0.1, n_children: NonNegativeInt = 0):
        super().__init__(space, objectives, constraints, seed, feasible)
        check_at_least("population_size", population_size, 2)
        _ratio("parent_ratio", parent_ratio)
        _ratio("mutation_ratio", mutation_ratio)
        _ratio("mutate_prob", mutate_prob)
        self.population_size = population_size
        self.n_parents = max(1, int(round(parent_ratio * population_size)))
        self.n_mutants = int(round(mutation_ratio * population_size))
        self.mutate_prob = mutate_prob  # population: (fitness, arch) of the current parents, best first
        # children per generation: by default the parents are topped up to the population size (QuantumNAS's
        # 10 parents + 20 mutants + 10 crossovers = 40); Once-for-All and MCUNet breed a whole population on
        # top of the parents (n_children = population_size: 50 mutants + 50 crossovers beside 25 parents)
        if n_children < 0:
            raise ConfigError(f"searcher.settings.n_children = {n_children} must be >= 0 (0: population_size - "
                              "parents)")
        self.n_children = n_children or max(1, population_size - self.n_parents)

    def random_start(self) -> tuple[int, str]:
        return self.population_size, "population_size"

    def _children(self) -> list[Arch]:
        if not self.population:
            return self.initial_population(self.population_size)
        parents = [a for _, a in self.population]
        pick = lambda: parents[int(self.rng.integers(len(parents)))]  # noqa: E731
        kids = []
        for i in range(self.n_children):
            if i < self.n_mutants:
                p = pick()
                kids.append(self.propose(lambda: self.space.mutate(p, self.rng, self.mutate_prob)))
            else:
                a, b = pick(), pick()
                kids.append(self.propose(lambda: self.space.crossover(a, b, self.rng)))
        return kids

    def _entry(self, arch: Arch, result: Result):
        return None if result.status in (FAILED, INFEASIBLE) else (self.fitness(result), arch)

    def _next_generation(self, pool: list) -> list:
        return sorted(pool, key=lambda p: p[0], reverse=True)[: self.n_parents]

    @property
    def best(self) -> tuple[float, Arch] | None:
        return self.population[0] if self.population else None
