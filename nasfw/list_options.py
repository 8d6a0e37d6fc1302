"""What each component of a plugin takes, for `nasfw plugins NAME`: a task's options and its phases' settings, a
space's and a cost model's options, a searcher's settings, each with its default and what is allowed.

A user learnt a setting's name from the error that refused a wrong one, or from the code. The listing is read
from the same signatures and type hints that check a campaign (`registry.check_options`, `make_searcher`), so it
says what is accepted and cannot drift from it.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable

from nasfw.errors import ConfigError
from nasfw.option_types import describe, hints_of

ENGINE_FILLED = ("progress",)  # a phase's progress switch is the run's (`--no-progress`), not a campaign setting
KIND_LABELS = {"tasks": "task", "search_spaces": "search space", "cost_models": "cost model",
               "searchers": "searcher", "campaigns": "campaign"}
FIELDS = {"tasks": "task_options", "search_spaces": "space_options", "cost_models": "hardware options",
          "searchers": "searcher.settings"}


@dataclass
class Option:
    name: str
    default: Any  # inspect.Parameter.empty: required
    allowed: str

    def as_dict(self) -> dict[str, Any]:
        required = self.default is inspect.Parameter.empty
        return {"name": self.name, "required": required, "default": None if required else _plain(self.default),
                "allowed": self.allowed}


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def options_of(factory: Callable, skip: int = 0, leave_out: tuple[str, ...] = ()) -> list[Option]:
    """The named parameters of `factory` after its first `skip` positional ones (a method's self and the
    arguments the engine passes), with their defaults and what their hints allow."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    hints = hints_of(factory)
    params = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD][:skip]
    out = []
    for p in params:
        if p.name in positional or p.name in leave_out:
            continue
        if p.name in hints:
            allowed = describe(hints[p.name])
        elif p.default not in (p.empty, None):
            allowed = f"like the default ({type(p.default).__name__})"
        else:
            allowed = "anything"
        out.append(Option(p.name, p.default, allowed))
    return out


def component(registry, kind: str, name: str) -> dict[str, Any]:
    """One registered component: its description and, per campaign field, the options it takes."""
    from nasfw.searchers.base import Searcher

    entry = registry.entry(kind, name)
    obj = entry.obj
    fields: dict[str, list[Option]] = {}
    if kind == "searchers":
        base = tuple(inspect.signature(Searcher.__init__).parameters)
        fields["searcher.settings"] = options_of(obj, leave_out=base)
    elif kind in FIELDS:
        fields[FIELDS[kind]] = options_of(obj)
    if kind == "tasks" and inspect.isclass(obj):  # a task a function builds has no methods to read until built
        if hasattr(obj, "train_supernet"):  # (self, run_dir, ...)
            fields["phases.supernet"] = options_of(obj.train_supernet, skip=2, leave_out=ENGINE_FILLED)
        if hasattr(obj, "finalize"):  # (self, arch, run_dir, ...)
            fields["phases.finalize.task"] = options_of(obj.finalize, skip=3, leave_out=ENGINE_FILLED)
    notes = _campaign_notes(obj) if kind == "campaigns" else []
    return {"kind": KIND_LABELS[kind], "name": name, "plugin": entry.plugin, "description": entry.description,
            "fields": fields, "notes": notes}


def _campaign_notes(campaign: dict[str, Any]) -> list[str]:
    """What `--plugin NAME` runs, and what each `--budget` preset changes besides the evaluations."""
    searcher = campaign.get("searcher")
    if isinstance(searcher, dict):
        settings = searcher.get("settings") or {}
        searcher = str(searcher.get("name")) + (f" {json.dumps(settings)}" if settings else "")
    budget = campaign.get("budget")
    evaluations = budget.get("evaluations") if isinstance(budget, dict) else budget
    runs = f"task {campaign.get('task')}, space {campaign.get('space')}, searcher {searcher}"
    notes = [f"{runs}, {evaluations} evaluations"]
    presets = []
    for preset, value in (campaign.get("budgets") or {}).items():
        if isinstance(value, dict):
            others = [k for k in value if k != "evaluations"]
            presets.append(f"{preset} {value.get('evaluations')}" + (f" (and {', '.join(others)})" if others else ""))
        else:
            presets.append(f"{preset} {value}")
    if presets:
        notes.append("--budget: " + ", ".join(presets))
    return notes


def components_named(registry, name: str) -> list[dict[str, Any]]:
    """Every component of plugin `name`, or else every component called `name` (a task, a searcher...)."""
    if name in registry.plugins:
        provides = registry.plugins[name].provides
        return [component(registry, kind, n) for kind in KIND_LABELS for n in provides.get(kind, [])]
    if name in registry.failures:
        raise ConfigError(f"nasfw plugins: plugin {name!r} failed to load: {registry.failures[name]}")
    found = [component(registry, kind, name) for kind in KIND_LABELS if name in registry.entries[kind]]
    if not found:
        known = sorted(set(registry.plugins) | {n for kind in KIND_LABELS for n in registry.entries[kind]})
        raise ConfigError(f"nasfw plugins: {name!r} is neither a plugin nor a component of one; known: "
                          f"{', '.join(known)}")
    return found


def text(components: list[dict[str, Any]]) -> str:
    lines = []
    for c in components:
        lines.append(f"{c['kind']} {c['name']}  (plugin {c['plugin']})" +
                     (f": {c['description']}" if c["description"] else ""))
        lines.extend(f"    {note}" for note in c["notes"])
        for field, opts in c["fields"].items():
            if not opts:
                lines.append(f"    {field}: none")
                continue
            lines.append(f"    {field}:")
            width = max(len(o.name) for o in opts)
            shown = ["(required)" if o.default is inspect.Parameter.empty else json.dumps(_plain(o.default))
                     for o in opts]
            dwidth = min(max(len(s) for s in shown), 28)
            for o, s in zip(opts, shown):
                lines.append(f"      {o.name:<{width}}  {s:<{dwidth}}  {o.allowed}")
    return "\n".join(lines)


def as_json(components: list[dict[str, Any]]) -> str:
    return json.dumps([{**c, "fields": {f: [o.as_dict() for o in opts] for f, opts in c["fields"].items()}}
                       for c in components], indent=2)
