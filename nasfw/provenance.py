"""What a run was made with: nasfw's code, the plugins the campaign used, the packages and the machine.

A QuantumNAS accuracy moves with qiskit-aer's noise model and a TinyNAS latency with onnxruntime; a figure
with no record of the code behind it cannot be reproduced or compared fairly. Each session of a run (its first
start and every --resume) records its environment in the store; a resume under other code says what changed
before it adds evaluations to the earlier ones, `nasfw show` and report.md say what the run was made with, and
`nasfw compare` says when the runs it sets side by side were made with different code.

Code is identified by a hash of its files, not by a version number alone: a source checkout keeps the version
of its last release through every edit (the git commit is recorded too where there is one), and a plugin read
from a --plugins-dir folder has no version at all.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

# the packages whose versions can move a run's numbers (simulators, training, export, searchers); those not
# installed are left out
PACKAGES = ("torch", "numpy", "scipy", "optuna", "cmaes", "ray", "qiskit", "qiskit-aer", "qiskit-ibm-runtime",
            "torchquantum", "pyscf", "openfermion", "scikit-learn", "mlxtend", "onnx", "onnxruntime", "zigzag-dse",
            "pluggy")
# nasfw's own packages (the source layout maps each to a folder of its own)
NASFW_PACKAGES = ("nasfw", "nasfw.hardware", "nasfw.search_spaces", "nasfw.plugins")
HASH_CHARS = 12
WORKER_FIELDS = ("nasfw code", "python", *PACKAGES)  # what a Ray worker's own code is compared in


def file_version(path: str | Path | None) -> tuple[int, int] | None:
    """(size, modification time) of a file, or None where there is none: what a per-process cache of something
    read from a user's file adds to its key, so that the file edited within one Python session is read again."""
    try:
        st = os.stat(path) if path else None
    except (OSError, TypeError, ValueError):
        return None
    return None if st is None else (st.st_size, st.st_mtime_ns)


def files_hash(roots: Iterable[Path | tuple[str, Path]]) -> str:
    """sha256 over each file's name and bytes, in a fixed order; caches left out. A root is a file, a folder, or
    (name, folder) for a package whose files are named from the package's dotted name, so that one code hashes
    alike however it was installed (a source checkout keeps nasfw.hardware in a folder beside nasfw/, a wheel
    inside it, and there the two package names reach the same file: it counts once)."""
    files: dict[str, Path] = {}
    for root in roots:
        prefix, root = (root[0].replace(".", "/") + "/", root[1]) if isinstance(root, tuple) else ("", root)
        if root.is_file():
            files[prefix + root.name] = root
            continue
        for f in root.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                files[prefix + f.relative_to(root).as_posix()] = f
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0")
        h.update(files[name].read_bytes())
    return h.hexdigest()[:HASH_CHARS]


def _package_dirs(names: Iterable[str]) -> list[tuple[str, Path]]:
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += [(name, Path(p)) for p in spec.submodule_search_locations]
    return dirs


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(folder: Path, tracked: str) -> dict | None:
    """The commit of the checkout `folder` lies in, and whether tracked files differ from it; None unless the
    file `tracked` is tracked there (a package installed into a virtual environment that sits inside some other
    checkout is not that checkout's code)."""
    if _git(folder, "ls-files", "--error-unmatch", tracked) is None:
        return None
    commit = _git(folder, "rev-parse", "HEAD")
    if not commit:
        return None
    changed = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit[:HASH_CHARS], "modified": bool(changed)}


def nasfw_code() -> dict:
    from nasfw import __version__

    dirs = _package_dirs(NASFW_PACKAGES)
    out: dict[str, Any] = {"version": __version__, "sha256": files_hash(dirs)}
    git = git_commit(dirs[0][1], "__init__.py") if dirs else None
    if git:
        out.update(git)
    return out


def plugin_code(registry: Any, name: str) -> dict:
    """A plugin's source (as `nasfw plugins` names it), its distribution's version when it was installed as one,
    and the hash of its module (of its whole folder when it is a package)."""
    info = registry.plugins[name]
    out: dict[str, Any] = {"source": info.source}
    if info.version:
        out["version"] = info.version
    obj = registry.pm.get_plugin(name)
    if getattr(obj, "nasfw_source_sha256", None):  # objects given to nasfw.search: the hash of their source
        out["sha256"] = obj.nasfw_source_sha256
        return out
    try:
        path = Path(inspect.getfile(obj if inspect.ismodule(obj) else type(obj)))
    except (TypeError, OSError):  # built in the interpreter (an object made in a notebook cell): nothing to hash
        return out
    if path.name == "__init__.py":
        path = path.parent
    if path.exists():
        out["sha256"] = files_hash([path])
    return out


def packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def accelerator() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    except Exception:  # noqa: BLE001 - a broken CUDA setup is not the run's concern here
        pass
    return "cpu"


def data_files(campaign: Any) -> dict[str, str]:
    """The files and folders the campaign's task and cost model options name (a dataset, an ONNX network, a
    boards file), each by a hash: a resume after one changed mixes evaluations of two datasets as surely as one
    after a code edit. A file is hashed whole; a folder (of images: thousands of them) by its files' paths and
    sizes, which tells an added, removed or replaced image without reading them all."""
    out: dict[str, str] = {}

    def visit(value: Any, where: str) -> None:
        if isinstance(value, str) and value and Path(value).exists():
            out[where] = _path_hash(Path(value))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                visit(v, f"{where}[{i}]")
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(v, f"{where}.{k}")

    visit(dict(campaign.task_options), "task_options")
    for i, (_, options) in enumerate(campaign.hardware):
        visit(dict(options), f"hardware[{i}].options")
    return out


def _path_hash(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{f.stat().st_size}\0".encode())
    return h.hexdigest()[:HASH_CHARS]


def environment(registry: Any, plugins: Iterable[str], files: dict[str, str] | None = None) -> dict:
    """This process's environment for a run whose campaign uses `plugins` (those the registry holds) and reads
    `files` (`data_files`)."""
    return {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "nasfw": nasfw_code(), "files": dict(files or {}),
            "plugins": {p: plugin_code(registry, p) for p in sorted(set(plugins)) if p in registry.plugins},
            "python": platform.python_version(), "packages": packages(),
            "host": socket.gethostname(), "platform": platform.platform(terse=True), "cpus": os.cpu_count(),
            "accelerator": accelerator(), "cwd": os.getcwd()}


def campaign_plugins(campaign: Any, registry: Any) -> list[str]:
    """The plugins that provide the campaign's task, space, cost models and searcher (and its own plugin)."""
    names = {campaign.plugin} if campaign.plugin else set()
    wanted = [("tasks", campaign.task), ("searchers", campaign.searcher)]
    if isinstance(campaign.space, str):
        wanted.append(("search_spaces", campaign.space))
    wanted += [("cost_models", name) for name, _ in campaign.hardware]
    for kind, name in wanted:
        entry = registry.entries[kind].get(name)
        if entry is not None:
            names.add(entry.plugin)
    return sorted(n for n in names if n in registry.plugins)


def code_fields(env: dict) -> dict[str, str]:
    """The environment's code as flat `what: value` pairs, the fields a change of which can move results: the
    git commit is not one (an edit to the docs or the tests marks a checkout modified; the code's hash tells)."""
    out = {}
    n = env.get("nasfw") or {}
    out["nasfw"] = n.get("version", "?")
    out["nasfw code"] = n.get("sha256", "?")
    for name, p in (env.get("plugins") or {}).items():
        out[f"plugin {name}"] = p.get("sha256") or p.get("version") or p.get("source", "?")
    for name, digest in (env.get("files") or {}).items():
        out[f"file {name}"] = digest
    out["python"] = env.get("python", "?")
    for name, version in (env.get("packages") or {}).items():
        out[name] = version
    return out


def checkout(env: dict) -> str | None:
    """'commit 1a2b3c4d5e6f, modified' for a run made from a source checkout, else None."""
    n = env.get("nasfw") or {}
    return f"commit {n['commit']}{', modified' if n.get('modified') else ''}" if n.get("commit") else None


def machine_fields(env: dict) -> dict[str, str]:
    """Where the run ran and from which checkout: said, but not counted as other code."""
    out = {"nasfw checkout": checkout(env)} if checkout(env) else {}
    return {**out, **{k: str(env[k]) for k in ("host", "platform", "cpus", "accelerator") if k in env}}


def changes(before: dict, now: dict) -> list[str]:
    """'torch 2.12.0 -> 2.13.0', 'plugin toy 1a2b -> 3c4d', 'qiskit (none) -> 2.2.3': how the code differs."""
    return _diff(code_fields(before), code_fields(now))


def _diff(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return [f"{k} {a.get(k, '(none)')} -> {b.get(k, '(none)')}" for k in list(a) + [k for k in b if k not in a]
            if a.get(k) != b.get(k)]


@functools.lru_cache(maxsize=1)
def process_code() -> str:
    """This process's code, once per process, as JSON of flat fields (nasfw's code hash, Python, the packages'
    versions): a Ray trial sends it back with its result, and the driver can tell a node installed otherwise
    (Ray itself checks only its own and Python's versions)."""
    return json.dumps({"nasfw code": files_hash(_package_dirs(NASFW_PACKAGES)), "python": platform.python_version(),
                       **packages()}, sort_keys=True)


def worker_changes(env: dict | None, worker_code: str | None) -> list[str]:
    """How a worker's `process_code()` differs from the driver's environment `env` (empty when either is
    unknown). Plugins are not compared: a worker loads the driver's plugin folders by their paths."""
    if not env or not worker_code:
        return []
    mine = code_fields(env)
    return _diff({k: v for k, v in mine.items() if k in WORKER_FIELDS}, json.loads(worker_code))


def summary_line(env: dict) -> str:
    """One line for `nasfw show`: nasfw and its commit, the campaign's plugins' hashes, the key packages."""
    f = code_fields(env)
    keys = ["torch", "qiskit-aer", "onnxruntime", "optuna", "ray"]
    plugins = ", ".join(f"{k.split(' ', 1)[1]} {v}" for k, v in f.items() if k.startswith("plugin "))
    where = f" ({checkout(env)})" if checkout(env) else ""
    parts = [f"nasfw {f['nasfw']}{where}, code {f['nasfw code']}"] + ([f"plugins {plugins}"] if plugins else [])
    parts.append(f"python {f['python']}")
    parts += [f"{k} {f[k]}" for k in keys if k in f]
    machine = f"{env.get('host', '?')} ({env.get('cpus', '?')} cpus, {env.get('accelerator', '?')})"
    return "; ".join(parts) + f"; on {machine}"


def record(store: Any, env: dict) -> list[str]:
    """Add this session's environment to the run's (meta `environment`, one entry per session) and return how
    its code differs from the session that began the run (empty for a first start or the same code)."""
    sessions = store.get_meta("environment") or []
    store.set_meta("environment", sessions + [env])
    return changes(sessions[0], env) if sessions else []


def later_changes(sessions: list[dict]) -> list[str]:
    """Each later session's code changes against the first, as 'session 2 (at ...): torch 2.12.0 -> 2.13.0'."""
    out = []
    for i, env in enumerate(sessions[1:], start=2):
        diff = changes(sessions[0], env)
        if diff:
            out.append(f"session {i} ({env.get('at', '?')}): {'; '.join(diff)}")
    return out


def differences_across(runs: list[tuple[str, list[dict]]], shown: int = 3) -> list[str]:
    """For runs (name, sessions) compared side by side, each code field that takes more than one value among
    them: 'torch: 2.13.0 (3 runs: a, b, c), 2.12.0 (1 run: d)'. A run resumed under other code counts under
    each value; runs made before the environment was recorded are named once at the end."""
    values: dict[str, dict[str, list[str]]] = {}
    unknown = [name for name, sessions in runs if not sessions]
    for name, sessions in runs:
        for env in sessions:
            for k, v in code_fields(env).items():
                names = values.setdefault(k, {}).setdefault(v, [])
                if name not in names:
                    names.append(name)
    known = len(runs) - len(unknown)
    out = []
    for k, by_value in values.items():
        missing = known - len({n for names in by_value.values() for n in names})
        if len(by_value) > 1 or missing:  # two values, or some runs lack it
            parts = [f"{v} ({_runs(names, shown)})" for v, names in by_value.items()]
            out.append(f"{k}: {', '.join(parts)}" + (f", (none) ({missing} run{'s' * (missing > 1)})"
                                                      if missing else ""))
    if unknown and known:
        out.append(f"not recorded ({_runs(unknown, shown)}: made before nasfw recorded what a run was made with)")
    return out


def _runs(names: list[str], shown: int) -> str:
    more = f", +{len(names) - shown}" if len(names) > shown else ""
    return f"{len(names)} run{'s' * (len(names) > 1)}: {', '.join(names[:shown])}{more}"
