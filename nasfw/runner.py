"""Running a campaign: train supernet -> search -> finalize, with resume.

The driver asks the searcher, passes candidates through the evaluation pipeline, hands real evaluations to
a backend, records every finished one in the store as it arrives, and checkpoints the searcher. `--resume`
loads the newest checkpoint and replays the evaluations recorded after it, so nothing that finished is lost
and the run ends with the same number of evaluations as an uninterrupted one.
"""
from __future__ import annotations

import inspect
import os
import shlex
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasfw.backends import make_backend
from nasfw.driver import SearchDriver
from nasfw.campaign import Campaign
from nasfw.cost import violated
from nasfw import json_text
from nasfw.errors import ConfigError, NasfwError, StoreError, Terminated
from nasfw.evaluation import EvaluatorSpec, Pipeline
from nasfw.local_loop import run_local
from nasfw.phase_options import check_phase_options
from nasfw.registry import Registry
from nasfw.replay import ReplayBackend, StoredResults, can_retrace
from nasfw.run_lock import RunLock
from nasfw.searchers.base import Result, make_searcher, random_start_note
from nasfw.space import Space
from nasfw.space_cover import SpaceMismatch
from nasfw.store import Store


@dataclass(frozen=True)
class RunFlags:
    """How the caller spells "continue the run" and "the run folder" in messages about the output folder: the
    command line's flags, or nasfw.search's keywords (a notebook user told to pass --resume has to translate)."""
    resume: str
    out: str
    again: str  # the whole call that continues the run in folder {out}
    plugins_dir: str = "--plugins-dir DIR"  # how a plugin folder is given


CLI_FLAGS = RunFlags("--resume", "--out", "nasfw search --resume --out {shell}")  # {shell}: the folder quoted
PYTHON_FLAGS = RunFlags("resume=True", "out=", "nasfw.search(resume=True, out={out!r})", "plugins_dirs=[DIR]")


@dataclass
class Components:
    space: Space
    searcher: Any
    task: Any
    cheap: list
    expensive: list[tuple[str, dict]]
    initial: list  # the campaign's `searcher.initial`, checked against the space
    task_options: dict  # as the task was built (with the campaign's seed): each worker builds it alike


def build_space(campaign: Campaign, registry: Registry) -> Space:
    if isinstance(campaign.space, dict):
        return Space.from_dict(campaign.space, "campaign.space")
    return registry.space(campaign.space, **campaign.space_options)


def task_options(campaign: Campaign, registry: Registry) -> dict:
    """The task's options, with the campaign's `seed` for a task that takes a seed and was given none, so that
    `--seed 3` also moves the data split, the supernet's initialisation and the baselines' training: it moved
    the searcher alone, and runs over several seeds shared every one of those (QuantumNAS's human-design row
    came out the same to the last digit)."""
    opts = dict(campaign.task_options)
    try:
        takes_seed = "seed" in inspect.signature(registry.entry("tasks", campaign.task).obj).parameters
    except (TypeError, ValueError):  # a factory without a readable signature: its options are its own affair
        takes_seed = False
    if "seed" not in opts and takes_seed:
        opts["seed"] = campaign.seed
    return opts


def build(campaign: Campaign, registry: Registry) -> Components:
    """Resolve every name in the campaign (and every option) before anything runs."""
    options = task_options(campaign, registry)
    # the task first: a bad value in task_options that the space's options took from it (campaign_defaults) is
    # reported under the name the user wrote, by the task, rather than by the space as space_options
    task = registry.task(campaign.task, **options)
    space = build_space(campaign, registry)
    if hasattr(task, "check_space"):
        try:  # archs the task cannot read would fail only after the supernet has trained
            task.check_space(space)
        except SpaceMismatch as e:
            if isinstance(campaign.space, str) and campaign.space_options and e.options:
                raise e.between_options() from None
            raise
    if hasattr(task, "check_campaign"):
        task.check_campaign(campaign)  # fields that must name what the task names (the board, the device)
    cheap, expensive = [], []
    for i, (name, opts) in enumerate(campaign.hardware):
        model = registry.configured("cost_models", name, opts, f"hardware[{i}].options.")
        if getattr(model, "cheap", True):
            check_cost_model_reads(model, space, campaign.seed, f"hardware[{i}] = {name!r}")
            cheap.append(model)  # runs in the driver, filters candidates before evaluation
        else:
            expensive.append((name, opts))  # rebuilt in each worker, runs with the task
    cls = registry.searcher_class(campaign.searcher)
    searcher = make_searcher(cls, space, campaign.searcher_settings, objectives=campaign.objectives,
                             constraints=campaign.constraints, seed=campaign.seed)
    return Components(space, searcher, task, cheap, expensive, user_initial(campaign, space), options)


def check_cost_model_reads(model: Any, space: Space, seed: int, field: str) -> None:
    """A cheap cost model that cannot read the space's archs (`note10`, which costs OFA MobileNetV3 subnets, in a
    TinyNAS campaign) stopped the run at its first candidate, after the supernet had trained for minutes. A cheap
    model costs every candidate in the driver and its errors stop the run, so one sampled arch tells now."""
    import numpy as np

    arch = space.sample(np.random.default_rng(seed))
    try:
        model.evaluate(arch)
    except Exception as e:  # noqa: BLE001 - whatever it raises, the run would stop on it at its first candidate
        what = str(e) if isinstance(e, NasfwError) else f"{type(e).__name__}: {e}"
        raise ConfigError(f"{field} cannot cost the architectures of space {space.name!r}: {what}") from None


def user_initial(campaign: Campaign, space: Space) -> list:
    """The archs of `searcher.initial` (given, or an earlier run's best), each checked against this campaign's
    space now, before any training, under the name that says where it came from."""
    spec = campaign.searcher_initial
    if spec is None:
        return []
    if isinstance(spec, list):
        return [space.validate(a, f"searcher.initial[{i}]") for i, a in enumerate(spec)]
    from nasfw.results import RunView

    run = Path(spec["run"])
    if not (run / Store.FILENAME).is_file():
        from nasfw.store import runs_inside

        raise ConfigError(f"searcher.initial.run = {spec['run']!r}: no nasfw run there (no {Store.FILENAME})"
                          + (runs_inside(run) if run.is_dir() else ""))
    best = RunView.open(run).top(spec.get("top", 5))
    if not best:
        raise ConfigError(f"searcher.initial.run = {spec['run']!r} has no successful evaluation to start from")
    return [space.validate(e.arch, f"searcher.initial (run {spec['run']!r}, its best #{i + 1})")
            for i, e in enumerate(best)]


def prepare_run_dir(campaign: Campaign, resume: bool, flags: RunFlags = CLI_FLAGS) -> tuple[Store, RunLock]:
    """The run folder's store, with the folder locked for this search (released by the caller)."""
    out = Path(campaign.out)
    store_path = out / Store.FILENAME
    if resume and not store_path.exists():
        raise StoreError(f"{flags.resume}: {str(out)!r} holds no run to resume (no {Store.FILENAME})")
    if out.exists() and not out.is_dir():
        raise StoreError(f"output folder {str(out)!r} exists and is not a folder")
    lock = RunLock.acquire(out, flags.out)
    try:
        return _open_run_dir(campaign, resume, flags, out), lock
    except BaseException:
        lock.release()
        raise


def free_folder(out: Path) -> str:
    """The first of OUT-2, OUT-3, ... that does not exist: a second seed of a campaign whose default folder holds
    the first gets a name to use rather than only a refusal."""
    n = 2
    while out.with_name(f"{out.name}-{n}").exists():
        n += 1
    return str(out.with_name(f"{out.name}-{n}"))


def _open_run_dir(campaign: Campaign, resume: bool, flags: RunFlags, out: Path) -> Store:
    store = Store(out)
    fp = store.get_meta("fingerprint")
    if resume:
        if fp != campaign.fingerprint():
            from nasfw.campaign import identity_changes

            before = store.get_meta("campaign") or {}
            store.close()
            changes = "; ".join(identity_changes(before, campaign.raw)) or f"fingerprint {fp}"
            again = flags.again.format(out=str(out), shell=shlex.quote(str(out)))
            raise StoreError(f"{flags.resume}: the run in {str(out)!r} is from another campaign ({changes}); "
                             f"continue it as it was started with `{again}` (a budget, workers, phases may change), "
                             f"or choose another {flags.out}")
    elif fp is not None and store.count() > 0:
        before = store.get_meta("campaign") or {}
        store.close()
        free = f"{flags.out} (e.g. {free_folder(out)})"
        if fp == campaign.fingerprint():
            raise StoreError(f"output folder {str(out)!r} already holds a run; pass {flags.resume} to continue it or "
                             f"choose another {free}")
        from nasfw.campaign import identity_changes

        changes = "; ".join(identity_changes(before, campaign.raw)) or f"fingerprint {fp}"
        raise StoreError(f"output folder {str(out)!r} already holds a run of another campaign ({changes}); choose "
                         f"another {free}")
    store.set_meta("campaign", campaign.raw)
    store.set_meta("fingerprint", campaign.fingerprint())
    try:
        (out / "campaign.yaml").write_text(campaign.to_yaml())
    except OSError as e:
        store.close()
        raise StoreError(f"cannot write to the output folder {str(out)!r}: {e}") from None
    return store


def workers_note(workers: int, cpus: int | None) -> str | None:
    """More local workers than CPUs: each is a process that builds its own task (a SuperCircuit, a data set) and
    holds its memory, and they take turns on the CPUs; `workers: 500` on 2 cores was taken without a word."""
    if not cpus or workers <= cpus:
        return None
    return (f"workers: {workers} on a machine of {cpus} CPUs: each worker is a process that builds its own task and "
            f"holds its memory, and beyond {cpus} they take turns (worth it only for a task that waits on something "
            "else than this CPU)")


def run_campaign(campaign: Campaign, registry: Registry, resume: bool = False, progress: bool = True,
                 plugins_dirs: tuple = (), flags: RunFlags = CLI_FLAGS) -> dict:
    # absolute: a Ray trial runs in a working folder of its own, where a relative --plugins-dir finds nothing
    plugins_dirs = tuple(str(Path(d).resolve()) for d in plugins_dirs)
    comps = build(campaign, registry)
    check_phase_options(campaign, comps.task)
    use_registry(registry, plugins_dirs)
    if campaign.backend == "ray":
        from nasfw.ray_backend import check_ray

        check_ray(campaign)  # resources and address, before any work
    elif campaign.workers > 1 or campaign.evaluation.get("timeout_s"):
        from nasfw.backends import check_main_importable

        why = f"workers: {campaign.workers}" if campaign.workers > 1 else "evaluation.timeout_s"
        check_main_importable(why)  # before the run folder and the supernet, not after them
        note = workers_note(campaign.workers, os.cpu_count())
        if note:
            print(f"note: {note}", file=sys.stderr)
    with sigterm_as_interrupt():
        store, lock = prepare_run_dir(campaign, resume, flags)
        try:
            say_random_start(comps, campaign)  # once the run is sure to start: a refused one says its refusal alone
            _record_environment(campaign, registry, store)
            _phase_supernet(campaign, comps, store, progress)
            _phase_search(campaign, comps, store, resume, progress, plugins_dirs)
            return finalize(campaign, comps, store, progress)
        finally:
            store.close()
            lock.release()


def say_random_start(comps: Components, campaign: Campaign) -> None:
    note = random_start_note(comps.searcher, campaign.budget_evaluations)
    if note:
        print(f"note: {note}", file=sys.stderr)


def _record_environment(campaign: Campaign, registry: Registry, store: Store) -> None:
    """Keep what this session runs with; a resume under other code (a torch upgrade, an edited plugin) says so
    before its evaluations join those made with the code the run began with."""
    from nasfw import provenance

    plugins = provenance.campaign_plugins(campaign, registry)
    for note in (n for name in plugins for n in registry.notes.get(name, [])):
        print(f"note: {note}")  # a folder's file in place of the installed plugin, which the user may not expect
    diff = provenance.record(store, provenance.environment(registry, plugins, provenance.data_files(campaign)))
    if diff:
        show = f"nasfw show {shlex.quote(str(campaign.out))}"
        print(f"note: this run began with other code or data ({'; '.join(diff)}); evaluations made before and "
              f"after may not compare (`{show}` lists every session's changes)", file=sys.stderr)


@contextmanager
def sigterm_as_interrupt():
    """While a run goes on, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the driver, so the run unwinds as
    on Ctrl-C: worker processes killed, phase times and the searcher's checkpoint kept, the lock released. Only
    the main thread can take signals; elsewhere (a run started from a thread) nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []

    def stop(signum, _frame):
        received.append(signum)
        raise Terminated(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt as e:
        if received and not isinstance(e, Terminated):  # Ray Tune stops on it and raises an interrupt of its own
            raise Terminated(f"signal {received[0]}") from e
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def use_registry(registry: Registry, plugins_dirs: tuple) -> None:
    """Evaluations in the driver use the registry that resolved the campaign (plugins added in code
    included); worker processes rebuild theirs from the same plugin folders."""
    from nasfw import registry as registry_module

    registry._dirs = tuple(str(d) for d in plugins_dirs)  # type: ignore[attr-defined]
    registry_module._DEFAULT = registry


def with_progress(method: Any, options: dict, progress: bool) -> dict:
    """A phase method's options with the run's progress switch added, where the method declares `progress`
    (a plugin's own phase without one is called as before); a `progress` the campaign sets itself wins."""
    import inspect

    try:
        declared = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        declared = False
    return {"progress": progress, **options} if declared else dict(options)


def _phase_supernet(campaign: Campaign, comps: Components, store: Store, progress: bool = True) -> None:
    want = campaign.phases.get("supernet", True)
    if want is False or not hasattr(comps.task, "train_supernet"):
        return  # `{}` is the task's defaults, as `true` is: read as false, it searched with untrained weights
    if store.get_meta("supernet_done"):
        if hasattr(comps.task, "load_supernet"):  # resuming: the weights trained before the interruption
            comps.task.load_supernet(Path(campaign.out))
        return
    opts = want if isinstance(want, dict) else {}
    t0 = time.time()
    try:
        comps.task.train_supernet(Path(campaign.out), **with_progress(comps.task.train_supernet, opts, progress))
    finally:  # an interrupted training's time was spent too
        store.add_phase_seconds("supernet", time.time() - t0)
    store.set_meta("supernet_done", True)


def _phase_search(campaign: Campaign, comps: Components, store: Store, resume: bool, progress: bool,
                  plugins_dirs: tuple) -> None:
    space, searcher = comps.space, comps.searcher
    ev = campaign.evaluation
    pipeline = Pipeline(space, searcher, comps.cheap, campaign.constraints,
                        max_duplicates=int(ev.get("max_duplicates", 1000)))
    searcher.feasible = pipeline.feasible if campaign.constraints and comps.cheap else None

    # in order by default on the local backend; on Ray only when asked for: a slow trial would hold a cluster back
    in_order = bool(ev.get("in_order", campaign.backend != "ray"))
    stored = StoredResults(store) if can_retrace(store, in_order, campaign.workers) else None

    def record_infeasible(arch, key, res: Result) -> None:
        if stored is not None and stored.take(key) is not None:
            return  # retracing: stored already
        now = time.time()
        store.add(key, arch, res.metrics, res.status, res.error, 0.0, "driver", now, now)
    pipeline.on_infeasible = record_infeasible

    _seed_initial(campaign, comps)
    if resume and stored is None:
        _replay(store, searcher, pipeline)
    spec = EvaluatorSpec(campaign.task, comps.task_options, tuple(comps.expensive), tuple(plugins_dirs),
                         int(ev.get("retries", 0)), shared_path=_write_shared(campaign, comps))
    driver = SearchDriver(campaign, pipeline, store, progress, replay=stored)
    try:
        if campaign.backend == "ray":
            from nasfw.ray_backend import run_on_ray

            run_on_ray(driver, spec, campaign, in_order, stored)
        else:
            backend = make_backend(campaign.backend, spec, campaign.workers, ev.get("timeout_s"))
            if stored is not None:  # a resumed ordered run retraces itself (nasfw/replay.py)
                backend = ReplayBackend(backend, stored, space.key)
            run_local(driver, backend, in_order=in_order)
    finally:
        driver.close()
        from nasfw.shared_arrays import remove_files

        remove_files(Path(campaign.out).resolve())  # the workers' mapped arrays: they are gone with the workers
    driver.finish()


def _seed_initial(campaign: Campaign, comps: Components) -> None:
    """The search's first candidates: the campaign's `searcher.initial`, then those of a task with
    `initial_archs(space, rng)` (QuantumNAS: circuits on the trivial and SABRE layouts), each checked against
    the space like any arch. On resume a checkpoint replaces them with those still untried."""
    comps.searcher.seed_initial(comps.initial)
    if not hasattr(comps.task, "initial_archs"):
        return
    import numpy as np

    archs = comps.task.initial_archs(comps.space, np.random.default_rng(campaign.seed))
    comps.searcher.seed_initial([comps.space.validate(a, f"initial_archs()[{i}]") for i, a in enumerate(archs)])


def _write_shared(campaign: Campaign, comps: Components) -> str | None:
    """A task with `shared_state()` (a trained supernet's weights) hands it over once; workers receive it
    through `use_shared_state` instead of each rebuilding or being sent it with every evaluation."""
    if not hasattr(comps.task, "shared_state"):
        return None
    import pickle

    state = comps.task.shared_state()
    if state is None:
        return None
    from nasfw.shared_arrays import externalise

    path = Path(campaign.out).resolve() / "shared_state.pkl"
    with open(path, "wb") as f:  # large arrays beside it, mapped by the workers (shared_arrays.py)
        pickle.dump(externalise(state, path.parent), f, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path)


def _replay(store: Store, searcher, pipeline: Pipeline) -> None:
    ckpt = store.latest_checkpoint()
    after = 0
    if ckpt is not None:
        state, after = ckpt
        searcher.load_state_dict(state)
    if hasattr(searcher, "reset_pending"):
        searcher.reset_pending()
    for e in store.evaluations():
        res = Result(e.status, e.metrics, e.error)
        pipeline.cache[e.arch_key] = res
        if e.id > after:
            searcher.tell(e.arch, res)


def finalize(campaign: Campaign, comps: Components, store: Store, progress: bool = True) -> dict:
    """Write best.json, top.json and (several objectives) pareto.json; export the best if the task can."""
    from nasfw.results import RunView

    view = RunView.open(campaign.out)
    out = Path(campaign.out)
    fin = campaign.phases.get("finalize") or {}
    top = view.top(int(fin.get("top_k", 5)))
    rec = lambda e: {"arch": e.arch, "metrics": e.metrics, "evaluation": e.id}  # noqa: E731
    summary = view.summary()
    if summary["evaluations"] and not summary["ok"] and summary["failed"]:
        # nothing to finalize: say why, with the error every evaluation hit first (a plugin that did not load,
        # a task option its factory refuses), so the command can fail instead of reporting an empty run
        first = next((e for e in store.evaluations() if e.status == "failed"), None)
        summary["first_error"] = first.error if first else None
    if top:
        (out / "best.json").write_text(json_text.dumps(rec(top[0]), indent=2))
        (out / "top.json").write_text(json_text.dumps([rec(e) for e in top], indent=2))
        summary["best"] = rec(top[0])
        broken = violated(campaign.constraints, top[0].metrics)
        if broken:  # no candidate met the constraints: the best is the one that comes closest, and says so
            summary["best"]["violates"] = broken
    if len(campaign.objectives) > 1:
        (out / "pareto.json").write_text(json_text.dumps([rec(e) for e in view.pareto()], indent=2))
    exported = []
    if top and hasattr(comps.task, "export"):
        for fmt in fin.get("export", []):
            exported += [str(p) for p in comps.task.export(top[0].arch, out / "export", fmt)]
    summary["exported"] = exported
    if top and hasattr(comps.task, "finalize") and fin.get("task") is not False:
        # the paper's last steps that only the task knows (train the winner from scratch, prune, re-evaluate
        # on the reference simulator, baselines); its report is kept in the summary
        t0 = time.time()
        try:
            summary["task"] = comps.task.finalize(top[0].arch, out, **with_progress(comps.task.finalize,
                                                                                   fin.get("task") or {}, progress))
        finally:
            store.add_phase_seconds("finalize", time.time() - t0)
        summary["phase_s"] = {k: round(v, 3) for k, v in store.phase_seconds().items()}
    if top:  # every run folder carries its plots and report.md, as `nasfw report` writes them
        from nasfw.report import write_report

        finalized = summary.get("task") or {}
        summary["report"] = write_report(out, table=finalized.get("table"),
                                         figures=finalized.get("figures") or [])["report"]
    (out / "summary.json").write_text(json_text.dumps(summary, indent=2, default=str))
    return summary

