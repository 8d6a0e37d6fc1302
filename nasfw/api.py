"""nasfw from Python: `nasfw.search(...)` runs a campaign and returns its run, `nasfw.open_run(folder)` reads one.

The command line and these functions resolve a campaign the same way (`resolve_campaign`): the plugin's default
campaign, then the user's file or mapping over it, then single fields (seed, workers, out, ...), then the budget.
A notebook therefore gets exactly the run `nasfw search` would have made from the same inputs, with the same
checks and the same one-line errors (`nasfw.ConfigError`), and the run folder it writes is the CLI's."""
from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from nasfw.errors import ConfigError
from nasfw.progress import bars_shown

if TYPE_CHECKING:
    from nasfw.campaign import Campaign
    from nasfw.compare import Comparison
    from nasfw.registry import Registry
    from nasfw.results import RunView
    from nasfw.runner import RunFlags


def adopt_task_objectives(raw: dict, user: dict, default_task: str | None, reg: Registry) -> dict:
    """A user who switches a plugin's default campaign to another of its tasks (`task: quantumnas-vqe`) and names
    no objectives gets that task's own (its `default_objectives` attribute), not the replaced task's metric,
    which the new task does not report (the run stopped at its first evaluation)."""
    task = user.get("task")
    if not isinstance(task, str) or task == default_task or "objectives" in user or default_task is None:
        return raw
    own = getattr(reg.entry("tasks", task).obj, "default_objectives", None)
    return {**raw, "objectives": [dict(o) for o in own]} if own else raw


def fill_task_defaults(raw: dict, reg: Registry) -> dict:
    """The campaign with the fields its task's options imply, where the campaign leaves them out: the task's
    `campaign_defaults(task_options)` (a class or static method) names its space and that space's options, and may name
    `hardware` and `constraints`, and `hardware_options` for the cost models the campaign lists, and
    `task_options` it chose in place of the user's (TinyNAS's `width_mult: auto`, stage 1's pick). A user then
    changes a device, a circuit or a board in one place
    (`--set task_options.device=lima`): QuantumNAS's space and TinyNAS's board, memory model and SRAM/Flash bounds
    follow. Space options fill in only for the space the task names (a user's own space keeps its options);
    what the campaign does give stays, and a task's `check_space`/`check_campaign` refuse it if it disagrees."""
    task, opts = raw.get("task"), raw.get("task_options", {})
    if not isinstance(task, str) or not isinstance(opts, dict) or task not in reg.entries["tasks"]:
        return raw  # parse and build report a bad or unknown task
    hook = getattr(reg.entry("tasks", task).obj, "campaign_defaults", None)
    implied = hook(dict(opts)) if callable(hook) else {}
    if not implied:
        return raw
    out = dict(raw)
    resolved = implied.get("task_options")
    if isinstance(resolved, dict) and resolved:  # options the task chose where the user left them to it (`auto`)
        out["task_options"] = {**opts, **resolved}
    space = implied.get("space")
    if space is not None and "space" not in out:
        out["space"] = space
    if space is not None and out.get("space") == space and isinstance(out.get("space_options", {}), dict):
        given = out.get("space_options", {})
        out["space_options"] = {**given, **{k: v for k, v in implied.get("space_options", {}).items()
                                            if k not in given}}
    for field in ("hardware", "constraints"):
        if field in implied and field not in out:
            out[field] = copy.deepcopy(implied[field])
    fill = implied.get("hardware_options")
    if isinstance(fill, dict) and isinstance(out.get("hardware"), (list, str)):
        hw = [out["hardware"]] if isinstance(out["hardware"], str) else out["hardware"]
        filled = [with_model_options(h, fill) for h in hw]
        if filled != hw:  # a campaign nothing is filled into keeps its form (and its fingerprint)
            out["hardware"] = filled
    return out


def with_model_options(entry: Any, fill: dict) -> Any:
    """A campaign's `hardware` entry with the options its task implies for that cost model (`hardware_options`
    of `campaign_defaults`: QuantumNAS's device and circuit for `ibmq-compiled`, TinyNAS's memory model for a
    board), key by key where the entry leaves them out, as `space_options` are filled."""
    if isinstance(entry, str) and fill.get(entry):
        return {"name": entry, "options": copy.deepcopy(fill[entry])}
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and fill.get(name) and isinstance(entry.get("options") or {}, dict):
        given = entry.get("options") or {}
        return {**entry, "options": {**copy.deepcopy(fill[name]), **given}}
    return entry


def describe_user(raw: dict, default: dict, user: dict, source: str | None) -> dict:
    """The plugin default's description, said to be changed by the user's campaign file (or mapping) when that
    changes what runs and gives no description of its own: experiments/quantumnas-vqe-h2.yaml ran VQE on H2 with
    a campaign.yaml that read "QuantumNAS MNIST-4 on the Quito fake device"."""
    from nasfw.campaign import NOT_IDENTITY

    text = raw.get("description")
    changed = [k for k in user if k not in NOT_IDENTITY and k != "plugin" and user[k] != default.get(k)]
    if "description" in user or not changed or not isinstance(text, str) or not text:
        return raw
    said = f"changed by {source}" if source else f"with {', '.join(changed)} changed"
    return {**raw, "description": f"{text} ({said})"}


def describe_sets(raw: dict, sets: Sequence[str]) -> dict:
    """The description with the `--set`s it was changed by: a default's "MNIST-4 on the Quito fake device" stayed
    word for word in the campaign.yaml of a run that `--set task_options.device=lima` moved to Lima."""
    text = raw.get("description")
    new = [s for s in sets if f"--set {s}" not in (text or "")]
    if not new or not isinstance(text, str) or not text:
        return raw
    return {**raw, "description": f"{text} (with {' '.join(f'--set {s}' for s in new)})"}


def as_yaml_values(value: Any) -> Any:
    """A copy with every path object as its string: a campaign holds what a YAML file can, and from Python
    `out=Path("runs/x")` or `task_options={"dataset": Path(...)}` is the natural way to write a path."""
    import os

    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {k: as_yaml_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_yaml_values(v) for v in value]
    return value


def user_fields(config: str | Path | dict | None) -> dict:
    """The user's campaign fields from a YAML file or a mapping (a copy: the caller's dict is never changed)."""
    from nasfw.campaign import load_yaml

    if config is None:
        return {}
    if isinstance(config, dict):
        return as_yaml_values(config)  # new containers throughout
    if isinstance(config, (str, Path)):
        return load_yaml(config)
    raise ConfigError(f"config = {config!r} is not allowed; allowed: a campaign YAML file's path or a mapping of "
                      "campaign fields")


def require_run_plugin(run_dir: str | Path, plugin: Any, registry: Registry, plugins_dir: str) -> None:
    """A run of a plugin loaded from a folder needs that folder again (to resume it, export it, cost it): without
    it the command failed with "unknown task 'tiny'; did you mean 'tinynas'?", which did not say what was missing."""
    if isinstance(plugin, str) and plugin not in registry.plugins:
        why = f" ({registry.failures[plugin]})" if plugin in registry.failures else ""
        raise ConfigError(f"the run in {str(run_dir)!r} was made with plugin {plugin!r}, which is not loaded "
                          f"here{why}; give its folder with {plugins_dir}, or install it")


def stored_campaign(out: str | Path | None, flags: RunFlags, registry: Registry) -> dict:
    """The campaign a run folder was started with (its campaign.yaml), for resuming it without repeating it. A
    run of a plugin loaded from a folder needs that folder again: without it the resume failed with "unknown
    task 'toy'", which did not say what was missing."""
    from nasfw.campaign import load_yaml

    if not out:
        raise ConfigError(f"{flags.resume} without a plugin or a config needs the run folder ({flags.out})")
    stored = Path(out) / "campaign.yaml"
    if not stored.is_file():
        raise ConfigError(f"{flags.resume}: {str(out)!r} holds no run to resume (no campaign.yaml)")
    raw = load_yaml(stored)
    require_run_plugin(out, raw.get("plugin") if isinstance(raw, dict) else None, registry, flags.plugins_dir)
    if isinstance(raw, dict) and isinstance(raw.get("task"), str):
        from nasfw.inline_plugin import refuse_unknown_inline_task

        refuse_unknown_inline_task(out, raw["task"], registry, "continue it from Python, giving nasfw.search the "
                                   f"same task=, space= and searcher= objects with resume=True, out={str(out)!r}")
    return raw


def resolve_campaign(registry: Registry, plugin: str | None = None, user: dict | None = None, *,
                     stored: dict | None = None, searcher: str | None = None, budget: str | int | None = None,
                     fields: dict | None = None, sets: Sequence[str] = (), source: str | None = None) -> Campaign:
    """The validated campaign: `stored` (a run's own campaign, for resuming it) or the plugin's default with
    `user` over it; `fields` (campaign fields: seed, workers, out, task_options, ...; None means not given) over
    both, merged as a campaign file's are; then `searcher` (a name) and `budget` (a number or a preset name); last
    `sets`, the command line's `--set FIELD=VALUE`s, so that one wins over the preset a budget name brings.
    `source` names where `user` came from (its file), for the description."""
    from nasfw.campaign import apply_set, merge, parse, parse_set, resolve_budget

    given = {k: v for k, v in (fields or {}).items() if v is not None}
    if stored is not None:
        raw = merge(stored, given)
    else:
        user = merge(user or {}, given)
        default = registry.campaign(plugin) if plugin else {}
        raw = adopt_task_objectives(merge(default, user), user, default.get("task"), registry)
        raw = describe_user(raw, default, user, source)
        if plugin:
            raw["plugin"] = plugin
    if searcher is not None:
        if not isinstance(searcher, str):
            raise ConfigError(f"searcher = {searcher!r} is not allowed; allowed: a searcher name, or from Python a "
                              "nasfw.searchers.Searcher subclass (settings go in the campaign's searcher field)")
        raw = merge(raw, {"searcher": {"name": searcher}})
    raw = resolve_budget(raw, budget)
    for text in sets:
        path, value = parse_set(text)
        before, raw = raw, apply_set(raw, path, value, text)
        if path == ["task"]:  # as a file's `task:` does: that task's own objectives, unless the user named some
            raw = adopt_task_objectives(raw, {**(user or {}), "task": value}, before.get("task"), registry)
    raw = describe_sets(raw, sets)
    return parse(fill_task_defaults(inline_space_file(raw), registry))


SPACE_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def inline_space_file(raw: dict) -> dict:
    """`space: my_space.yaml` (a space in the space language, as `nasfw space show --json` prints it) read into the
    campaign, so the run folder's campaign.yaml holds the space itself and a resume needs no file."""
    from nasfw.errors import SpaceError
    from nasfw.space import Space

    name = raw.get("space")
    if not (isinstance(name, str) and name.lower().endswith(SPACE_FILE_SUFFIXES)):
        return raw
    if not Path(name).is_file():
        raise ConfigError(f"space = {name!r} is not a file; allowed: a registered search-space name, a space file "
                          "(YAML or JSON, as `nasfw space show --json` prints one) or an inline mapping")
    try:
        space = Space.from_yaml(Path(name))
    except SpaceError as e:
        raise ConfigError(f"space = {name!r}: {e}") from None
    return {**raw, "space": space.to_dict()}


@contextlib.contextmanager
def caller_state_kept() -> Iterator[None]:
    """What evaluations in this process change, given back to the caller's session afterwards: torch's thread
    count (they pin torch to one thread: two per core would oversubscribe beside the workers) and the global
    random streams of torch (CUDA's too, where the caller had started it), numpy and `random`, which training
    seeds from the campaign's seed: a notebook's `torch.randn` after a search drew seed 0's numbers, the same
    after every search."""
    import random

    import numpy as np
    import torch

    threads = torch.get_num_threads()
    np_state, py_state = np.random.get_state(), random.getstate()
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        torch.set_num_threads(threads)
        np.random.set_state(np_state)
        random.setstate(py_state)


def search(plugin: str | None = None, config: str | Path | dict | None = None, *, budget: str | int | None = None,
           searcher: str | type | None = None, resume: bool = False, progress: bool = True,
           plugins_dirs: Iterable[str | Path] = (), **fields: Any) -> RunView:
    """Run a campaign and return its run folder's view (`top()`, `pareto()`, `summary()`, `finalized`).

    `plugin` starts from that plugin's default campaign; `config` (a YAML path or a mapping) goes over it, as
    `--config` does; keyword fields (`seed=1`, `out="runs/x"`, `task_options={...}`) go over both, merged as a
    campaign file's fields are (a `task_options` mapping adds to the default's options). Errors in any of them
    raise `nasfw.ConfigError` before any work. In a script, call it under `if __name__ == "__main__":` when the
    campaign has worker processes: each of them imports the script. `resume=True` with only `out=` continues
    the run in that folder as it was started (its campaign.yaml), as `nasfw search --resume --out RUN` does.
    `task=`, `space=`, `hardware=` and `searcher=` may be Python objects instead of names (a task class, object or
    function `arch -> {metric: value}`, a `Space`, cost model classes or objects, a `Searcher` subclass), evaluated
    in this process
    (`nasfw.inline_plugin`); no plugin or config is needed then."""
    import inspect

    from nasfw.registry import get_registry
    from nasfw.results import RunView
    from nasfw.run_cwd import absolute, in_folder, run_environments, where_started
    from nasfw.runner import PYTHON_FLAGS, run_campaign

    caller = inspect.currentframe().f_back  # type: ignore[union-attr]
    if caller is not None and caller.f_globals.get("__name__") == "__mp_main__":
        # a spawned worker process is importing the user's script, whose top level calls this: running the
        # search again here would start a pool of its own and so on; the driver reports why its workers stop
        raise SystemExit("nasfw.search: a worker process imported the script that calls nasfw.search at its top "
                         "level; put the call under `if __name__ == \"__main__\":`")
    from nasfw.inline_plugin import check_in_process, take_objects

    dirs = tuple(str(d) for d in plugins_dirs)
    registry = get_registry(dirs)
    if inspect.isclass(searcher):  # a Searcher subclass
        fields, searcher = {**fields, "searcher": searcher}, None
    fields = as_yaml_values(take_objects(registry, fields))
    user = user_fields(config)
    plugin = plugin or user.get("plugin")
    stored = None
    if not plugin and not user and "task" not in fields:
        if not resume:
            raise ConfigError("nasfw.search needs a plugin name or a config (a campaign file or mapping), or "
                              "resume=True with out= a run folder")
        stored = stored_campaign(fields.get("out"), PYTHON_FLAGS, registry)
    found = where_started(stored, run_environments(fields["out"])) if stored else None
    if found:  # the run's relative option paths are read from where it started; the caller's own from here
        fields, dirs = {**fields, "out": absolute(fields["out"])}, tuple(str(absolute(d)) for d in dirs)
    with in_folder(found, "nasfw.search(resume=True)"), bars_shown(progress):
        campaign = resolve_campaign(registry, plugin, user, stored=stored, searcher=searcher, budget=budget,
                                    fields=fields, source=str(config) if isinstance(config, (str, Path)) else None)
        check_in_process(campaign, registry)
        with caller_state_kept():
            summary = run_campaign(campaign, registry, resume=resume, progress=progress, plugins_dirs=dirs,
                                   flags=PYTHON_FLAGS)
    if "first_error" in summary:  # `nasfw search` exits 1 here; a script that goes on would meet `best` as None
        import warnings

        warnings.warn(f"every evaluation of {campaign.out!r} failed; the first with: {summary['first_error']}",
                      RuntimeWarning, stacklevel=2)
    return RunView.open(campaign.out)


def open_run(run_dir: str | Path) -> RunView:
    """A finished (or interrupted) run folder, as `nasfw show` reads it."""
    from nasfw.results import RunView

    return RunView.open(run_dir)


def compare_runs(runs: str | Path | Iterable[str | Path], metric: str | None = None,
                 at: int | None = None, by: Sequence[str] = ()) -> Comparison:
    """Run folders side by side, as `nasfw compare` prints them: grouped by the campaign settings they differ in,
    each run's best `metric` ('accuracy' or 'accuracy:max'; default the first run's first objective) within its
    first `at` evaluations (default the shortest run's count), each group's mean and spread over its seeds. `by`:
    group by these campaign fields alone (`["searcher.name"]`).
    `.groups`, `.runs`, `.to_dict()`, and `.write(folder)` for compare.md and the plots. A folder holding runs
    stands for each of them."""
    import os

    from nasfw.compare import compare_runs as compare

    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    if metric is not None and not isinstance(metric, str):
        raise ConfigError(f"metric = {metric!r}; allowed: a metric name, optionally with its direction "
                          "('accuracy:max')")
    return compare(runs, metric, at, by)
