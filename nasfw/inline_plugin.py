"""Python objects in place of names: `nasfw.search(task=MyTask, space=Space([...]), searcher=MySearcher)`.

A notebook user with a model to search had to write a plugin file and point `plugins_dirs` at it before the first
try, where Optuna takes a function. The objects given are registered, for this process, as the plugin `python`
(`INLINE`), and the campaign names them as a file would: a task class or factory under its own name (its
`task_options` apply), a task object or a plain function `arch -> {metric: value}` under its name too, a searcher
class (a `nasfw.searchers.Searcher` subclass) under its `name`, a cost model class or object in `hardware` under
its `name` or class name. A `Space` goes into the campaign inline, in the
space language, as a campaign file may write it. The run records a hash of the objects' source as the plugin's
code, so a resume with an edited class says so.

Worker processes and Ray trials rebuild the task from its name in a fresh interpreter, where an object defined
in a notebook does not exist; such campaigns are refused with what to do instead (a plugin file).
"""
from __future__ import annotations

import hashlib
import inspect
import re
from typing import Any, Callable

from nasfw.errors import ConfigError
from nasfw.hooks import hookimpl
from nasfw.space import Space

INLINE = "python"


class FunctionTask:
    """A task made of a function `arch -> {metric: value}`."""

    def __init__(self, fn: Callable[[dict], dict]):
        self.fn = fn

    def evaluate(self, arch: dict) -> dict:
        return self.fn(arch)


def _name(obj: Any) -> str:
    raw = getattr(obj, "__name__", None) or type(obj).__name__
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", raw).lstrip("_.-") or "task"


def _source(obj: Any) -> str:
    target = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):  # defined where no source is kept (an interactive prompt): its name stands in
        return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


class InlinePlugin:
    """The plugin object pluggy registers: hook implementations over the objects given."""

    def __init__(self) -> None:
        self.tasks: dict[str, Callable] = {}
        self.searchers: dict[str, type] = {}
        self.cost_models: dict[str, Callable] = {}
        self.expensive: set[str] = set()
        self.sources: list[str] = []

    @property
    def nasfw_source_sha256(self) -> str:
        """What `nasfw.provenance` records as this plugin's code: the source of every object given."""
        from nasfw.provenance import HASH_CHARS

        return hashlib.sha256("\n".join(self.sources).encode()).hexdigest()[:HASH_CHARS]

    @hookimpl
    def nasfw_register_tasks(self, register):
        for name, factory in self.tasks.items():
            register(name, factory, "given to nasfw.search")

    @hookimpl
    def nasfw_register_cost_models(self, register):
        for name, factory in self.cost_models.items():
            register(name, factory, "given to nasfw.search")

    @hookimpl
    def nasfw_register_searchers(self, register):
        for name, cls in self.searchers.items():
            register(name, cls, "given to nasfw.search")


def task_entry(task: Any, options: dict | None) -> tuple[str, Callable]:
    """The name and factory of a task given as an object."""
    if inspect.isclass(task):
        if not callable(getattr(task, "evaluate", None)):
            raise ConfigError(f"task = {task.__name__} is not allowed: a task class needs a method evaluate(arch) "
                              "-> {metric: value}")
        return _name(task), task
    if callable(getattr(task, "evaluate", None)):  # an instance, built by the user: no options to give it
        if options:
            raise ConfigError(f"task_options {sorted(options)} cannot be given to a task object (it is built "
                              "already); pass its class to have them given to it")
        return _name(type(task)), lambda: task
    if callable(task):
        return _name(task), (lambda: FunctionTask(task))
    raise ConfigError(f"task = {task!r} is not allowed; allowed: a task's name, a class or object with "
                      "evaluate(arch) -> {metric: value}, or a function arch -> {metric: value}")


def _take_cost_model(plugin: InlinePlugin, model: Any, i: int) -> Any:
    """A `hardware` entry: a name or mapping as a file has it, or a cost model class or object (anything with
    evaluate(arch) -> {metric: value}; `cheap = True` filters candidates in this process before evaluation)."""
    if isinstance(model, (str, dict)):
        return model
    if not callable(getattr(model, "evaluate", None)):
        raise ConfigError(f"hardware[{i}] = {model!r} is not allowed; allowed: a cost model's name, a {{name, "
                          "options} mapping, or a class or object with evaluate(arch) -> {metric: value}")
    own = getattr(model, "name", None)
    name = own if isinstance(own, str) and own else _name(model if inspect.isclass(model) else type(model))
    plugin.cost_models[name] = model if inspect.isclass(model) else (lambda: model)
    if not getattr(model, "cheap", True):  # evaluated beside the task, in its process; a cheap one in the driver's
        plugin.expensive.add(name)
    plugin.sources.append(_source(model))
    return name


def take_objects(registry: Any, fields: dict) -> dict:
    """`fields` with a task, space, searcher or cost model object replaced by what a campaign file would write,
    the objects registered in `registry` as the plugin `python` (replacing what an earlier call there registered)."""
    fields = dict(fields)
    if isinstance(fields.get("space"), Space):
        fields["space"] = fields["space"].to_dict()
    plugin = InlinePlugin()
    task = fields.get("task")
    if task is not None and not isinstance(task, str):
        name, factory = task_entry(task, fields.get("task_options"))
        plugin.tasks[name] = factory
        plugin.sources.append(_source(task))
        fields["task"] = name
    searcher = fields.get("searcher")
    if searcher is not None and not isinstance(searcher, (str, dict)):
        if not inspect.isclass(searcher):
            raise ConfigError(f"searcher = {searcher!r} is not allowed; allowed: a searcher's name or a "
                              "nasfw.searchers.Searcher subclass")
        own = vars(searcher).get("name")
        name = own if isinstance(own, str) else _name(searcher)
        plugin.searchers[name] = searcher
        plugin.sources.append(_source(searcher))
        fields["searcher"] = {"name": name}
    hardware = fields.get("hardware")
    if isinstance(hardware, (list, tuple)):
        fields["hardware"] = [_take_cost_model(plugin, h, i) for i, h in enumerate(hardware)]
    earlier = registry.pm.get_plugin(INLINE) if INLINE in registry.plugins else None
    if isinstance(earlier, InlinePlugin):  # an earlier call's objects (a cell run again with a redefined class)
        registry._drop(INLINE)
    elif earlier is not None and (plugin.tasks or plugin.searchers or plugin.cost_models):
        raise ConfigError(f"objects given to nasfw.search are registered as plugin {INLINE!r}, a name that "
                          f"{registry.plugins[INLINE].source} already takes; rename that plugin")
    if plugin.tasks or plugin.searchers or plugin.cost_models:
        registry.add_plugin(plugin, INLINE, "objects given to nasfw.search")
        if INLINE in registry.failures:
            raise ConfigError(f"the objects given to nasfw.search cannot be used: {registry.failures.pop(INLINE)}")
    return fields


def check_in_process(campaign: Any, registry: Any) -> None:
    """Refuse a campaign whose evaluations would run where the objects do not exist."""
    def given(kind: str, name: str) -> bool:
        entry = registry.entries[kind].get(name)
        return entry is not None and entry.plugin == INLINE

    mine = [f"task {campaign.task!r}"] if given("tasks", campaign.task) else []
    plugin = registry.pm.get_plugin(INLINE)
    mine += [f"cost model {name!r}" for name, _ in campaign.hardware
             if given("cost_models", name) and name in getattr(plugin, "expensive", ())]
    if not mine:
        return
    elsewhere = ("backend: ray" if campaign.backend == "ray" else f"workers: {campaign.workers}"
                 if campaign.workers > 1 else "evaluation.timeout_s" if campaign.evaluation.get("timeout_s")
                 else None)
    if elsewhere:
        were = "was given as a Python object, which exists" if len(mine) == 1 else \
            "were given as Python objects, which exist"
        raise ConfigError(f"{' and '.join(mine)} {were} in this process only; {elsewhere} evaluates in other "
                          "processes. Evaluate here (workers: 1), or put them in a plugin file and pass its folder "
                          "with plugins_dirs=")


def refuse_unknown_inline_task(run_dir: Any, task: str, registry: Any, what: str) -> None:
    """A run made with a task given as an object cannot be resumed or exported where that object is not given
    again (the command line, another session): say so, not "unknown task 'score'"."""
    if task in registry.entries["tasks"]:
        return
    from nasfw.store import Store

    try:
        store = Store(run_dir, create=False, read_only=True)
    except Exception:  # noqa: BLE001 - no readable run there: the caller's own error follows
        return
    try:
        sessions = store.get_meta("environment") or []
    finally:
        store.close()
    if any(INLINE in (s.get("plugins") or {}) for s in sessions):
        raise ConfigError(f"the run in {str(run_dir)!r} was made with task {task!r} given to nasfw.search as a Python "
                          f"object, which does not exist here; {what}")
