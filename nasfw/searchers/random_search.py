"""Random search: the baseline every other searcher must beat."""
from __future__ import annotations

from nasfw.searchers.base import Result, Searcher
from nasfw.space import Arch


class RandomSearch(Searcher):
    """Uniform draws from the space (the cheap constraints met): the baseline every other searcher must beat."""

    name = "random"

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None):
        super().__init__(space, objectives, constraints, seed, feasible)

    def _ask(self) -> Arch:
        return self.random_arch()

    def _tell(self, arch: Arch, result: Result) -> None:
        pass
