"""`nasfw` on the command line. User errors print one line, `error: ...`, and exit with status 2."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from nasfw.cli_args import help_command, load_json_arg, metric_list, positive_int, registry_of, user_campaign
from nasfw.cli_cost import cmd_cost
from nasfw.cli_prepare import add_prepare_parsers
from nasfw import json_text
from nasfw.errors import ConfigError, NasfwError, Terminated, out_of_memory, output_folder
from nasfw.progress import bars_shown, close_open_bars


# --- commands --------------------------------------------------------------------------------------
def cmd_search(args) -> int:
    from nasfw.api import resolve_campaign, stored_campaign
    from nasfw.runner import CLI_FLAGS, run_campaign

    reg = registry_of(args)
    stored = None
    user, plugin = user_campaign(args)
    if not plugin and not args.config:
        if not args.resume:
            raise ConfigError("nasfw search needs --plugin NAME or --config FILE (or --resume --out RUN)")
        stored = stored_campaign(args.out, CLI_FLAGS, reg)  # `nasfw search --resume --out RUN`: as it started
        _resume_where_started(args, stored)
    fields = {key: getattr(args, key, None) for key in ("seed", "workers", "out", "backend", "address")}
    with bars_shown(not args.no_progress):  # stage 1 of TinyNAS's `auto` runs here
        campaign = resolve_campaign(reg, plugin, user, stored=stored, searcher=args.searcher, budget=args.budget,
                                    fields=fields, sets=args.sets or (), source=args.config)
    if args.dry_run:
        from nasfw.phase_options import check_phase_options
        from nasfw.runner import build, say_random_start

        comps = build(campaign, reg)
        check_phase_options(campaign, comps.task)  # every name and option resolved, as a run would
        say_random_start(comps, campaign)
        if campaign.backend == "ray":
            from nasfw.ray_backend import check_ray, plan

            check_ray(campaign)
            print(plan(campaign))
        else:
            print(f"backend local: {campaign.workers} worker(s); budget {campaign.budget_evaluations} evaluations; "
                  f"store {campaign.out}/nasfw.sqlite")
        print(campaign.to_yaml())
        return 0
    summary = run_campaign(campaign, reg, resume=args.resume, progress=not args.no_progress,
                           plugins_dirs=tuple(args.plugins_dir or ()))
    best = summary.get("best")
    print(f"run folder: {campaign.out}")
    print(f"evaluations: {summary['evaluations']} ({summary['ok']} ok, {summary['failed']} failed, "
          f"{summary['infeasible']} infeasible skipped)")
    if best:
        o = campaign.objectives[0]
        print(f"best {o.metric}: {best['metrics'].get(o.metric):.6g}  arch: {json.dumps(best['arch'])}")
        if best.get("violates"):
            print(f"  no candidate met the constraints; this one comes closest, and breaks: "
                  f"{'; '.join(best['violates'])}")
    if summary.get("stopped"):
        print(f"stopped early: {summary['stopped']}")
    from nasfw.report import final_table, phase_times_text

    if len(summary.get("phase_s") or {}) > 1:  # a search alone: its bar said how long it took
        print(f"time: {phase_times_text(summary['phase_s'])}")

    final = final_table(campaign.out)
    if final:  # the task's last word (QuantumNAS: the circuit it deploys beside its baselines on qiskit-aer), which
        print(f"\nfinal evaluation ({final[0]}):")  # may be another candidate than the search's best above
        print(final[1].rstrip())
    if "first_error" in summary:
        print(f"error: every evaluation failed, nothing was finalized; the first failed with: "
              f"{summary['first_error']}", file=sys.stderr)
        return 1
    return 0


def _resume_where_started(args, stored: dict) -> None:
    """A resume from another folder than the run's: its options' relative paths are read from the run's."""
    from nasfw.run_cwd import absolute, run_environments, work_where_started

    environments = run_environments(args.out)
    out, dirs = absolute(args.out), [absolute(d) for d in args.plugins_dir or ()]  # (from here, before a move)
    if work_where_started(stored, environments, "nasfw search --resume"):
        args.out, args.plugins_dir = out, dirs


def cmd_plugins(args) -> int:
    reg = registry_of(args)
    if args.name:
        from nasfw import list_options

        found = list_options.components_named(reg, args.name)
        print(list_options.as_json(found) if args.json else list_options.text(found))
        return 0
    data = []
    for name, info in sorted(reg.plugins.items()):
        data.append({"name": name, "source": info.source, "status": "ok",
                     **{k: v for k, v in info.provides.items()}, "notes": reg.notes.get(name, [])})
    for name, err in sorted(reg.failures.items()):
        data.append({"name": name, "status": "failed", "error": err, "notes": reg.notes.get(name, [])})
    if args.json:
        print(json_text.dumps(data, indent=2))
        return 0
    for d in data:
        if d["status"] == "failed":
            print(f"{d['name']}  [FAILED] {d['error']}")
            continue
        print(f"{d['name']}  ({d['source']})")
        for kind in ("search_spaces", "cost_models", "tasks", "searchers", "campaigns"):
            if d[kind]:
                print(f"    {kind.replace('_', ' ')}: {', '.join(d[kind])}")
        for note in d["notes"]:
            print(f"    note: {note}")
    return 0


def cmd_show(args) -> int:
    from nasfw.cost import violated
    from nasfw.provenance import summary_line
    from nasfw.report import final_table, phase_times_text, shown_metrics, table_rows, table_text
    from nasfw.results import RunView

    view = RunView.open(args.run)
    # checked once, over the whole run, before any table is printed
    chosen = shown_metrics(view, view.ok, args.metrics) if args.metrics else None
    top = view.top(args.top)
    front = view.pareto() if len(view.campaign.objectives) > 1 else []
    summary = view.summary()
    if args.json:
        rec = lambda e: {"evaluation": e.id, "arch": e.arch, "metrics": e.metrics}  # noqa: E731
        print(json_text.dumps({"state": view.state(), "summary": summary, "top": [rec(e) for e in top],
                          "pareto": [rec(e) for e in front],
                          "best_so_far": view.best_so_far(), "failures": view.failures()}, indent=2))
        return 0
    s = summary
    budget = f" of {s['budget']}" if s["budget"] else ""
    origin = "  ".join(f"{k}={v}" for k, v in view.origin().items())
    state = view.state()
    print(f"{s['campaign']}  {origin}  searcher={s['searcher']}  ({state})")
    if state == "interrupted":
        print(f"continue it with: nasfw search --resume --out {shlex.quote(args.run)}")  # a folder with a space
    print(f"progress: {s['evaluations']}{budget} evaluations ({s['ok']} ok, {s['failed']} failed, "
          f"{s['infeasible']} infeasible skipped) in {s['elapsed_s']:.1f} s")
    if len(s["phase_s"]) > 1:  # training outside the search: say where the rest of the time went
        print(f"time: {phase_times_text(s['phase_s'])}")
    if s["stopped"]:  # what the search printed when it ended short of its budget: said again here
        print(f"stopped early: {s['stopped']}")
    if view.environment:
        print(f"made with: {summary_line(view.environment)}")
    for change in s["environment_changes"]:
        print(f"  resumed with other code or data, {change}")
    for change in s["worker_code_changes"]:
        print(f"  workers with other code than the driver, {change}")
    for f in view.failures():
        print(f"  failed {f['count']}x (first: evaluation {f['first']}): {f['error']}")
    print()
    if top:
        print(f"top {len(top)}:")
        print(table_text(*table_rows(view, top, chosen)))
        broken = violated(view.campaign.constraints, top[0].metrics)
        if broken:
            print(f"no candidate meets the constraints; #1 comes closest, and breaks: {'; '.join(broken)}")
    else:
        print("no successful evaluation yet")
    if front:
        print()
        print(f"Pareto front ({len(front)}):")
        print(table_text(*table_rows(view, front, chosen)))
    final = final_table(args.run)
    if final:
        print()
        print(f"final evaluation ({final[0]}):")
        print(final[1].rstrip())
    return 0


def cmd_report(args) -> int:
    from nasfw.report import write_report

    if args.out:
        output_folder(args.out, "--out")
    out = write_report(args.run, args.out, args.top, field="--out" if args.out else "--out (default RUN/report)")
    print(f"report: {out['report']}")
    for p in out["plots"]:
        print(f"plot: {p}")
    return 0


def cmd_export(args) -> int:
    from nasfw.api import require_run_plugin
    from nasfw.inline_plugin import refuse_unknown_inline_task
    from nasfw.results import RunView
    from nasfw.phase_options import check_export_formats
    from nasfw.run_cwd import work_where_started
    from nasfw.runner import build_space, task_options

    reg = registry_of(args)
    view = RunView.open(args.run)
    camp = view.campaign
    require_run_plugin(args.run, camp.plugin, reg, "--plugins-dir DIR")
    if args.arch:
        arch = load_json_arg(args.arch, "--arch")
        if isinstance(arch, dict) and "arch" in arch and isinstance(arch["arch"], dict):
            arch = arch["arch"]
        build_space(camp, reg).validate(arch, "--arch")
        metrics: dict = {}
    else:
        top = view.top(1)
        if not top:
            raise ConfigError(f"run {args.run!r} has no successful evaluation to export")
        arch, metrics = top[0].arch, top[0].metrics
    refuse_unknown_inline_task(args.run, camp.task, reg, f"its best architecture is in {args.run}/best.json")
    here = Path.cwd()
    # the user's paths from here, the task's options from where the run started
    base = here if work_where_started(camp, view.environments, "nasfw export") else Path()
    run_dir = base / args.run
    task = reg.task(camp.task, **task_options(camp, reg))
    check_export_formats(task, args.format or [], "--format")  # before anything is written
    out = output_folder(base / (args.out or Path(args.run) / "export"),
                        "--out" if args.out else "--out (default RUN/export)")
    (out / "best.json").write_text(json_text.dumps({"arch": arch, "metrics": metrics}, indent=2))
    files = [out / "best.json"]
    if hasattr(task, "load_supernet"):  # the trained supernet's weights, as the search used them
        task.load_supernet(run_dir)
    for fmt in args.format or []:
        files += task.export(arch, out, fmt)
    for f in files:
        print(f)

    return 0


def cmd_hardware(args) -> int:
    reg = registry_of(args)
    rows = []
    for name in reg.names("cost_models"):
        e = reg.entry("cost_models", name)
        if args.plugin and e.plugin != args.plugin:
            continue
        rows.append({"name": name, "plugin": e.plugin, "cheap": bool(e.extra.get("cheap", True)),
                     "description": e.description})
    if args.plugin and args.plugin not in reg.plugins:
        from nasfw.errors import unknown_name

        raise ConfigError(unknown_name("plugin", args.plugin, reg.plugins))
    # a cost model may list the devices it can target (register(..., devices=callable)): shown with a plugin
    devices = []
    if args.plugin:
        for r in rows:
            lister = reg.entry("cost_models", r["name"]).extra.get("devices")
            if lister is not None:
                devices += [{"cost_model": r["name"], **d} for d in lister()]
    if args.json:
        print(json_text.dumps({"cost_models": rows, "devices": devices} if args.plugin else rows, indent=2))
    else:
        from nasfw.report import table_text

        print(table_text(["name", "plugin", "cheap", "description"],
                         [[r["name"], r["plugin"], "yes" if r["cheap"] else "no", r["description"]] for r in rows]))
        if devices:
            cols = [k for k in devices[0] if k != "cost_model"]
            print(f"\ndevices ({len(devices)}):")
            print(table_text(cols, [[_cell(d.get(c)) for c in cols] for d in devices]))
    return 0


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ",".join(map(str, v))
    return "" if v is None else str(v)


# --- parser -----------------------------------------------------------------------------------------
def cmd_compare(args) -> int:
    from nasfw.compare import compare_runs
    from nasfw.report import table_text

    if args.out:  # before the runs are read: a bad folder is said at once
        output_folder(args.out, "--out")
    comp = compare_runs(args.runs, args.metric, args.at, args.by or (), where=("--metric", "--at", "--by"))
    written = comp.write(args.out) if args.out else None  # first: `nasfw compare ... --out D | head` wrote nothing
    if args.json:
        print(json_text.dumps(comp.to_dict(), indent=2))
    else:
        if comp.differing:
            more = f" and {len(comp.differing) - 8} more" if len(comp.differing) > 8 else ""
            print(f"the runs differ in: {', '.join(comp.differing[:8])}{more}")
        for caveat in comp.caveats:
            print(f"note: {caveat}")
        if comp.code_differences:
            print("the runs were not all made with the same code and data:")
            for d in comp.code_differences:
                print(f"  {d}")
        for title, head, rows in comp.tables():
            print(f"\n{title}:")
            print(table_text(head, rows))
    if written:
        print(f"report: {written['report']}", file=sys.stderr if args.json else sys.stdout)
        for p in written["plots"]:
            print(f"plot: {p}", file=sys.stderr if args.json else sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--plugins-dir", action="append", metavar="DIR",
                        help="load every *.py in DIR as a plugin (repeatable)")
    from nasfw import __version__

    p = argparse.ArgumentParser(prog="nasfw", description="Plugin-based hardware-aware neural architecture search.")
    p.add_argument("--version", action="version", version=f"nasfw {__version__}")
    p.set_defaults(func=help_command(p))  # `nasfw` alone: the commands there are, not a usage error
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("search", parents=[common], help="run a search campaign")
    s.add_argument("--plugin", help="start from this plugin's default campaign")
    s.add_argument("--config", help="campaign YAML (overrides the plugin default)")
    s.add_argument("--searcher", help="searcher name (see `nasfw plugins`)")
    s.add_argument("--budget", help="evaluations: a number or a preset of the campaign (small, medium, large; "
                   "some plugins add paper)")
    s.add_argument("--seed", type=int, help="seeds the searcher and the task (default: the campaign's)")
    s.add_argument("--workers", type=int, help="evaluation processes or Ray trials at once (1: in this process)")
    s.add_argument("--backend", choices=["local", "ray"], help="where evaluations run (default: the campaign's)")
    s.add_argument("--address", help="Ray cluster address HOST:PORT (backend ray)")
    s.add_argument("--set", action="append", dest="sets", metavar="FIELD=VALUE",
                   help="set one campaign field over the plugin default and --config, e.g. task_options.device=lima "
                        "or searcher.settings.population_size=10 (repeatable; VALUE is read as YAML)")
    s.add_argument("--out", help="run folder")
    s.add_argument("--resume", action="store_true", help="continue the run in --out from its store")
    s.add_argument("--dry-run", action="store_true", help="validate and print the resolved campaign, run nothing")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("plugins", parents=[common], help="list plugins and what they provide; with a NAME, the "
                       "options each of its components takes")
    s.add_argument("name", nargs="?", metavar="NAME", help="a plugin (quantumnas) or a component (a task, space, "
                   "cost model or searcher: reinforce): its options, their defaults and what is allowed")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.set_defaults(func=cmd_plugins)

    s = sub.add_parser("show", parents=[common], help="a run's state (running, finished, interrupted), top-k "
                       "table, Pareto front and progress")
    s.add_argument("run", help="the run folder (a search's --out)")
    s.add_argument("--top", type=positive_int, default=10, help="rows of the table (default 10)")
    s.add_argument("--metrics", type=metric_list, metavar="M1,M2,...",
                   help="the tables' metric columns, in this order (default: the objectives, the constrained "
                        "metrics, then the task's, six in all)")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("report", parents=[common], help="PNG plots and a markdown summary of a run")
    s.add_argument("run", help="the run folder (a search's --out)")
    s.add_argument("--out", help="folder for the report (default RUN/report)")
    s.add_argument("--top", type=positive_int, default=10, help="rows of the table (default 10)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("compare", help="several runs side by side: groups by the settings they differ in, "
                       "mean and spread over seeds at equal evaluations, plots")
    s.add_argument("runs", nargs="+", metavar="RUN", help="run folders (a folder holding runs stands for each)")
    s.add_argument("--metric", metavar="NAME[:max|min]", help="the metric compared, with its direction where "
                   "the runs do not have it as an objective (default: the first run's first objective)")
    s.add_argument("--at", type=positive_int, metavar="N", help="read each run's best within its first N "
                   "evaluations (default: the shortest run's count)")
    s.add_argument("--by", action="append", metavar="FIELD", help="group by this campaign field alone, e.g. "
                   "searcher.name (repeatable; default: every field the runs differ in)")
    s.add_argument("--out", help="folder for compare.md and the plots (none written without it)")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("export", parents=[common], help="the best architecture as JSON, and through the plugin")
    s.add_argument("run", help="the run folder (a search's --out)")
    s.add_argument("--format", action="append", help="plugin export format, e.g. onnx (repeatable)")
    s.add_argument("--arch", help="export this architecture (JSON text or file) instead of the best")
    s.add_argument("--out", help="folder (default RUN/export)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("cost", parents=[common], help="evaluate a cost model on a model file or an architecture")
    s.add_argument("--hardware", help="a cost model's name (see `nasfw hardware`) or a hardware YAML file; with "
                   "--run, one of the run's (with its options)")
    s.add_argument("--run", help="a run folder: its campaign's cost models with their options, and its best "
                   "architecture unless --arch or --model is given")
    s.add_argument("--model", help="model file (a JSON net config, or an .onnx model where the cost model reads one)")
    s.add_argument("--arch", help="architecture as JSON text or a JSON file")
    s.add_argument("--option", action="append", metavar="KEY=VALUE", help="a cost model option (repeatable)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=cmd_cost)

    s = sub.add_parser("hardware", parents=[common], help="list hardware targets (cost models)")
    s.add_argument("--plugin", help="only this plugin's targets (and its devices, e.g. quantumnas's)")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.set_defaults(func=cmd_hardware)

    add_prepare_parsers(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NasfwError as e:
        close_open_bars()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if (what := out_of_memory(e)) is None:
            raise
        keep = "; finished evaluations are in the store" if args.command == "search" else ""
        close_open_bars()
        print(f"error: {what}: the campaign asks for more memory than this machine has (a smaller resolution, "
              f"batch size, wire or block count needs less){keep}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `nasfw show RUN | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as e:  # Terminated (SIGTERM) too
        how, status = ("terminated (SIGTERM)", 143) if isinstance(e, Terminated) else ("interrupted", 130)
        # only a search has a store to continue from: `nasfw report` or `lut build` stopped the same way said so too
        keep = ": finished evaluations are in the store; continue with --resume" if args.command == "search" else ""
        close_open_bars()
        print(f"{how}{keep}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
