"""The ask/tell searcher protocol shared by every strategy.

A searcher sees architectures (plain dicts) and `Result`s; it never runs an evaluation itself.
Deduplication, cheap-constraint filtering and failure handling are done once, in
`nasfw.evaluation`, for every searcher.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
import inspect
import math
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from nasfw.cost import Constraint, Objective, scalarize
from nasfw.errors import ConfigError, SearcherError, SpaceError
from nasfw.option_types import coerce_option, hints_of
from nasfw.space import Arch, Space

OK, FAILED, INFEASIBLE = "ok", "failed", "infeasible"
LOST = "lost"  # the infrastructure failed (a worker process or node died): recorded, not counted, may be retried


@dataclass
class Result:
    """What the evaluator hands back for one architecture."""

    status: str = OK
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK


class Searcher(ABC):
    """Base class: subclasses implement `_ask` and `_tell`, and list their extra state in `_state`.

    `feasible(arch) -> bool` is the campaign's cheap-constraint check (MACs, memory, a LUT); searchers that
    generate candidates (evolution, NSGA-II) call it so infeasible ones are never proposed.
    """

    name = "base"
    needs: tuple[str, ...] = ()  # space capabilities this searcher relies on
    _state: tuple[str, ...] = ()
    max_feasible_tries = 1000

    def __init__(self, space: Space, objectives: Sequence[Objective] | None = None,
                 constraints: Sequence[Constraint] | None = None, seed: int = 0,
                 feasible: Callable[[Arch], bool] | None = None):
        self.space = space
        self.objectives = list(objectives or [Objective("accuracy", "max")])
        self.constraints = list(constraints or [])
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.feasible = feasible
        self.n_told = 0
        self.n_fruitless = 0  # proposals none of whose max_feasible_tries draws met the cheap constraints
        # candidates to try before any random one (`seed_initial`): the first draws of `random_arch`
        self.initial: list[Arch] = []

    # --- protocol -------------------------------------------------------------------------------
    def ask(self) -> Arch:
        arch = self._ask()
        try:  # cheap; a plugin's searcher that strays would otherwise fail every evaluation, blamed on none
            self.space.validate(arch)
        except SpaceError as e:
            raise SearcherError(f"searcher {self.name!r} proposed an architecture outside the space: {e}; its "
                                "_ask must return a dict of the space (space.sample, space.mutate or "
                                "random_arch give one)") from None
        return arch

    def tell(self, arch: Arch, result: Result) -> None:
        self.n_told += 1
        self._tell(arch, result)

    @abstractmethod
    def _ask(self) -> Arch:
        ...

    @abstractmethod
    def _tell(self, arch: Arch, result: Result) -> None:
        ...

    def reset_pending(self) -> None:
        """Forget asks that will never be answered (the driver died while they ran)."""

    def random_start(self) -> tuple[int, str] | None:
        """How many first candidates this searcher draws at random before results steer it, and the setting
        that says so (an evolution's population, a model's start-up trials); None where that does not apply."""
        return None

    # --- helpers for subclasses ------------------------------------------------------------------
    def fitness(self, result: Result) -> float:
        """Larger is better; failed evaluations are worst, constraint violations next."""
        if result.status == FAILED:
            return -math.inf
        return scalarize(self.objectives, self.constraints, result.metrics)

    def is_feasible(self, arch: Arch) -> bool:
        return self.feasible is None or bool(self.feasible(arch))

    def propose(self, make: Callable[[], Arch]) -> Arch:
        """Draw from `make` until the cheap constraints accept (bounded; then the last draw is
        returned and the evaluator records it as infeasible)."""
        arch = make()
        for _ in range(self.max_feasible_tries):
            if self.is_feasible(arch):
                return arch
            arch = make()
        self.n_fruitless += 1
        return arch

    def seed_initial(self, archs: Sequence[Arch]) -> None:
        """Known starting points (a task's layouts, a user's earlier best) that take the place of the first
        random draws: the initial population of the evolutionary searchers, random search's first candidates,
        Optuna's first trials. Each is evaluated as given, cheap constraints included; a searcher that draws
        nothing at random (the RL controller) ignores them."""
        self.initial.extend(copy.deepcopy(list(archs)))

    def random_arch(self) -> Arch:
        if self.initial:
            return self.initial.pop(0)
        return self.propose(lambda: self.space.sample(self.rng))

    # --- checkpoints ------------------------------------------------------------------------------
    def check_state(self) -> None:
        """Refuse state that a checkpoint cannot keep (a lambda, an open file, a torch module with hooks), naming
        the attributes: the run failed at its first checkpoint with pickle's message and no searcher named."""
        bad = []
        for k in self._state:
            try:
                pickle.dumps(getattr(self, k))
            except Exception as e:  # noqa: BLE001 - pickle raises TypeError, AttributeError, PicklingError, ...
                bad.append(f"{k} ({type(e).__name__}: {e})")
        if not bad:
            try:
                pickle.dumps(self.state_dict())
                return
            except Exception as e:  # noqa: BLE001 - a state_dict of the searcher's own
                bad.append(f"its state_dict() ({type(e).__name__}: {e})")
        raise SearcherError(f"searcher {self.name!r} keeps state that a checkpoint cannot hold: "
                            f"{'; '.join(bad)}; list only plain data (numbers, strings, "
                            "lists, dicts, arrays) in _state")

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(getattr(self, k)) for k in self._state}
        state["rng"] = self.rng.bit_generator.state
        state["n_told"] = self.n_told
        state["initial"] = copy.deepcopy(self.initial)
        state["searcher"] = self.name
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("searcher") != self.name:
            raise ConfigError(f"checkpoint is for searcher {state.get('searcher')!r}, not {self.name!r}")
        for k in self._state:
            setattr(self, k, copy.deepcopy(state[k]))
        self.rng.bit_generator.state = state["rng"]
        self.n_told = state["n_told"]
        self.initial = copy.deepcopy(state.get("initial", []))  # checkpoints of earlier versions have none


class ReplayedHistory:
    """For a searcher whose model is a library's state that does not pickle (an optuna study): its checkpoint is
    what it was told, and resuming builds the model afresh (`_rebuild`) and tells it all again. Put it before
    `Searcher` in the bases; the searcher defines `_rebuild`, and its `_tell` appends to `self.history`."""

    history: list
    _rebuild: Callable[[], None]  # the searcher's own: a fresh model (study) to tell the history again

    def state_dict(self) -> dict[str, Any]:
        s = super().state_dict()  # type: ignore[misc]
        s["history"] = list(self.history)
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # type: ignore[misc]
        self._rebuild()
        self.history = []
        for arch, result in state["history"]:
            self._tell(arch, result)  # type: ignore[attr-defined]


class GenerationalSearcher(Searcher):
    """Generation-based ask/tell (OFA evolution, NSGA-II): the children of a generation are handed out one
    ask at a time; once every one has been told, `_next_generation` turns parents + children into the next
    parents.

    With parallel workers the driver asks for the next candidate as soon as one is recorded, so some child of
    the generation is nearly always still running when its last one is handed out. Asks made then draw extra
    children from the same parents; they join the selection pool of whichever generation they are told in,
    and the generation turns on its own children alone. (Counting the extras in, as before, kept one ask
    outstanding for ever with two workers: no generation ever turned, and every 'generation' was the first
    one's random draw again.)"""

    _state = ("population", "queue", "outstanding", "extra", "drawn", "told", "generation")

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None):
        super().__init__(space, objectives, constraints, seed, feasible)
        self.population: list = []
        self.queue: list = []  # children of this generation not yet asked
        self.outstanding: dict[str, int] = {}  # key -> asks of this generation's children not yet told
        self.extra: list = []  # children drawn from the same parents for asks beyond the generation
        self.drawn = False  # whether this generation's children have been drawn
        self.told: list = []  # entries told in this generation
        self.generation = 0

    @abstractmethod
    def _children(self) -> list[Arch]:
        ...

    @abstractmethod
    def _entry(self, arch: Arch, result: Result):
        """What a told result contributes to selection (None: nothing)."""

    @abstractmethod
    def _next_generation(self, pool: list) -> list:
        ...

    def initial_population(self, n: int) -> list[Arch]:
        """`n` random archs, the seeded ones (`seed_initial`) among them and placed where `_ask` hands them
        out first, so that a budget smaller than a generation still evaluates them."""
        seeds, self.initial = self.initial[:n], self.initial[n:]
        return [self.random_arch() for _ in range(n - len(seeds))] + seeds[::-1]

    def reset_pending(self) -> None:
        self.outstanding = {}

    def _ask(self) -> Arch:
        if not self.drawn:
            self.queue, self.extra, self.drawn = self._children(), [], True
        if self.queue:
            arch = self.queue.pop()
            k = self.space.key(arch)
            self.outstanding[k] = self.outstanding.get(k, 0) + 1
            return arch
        if not self.extra:
            self.extra = self._children()
        return self.extra.pop()

    def _tell(self, arch: Arch, result: Result) -> None:
        k = self.space.key(arch)
        if k in self.outstanding:
            self.outstanding[k] -= 1
            if not self.outstanding[k]:
                del self.outstanding[k]
        e = self._entry(arch, result)
        if e is not None:
            self.told.append(e)
        if self.drawn and not self.queue and not self.outstanding and self.told:
            self.population = self._next_generation(self.population + self.told)
            self.told, self.extra, self.drawn = [], [], False
            self.generation += 1

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "outstanding" not in state:  # a checkpoint of a version that counted asks in `pending`
            state = {**state, "outstanding": {}, "extra": [],
                     "drawn": bool(state.get("queue") or state.get("told") or state.get("pending"))}
        super().load_state_dict(state)


# An evolution draws a whole generation at once and keeps it in its checkpoint: 100 (Once-for-All, MCUNet) or 40
# (QuantumNAS) in the papers; a mistyped population of 100,000,000 drew candidates until the machine gave out.
MAX_POPULATION = 10_000


def random_start_note(searcher: Searcher, budget: int) -> str | None:
    """Said before a search whose budget ends within the searcher's random start: it will only sample at random
    (`--searcher ofa-evolution --budget 50`: a first generation of 100), which nothing else tells the user."""
    start = searcher.random_start()
    if start is None or start[0] < budget:
        return None
    count, setting = start
    return (f"searcher {searcher.name!r} draws its first {count} candidates at random "
            f"(searcher.settings.{setting}) and the budget is {budget} evaluations, so this search samples at "
            f"random only; set {setting} below the budget (or raise the budget) for the results to steer it")


def check_at_least(name: str, value: float, low: float) -> None:
    """A searcher's numeric setting checked where it is read (a script may build the searcher without
    `make_searcher`, whose type hints would have checked it); NaN fails too."""
    if not value >= low:
        raise ConfigError(f"searcher.settings.{name} = {value!r} must be >= {low}")


def make_searcher(cls: type[Searcher], space: Space, settings: dict[str, Any] | None = None,
                  **common: Any) -> Searcher:
    """Build a searcher, turning an unknown or mistyped setting into an error that names it."""
    settings = dict(settings or {})
    sig = inspect.signature(cls.__init__)
    base = set(inspect.signature(Searcher.__init__).parameters)
    # a plugin's searcher may take its settings after the base's arguments without a `*` (keyword-only) first
    allowed = {k: p for k, p in sig.parameters.items()
               if k not in base and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    hints = hints_of(cls)
    for k, v in settings.items():
        if k not in allowed:
            raise ConfigError(f"searcher.settings.{k} is not a setting of {cls.name!r}; allowed: {sorted(allowed)}")
        if k in hints:  # the type hint says what is allowed (and takes YAML's `1e-3` text as a number)
            settings[k] = coerce_option(v, hints[k], f"searcher.settings.{k}")
            continue
        default = allowed[k].default  # a searcher without hints: the default's type
        if default is not None and default is not inspect.Parameter.empty:
            ok = isinstance(v, type(default)) or (isinstance(default, float) and isinstance(v, int))
            if isinstance(v, bool) and not isinstance(default, bool):
                ok = False
            if not ok:
                raise ConfigError(f"searcher.settings.{k} = {v!r} must be a {type(default).__name__} "
                                  f"(default {default!r})")
    missing = [n for n in cls.needs if not hasattr(space, n)]
    if missing:
        raise SpaceError(f"searcher {cls.name!r} needs space capabilities {missing}")
    searcher = cls(space, **common, **settings)
    searcher.check_state()  # before any work, not at the first checkpoint
    return searcher
