"""A campaign: the YAML that says what to search, on what, for what, with which budget.

Validated completely before anything starts, so a typo fails in the first second with a message that names
the field, the value and what is allowed, rather than an hour into a run. The run itself lives in
`nasfw.runner`; this module is the schema.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nasfw import yaml_files
from nasfw.cost import Constraint, Objective
from nasfw.errors import ConfigError, unknown_name
from nasfw.option_types import check_seed

DEFAULT_PRESETS = {"small": 20, "medium": 100, "large": 500}
BACKENDS = ("local", "ray")

# field -> (allowed types, description of what is allowed)
FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "description": ((str,), "a string"),
    "plugin": ((str,), "a plugin name"),
    "space": ((str, dict), "a registered space name, a space file (.yaml, .json) or a mapping with 'decisions'"),
    "space_options": ((dict,), "a mapping of options for the space factory"),
    "task": ((str,), "a registered task name"),
    "task_options": ((dict,), "a mapping of options for the task factory"),
    "hardware": ((list, str), "a list of cost-model names or {name, options} mappings"),
    "objectives": ((list,), "a list of {metric, direction: max|min}"),
    "constraints": ((list,), "a list of {metric, max and/or min}"),
    "searcher": ((str, dict), "a searcher name or {name, settings, initial}"),
    "budget": ((dict, int), "{evaluations: N, wall_time_s: S} or a positive integer"),
    "budgets": ((dict,), "named budget presets, e.g. {small: 20, medium: 100}"),
    "seed": ((int,), "an integer"),
    "backend": ((str,), f"one of {list(BACKENDS)}"),
    "address": ((str, type(None)), "a Ray address HOST:PORT"),
    "workers": ((int,), "a positive integer"),
    "resources": ((dict,), "per-trial resources {cpus: N, gpus: N} (backend ray)"),
    "out": ((str,), "a folder path"),
    "phases": ((dict,), "{supernet: true|false|{...}, finalize: {top_k: N, export: [formats], task: {...}}}"),
    "evaluation": ((dict,), "{timeout_s, retries, max_duplicates, checkpoint_every_s, fail_fast, in_order}"),
}
REQUIRED = ("space", "task", "objectives", "searcher", "budget")
EVALUATION_ALLOWED = {"timeout_s": "a non-negative number of seconds (0: no limit)",
                      "retries": "a non-negative integer", "max_duplicates": "a non-negative integer",
                      "checkpoint_every_s": "a non-negative number of seconds",
                      "fail_fast": "a non-negative integer (0: never stop for failures)",
                      "in_order": "true or false (false: results recorded as workers finish them, which keeps "
                                  "every worker busy but lets a seeded run with several workers differ)"}
EVALUATION_FIELDS = {"timeout_s": (int, float), "retries": (int,), "max_duplicates": (int,),
                     "checkpoint_every_s": (int, float), "fail_fast": (int,), "in_order": (bool,)}
PHASE_FIELDS = {"supernet": (bool, dict), "finalize": (dict,)}


@dataclass
class Campaign:
    space: Any
    task: str
    objectives: list[Objective]
    searcher: str
    budget_evaluations: int | None
    budget_wall_time_s: float | None
    plugin: str | None = None
    name: str = "campaign"
    description: str = ""
    space_options: dict = field(default_factory=dict)
    task_options: dict = field(default_factory=dict)
    hardware: list[tuple[str, dict]] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    searcher_settings: dict = field(default_factory=dict)
    searcher_initial: list | dict | None = None  # the user's first candidates: archs, or {run, top}
    seed: int = 0
    backend: str = "local"
    address: str | None = None
    workers: int = 1
    resources: dict = field(default_factory=dict)
    out: str = "runs/campaign"
    phases: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What identifies a campaign for --resume: everything but where and how fast it runs."""
        keep = identity(self.raw)
        return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.raw, sort_keys=False)


# where and how fast a campaign runs: may change on --resume
NOT_IDENTITY = ("out", "workers", "backend", "address", "budget", "budgets", "description", "evaluation", "phases",
                "resources")


def identity(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if k not in NOT_IDENTITY}


def identity_changes(before: dict, after: dict, limit: int = 4) -> list[str]:
    """The fields that make `after` another campaign than `before` (a --resume that would mix two searches'
    evaluations), one level into mappings: `searcher.name: 'evolution' -> 'bayes'`."""
    def show(v: Any) -> str:
        text = "(unset)" if v is _UNSET else json.dumps(v, sort_keys=True, default=str)
        return text if len(text) <= 60 else text[:57] + "..."

    a, b, out = identity(before), identity(after), []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k, _UNSET), b.get(k, _UNSET)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            out += [f"{k}.{kk}: {show(x.get(kk, _UNSET))} -> {show(y.get(kk, _UNSET))}"
                    for kk in sorted(set(x) | set(y)) if x.get(kk, _UNSET) != y.get(kk, _UNSET)]
        else:
            out.append(f"{k}: {show(x)} -> {show(y)}")
    return out[:limit] + ([f"and {len(out) - limit} more"] if len(out) > limit else [])


_UNSET = object()


def _type_error(path: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{path} = {value!r} is not allowed; allowed: {allowed}")


def _is(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # YAML's .nan and .inf: a NaN bound passed `min > max` and every comparison, constraining nothing
    return isinstance(value, types)


def _merge_deep(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = _merge_deep(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def merge(base: dict, override: dict) -> dict:
    """Override a default campaign with a user's: mappings merge one level deep, `phases` all the way down (a
    user who sets `phases.finalize.task.shots` keeps the default's other finalize settings) and `searcher.settings`
    two levels for the same searcher, the rest replaces.
    Options of a space or task the user replaced by another do not carry over, nor, for another task, the
    default's phase settings below the phase names (they are options of the task's own methods)."""
    out = copy.deepcopy(base)
    for owner, opts in (("space", "space_options"), ("task", "task_options")):
        if owner in override and override[owner] != base.get(owner):
            out.pop(opts, None)
    if "task" in override and override["task"] != base.get("task") and isinstance(out.get("phases"), dict):
        # the phases still run (or stay off), with the new task's own defaults
        out["phases"] = {name: ({} if isinstance(v, dict) else v) for name, v in out["phases"].items()}
    for k, v in override.items():
        if k in ("searcher", "phases", "evaluation", "task_options", "space_options") and isinstance(v, dict) \
                and isinstance(out.get(k), dict):
            if k == "searcher" and v.get("name") not in (None, out[k].get("name")):
                # another searcher: its settings do not carry over; the starting archs are the search's, and do
                kept = {"initial": out[k]["initial"]} if "initial" in out[k] else {}
                out[k] = {**kept, **copy.deepcopy(v)}
            elif k == "phases" and override.get("task", base.get("task")) == base.get("task"):
                out[k] = _merge_deep(out[k], v)  # phase options belong to the task: another task's start afresh
            elif k == "searcher" and isinstance(v.get("settings"), dict) and isinstance(out[k].get("settings"), dict):
                # the same searcher keeps the default's other settings: a file that sets population_size alone
                # must not drop QuantumNAS's mutate_prob 0.4 for the class default
                out[k] = {**out[k], **copy.deepcopy(v), "settings": {**out[k]["settings"], **v["settings"]}}
            else:
                out[k] = {**out[k], **copy.deepcopy(v)}
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"campaign file {str(p)!r} does not exist")
    data = yaml_files.read(p, f"campaign file {p}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"campaign file {p} must hold a mapping of campaign fields, got {type(data).__name__}")
    return data


SET_FORM = ("FIELD=VALUE, FIELD a campaign field or a dotted path into one (task_options.device=lima, "
            "phases.finalize.task.shots=4096, constraints.0.max=128), VALUE read as YAML")


def parse_set(text: str) -> tuple[list[str], Any]:
    """One `--set FIELD=VALUE`: the path and the value, read as YAML reads a value (`3` an int, `[1, 2]` a list,
    `lima` a string), so a field set here gets what the same text in a campaign file would give it."""
    key, sep, value = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise ConfigError(f"--set {text!r} is not allowed; allowed: {SET_FORM}")
    try:
        parsed = yaml_files.load(value)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML{yaml_files.problem(e)}") from None
    return path, parsed


def apply_set(raw: dict, path: list[str], value: Any, text: str) -> dict:
    """The campaign with one field set. A whole field (`--set task=quantumnas-vqe`) merges as a campaign file's
    field does (another task drops the old task's options); a dotted path changes that one value and keeps its
    neighbours, at any depth and in lists (`constraints.0.max`), where a file's mapping merges one level deep."""
    if len(path) == 1:
        return merge(raw, {path[0]: value})
    out = copy.deepcopy(raw)
    if isinstance(out.get("searcher"), str):  # `searcher: evolution` is short for {name: evolution}
        out["searcher"] = {"name": out["searcher"]}
    node: Any = out
    for depth, key in enumerate(path):
        here = ".".join(path[:depth])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                index = f"an index 0..{len(node) - 1}, or " if node else ""
                raise ConfigError(f"--set {text!r}: {here} is a list of {len(node)}; {key!r} is not allowed; "
                                  f"allowed: {index}the whole list (--set {here}=[...])")
            key = int(key)
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {text!r}: {here} = {node!r} holds no fields; set it whole (--set {here}=...)")
        if depth == len(path) - 1:
            node[key] = value
            break
        child = node[key] if isinstance(node, list) else node.get(key)
        if child is None and path[depth + 1].isdigit():  # an item of a list the campaign does not hold
            field = ".".join(path[:depth + 1])
            raise ConfigError(f"--set {text!r}: this campaign does not hold {field} (a list; a plugin's task may "
                              f"fill it in later, as `--dry-run` prints); allowed: the whole list, e.g. --set "
                              f"'{field}=[...]'")
        if child is None:  # a mapping the campaign does not have yet (phases.supernet of a default without it)
            node[key] = child = {}
        node = child
    return out


def _check_preset(preset: dict, where: str) -> None:
    n = preset.get("evaluations")
    if not _is(n, (int,)) or n <= 0:
        raise _type_error(f"{where}.evaluations", n, "a positive integer")
    for k in preset:
        if k != "evaluations" and (k not in FIELDS or k in ("budget", "budgets", "name", "plugin")):
            raise ConfigError(unknown_name(f"{where} field", k, ["evaluations"] + [
                f for f in FIELDS if f not in ("budget", "budgets", "name", "plugin")]))


def _check_initial(v: Any, where: str) -> None:
    """`searcher.initial`: a list of archs (each checked against the space when the run is built), or
    `{run: FOLDER, top: N}`, the N best of an earlier run (a warm start on another device or budget)."""
    if v is None:
        return
    if isinstance(v, list):
        for i, a in enumerate(v):
            if not isinstance(a, dict):
                raise _type_error(f"{where}[{i}]", a, "an arch: a mapping of decision names to values")
        return
    if not isinstance(v, dict):
        raise _type_error(where, v, "a list of archs, or {run: FOLDER, top: N} (an earlier run's N best)")
    extra = set(v) - {"run", "top"}
    if extra:
        raise ConfigError(unknown_name(f"{where} field", sorted(extra)[0], ["run", "top"]))
    if not isinstance(v.get("run"), str) or not v["run"]:
        raise _type_error(f"{where}.run", v.get("run"), "the folder of an earlier nasfw run")
    top = v.get("top", 5)
    if not _is(top, (int,)) or top <= 0:
        raise _type_error(f"{where}.top", top, "a positive integer (how many of that run's best to start from)")


def resolve_budget(raw: dict, value: str | int | None) -> dict:
    """--budget N or --budget small|medium|large (presets come from the campaign's `budgets`). A preset is a
    number of evaluations, or a mapping {evaluations: N, <campaign field>: <override>, ...}."""
    if value is None:
        return raw
    presets = {**DEFAULT_PRESETS, **(raw.get("budgets") or {})}
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    out = dict(raw)
    if isinstance(value, str):
        if value not in presets:
            raise ConfigError(unknown_name("budget preset", value, presets) + " (or a positive integer)")
        value = presets[value]
        if isinstance(value, dict):  # a preset that also changes settings, e.g. a paper's full recipe
            _check_preset(value, "budgets preset")
            out = merge(raw, {k: v for k, v in value.items() if k != "evaluations"})
            value = value["evaluations"]
    budget = dict(raw.get("budget") or {}) if isinstance(raw.get("budget"), dict) else {}
    budget["evaluations"] = value
    out["budget"] = budget
    return out


def parse(raw: Any, where: str = "campaign") -> Campaign:
    """Validate a campaign mapping completely and return the typed `Campaign`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of campaign fields, got {type(raw).__name__}")
    for k, v in raw.items():
        if not isinstance(k, str) or k not in FIELDS:
            raise ConfigError(unknown_name(f"{where} field", k, FIELDS))
        types, allowed = FIELDS[k]
        if not _is(v, types):
            raise _type_error(f"{where}.{k}", v, allowed)
    for k in REQUIRED:
        if k not in raw:
            example = " (e.g. evolution, random, bayes; `nasfw plugins` lists every searcher)" \
                if k == "searcher" else ""
            raise ConfigError(f"{where}.{k} is missing; it must be {FIELDS[k][1]}{example}")

    objectives = []
    if not raw["objectives"]:
        raise ConfigError(f"{where}.objectives is empty; give at least one {{metric, direction}}")
    for i, o in enumerate(raw["objectives"]):
        p = f"{where}.objectives[{i}]"
        if isinstance(o, str):
            o = {"metric": o}
        if not isinstance(o, dict) or not isinstance(o.get("metric"), str):
            raise _type_error(p, o, "{metric: NAME, direction: max|min}")
        extra = set(o) - {"metric", "direction"}
        if extra:
            raise ConfigError(unknown_name(f"{p} field", sorted(extra)[0], ["metric", "direction"]))
        if o.get("direction", "max") not in ("max", "min"):
            raise _type_error(f"{p}.direction", o.get("direction"), "'max' or 'min'")
        earlier = [j for j, x in enumerate(objectives) if x.metric == o["metric"]]
        if earlier:
            raise ConfigError(f"{p}.metric = {o['metric']!r} repeats {where}.objectives[{earlier[0]}]; each "
                              "objective needs its own metric")
        objectives.append(Objective(o["metric"], o.get("direction", "max")))

    constraints = []
    for i, c in enumerate(raw.get("constraints") or []):
        p = f"{where}.constraints[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("metric"), str):
            raise _type_error(p, c, "{metric: NAME, max: NUMBER and/or min: NUMBER}")
        extra = set(c) - {"metric", "max", "min"}
        if extra:
            raise ConfigError(unknown_name(f"{p} field", sorted(extra)[0], ["metric", "max", "min"]))
        for b in ("max", "min"):
            if b in c and not _is(c[b], (int, float)):
                raise _type_error(f"{p}.{b}", c[b], "a number")
        if "max" not in c and "min" not in c:
            raise ConfigError(f"{p} needs 'max' or 'min' (a bound on {c['metric']!r})")
        if "max" in c and "min" in c and c["min"] > c["max"]:
            raise ConfigError(f"{p}: min = {c['min']} is above max = {c['max']}; no {c['metric']} can meet both")
        for j, d in enumerate(constraints):  # two entries on one metric: a search of infeasible candidates only
            q, m = f"{where}.constraints[{j}]", c["metric"]
            for low, low_at, high, high_at in ((c.get("min"), p, d.max, q), (d.min, q, c.get("max"), p)):
                if d.metric == m and low is not None and high is not None and low > high:
                    raise ConfigError(f"{low_at}: {m} >= {low} and {high_at}: {m} <= {high}; no {m} can meet both")
        constraints.append(Constraint(c["metric"], c.get("max"), c.get("min")))

    searcher = raw["searcher"]
    if isinstance(searcher, str):
        searcher = {"name": searcher}
    extra = set(searcher) - {"name", "settings", "initial"}
    if extra:
        raise ConfigError(unknown_name(f"{where}.searcher field", sorted(extra)[0], ["name", "settings", "initial"]))
    _check_initial(searcher.get("initial"), f"{where}.searcher.initial")
    if not isinstance(searcher.get("name"), str):
        raise _type_error(f"{where}.searcher.name", searcher.get("name"), "a searcher name")
    settings = searcher.get("settings") or {}
    if not isinstance(settings, dict):
        raise _type_error(f"{where}.searcher.settings", settings, "a mapping")

    budget = raw["budget"]
    if isinstance(budget, int):
        budget = {"evaluations": budget}
    extra = set(budget) - {"evaluations", "wall_time_s"}
    if extra:
        raise ConfigError(unknown_name(f"{where}.budget field", sorted(extra)[0], ["evaluations", "wall_time_s"]))
    n = budget.get("evaluations")
    t = budget.get("wall_time_s")
    if n is not None and (not _is(n, (int,)) or n <= 0):
        raise _type_error(f"{where}.budget.evaluations", n, "a positive integer")
    if t is not None and (not _is(t, (int, float)) or t <= 0):
        raise _type_error(f"{where}.budget.wall_time_s", t, "a positive number of seconds")
    if n is None and t is None:
        raise ConfigError(f"{where}.budget needs 'evaluations' and/or 'wall_time_s'")
    for k, v in (raw.get("budgets") or {}).items():
        if isinstance(v, dict):
            _check_preset(v, f"{where}.budgets.{k}")
        elif not _is(v, (int,)) or v <= 0:
            raise _type_error(f"{where}.budgets.{k}", v, "a positive integer, or a mapping with 'evaluations' and "
                              "campaign fields to override")

    hardware = []
    hw = raw.get("hardware") or []
    for i, h in enumerate([hw] if isinstance(hw, str) else hw):
        p = f"{where}.hardware[{i}]"
        if isinstance(h, str):
            hardware.append((h, {}))
        elif isinstance(h, dict) and isinstance(h.get("name"), str) and set(h) <= {"name", "options"} \
                and isinstance(h.get("options", {}), dict):
            hardware.append((h["name"], dict(h.get("options") or {})))
        else:
            raise _type_error(p, h, "a cost-model name or {name: NAME, options: {...}}")

    backend = raw.get("backend", "local")
    if backend not in BACKENDS:
        raise ConfigError(unknown_name(f"{where}.backend", backend, BACKENDS))
    check_seed(raw.get("seed", 0), f"{where}.seed")
    workers = raw.get("workers", 1)
    if workers < 1:
        raise _type_error(f"{where}.workers", workers, "a positive integer")

    res = raw.get("resources") or {}
    for k, v in res.items():
        if k not in ("cpus", "gpus"):
            raise ConfigError(unknown_name(f"{where}.resources field", k, ["cpus", "gpus"]))
        if not _is(v, (int, float)) or v < 0:
            raise _type_error(f"{where}.resources.{k}", v, "a non-negative number")

    phases = raw.get("phases") or {}
    for k, v in phases.items():
        if k not in PHASE_FIELDS:
            raise ConfigError(unknown_name(f"{where}.phases field", k, PHASE_FIELDS))
        if not _is(v, PHASE_FIELDS[k]):
            raise _type_error(f"{where}.phases.{k}", v, "true/false or a mapping" if k == "supernet" else
                              "a mapping of top_k, export and task (phases.finalize.task: false skips the task's "
                              "finalize step; best.json and top.json are always written)")
    fin = phases.get("finalize") or {}
    for k, v in fin.items():
        if k == "top_k" and (not _is(v, (int,)) or v < 1):
            raise _type_error(f"{where}.phases.finalize.top_k", v, "a positive integer")
        if k == "export" and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
            raise _type_error(f"{where}.phases.finalize.export", v, "a list of format names, e.g. [onnx]")
        if k == "task" and not (isinstance(v, dict) or v is False):
            raise _type_error(f"{where}.phases.finalize.task", v, "a mapping of options for the task's finalize "
                              "step, or false to skip it")
        if k not in ("top_k", "export", "task"):
            raise ConfigError(unknown_name(f"{where}.phases.finalize field", k, ["top_k", "export", "task"]))

    evaluation = raw.get("evaluation") or {}
    for k, v in evaluation.items():
        if k not in EVALUATION_FIELDS:
            raise ConfigError(unknown_name(f"{where}.evaluation field", k, EVALUATION_FIELDS))
        if not _is(v, EVALUATION_FIELDS[k]) or v < 0:
            raise _type_error(f"{where}.evaluation.{k}", v, EVALUATION_ALLOWED[k])

    return Campaign(
        searcher_initial=copy.deepcopy(searcher.get("initial")),
        space=raw["space"], task=raw["task"], objectives=objectives, searcher=searcher["name"],
        budget_evaluations=n, budget_wall_time_s=None if t is None else float(t), plugin=raw.get("plugin"),
        name=raw.get("name", raw.get("plugin") or "campaign"), description=raw.get("description", ""),
        space_options=dict(raw.get("space_options") or {}), task_options=dict(raw.get("task_options") or {}),
        hardware=hardware, constraints=constraints, searcher_settings=dict(settings), seed=raw.get("seed", 0),
        backend=backend, address=raw.get("address"), workers=workers, resources=dict(res),
        out=raw.get("out", f"runs/{raw.get('name', raw.get('plugin') or 'campaign')}"), phases=phases,
        evaluation=evaluation, raw=copy.deepcopy(raw))
