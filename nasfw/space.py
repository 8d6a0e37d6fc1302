"""The search-space language.

An architecture is a plain JSON dict ``{decision name: value}``; a `Repeat` holds a list of such dicts.
Every decision can also be *walked* as a sequence of categorical steps (``walk``/``steps``): that one
mechanism serves uniform sampling, the RL controller (which picks each step from a softmax) and the
Optuna adapter (which suggests each decision define-by-run), so conditional and repeated decisions
work identically for every searcher. The decisions themselves live in `nasfw.decisions` and `nasfw.list_decisions`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from nasfw.decisions import FLOAT_BINS, Arch, Choice, Chooser, Decision, Float, IntRange, Tie, _fail, as_rng
from nasfw.list_decisions import Permutation, Repeat
from nasfw.errors import SpaceError, did_you_mean

__all__ = ["Arch", "Choice", "Chooser", "Decision", "Float", "IntRange", "Permutation", "Repeat", "Space", "Tie",
           "FLOAT_BINS", "as_rng", "decision_from_dict"]


class Space:
    """An ordered list of decisions; later decisions may depend (``when``) on earlier ones."""

    def __init__(self, decisions: Iterable[Decision], name: str = "space"):
        self.name = name
        self.decisions: list[Decision] = list(decisions)
        seen: dict[str, Decision] = {}
        for d in self.decisions:
            if not isinstance(d, Decision):
                raise SpaceError(f"space {name!r}: {d!r} is not a decision")
            if d.name in seen:
                raise SpaceError(f"space {name!r}: decision name {d.name!r} is used twice")
            for k, values in d.when.items():
                if k not in seen:
                    raise SpaceError(f"{d.name}.when refers to {k!r}, which is not an earlier decision")
                for v in values:  # a value the decision never takes (a typo) left this one absent from every arch
                    try:
                        seen[k].validate(v, f"{d.name}.when.{k}")
                    except SpaceError as e:
                        raise SpaceError(f"{e}: {k!r} never takes it, so {d.name!r} would be absent then") from None
            if isinstance(d, Tie) and (d.of not in seen or isinstance(seen[d.of], (Tie, Repeat))):
                raise SpaceError(f"{d.name}.of = {d.of!r} must name an earlier choice/int/float/permutation")
            seen[d.name] = d
        self._by_name = seen
        self._width = sum(d.width() for d in self.decisions)

    # --- generation ----------------------------------------------------------------------------
    def walk(self, choose: Chooser, prefix: str = "") -> Arch:
        arch: Arch = {}
        for d in self.decisions:
            if not d.active(arch):
                continue
            arch[d.name] = arch[d.of] if isinstance(d, Tie) else d.walk(choose, _join(prefix, d.name))
        return arch

    def steps(self, arch: Arch, prefix: str = "") -> list:
        out: list = []
        for d in self.decisions:
            if d.name in arch and not isinstance(d, Tie):
                out += d.steps(arch[d.name], _join(prefix, d.name))
        return out

    def slots(self, prefix: str = "") -> list[tuple[str, int]]:
        out: list = []
        for d in self.decisions:
            out += d.slots(_join(prefix, d.name))
        return out

    def sample(self, rng: "np.random.Generator | int | None" = None) -> Arch:
        rng = as_rng(rng)
        arch: Arch = {}
        for d in self.decisions:
            if d.active(arch):
                arch[d.name] = arch[d.of] if isinstance(d, Tie) else d.sample(rng)
        return arch

    def _fix(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Re-apply conditions and ties after a change: drop inactive keys, sample newly active ones."""
        out: Arch = {}
        for d in self.decisions:
            if not d.active(out):
                continue
            if isinstance(d, Tie):
                out[d.name] = out[d.of]
            elif d.name in arch:
                out[d.name] = arch[d.name]
            else:
                out[d.name] = d.sample(rng)
        return out

    def mutate(self, arch: Arch, rng: "np.random.Generator | int | None" = None, prob: float = 0.0) -> Arch:
        """Mutate each present decision with probability `prob`; at least one always changes."""
        rng = as_rng(rng)
        free = [d for d in self.decisions if d.name in arch and not isinstance(d, Tie)]
        if not free:
            return dict(arch)
        new = dict(arch)
        forced = free[int(rng.integers(len(free)))]
        def change(d: Decision):
            return d.mutate(arch[d.name], rng, prob=prob) if isinstance(d, Repeat) else d.mutate(arch[d.name], rng)
        for d in free:
            if d is forced:
                for _ in range(20):  # a clamped float or a repeat redrawn at its depth can come back equal
                    new[d.name] = change(d)
                    if new[d.name] != arch[d.name]:
                        break
            elif rng.random() < prob:
                new[d.name] = change(d)
        return self._fix(new, rng)

    def crossover(self, a: Arch, b: Arch, rng: "np.random.Generator | int | None" = None) -> Arch:
        rng = as_rng(rng)
        child: Arch = {}
        for d in self.decisions:
            if isinstance(d, Tie):
                continue
            if d.name in a and d.name in b:
                child[d.name] = d.crossover(a[d.name], b[d.name], rng)
            elif d.name in a or d.name in b:
                child[d.name] = (a if d.name in a else b)[d.name]
        return self._fix(child, rng)

    # --- checking and encoding -------------------------------------------------------------------
    def validate(self, arch: Any, path: str = "arch") -> Arch:
        if not isinstance(arch, dict):
            raise SpaceError(f"{path} must be a JSON object (dict) of decisions, got {type(arch).__name__}")
        present: Arch = {}
        for d in self.decisions:
            p = f"{path}.{d.name}"
            if d.active(present):
                if d.name not in arch:
                    raise SpaceError(f"{p} is missing; allowed: {_describe(d)}")
                if isinstance(d, Tie):
                    if arch[d.name] != present[d.of]:
                        raise _fail(p, arch[d.name], f"the value of {d.of} ({present[d.of]!r}), tied")
                else:
                    d.validate(arch[d.name], p)
                present[d.name] = arch[d.name]
            elif d.name in arch:
                raise SpaceError(f"{p} = {arch[d.name]!r} is not allowed here: it exists only when {d.when}")
        unknown = sorted(set(arch) - set(self._by_name))
        if unknown:
            raise SpaceError(f"{path}.{unknown[0]} is not a decision of space {self.name!r}; "
                             f"allowed: {sorted(self._by_name)}")
        return arch

    def is_valid(self, arch: Any) -> bool:
        try:
            self.validate(arch)
            return True
        except SpaceError:
            return False

    def width(self) -> int:
        return self._width

    def encode(self, arch: Arch) -> np.ndarray:
        out: list[float] = []
        for d in self.decisions:
            w = d.width()
            if w == 0:
                continue
            out += d.encode(arch[d.name]) if d.name in arch else [math.nan] * w
        return np.asarray(out, dtype=float)

    def decode(self, vec: Sequence[float]) -> Arch:
        vec = np.asarray(vec, dtype=float)
        if vec.shape != (self._width,):
            raise SpaceError(f"encoded vector has shape {vec.shape}; space {self.name!r} needs ({self._width},)")
        arch: Arch = {}
        i = 0
        for d in self.decisions:
            w = d.width()
            part = vec[i:i + w]
            i += w
            if not d.active(arch):
                continue
            if isinstance(d, Tie):
                arch[d.name] = arch[d.of]
            elif np.isnan(part[0]):
                raise SpaceError(f"encoded slot for {d.name} is absent (NaN) but the decision is active")
            else:
                arch[d.name] = d.decode(part)
        return arch

    def size(self) -> float:
        """Number of distinct architectures (inf with a Float). Conditions are counted exactly for
        decisions that depend on one finite earlier decision (the common case); otherwise an upper bound."""
        return self._count(list(self.decisions), {})

    def _count(self, decisions: list[Decision], fixed: Arch) -> float:
        if not decisions:
            return 1.0
        d, rest = decisions[0], decisions[1:]
        if not d.active(fixed):
            return self._count(rest, fixed)
        dependents = any(d.name in r.when for r in rest) or any(isinstance(r, Tie) and r.of == d.name for r in rest)
        if isinstance(d, Choice) and dependents:
            return sum(self._count(rest, {**fixed, d.name: o}) for o in d.options)
        if isinstance(d, IntRange) and dependents and d.n <= 256:
            return sum(self._count(rest, {**fixed, d.name: d.low + i * d.step}) for i in range(d.n))
        return d.count() * self._count(rest, {**fixed, d.name: _ANY})

    def key(self, arch: Arch) -> str:
        """Canonical string for deduplication and storage."""
        return json.dumps(arch, sort_keys=True, separators=(",", ":"), default=_json_default)

    # --- (de)serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "decisions": [d.to_dict() for d in self.decisions]}

    @classmethod
    def from_dict(cls, spec: Any, path: str = "space") -> "Space":
        if not isinstance(spec, dict) or not isinstance(spec.get("decisions"), list):
            raise SpaceError(f"{path} must be a mapping with a 'decisions' list")
        return cls([decision_from_dict(d, f"{path}.decisions[{i}]") for i, d in enumerate(spec["decisions"])],
                   name=str(spec.get("name", "space")))

    @classmethod
    def from_yaml(cls, source: "str | Path") -> "Space":
        import yaml

        from nasfw import yaml_files

        is_file = isinstance(source, Path) or ("\n" not in str(source) and Path(str(source)).is_file())
        text = Path(source).read_text() if is_file else str(source)
        try:
            spec = yaml_files.load(text)
        except yaml.YAMLError as e:
            raise SpaceError(f"space YAML does not parse{yaml_files.problem(e)}") from None
        if isinstance(spec, dict) and "space" in spec and "decisions" not in spec:
            spec = spec["space"]
        return cls.from_dict(spec)

    def __repr__(self) -> str:
        return f"Space({self.name!r}, {len(self.decisions)} decisions, size={self.size():.3g})"


class _Any:
    def __eq__(self, other):  # a fixed-but-unknown value: conditions on it count as satisfied
        return True

    __hash__ = object.__hash__


_ANY = _Any()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(d: Decision) -> str:
    info = d.to_dict()
    info.pop("name")
    info.pop("when", None)
    return json.dumps(info, default=str)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"not JSON-serialisable: {o!r}")


_TYPES: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    "choice": (Choice, ("options",), ()),
    "int": (IntRange, ("low", "high"), ("step",)),
    "float": (Float, ("low", "high"), ("log",)),
    "permutation": (Permutation, ("items",), ("k", "edges")),
    "tie": (Tie, ("of",), ()),
    "repeat": (Repeat, ("body", "min", "max"), ()),
}


def decision_from_dict(spec: Any, path: str) -> Decision:
    if not isinstance(spec, dict):
        raise SpaceError(f"{path} must be a mapping, got {spec!r}")
    kind = spec.get("type")
    if kind not in _TYPES:
        raise SpaceError(f"{path}.type = {kind!r} is not allowed{did_you_mean(kind, _TYPES)}; allowed: "
                         f"{sorted(_TYPES)}")
    cls, required, optional = _TYPES[kind]
    allowed = {"name", "type", "when", *required, *optional}
    for k in spec:
        if k not in allowed:
            raise SpaceError(f"{path}.{k} is not a field of a {kind} decision{did_you_mean(k, allowed)}; allowed: "
                             f"{sorted(allowed)}")
    for k in ("name", *required):
        if k not in spec:
            raise SpaceError(f"{path}.{k} is missing (a {kind} decision needs {['name', *required]})")
    kwargs = {k: spec[k] for k in (*required, *optional) if k in spec}
    when = spec.get("when")
    if when is not None and (not isinstance(when, dict) or not all(isinstance(v, list) for v in when.values())):
        raise SpaceError(f"{path}.when must map earlier decision names to lists of values, got {when!r}")
    if kind == "float":
        for k in ("low", "high"):
            if isinstance(kwargs[k], str):  # YAML reads 1e-4 as a string
                try:
                    kwargs[k] = float(kwargs[k])
                except ValueError:
                    raise SpaceError(f"{path}.{k} = {kwargs[k]!r} is not a number") from None
    if kind == "repeat":
        if not isinstance(kwargs["body"], list):
            raise SpaceError(f"{path}.body must be a list of decisions")
        kwargs["body"] = [decision_from_dict(b, f"{path}.body[{i}]") for i, b in enumerate(kwargs["body"])]
        return Repeat(spec["name"], when=when, **kwargs)
    return cls(spec["name"], when=when, **kwargs)
