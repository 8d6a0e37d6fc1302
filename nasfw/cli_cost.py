"""`nasfw cost`: one cost model on a model file or an architecture, or a run's cost models with the options its
campaign gave them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasfw import json_text
from nasfw.cli_args import key_values, load_json_arg, registry_of
from nasfw.errors import ConfigError, NasfwError


def cmd_cost(args) -> int:
    """One cost model (`--hardware`, `--option`), or with `--run` the cost models a search filtered with, their
    options as the run gave them (a board's memory model, its classes): the figures `nasfw show` printed for the
    run's best, or for another `--arch`, without retyping the campaign's options."""
    from nasfw.api import require_run_plugin
    from nasfw.results import RunView

    reg = registry_of(args)
    view = RunView.open(args.run) if args.run else None
    if view is not None:
        require_run_plugin(args.run, view.campaign.plugin, reg, "--plugins-dir DIR")
    target = _cost_target(args, reg, view)  # the user's files, read where the user is
    if view is not None:
        from nasfw.run_cwd import work_where_started

        work_where_started(view.campaign, view.environments, "nasfw cost --run")
    models = _cost_models(args, reg, view)
    out, used = {}, {}
    for name, options, model in models:
        used[name] = options
        try:
            out[name] = model.evaluate(target)
        except Exception as e:  # noqa: BLE001 - whatever a plugin's model raises on an input it cannot read (a
            # KeyError, qiskit's InvalidLayoutError) is one line naming the model, as a search records it
            if isinstance(e, NasfwError):
                raise
            raise ConfigError(f"hardware {name!r} cannot evaluate this input: {type(e).__name__}: {e}") from None
    if args.json:
        print(json_text.dumps({"hardware": args.hardware, "metrics": out[args.hardware]} if not args.run else
                         {"run": args.run, "hardware": [{"name": n, "options": used[n], "metrics": m}
                                                        for n, m in out.items()]},
                         indent=2))
        return 0
    for name, metrics in out.items():
        if args.run:  # with the options the run's campaign gave it (or its task implies)
            print(name + (f"  ({', '.join(f'{k}={v}' for k, v in used[name].items())})" if used[name] else ""))
        for k, v in metrics.items():
            print(f"{k:>16}: {v:.6g}")
    return 0


def _cost_models(args, reg, view) -> list[tuple[str, dict, Any]]:
    if view is None:
        if not args.hardware:
            raise ConfigError("nasfw cost needs --hardware NAME (see `nasfw hardware`), or --run RUN for the cost "
                              "models of that run's campaign")
        options = key_values(args.option)
        return [(args.hardware, options, reg.configured("cost_models", args.hardware, options, "--option "))]
    hardware = view.campaign.hardware
    if args.hardware:
        named = [(n, o) for n, o in hardware if n == args.hardware]
        hardware = named or [(args.hardware, _implied_options(view.campaign, args.hardware, reg))]
    if not hardware:
        plugin = reg.plugins.get(view.campaign.plugin or "")
        own = plugin.provides["cost_models"] if plugin else []
        which = (f" ({view.campaign.plugin} provides {', '.join(own)})" if own else
                 f" (one of {', '.join(reg.names('cost_models'))})")
        raise ConfigError(f"run {args.run!r} has no cost model (its campaign's `hardware` is empty); name one with "
                          f"--hardware{which}")
    given = key_values(args.option)
    return [(n, {**o, **given}, reg.configured("cost_models", n, {**o, **given}, "--option ")) for n, o in hardware]


def _implied_options(campaign, name: str, reg) -> dict:
    """The options the run's task implies for a cost model its campaign did not list (`hardware_options` of the
    task's campaign_defaults): `--hardware ibmq-compiled` on a Lima run compiled on Quito, the model's default."""
    from nasfw.api import fill_task_defaults

    raw = fill_task_defaults({"task": campaign.task, "task_options": campaign.task_options, "hardware": [name]}, reg)
    entry = (raw.get("hardware") or [name])[0]
    return dict(entry.get("options") or {}) if isinstance(entry, dict) else {}


def _cost_target(args, reg, view) -> Any:
    if args.model:
        p = Path(args.model)
        if not p.is_file():
            raise ConfigError(f"--model {args.model!r}: no such file")
        try:
            return json.loads(p.read_text()) if p.suffix == ".json" else p
        except json.JSONDecodeError as e:
            raise ConfigError(f"--model {args.model!r} is not valid JSON: {e.msg} at line {e.lineno}, column "
                              f"{e.colno}") from None
    if args.arch:
        target = load_json_arg(args.arch, "--arch")
        if isinstance(target, dict) and isinstance(target.get("arch"), dict):
            target = target["arch"]
        if view is not None:  # an arch of another space fails here, named, not inside a cost model
            from nasfw.runner import build_space

            build_space(view.campaign, reg).validate(target, "--arch")
        return target
    if view is None:
        raise ConfigError("nasfw cost needs --model FILE or --arch JSON (or --run RUN for that run's best)")
    top = view.top(1)
    if not top:
        raise ConfigError(f"run {args.run!r} has no successful evaluation to cost; give --arch")
    return top[0].arch
