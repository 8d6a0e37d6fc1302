"""Options checked against the type hints of the function that takes them.

A plugin's factories and phase methods say what they take in their signatures (`batch_size: int`,
`resolutions: int | Sequence[int]`); YAML hands them whatever the user wrote. Checking each option against its
hint where the options are resolved turns `batch_size: x` into one line naming the option, the value and what is
allowed, instead of a TypeError from deep inside training, and for every plugin without code of its own.

Written here rather than taken from a validation library (pydantic, typeguard, beartype): those check Python
values for programmers and report in their own terms; this needs only the few shapes plugin signatures use, a
user's wording, and one YAML repair: YAML 1.1 reads `1e-3` (no dot) as text, so a number-typed option given
such text gets the number. A hint this module cannot judge (a plugin's own class, a forward reference that does
not resolve) lets the value through: the factory still sees it, as before (YAML never holds an instance of a
plugin's class, so such a hint is the plugin's promise to convert, not a type to enforce).

Ranges are part of the hint too: `epochs: PositiveInt`, `lr: PositiveFloat`, `mutate_prob: Fraction` (typing's
`Annotated` with a `Bounds`), so `lr: -1` is refused with the campaign, not by the optimiser after setup.
"""
from __future__ import annotations

import collections.abc as cabc
import inspect
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable

from nasfw.errors import ConfigError

_SEQUENCES = (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)
# hint -> the values that fit it as they are (true/false is never taken for a number)
_SCALARS: dict[Any, tuple[type, ...]] = {type(None): (type(None),), bool: (bool,), int: (int,), float: (int, float),
                                         str: (str,), Path: (str, Path)}


class _Mismatch(Exception):
    pass


@dataclass(frozen=True)
class Bounds:
    """A number's allowed range, as the metadata of `Annotated[int, Bounds(low=1)]`; `low_open` excludes `low`."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # the base hint judged it (a None of an optional, say)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def text(self) -> str:
        if self.low is not None and self.high is not None and not self.low_open and not self.high_open:
            return f"from {self.low:g} to {self.high:g}"
        parts = [f"{'>' if self.low_open else '>='} {self.low:g}"] if self.low is not None else []
        high = [f"{'<' if self.high_open else '<='} {self.high:g}"] if self.high is not None else []
        return " and ".join(parts + high)


@dataclass(frozen=True)
class Note:
    """What a free-form option names, as the metadata of `Annotated[str, Note("a fake IBMQ device (...)")]`: a
    device, a dataset or a file is not a fixed set a `Literal` could hold, yet "a string" tells a user nothing.
    It checks nothing; `describe` (and so `nasfw plugins NAME` and a refusal's "allowed:") says it in place of
    "a string", so the text names the kind of value too: "the name of a fake IBMQ device ..."."""
    text: str


PositiveInt = Annotated[int, Bounds(low=1)]
NonNegativeInt = Annotated[int, Bounds(low=0)]
PositiveFloat = Annotated[float, Bounds(low=0, low_open=True)]
NonNegativeFloat = Annotated[float, Bounds(low=0)]
Fraction = Annotated[float, Bounds(low=0, high=1)]
# An image input's side for the MobileNet-like networks the microcontroller and phone models cost and the MBConv
# space searches: five stride-2 stages leave at least 1x1 of 16; 1,024 is past any microcontroller's input (the
# largest shipped board's 512 kB of SRAM holds no 3-channel int8 image beyond 413 x 413, and OFA's phone networks
# stop at 224), and a mistyped 100000 would only ask for terabytes of images.
MAX_RESOLUTION = 1024
InputSize = Annotated[int, Bounds(low=16, high=MAX_RESOLUTION)]
INPUT_SIZES = f"input sizes (integers from 16 to {MAX_RESOLUTION})"  # how a refusal says what is allowed


def is_input_size(r: Any) -> bool:
    return isinstance(r, int) and not isinstance(r, bool) and 16 <= r <= MAX_RESOLUTION


def hints_of(func: Callable) -> dict[str, Any]:
    """The resolved type hints of a function, a class's `__init__` or a `functools.partial`; {} where they do
    not resolve (a plugin's forward reference), so nothing is checked rather than something wrongly refused."""
    while hasattr(func, "func") and hasattr(func, "keywords"):  # functools.partial
        func = func.func
    if inspect.isclass(func):
        func = func.__init__
    func = getattr(func, "__wrapped__", func)
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - any failure to resolve means: do not judge
        return {}


def _number_text(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise _Mismatch from None
    if not math.isfinite(x):
        raise _Mismatch
    return x


def _coerce(value: Any, hint: Any) -> Any:
    if hint is Any or hint is inspect.Parameter.empty or hint is object:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        value = _coerce(value, args[0])
        if not all(m.holds(value) for m in hint.__metadata__ if isinstance(m, Bounds)):
            raise _Mismatch
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:  # exact matches first: `str | float` keeps '1e-3' as text
            try:
                return _coerce_exact(value, a)
            except _Mismatch:
                pass
        for a in args:
            try:
                return _coerce(value, a)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is typing.Literal:  # by type too: `true` is not the 1 of Literal[0, 1], nor is 1.0
        if any(type(value) is type(a) and value == a for a in args):
            return value
        raise _Mismatch
    if hint is float and isinstance(value, str):
        return _number_text(value)
    if hint in _SCALARS:
        if isinstance(value, _SCALARS[hint]) and (hint is bool or not isinstance(value, bool)):
            if hint is float and not math.isfinite(value):
                raise _Mismatch  # YAML's .nan and .inf, refused as the text 'nan' is: no range holds them
            return value
        raise _Mismatch
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise _Mismatch
            return type(value)(_coerce(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return type(value)(_coerce(v, item) for v in value)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        if not isinstance(value, dict):
            raise _Mismatch
        kt, vt = args if len(args) == 2 else (Any, Any)
        return {_coerce(k, kt): _coerce(v, vt) for k, v in value.items()}
    return value  # a plugin's own class, a protocol, a TypeVar: the factory judges the value itself


def _coerce_exact(value: Any, hint: Any) -> Any:
    """A member of a union that takes the value as it is (no text-to-number repair)."""
    if hint is float and isinstance(value, str):
        raise _Mismatch
    return _coerce(value, hint)


def describe(hint: Any) -> str:
    """What a hint allows, in a user's words."""
    if hint is Any or hint is inspect.Parameter.empty:
        return "anything"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        bounds = [m.text() for m in hint.__metadata__ if isinstance(m, Bounds)]
        notes = [m.text for m in hint.__metadata__ if isinstance(m, Note)]
        return "; ".join(notes) if notes else " ".join([describe(args[0])] + bounds)
    if origin in (typing.Union, types.UnionType):
        parts = [describe(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return repr(args[0]) if len(args) == 1 else "one of " + ", ".join(map(repr, args))
    names = {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "a string",
             Path: "a path"}
    if hint in names:
        return names[hint]
    if origin in _SEQUENCES or hint in _SEQUENCES:
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return f"a list of {len(args)}: " + ", ".join(describe(a) for a in args)
        return "a list" + (f" (each {describe(args[0])})" if args and args[0] is not Any else "")
    if origin in _MAPPINGS or hint in _MAPPINGS:
        if len(args) == 2 and args != (Any, Any):
            return f"a mapping ({describe(args[0])} -> {describe(args[1])})"
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


SEED_RANGE = (0, 2**32 - 1)  # what numpy's SeedSequence, torch.manual_seed and optuna's samplers all take


def check_seed(value: Any, field: str) -> None:
    """A seed outside 0 .. 2**32-1 fails deep inside numpy (negative) or optuna (too large), after setup."""
    if isinstance(value, bool) or not isinstance(value, int) or not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise ConfigError(f"{field} = {value!r} is not allowed; allowed: an integer from {SEED_RANGE[0]} to "
                          f"{SEED_RANGE[1]}")


def coerce_option(value: Any, hint: Any, field: str) -> Any:
    """`value` as the option `field` takes it (YAML's `1e-3` text as a number), or a ConfigError naming the
    field, the value and what is allowed."""
    try:
        return _coerce(value, hint)
    except _Mismatch:
        raise ConfigError(f"{field} = {value!r} is not allowed; allowed: {describe(hint)}{_closest(value, hint)}") \
            from None


def _closest(value: Any, hint: Any) -> str:
    """'; did you mean 'uniform'?' for a misspelt name among a Literal's (or an optional Literal's) strings."""
    import difflib

    args = typing.get_args(hint)
    if isinstance(value, (list, tuple)) and (typing.get_origin(hint) in _SEQUENCES or hint in _SEQUENCES) and args:
        names = typing.get_args(args[0]) if typing.get_origin(args[0]) is typing.Literal else ()
        wrong = [v for v in value if isinstance(v, str) and v not in names]
        return _closest(wrong[0], args[0]) if names and wrong else ""  # the first misspelt item of a list of names
    if not isinstance(value, str):
        return ""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = tuple(x for a in args if typing.get_origin(a) is typing.Literal for x in typing.get_args(a))
    elif typing.get_origin(hint) is not typing.Literal:
        return ""
    close = difflib.get_close_matches(value, [a for a in args if isinstance(a, str)], n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
