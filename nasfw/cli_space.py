"""`nasfw space show`: the space a campaign would search, before anything runs.

A user writing `--set space_options.n_blocks=4` or a constraint could not see what either meant: which decisions
the space holds, what each may take, how many architectures there are, and how many random ones the campaign's
cheap constraints let through (a bound that lets 0.1% through makes every searcher spend its time redrawing).
The decisions are printed in the space language (`Space.to_dict`), so `--json` output is a space a campaign may
name inline (`space: {name: ..., decisions: [...]}`).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from nasfw.cli_args import non_negative_int, registry_of, user_campaign
from nasfw.errors import ConfigError, NasfwError


def _values(spec: dict) -> str:
    """A decision's allowed values in a few words, from its space-language form."""
    kind = spec.get("type")
    if "options" in spec and kind in ("choice", None):
        return ", ".join(json.dumps(o) for o in spec["options"])
    if kind in ("int", "float"):
        step = f" step {spec['step']}" if spec.get("step") not in (None, 1) else ""
        log = " log" if spec.get("log") else ""
        return f"{spec['low']} .. {spec['high']}{step}{log}"
    if kind == "permutation":
        edges = f", along {len(spec['edges'])} coupling edges" if spec.get("edges") else ""
        return f"{spec['k']} distinct of {_items(spec['items'])}, ordered{edges}"
    if kind == "repeat":
        return f"{spec['min']} .. {spec['max']} copies of:"
    if kind == "tie":
        return f"the value of {spec['of']}"
    rest = {k: v for k, v in spec.items() if k not in ("name", "type", "when", "decisions", "body")}
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in rest.items())


def _items(items: list) -> str:
    """A permutation's items, short: `0 .. 132` for a device's qubits (listed in full, 133 numbers widened every
    row of the table to 600 characters), the first and last few of another long list."""
    if len(items) > 8 and items == list(range(len(items))):
        return f"[0 .. {len(items) - 1}]"
    if len(items) > 12:
        head, tail = ", ".join(map(json.dumps, items[:4])), ", ".join(map(json.dumps, items[-2:]))
        return f"[{head}, ... ({len(items) - 6} more), {tail}]"
    return json.dumps(items)


def decision_rows(specs: list[dict], indent: str = "") -> list[list[str]]:
    """One row per decision (name, kind, values, when), a repeated body's decisions indented under it."""
    rows = []
    for spec in specs:
        when = spec.get("when")
        cond = "; ".join(f"{k} in {json.dumps(v)}" for k, v in when.items()) if isinstance(when, dict) else ""
        rows.append([indent + str(spec.get("name")), str(spec.get("type")), _values(spec), cond])
        body = spec.get("body") or spec.get("decisions")
        if isinstance(body, list):
            rows += decision_rows(body, indent + "  ")
    return rows


def _bound(c: Any) -> str:
    return " and ".join(b for b in (f"{c.metric} >= {c.min:g}" if c.min is not None else "",
                                    f"{c.metric} <= {c.max:g}" if c.max is not None else "") if b)


def cheap_check(campaign: Any, registry: Any, space: Any, samples: int) -> dict | None:
    """How many of `samples` random architectures (drawn with the campaign's seed) the campaign's cheap
    constraints accept, and the range of each cheap metric over them; None without cheap cost models."""
    from nasfw.cost import total_violation

    models = []
    for i, (name, opts) in enumerate(campaign.hardware):
        model = registry.configured("cost_models", name, opts, f"hardware[{i}].options.")
        if getattr(model, "cheap", True):
            models.append(model)
    if not models:
        return None
    rng = np.random.default_rng(campaign.seed)
    values: dict[str, list[float]] = {}
    met = 0
    for _ in range(samples):
        arch = space.sample(rng)
        metrics: dict[str, float] = {}
        for model in models:
            metrics.update(model.evaluate(arch))
        for k, v in metrics.items():
            values.setdefault(k, []).append(float(v))
        met += total_violation(campaign.constraints, metrics) == 0  # a metric no cheap model gives is not judged
    judged = [c for c in campaign.constraints if c.metric in values]
    return {"samples": samples, "met": met, "constraints": [_bound(c) for c in judged],
            "metrics": {k: {"min": min(v), "median": float(np.median(v)), "max": max(v)} for k, v in values.items()}}


def _as_the_task_says(campaign: Any, reg: Any) -> ConfigError | None:
    """The task's refusal of its options, where it has one: a space option the task's options filled in
    (`campaign_defaults`) fails under the name the user wrote, `task_options.n_blocks`, not `space_options`, as
    `nasfw search` reports it (the task first). Built only when the space fails: a task may load its data."""
    from nasfw.runner import task_options

    try:
        reg.task(campaign.task, **task_options(campaign, reg))
    except ConfigError as e:
        return e
    except Exception:  # noqa: BLE001 - the space's own message then stands
        return None
    return None


def cmd_space_show(args) -> int:
    from nasfw.api import resolve_campaign
    from nasfw.runner import build_space

    reg = registry_of(args)
    user, plugin = user_campaign(args)
    if not plugin and not args.config:
        raise ConfigError("nasfw space show needs --plugin NAME or --config FILE")
    campaign = resolve_campaign(reg, plugin, user, sets=args.sets or (), source=args.config)
    try:
        space = build_space(campaign, reg)
    except ConfigError as space_error:
        raise _as_the_task_says(campaign, reg) or space_error from None
    spec = space.to_dict()
    size = space.size()
    try:
        check = cheap_check(campaign, reg, space, args.samples) if args.samples else None
    except NasfwError:  # already says what is wrong
        raise
    except Exception as e:  # noqa: BLE001 - a cost model that cannot read the space: said, as the search would
        raise ConfigError(f"the campaign's cheap cost models cannot cost the architectures of space "
                          f"{space.name!r}: {type(e).__name__}: {e}") from None
    example = space.sample(np.random.default_rng(campaign.seed))
    if args.json:
        print(json.dumps({"space": spec, "architectures": size if np.isfinite(size) else None,
                          "cheap": check, "example": example}, indent=2, default=str))
        return 0
    from nasfw.report import table_text

    source = f"space_options {json.dumps(campaign.space_options)}" if campaign.space_options else "no options"
    count = f"{size:,.0f} architectures" if np.isfinite(size) else "infinitely many architectures (a float decision)"
    print(f"space {space.name!r} of campaign {campaign.name!r} ({source}): {len(space.decisions)} decisions, {count}")
    rows = decision_rows(spec["decisions"])
    if any(r[3] for r in rows):
        print(table_text(["decision", "kind", "values", "present when"], rows))
    else:
        print(table_text(["decision", "kind", "values"], [r[:3] for r in rows]))
    if check:
        if check["constraints"]:
            share = check["met"] / check["samples"]
            print(f"cheap constraints ({'; '.join(check['constraints'])}): {check['met']} of {check['samples']} "
                  f"random architectures ({share:.1%}) meet them")
        for k, m in check["metrics"].items():
            print(f"  {k}: min {m['min']:.4g}, median {m['median']:.4g}, max {m['max']:.4g}")
    print(f"example: {json.dumps(example)}")
    return 0


def add_space_show_parser(space_sub, common) -> None:
    s = space_sub.add_parser("show", parents=[common], help="the decisions of the space a campaign would search, "
                             "its size, and how many random architectures its cheap constraints accept")
    s.add_argument("--plugin", help="the plugin whose default campaign names the space")
    s.add_argument("--config", help="campaign YAML (overrides the plugin default)")
    s.add_argument("--set", action="append", dest="sets", metavar="FIELD=VALUE",
                   help="set one campaign field, as `nasfw search --set` does (e.g. space_options.n_blocks=4)")
    s.add_argument("--samples", type=non_negative_int, default=1000,
                   help="random architectures costed by the cheap cost models (default 1000; 0: none)")
    s.add_argument("--json", action="store_true", help="print JSON (the space in the space language) instead")
    s.set_defaults(func=cmd_space_show)
