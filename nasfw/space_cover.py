"""Does a campaign's space hold only archs its task can evaluate?

A task built from `task_options` often carries its own idea of the space (the SuperCircuit it trains, the
supernet's widths), while the engine builds the searched space from `space_options`. When the two disagree the
search proposes archs the task cannot read, and every evaluation fails only after the supernet has trained (or,
worse, runs on a part of the device the user did not mean). `check_within` compares the two spaces up front,
decision by decision, on their `to_dict()` descriptions, so a task's `check_space` can refuse the campaign
before any work with a message that names what differs. A narrower space is fine: the searched space may
restrict a decision to some of the task's values, and may leave out decisions the task calls optional. A
permutation must arrange the same items as the task's: the items of a qubit mapping are the device's qubits, and
a mapping onto a smaller device's qubits would leave the task's other qubits unused without anyone asking for
it. `when` conditions and a permutation's `edges` change how archs are drawn, not which exist, and are ignored.
"""
from __future__ import annotations

from typing import Any, Iterable

from nasfw.errors import ConfigError
from nasfw.space import Space


def _values(d: dict[str, Any]) -> "set | None":
    """The finite set of values a decision takes, or None when it is not a plain finite set."""
    if d["type"] == "choice":
        return {_hashable(v) for v in d["options"]}
    if d["type"] == "int":
        return set(range(int(d["low"]), int(d["high"]) + 1, int(d.get("step", 1))))
    return None


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def _shown(values: Iterable[Any]) -> str:
    try:
        return str(sorted(values))
    except TypeError:  # mixed types
        return str(sorted(values, key=repr))


def _decision_problem(mine: dict[str, Any], ref: dict[str, Any], path: str) -> "str | None":
    name = f"{path}{mine['name']}"
    if mine["type"] != ref["type"] and not {mine["type"], ref["type"]} <= {"choice", "int"}:
        return f"'{name}' is a {mine['type']} decision here and a {ref['type']} in the task's"
    have, allowed = _values(mine), _values(ref)
    if have is not None and allowed is not None:
        extra = have - allowed
        return f"'{name}' offers {_shown(extra)}, which the task cannot take (it takes {_shown(allowed)})" \
            if extra else None
    kind = mine["type"]
    if kind == "float":
        if mine["low"] < ref["low"] or mine["high"] > ref["high"] or bool(mine.get("log")) != bool(ref.get("log")):
            return f"'{name}' spans [{mine['low']}, {mine['high']}], the task's [{ref['low']}, {ref['high']}]"
    elif kind == "permutation":  # the same items: a qubit mapping's items are the device's qubits
        if sorted(mine["items"]) != sorted(ref["items"]) or mine["k"] != ref["k"]:
            return (f"'{name}' arranges {mine['k']} of {_shown(mine['items'])}, where the task takes {ref['k']} of "
                    f"{_shown(ref['items'])}")
    elif kind == "tie":
        if mine["of"] != ref["of"]:
            return f"'{name}' copies '{mine['of']}' here and '{ref['of']}' in the task's"
    elif kind == "repeat":
        if mine["min"] < ref["min"] or mine["max"] > ref["max"]:
            return f"'{name}' repeats {mine['min']}-{mine['max']} times, the task {ref['min']}-{ref['max']}"
        inner = _problems(mine["body"], ref["body"], (), f"{name}[].")
        return inner[0] if inner else None
    return None


def _problems(mine: list[dict], ref: list[dict], optional: Iterable[str], path: str = "") -> list[str]:
    by_name = {d["name"]: d for d in ref}
    have = {d["name"] for d in mine}
    out = []
    for d in mine:
        if d["name"] not in by_name:
            out.append(f"'{path}{d['name']}' is not a decision the task knows")
        else:
            p = _decision_problem(d, by_name[d["name"]], path)
            if p:
                out.append(p)
    values = {d["name"]: _values(d) for d in mine}
    out += [f"'{path}{n}' is missing (the task needs it)" for n, d in by_name.items()
            if n not in have and n not in optional and _can_be_active(d, values)]
    return out


def _can_be_active(d: dict[str, Any], values: dict[str, "set | None"]) -> bool:
    """Whether a decision of the task's space can apply to an arch of the narrower space: not when a value it
    waits for (`when`) is one the space never takes (blocks past a smaller block count)."""
    for key, wanted in d.get("when", {}).items():
        have = values.get(key)
        if have is not None and not have & {_hashable(v) for v in wanted}:
            return False
    return True


def problems(space: Space, reference: Space, optional: Iterable[str] = ()) -> list[str]:
    """What of `space` lies outside `reference`: decisions it lacks (unless `optional`), decisions the
    reference does not have, and values the reference does not take."""
    return _problems(space.to_dict()["decisions"], reference.to_dict()["decisions"], tuple(optional))


class SpaceMismatch(ConfigError):
    """The searched space holds archs the task cannot evaluate. `what` says where they differ and `options`
    names the task_options the task's space follows, so the runner, which knows how the campaign named its space,
    can give the advice that fits (align space_options with task_options, or keep a written-out space within)."""

    def __init__(self, what: str, options: "str | None"):
        self.what, self.options = what, options
        follows = f" (it follows {options} in task_options)" if options else ""
        super().__init__(f"{what}. Search within the task's space: leave `space` out to search the task's "
                         f"own{follows}, or keep a space written out in full (a mapping, a space file, a Space "
                         "given to nasfw.search) within it")

    def __reduce__(self):  # pickled with its own arguments (the message alone would not rebuild it)
        return type(self), (self.what, self.options)

    def between_options(self) -> ConfigError:
        """The same finding, for a registered space built from space_options that disagree with task_options."""
        return ConfigError(f"space_options and task_options describe different spaces: {self.what}. Set "
                           f"{self.options} alike in space_options and task_options, or leave them out of "
                           "space_options where the task fills them in from its own")


def check_within(space: Space, reference: Space, task_name: str, options: "str | None" = None,
                 optional: Iterable[str] = ()) -> None:
    """Raise a SpaceMismatch when `space` holds archs the task (whose own space is `reference`) cannot
    evaluate. `options` names the task_options the task's space follows, e.g. "circuit, n_wires, n_blocks and
    device" (None for a task whose space is fixed)."""
    found = problems(space, reference, optional)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise SpaceMismatch(f"the space {space.name!r} does not fit task {task_name!r}, whose space is "
                            f"{reference.name!r}: {'; '.join(found[:3])}{more}", options)
