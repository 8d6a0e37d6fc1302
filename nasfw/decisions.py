"""The decisions a search space is made of (the vocabulary of `nasfw.space`).

An architecture is a plain JSON dict ``{decision name: value}``; a `Repeat` holds a list of such dicts.
Every decision can also be *walked* as a sequence of categorical steps (``walk``/``steps``): that one
mechanism serves uniform sampling, the RL controller (which picks each step from a softmax) and the
Optuna adapter (which suggests each decision define-by-run), so conditional and repeated decisions
work identically for every searcher. The decisions whose value is a list (`Permutation`, `Repeat`) live in
`nasfw.list_decisions`.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
import math
from typing import Any, Callable, Sequence

import numpy as np

from nasfw.errors import SpaceError

Arch = dict[str, Any]
# chooser(slot_key, n_options, mask or None) -> chosen index
Chooser = Callable[[str, int, "np.ndarray | None"], int]

FLOAT_BINS = 16  # grid used when a continuous decision is walked as categorical steps (RL controller)


def as_rng(rng: "np.random.Generator | int | None") -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _uniform_chooser(rng: np.random.Generator) -> Chooser:
    def choose(_key: str, n: int, mask: "np.ndarray | None") -> int:
        if mask is None:
            return int(rng.integers(n))
        return int(rng.choice(np.flatnonzero(mask)))
    return choose


class Decision(ABC):
    """One named decision. Subclasses define values, steps, encoding and mutation."""

    kind = "decision"

    def __init__(self, name: str, when: "dict[str, Sequence[Any]] | None" = None):
        if not isinstance(name, str) or not name:
            raise SpaceError(f"decision name must be a non-empty string, got {name!r}")
        self.name = name
        if when is not None and not isinstance(when, dict):
            raise SpaceError(f"{name}.when must be a mapping of earlier decisions to lists of values, got {when!r}")
        for k, v in (when or {}).items():
            if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) or not v:  # "conv" read as c, o, n, v
                example = f", e.g. [{v!r}]" if v else ""
                raise SpaceError(f"{name}.when.{k} = {v!r} is not allowed; allowed: a non-empty list of values of "
                                 f"{k!r}{example}")
        self.when = {k: list(v) for k, v in (when or {}).items()}

    # --- structure -------------------------------------------------------------------------
    def active(self, arch: Arch) -> bool:
        return all(arch.get(k, _MISSING) in allowed for k, allowed in self.when.items())

    @abstractmethod
    def slots(self, prefix: str) -> list[tuple[str, int]]:
        """(slot key, number of options) for every categorical step in the maximal structure."""
        ...

    @abstractmethod
    def walk(self, choose: Chooser, prefix: str) -> Any:
        ...

    @abstractmethod
    def steps(self, value: Any, prefix: str) -> list[tuple[str, int, "np.ndarray | None", int]]:
        """The categorical steps that `walk` would take to produce `value` (for log-probabilities)."""
        ...

    def sample(self, rng: np.random.Generator) -> Any:
        return self.walk(_uniform_chooser(rng), self.name)

    def mutate(self, value: Any, rng: np.random.Generator) -> Any:
        return self.sample(rng)

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> Any:
        return a if rng.random() < 0.5 else b

    @abstractmethod
    def validate(self, value: Any, path: str) -> None:
        ...

    def width(self) -> int:
        return 1

    @abstractmethod
    def encode(self, value: Any) -> list[float]:
        ...

    @abstractmethod
    def decode(self, vec: Sequence[float]) -> Any:
        ...

    @abstractmethod
    def count(self) -> float:
        ...

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.when:
            d["when"] = self.when
        return d


_MISSING = object()


def _fail(path: str, value: Any, allowed: str) -> SpaceError:
    return SpaceError(f"{path} = {value!r} is not allowed; allowed: {allowed}")


class Choice(Decision):
    """A value from a finite list of JSON scalars (op names, kernel sizes, ...)."""

    kind = "choice"

    def __init__(self, name: str, options: Sequence[Any], when=None):
        super().__init__(name, when)
        if not isinstance(options, (list, tuple)) or len(options) == 0:
            raise SpaceError(f"{name}.options must be a non-empty list, got {options!r}")
        self.options = list(options)
        for i, o in enumerate(self.options):
            try:
                json.dumps(o)
            except (TypeError, ValueError):
                raise SpaceError(f"{name}.options[{i}] = {o!r} is not allowed; allowed: JSON values (strings, numbers, "
                                 "booleans, null): architectures are stored and sent as JSON") from None
        self._index = {json.dumps(o): i for i, o in enumerate(self.options)}
        if len(self._index) != len(self.options):
            raise SpaceError(f"{name}.options has duplicates: {self.options!r}")

    def index(self, value: Any) -> int:
        i = self._index.get(json.dumps(value))
        return -1 if i is None else i

    def slots(self, prefix):
        return [(prefix, len(self.options))]

    def walk(self, choose, prefix):
        return self.options[choose(prefix, len(self.options), None)]

    def steps(self, value, prefix):
        return [(prefix, len(self.options), None, self.index(value))]

    def mutate(self, value, rng):
        if len(self.options) == 1:
            return value
        i = self.index(value)
        j = int(rng.integers(len(self.options) - 1))
        return self.options[j + (j >= i)] if i >= 0 else self.options[j]

    def validate(self, value, path):
        if isinstance(value, (list, dict)) or self.index(value) < 0:
            raise _fail(path, value, f"one of {self.options!r}")

    def encode(self, value):
        return [float(self.index(value))]

    def decode(self, vec):
        i = int(round(vec[0]))
        if not 0 <= i < len(self.options):
            raise SpaceError(f"{self.name}: encoded index {vec[0]!r} out of range 0..{len(self.options) - 1}")
        return self.options[i]

    def count(self):
        return float(len(self.options))

    def to_dict(self):
        return {**super().to_dict(), "options": self.options}


class IntRange(Decision):
    """An integer in [low, high] on a step grid (channel counts, depths, PE counts)."""

    kind = "int"

    def __init__(self, name: str, low: int, high: int, step: int = 1, when=None):
        super().__init__(name, when)
        for key, v in (("low", low), ("high", high), ("step", step)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise SpaceError(f"{name}.{key} must be an integer, got {v!r}")
        if step < 1 or high < low:
            raise SpaceError(f"{name}: need low <= high and step >= 1, got low={low}, high={high}, step={step}")
        self.low, self.high, self.step = int(low), int(high), int(step)
        self.n = (self.high - self.low) // self.step + 1

    def slots(self, prefix):
        return [(prefix, self.n)]

    def walk(self, choose, prefix):
        return self.low + self.step * choose(prefix, self.n, None)

    def steps(self, value, prefix):
        return [(prefix, self.n, None, (int(value) - self.low) // self.step)]

    def mutate(self, value, rng):
        if self.n == 1:
            return value
        # local move most of the time, a jump otherwise: keeps elastic widths near their parent
        if rng.random() < 0.5:
            i = (value - self.low) // self.step + (1 if rng.random() < 0.5 else -1)
            i = min(max(i, 0), self.n - 1)
            if self.low + i * self.step != value:
                return self.low + i * self.step
        i = (value - self.low) // self.step
        j = int(rng.integers(self.n - 1))
        return self.low + self.step * (j + (j >= i))

    def crossover(self, a, b, rng):
        return a if rng.random() < 0.5 else b

    def validate(self, value, path):
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not ok or not self.low <= value <= self.high or (value - self.low) % self.step:
            raise _fail(path, value, f"integers {self.low}..{self.high} in steps of {self.step}")

    def encode(self, value):
        return [float(value)]

    def decode(self, vec):
        v = self.low + self.step * int(round((vec[0] - self.low) / self.step))
        return int(min(max(v, self.low), self.high))

    def count(self):
        return float(self.n)

    def to_dict(self):
        return {**super().to_dict(), "low": self.low, "high": self.high, "step": self.step}


class Float(Decision):
    """A real number in [low, high], linear or log scale (learning rates, tiling ratios)."""

    kind = "float"

    def __init__(self, name: str, low: float, high: float, log: bool = False, when=None):
        super().__init__(name, when)
        try:
            low, high = float(low), float(high)
        except (TypeError, ValueError):
            raise SpaceError(f"{name}: low and high must be numbers, got {low!r}, {high!r}") from None
        if not low < high or (log and low <= 0):
            raise SpaceError(f"{name}: need low < high (and low > 0 for log), got low={low}, high={high}")
        self.low, self.high, self.log = low, high, bool(log)

    def _to_unit(self, v: float) -> float:
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def _from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return float(min(max(v, self.low), self.high))  # rounding must not leave the range

    def slots(self, prefix):
        return [(prefix, FLOAT_BINS)]

    def walk(self, choose, prefix):
        return self._from_unit((choose(prefix, FLOAT_BINS, None) + 0.5) / FLOAT_BINS)

    def steps(self, value, prefix):
        return [(prefix, FLOAT_BINS, None, min(int(self._to_unit(value) * FLOAT_BINS), FLOAT_BINS - 1))]

    def sample(self, rng):
        return self._from_unit(float(rng.random()))

    def mutate(self, value, rng):
        return self._from_unit(self._to_unit(value) + float(rng.normal(0.0, 0.1)))

    def crossover(self, a, b, rng):
        w = float(rng.random())
        return self._from_unit(w * self._to_unit(a) + (1 - w) * self._to_unit(b))

    def validate(self, value, path):
        ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
        if not ok or not (self.low <= value <= self.high):
            raise _fail(path, value, f"a number in [{self.low}, {self.high}]" + (" (log scale)" if self.log else ""))

    def encode(self, value):
        return [float(value)]

    def decode(self, vec):
        return float(min(max(vec[0], self.low), self.high))

    def count(self):
        return math.inf

    def to_dict(self):
        return {**super().to_dict(), "low": self.low, "high": self.high, "log": self.log}


class Tie(Decision):
    """A value copied from an earlier decision: one width shared by a producer and its consumers."""

    kind = "tie"

    def __init__(self, name: str, of: str, when=None):
        super().__init__(name, when)
        self.of = of

    # A tie has no value and no step of its own: the Space copies its source's value into the architecture
    # and checks equality there, so it contributes nothing to walking, checking or encoding.
    def slots(self, prefix):
        return []

    def walk(self, choose, prefix):
        return None

    def steps(self, value, prefix):
        return []

    def validate(self, value, path):
        pass

    def width(self):
        return 0

    def encode(self, value):
        return []

    def decode(self, vec):
        return None

    def count(self):
        return 1.0

    def to_dict(self):
        return {**super().to_dict(), "of": self.of}
