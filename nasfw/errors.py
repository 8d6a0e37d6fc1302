"""Errors a user can act on. The CLI prints their message on one line and exits with status 2;
anything else is a bug and keeps its traceback."""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Iterable


class NasfwError(Exception):
    """Base of every error caused by the user's input or environment."""


class SpaceError(NasfwError, ValueError):
    """An architecture or a space definition that breaks the space language."""


class ConfigError(NasfwError, ValueError):
    """A campaign file or command-line value that is not allowed."""


class PluginError(NasfwError):
    """A plugin that cannot be found, loaded or that registers something twice."""


class StoreError(NasfwError):
    """A run folder that cannot be written or belongs to another campaign."""


class WorkerError(NasfwError):
    """Evaluation workers that cannot start (the run stops, keeping what was evaluated)."""


class SearcherError(NasfwError):
    """A searcher that breaks the ask/tell protocol (proposes what the space does not hold, keeps state that no
    checkpoint can hold): a plugin author's mistake, named with the searcher rather than blamed on an evaluation."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's time limit, `kill`, `timeout`) unwound as an interrupt: the evaluation workers are
    stopped, the run folder's lock released, and what was evaluated stays in the store. The default action killed
    the driver alone and left its worker processes running for ever."""


def output_folder(path: str | Path, field: str = "out") -> Path:
    """`path` made (with its parents) as a folder to write into, or one line saying why it cannot be: a file of that
    name there, no permission (a report or an export into such a path ended in a FileExistsError traceback)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{field} = {str(folder)!r} exists and is not a folder; allowed: a folder, made if missing")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{field} = {str(folder)!r}: the folder cannot be made ({e.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):  # a colleague's run folder, an archive: a traceback from the plot
        raise ConfigError(f"{field} = {str(folder)!r}: this process may not write into that folder; allowed: a "
                          "folder it can write")
    return folder


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """' (did you mean 'choice'?)' for the closest of `known`, or '' where none is close."""
    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, name: object, known: Iterable[str]) -> str:
    """'unknown searcher 'evolutoin'; did you mean 'evolution'? known: ...' (names the closest)."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)  # 0.5 offered 'core' for 'nope'
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ";"
    return f"unknown {kind} {name!r}{hint} known: {', '.join(known) if known else '(none)'}"


def missing_modules(modules: Iterable[str]) -> list[str]:
    """The modules among these that are not installed, found without importing them."""
    import importlib.util

    return [m for m in modules if importlib.util.find_spec(m) is None]


def require_packages(packages: dict[str, str], what: str, extra: str) -> None:
    """Before any work: `what` (an option as the user wrote it) needs these packages (import name -> pip name),
    and one line names the extra that installs them. The import itself waited for the first training, after the
    run folder was made, or came as a traceback."""
    missing = [packages[m] for m in missing_modules(packages)]
    if missing:
        raise ConfigError(f"{what} needs {' and '.join(missing)}: pip install 'nasfw[{extra}]'")


def out_of_memory(exc: BaseException) -> str | None:
    """What a failed allocation asked for, in the user's words; None for any other error.

    torch reports a failed CPU allocation as a RuntimeError ("DefaultCPUAllocator: can't allocate memory: you
    tried to allocate 20971520000 bytes") and a GPU one as torch.OutOfMemoryError; numpy and Python raise
    MemoryError. Each is a setting too large for the machine (a resolution, a batch, a wire or block count), not a
    fault to read a traceback for.
    """
    text = str(exc)
    if not isinstance(exc, MemoryError) and not (
            isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())):
        return None
    asked = re.search(r"tried to allocate ([\d.]+) ?(bytes|[KMGT]iB|[KMGT]B)", text, re.IGNORECASE)
    if asked is None:
        return "out of memory"
    size, unit = float(asked.group(1)), asked.group(2)
    if unit == "bytes":
        size, unit = size / 2 ** 30, "GiB"
    return f"out of memory: an allocation of {size:,.0f} {unit} failed" if size >= 100 else \
        f"out of memory: an allocation of {size:.3g} {unit} failed"
