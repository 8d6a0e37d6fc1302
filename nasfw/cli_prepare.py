"""`nasfw` commands that prepare a search without running one: `lut build` (a latency table of the space, timed
on this machine) and `space optimise` (a task's search-space optimisation, TinyNAS's stage 1). Each asks the
campaign's task for the work (optional task methods `build_lut`, `optimise_space`), so a plugin offers them by
writing the method."""
from __future__ import annotations

import argparse
import json
import shlex

from nasfw.cli_args import help_command, positive_int, registry_of, resolutions_arg, user_campaign
from nasfw.errors import ConfigError, output_folder


def _campaign_task(args, command: str, method: str, what: str):
    """The task of the campaign `nasfw search` would run with the same --plugin, --config and --set."""
    from nasfw.api import resolve_campaign
    from nasfw.runner import task_options

    reg = registry_of(args)
    user, plugin = user_campaign(args)
    if not plugin and not args.config:
        raise ConfigError(f"nasfw {command} needs --plugin NAME or --config FILE")
    campaign = resolve_campaign(reg, plugin, user, sets=args.sets or (), source=args.config)
    task = reg.task(campaign.task, **task_options(campaign, reg))
    if not hasattr(task, method):
        raise ConfigError(f"task {campaign.task!r} cannot {what}")
    return task


def cmd_lut(args) -> int:
    """`nasfw lut build`: the task measures a latency table of its space on this machine (optional task
    method `build_lut(out, **options)`)."""
    task = _campaign_task(args, "lut build", "build_lut", "build a latency lookup table")
    opts = {k: getattr(args, k) for k in ("repeats", "warmup", "threads", "check", "calibrate")
            if getattr(args, k) is not None}
    if args.resolutions:
        opts["resolutions"] = resolutions_arg(args.resolutions)
    result = task.build_lut(output_folder(args.out, "--out"), progress=not args.no_progress, **opts)
    for r, path in result["tables"].items():
        print(f"resolution {r}: {path}")
    print(f"{result['layers']} layers timed with onnxruntime ({result['threads']} thread(s), median of "
          f"{result['repeats']}); per-layer overhead {result['per_layer_overhead_ms']:.4f} ms subtracted, estimated "
          f"from {result['calibration_subnets']} whole subnets")
    chk = result.get("check")
    if chk:
        print(f"check on {chk['subnets']} random subnets: predicted vs measured latency, mean |error| "
              f"{chk['mean_abs_error_pct']:.1f}%, max {chk['max_abs_error_pct']:.1f}%, Spearman {chk['spearman']:.3f}")
    return 0


def cmd_optimise_space(args) -> int:
    """`nasfw space optimise`: the task's search-space optimisation (optional task method `optimise_space(out,
    progress, **options)` returning `columns`, `rows` best first, a one-line `summary` and the `sets` that make a
    campaign search the chosen space), and the `nasfw search` command that searches it. Exit status 1 when no
    space qualifies."""
    task = _campaign_task(args, "space optimise", "optimise_space", "optimise its search space")
    opts: dict = {}
    if args.widths:
        opts["width_mults"] = _numbers(args.widths, "--widths")
    if args.resolutions:
        opts["resolutions"] = resolutions_arg(args.resolutions)
    if args.samples is not None:
        opts["samples"] = args.samples
    if args.min_fit is not None:
        opts["min_fit"] = args.min_fit
    out = output_folder(args.out, "--out") if args.out else None
    result = task.optimise_space(out, progress=not args.no_progress, **opts)
    sets = [f"{k}={json.dumps(v)}" for k, v in result["sets"].items()]
    command = " ".join(["nasfw search"] + [f"--{k} {shlex.quote(getattr(args, k))}" for k in ("plugin", "config")
                                           if getattr(args, k)]
                       + [f"--set {shlex.quote(x)}" for x in [*(args.sets or ()), *sets]])
    if args.json:
        print(json.dumps({**result, "search": command if sets else None}, indent=2))
        return 0 if sets else 1
    from nasfw.report import table_text

    print(result["summary"])
    print(table_text(result["columns"], result["rows"][:args.top]))
    for f in result.get("files", []):
        print(f)
    print(f"search it: {command}" if sets else "no space qualifies: try a larger board, lower --min-fit, or "
          "smaller --widths and --resolutions")
    return 0 if sets else 1  # as `nasfw search` whose every evaluation failed: a script should not go on to search


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not allowed; allowed: comma-separated numbers, e.g. 0.3,0.5") from None


def add_prepare_parsers(sub, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("lut", help="latency lookup tables")
    s.set_defaults(func=help_command(s))
    lut = s.add_subparsers(dest="lut_command", metavar="COMMAND")
    s = lut.add_parser("build", parents=[common], help="time every layer of a plugin's space with onnxruntime")
    s.add_argument("--plugin", help="the plugin whose default campaign names the space and task")
    s.add_argument("--config", help="campaign YAML (overrides the plugin default)")
    s.add_argument("--set", action="append", dest="sets", metavar="FIELD=VALUE",
                   help="set one campaign field, as `nasfw search --set` does (e.g. task_options.width_mult=0.35: "
                        "the table of the space that campaign will search)")
    s.add_argument("--out", required=True, help="folder for the <resolution>_lookup_table.yaml files")
    s.add_argument("--resolutions", help="comma-separated input sizes (default: the space's)")
    s.add_argument("--repeats", type=int, help="timed runs per layer (default 50)")
    s.add_argument("--warmup", type=int, help="untimed runs first (default 10)")
    s.add_argument("--threads", type=int, help="onnxruntime threads (default 1)")
    s.add_argument("--check", type=int, help="random subnets timed whole against the table (default 20)")
    s.add_argument("--calibrate", type=int, help="other random subnets that estimate the per-layer overhead "
                   "(default 10; 0: none)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_lut)

    s = sub.add_parser("space", help="search spaces")
    s.set_defaults(func=help_command(s))
    space = s.add_subparsers(dest="space_command", metavar="COMMAND")
    s = space.add_parser("optimise", parents=[common],
                         help="choose the space to search before any training (TinyNAS stage 1)")
    s.add_argument("--plugin", help="the plugin whose default campaign names the task and its board")
    s.add_argument("--config", help="campaign YAML (overrides the plugin default)")
    s.add_argument("--set", action="append", dest="sets", metavar="FIELD=VALUE",
                   help="set one campaign field, as `nasfw search --set` does (e.g. task_options.device=stm32f746)")
    s.add_argument("--out", help="folder for stage1.json and the CDF plot (default: print only)")
    s.add_argument("--widths", help="comma-separated width multipliers to try (default 0.2,0.3,...,1.0)")
    s.add_argument("--resolutions", help="comma-separated input sizes to try (default 32,48,...,224)")
    s.add_argument("--samples", type=positive_int, help="networks sampled per cell (default 1000)")
    s.add_argument("--min-fit", type=float, help="the fraction of a cell's networks that must fit (default 0.4)")
    s.add_argument("--top", type=positive_int, default=10, help="rows of the table (default 10)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_optimise_space)
    from nasfw.cli_space import add_space_show_parser

    add_space_show_parser(space, common)
