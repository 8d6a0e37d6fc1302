"""Plugin discovery and the typed facade the engine uses to reach plugins.

Plugins come from the entry-point group ``nasfw`` (first-party ones included: they walk the same path as a
third-party package), from ``*.py`` files in ``--plugins-dir`` folders, and, for an uninstalled checkout,
from `DEFAULT_PLUGINS`. ``NASFW_PLUGINS=a,b`` loads only those (the engine's own ``core`` always loads);
``NASFW_DISABLE_PLUGINS=a,b`` skips them. A plugin that fails to import or to register is recorded in
`Registry.failures`, reported by ``nasfw plugins``, and breaks nothing else.
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from nasfw import hooks
from nasfw.errors import ConfigError, PluginError, unknown_name

ENTRY_POINT_GROUP = "nasfw"
DEFAULT_PLUGINS = (("core", "nasfw.builtin"), ("nasbench201", "nasfw.plugins.nasbench201"),
                   ("quantumnas", "nasfw.plugins.quantumnas"), ("tinynas", "nasfw.plugins.tinynas"),
                   ("naas", "nasfw.plugins.naas"))
ALWAYS = ("core",)
KINDS = ("search_spaces", "cost_models", "tasks", "searchers", "campaigns")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class Entry:
    kind: str
    name: str
    obj: Any
    plugin: str
    description: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class PluginInfo:
    name: str
    source: str
    provides: dict = field(default_factory=lambda: {k: [] for k in KINDS})
    version: str | None = None  # the installed distribution's, for a plugin that came from an entry point


def _split_env(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class Registry:
    def __init__(self, plugins_dirs: Iterable[str | Path] = (), env: dict | None = None,
                 entry_points: bool = True):
        env = dict(os.environ if env is None else env)
        self.allow = _split_env(env.get("NASFW_PLUGINS"))
        self.deny = _split_env(env.get("NASFW_DISABLE_PLUGINS"))
        self.pm = pluggy.PluginManager(hooks.PROJECT)
        self.pm.add_hookspecs(hooks)
        self.entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: dict[str, str] = {}
        self.notes: dict[str, list[str]] = {}  # plugin -> what a --plugins-dir file replaced, or why it was not loaded
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                self._load(ep.name, f"entry point {ep.value}", ep.load,
                           f"{dist.name} {dist.version}" if dist is not None else None)
        for name, module in DEFAULT_PLUGINS:
            if name not in self.plugins and name not in self.failures:
                self._load(name, f"built-in {module}", lambda m=module: importlib.import_module(m))
        for folder in plugins_dirs:
            self.load_dir(folder)

    # --- loading ------------------------------------------------------------------------------------
    def _wanted(self, name: str) -> bool:
        if name in ALWAYS:
            return True
        if name in self.deny:
            return False
        return not self.allow or name in self.allow

    def _load(self, name: str, source: str, load: Callable[[], Any], version: str | None = None) -> None:
        if not self._wanted(name) or name in self.plugins:
            return
        try:
            module = load()
        except Exception as e:  # a broken plugin is reported, never fatal
            self.failures[name] = f"import failed ({source}): {type(e).__name__}: {e}"
            return
        self.add_plugin(module, name, source)
        if name in self.plugins:
            self.plugins[name].version = version

    def load_dir(self, folder: str | Path) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise PluginError(f"--plugins-dir {str(folder)!r} is not a folder")
        for path in sorted(folder.glob("*.py")):
            name = path.stem
            if not self._wanted(name) or not self._may_take_name(name, path):
                continue

            def load(path=path, name=name):
                spec = importlib.util.spec_from_file_location(f"nasfw_dir_plugin_{name}", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                return module
            self._load(name, f"file {path.name} in plugins dir {str(folder)!r}", load)

    def _may_take_name(self, name: str, path: Path) -> bool:
        """A file in a folder the user named replaces an installed plugin of its name: a plugin being edited in a
        folder while an older copy is installed was skipped without a word, and the run used the installed code.
        The engine's own plugin is never replaced, and of two folders' files of one name the first is kept."""
        earlier = self.plugins.get(name)
        if earlier is None and name not in self.failures:
            return True
        if name in ALWAYS or (earlier is not None and earlier.source.startswith("file ")):
            why = ("it is the engine's own plugin" if name in ALWAYS
                   else f"the plugin of that name is already {earlier.source}")
            self.notes.setdefault(name, []).append(f"{path} was not loaded: {why}; rename the file")
            return False
        if earlier is None:
            was = f"the one that failed to load ({self.failures.pop(name)})"
        else:
            was = earlier.source + (f", {earlier.version}" if earlier.version else "")
            self._drop(name)
        self.notes.setdefault(name, []).append(f"plugin {name!r} is {path}, in place of {was}")
        return True

    def add_plugin(self, module: Any, name: str, source: str = "object") -> None:
        """Register an already-imported plugin (a module or an object with hookimpls)."""
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except Exception as e:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self.failures[name] = f"registration failed ({source}): {type(e).__name__}: {e}"
            return
        info = PluginInfo(name, source)
        self.plugins[name] = info
        for kind in KINDS:
            impls = [i for i in getattr(self.pm.hook, f"nasfw_register_{kind}").get_hookimpls()
                     if i.plugin_name == name]
            for impl in impls:
                try:
                    impl.function(register=self._register_fn(kind, name))
                except Exception as e:
                    self._drop(name)
                    frames = traceback.extract_tb(e.__traceback__)  # the plugin's line, not the check's here
                    last = next((f for f in reversed(frames) if f.filename != __file__), frames[-1])
                    self.failures[name] = (f"nasfw_register_{kind} raised {type(e).__name__}: {e} "
                                           f"(at {Path(last.filename).name}:{last.lineno})")
                    return

    def _drop(self, plugin: str) -> None:
        for kind in KINDS:
            for key in [k for k, e in self.entries[kind].items() if e.plugin == plugin]:
                del self.entries[kind][key]
        self.plugins.pop(plugin, None)
        p = self.pm.get_plugin(plugin)
        if p is not None:
            self.pm.unregister(p)

    def _register_fn(self, kind: str, plugin: str) -> Callable[..., None]:
        def register(name: str, obj: Any, description: str = "", **extra: Any) -> None:
            if not isinstance(name, str) or not _NAME.match(name):
                raise PluginError(f"plugin {plugin!r} registers {kind[:-1]} name {name!r}: names are letters, "
                                  "digits, '_', '-' and '.'")
            if name in self.entries[kind]:
                other = self.entries[kind][name].plugin
                raise PluginError(f"plugin {plugin!r} registers {kind[:-1]} {name!r}, already registered by "
                                  f"plugin {other!r}")
            if kind == "campaigns" and not isinstance(obj, dict):
                raise PluginError(f"plugin {plugin!r}: campaign {name!r} must be a mapping")
            if kind != "campaigns" and not callable(obj):
                raise PluginError(f"plugin {plugin!r}: {kind[:-1]} {name!r} must be callable (a factory or class)")
            if kind == "searchers":
                _check_searcher_class(plugin, name, obj)
            self.entries[kind][name] = Entry(kind, name, obj, plugin, description, extra)
            self.plugins[plugin].provides[kind].append(name)
        return register

    # --- the typed facade ---------------------------------------------------------------------------
    def names(self, kind: str, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.entries[kind] if fnmatch.fnmatch(n, pattern))

    def entry(self, kind: str, name: str) -> Entry:
        if name not in self.entries[kind]:
            label = {"search_spaces": "search space", "cost_models": "hardware",
                     "campaigns": "plugin"}.get(kind, kind[:-1])
            msg = unknown_name(label, name, self.entries[kind])
            # a name a broken plugin would have provided: say which plugins failed to load and why
            owner = next((p for p in self.failures if p == name), None)
            if owner:
                msg += f" (plugin {owner!r} failed to load: {self.failures[owner]})"
            elif self.failures:
                msg += " (plugins that failed to load: " + "; ".join(
                    f"{p!r}: {why}" for p, why in self.failures.items()) + ")"
            raise ConfigError(msg)
        return self.entries[kind][name]

    def _build(self, kind: str, name: str, options: dict | None, prefix: str | None = None) -> Any:
        factory = self.entry(kind, name).obj
        if prefix is None:  # `reg.task(name, **options)` from Python: the options a campaign gives in these fields
            prefix = {"tasks": "task_options.", "search_spaces": "space_options."}.get(kind)
        options = dict(options or {})
        options = check_options(factory, options, f"{kind[:-1].replace('_', ' ')} {name!r}", prefix=prefix)
        return factory(**options)

    def configured(self, kind: str, name: str, options: dict | None, prefix: str | None = None) -> Any:
        """A task, space or cost model built from a campaign's field: an error names an option as the user
        wrote it (`prefix` + name: `hardware[0].options.seed`, `--option sram_kb`; a task's and a space's are
        `task_options.` and `space_options.` by default)."""
        if kind == "cost_models" and name.endswith((".yaml", ".yml")):
            # the options come from the file too: name the model, not a field the user may not have written
            model, file_options = load_hardware_file(name, self)
            return self._build(kind, model, {**file_options, **(options or {})})
        return self._build(kind, name, options, prefix)

    def space(self, name: str, **options: Any):
        return self._build("search_spaces", name, options)

    def cost_model(self, name: str, **options: Any):
        """A registered cost model by name, or a hardware file (YAML) naming one with its options."""
        return self.configured("cost_models", name, options)

    def task(self, name: str, **options: Any):
        return self._build("tasks", name, options)

    def searcher_class(self, name: str):
        return self.entry("searchers", name).obj

    def campaign(self, name: str) -> dict:
        return self.entry("campaigns", name).obj


HARDWARE_FILE_FIELDS = {"name": str, "description": str, "cost_model": str, "options": dict}


def _check_searcher_class(plugin: str, name: str, cls: Any) -> None:
    """A searcher is built by the engine (`make_searcher`), so it must be a `Searcher` subclass that implements
    the protocol; otherwise the first search failed with Python's "Can't instantiate abstract class" traceback.
    A subclass that does not name itself takes the name it is registered under (its checkpoints and messages
    said 'base')."""
    from nasfw.searchers.base import Searcher

    if not (inspect.isclass(cls) and issubclass(cls, Searcher)):
        raise PluginError(f"plugin {plugin!r}: searcher {name!r} must be a subclass of nasfw.searchers.Searcher, "
                          f"not {cls!r}")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        public = [m for m in ("ask", "tell") if m in vars(cls) and f"_{m}" in missing]
        hint = (f"; it overrides {' and '.join(public)}, which the engine keeps: implement "
                f"{' and '.join('_' + m for m in public)} instead" if public else "")
        raise PluginError(f"plugin {plugin!r}: searcher {name!r} (class {cls.__name__}) does not implement "
                          f"{', '.join(missing)}: a searcher implements _ask(self) -> arch and _tell(self, arch, "
                          f"result){hint}")
    if "name" not in vars(cls) and cls.name == Searcher.name:
        cls.name = name


def load_hardware_file(path: str, registry: "Registry") -> tuple[str, dict]:
    """A user's hardware target as YAML: {name, description, cost_model: REGISTERED NAME, options: {...}}.
    The options are the cost model's factory arguments (a device's SRAM, its latency table, ...), checked
    like any other options, so a missing device field is named."""
    from nasfw import yaml_files

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"hardware file {path!r} does not exist")
    data = yaml_files.read(p, f"hardware file {p.name}")
    if not isinstance(data, dict):
        raise ConfigError(f"hardware file {p.name} must hold a mapping with 'cost_model' and 'options'")
    for k, v in data.items():
        if k not in HARDWARE_FILE_FIELDS:
            raise ConfigError(unknown_name(f"hardware file {p.name} field", k, HARDWARE_FILE_FIELDS))
        if not isinstance(v, HARDWARE_FILE_FIELDS[k]):
            raise ConfigError(f"hardware file {p.name}: {k} = {v!r} must be a {HARDWARE_FILE_FIELDS[k].__name__}")
    if "cost_model" not in data:
        raise ConfigError(f"hardware file {p.name}: field 'cost_model' is missing; it must name a registered cost "
                          f"model, one of: {', '.join(registry.names('cost_models'))}")
    registry.entry("cost_models", data["cost_model"])
    return data["cost_model"], dict(data.get("options") or {})


def options_of(target: Callable) -> Callable:
    """Decorator for a task method that hands its keyword options on to `target(task, ...)`: the options are
    checked against `target`'s signature (a typo in `phases.finalize.task` fails before the search)."""
    def mark(method: Callable) -> Callable:
        method.__signature__ = inspect.signature(target)  # type: ignore[attr-defined]
        method.__wrapped__ = target  # type: ignore[attr-defined]  # its type hints too
        return method
    return mark


def with_defaults(factory: Callable, options: dict) -> dict:
    """Every named parameter of `factory` with the value `options` gives it, else its default: the options as the
    factory will see them, for a task's `campaign_defaults`, which reads them before the task is built."""
    return {k: options.get(k, p.default) for k, p in inspect.signature(factory).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_options(factory: Callable, options: dict, what: str, skip: int = 0, prefix: str | None = None) -> dict:
    """Reject options a factory does not take, naming the ones it does, and options of the wrong type, naming
    what the factory's type hint allows (nasfw/option_types.py). Returns the options as the factory takes them
    (YAML's `1e-3` text as a number). `skip`: leading positional parameters the caller fills itself (a phase
    method's arch and run folder), neither options nor missing. `prefix`: how the user wrote the options
    (`task_options.`, `phases.supernet.`, `--option `), so that a message names `task_options.noise`, the field
    as written, rather than "task 'x' option 'noise'", which the user has to translate back."""
    from nasfw.option_types import check_seed, coerce_option, hints_of

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return dict(options)
    params = dict(sig.parameters)
    hints = hints_of(factory)

    def named(k: str) -> str:
        return f"{what} option {k!r}" if prefix is None else f"{prefix}{k}"

    checked = {k: coerce_option(v, hints[k], named(k)) if k in hints and k in params else v
               for k, v in options.items()}
    if hints.get("seed") is int and "seed" in checked:  # the convention every plugin follows
        check_seed(checked["seed"], named("seed"))
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return checked
    for k in [k for k, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:skip]:
        del params[k]
    allowed = [k for k, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for k in options:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if prefix is None:
                raise ConfigError(f"{what} has no option {k!r}{hint}; allowed: {allowed}")
            raise ConfigError(f"{prefix}{k} is not an option of {what}{hint}; allowed: {allowed}")
    missing = [k for k, p in params.items() if p.default is p.empty and p.kind in (p.KEYWORD_ONLY,
               p.POSITIONAL_OR_KEYWORD) and k not in options]
    if missing:
        needs = f"option(s) {missing}" if prefix is None else ", ".join(named(k) for k in missing)
        raise ConfigError(f"{what} needs {needs}; given: {sorted(options) or 'none'}")
    return checked


_DEFAULT: Registry | None = None


def get_registry(plugins_dirs: Iterable[str | Path] = (), fresh: bool = False) -> Registry:
    """The process-wide registry (workers rebuild it from the same plugin dirs)."""
    global _DEFAULT
    dirs = tuple(str(d) for d in plugins_dirs)
    if fresh or _DEFAULT is None or getattr(_DEFAULT, "_dirs", None) != dirs:
        _DEFAULT = Registry(dirs)
        _DEFAULT._dirs = dirs  # type: ignore[attr-defined]
    return _DEFAULT


def checks_options(what: str, prefix: str = "task_options.") -> Callable[[type], type]:
    """Class decorator: a task built from Python with keyword options (`TinyNASTask(memory="x")`) refuses them in
    the words a campaign's options are refused (`task_options.memory = 'x'; allowed: ...`), by the same type
    hints, rather than in its constructor's own older words or a TypeError for a misspelt keyword."""
    def decorate(cls: type) -> type:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs:
                kwargs = check_options(cls, kwargs, what, skip=len(args), prefix=prefix)
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[misc]
        return cls
    return decorate
