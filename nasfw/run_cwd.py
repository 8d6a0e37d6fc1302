"""Relative paths in a run's options are read from the folder the run was started in.

A campaign's options may name files relative to the working folder (`task_options.networks=[runs/x/best.onnx]`,
a dataset, a boards file), and campaign.yaml keeps them as written: they cannot be made absolute when the run
starts, since whether a string is a path is the plugin's reading (`dataset: mnist` is a data set's name unless
the plugin takes an existing folder of that name first). So each session records its working folder
(`environment.cwd`), and the commands that rebuild a run's task or cost models from another folder (`nasfw
export RUN`, `nasfw cost --run RUN`, `nasfw search --resume --out RUN`, `nasfw.search(resume=True, out=RUN)`)
work in the run's folder where its
options name paths that exist there and not here; from anywhere else they failed with "no such file"."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterable, Iterator


def started_in(environments: list[dict]) -> Path | None:
    """The working folder of the run's first session (None for a run recorded before nasfw kept it)."""
    cwd = environments[0].get("cwd") if environments else None
    return Path(cwd) if isinstance(cwd, str) and cwd else None


def paths_only_there(option_sets: Iterable[Any], folder: Path) -> list[str]:
    """The relative path strings among the options that name something under `folder` and nothing here."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            try:
                if (folder / value).exists() and not Path(value).exists() and value not in found:
                    found.append(value)
            except OSError:  # a string too long or odd to be a path is not one
                pass
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    for options in option_sets:
        visit(options)
    return found


def campaign_options(campaign: Any) -> list[Any]:
    """The options of a campaign (parsed or as its YAML mapping) that may name files."""
    if isinstance(campaign, dict):
        hardware = campaign.get("hardware") or []
        return [campaign.get("task_options") or {}, campaign.get("space_options") or {},
                *[h.get("options") or {} for h in hardware if isinstance(h, dict)]]
    return [dict(campaign.task_options), dict(campaign.space_options),
            *[dict(options) for _, options in campaign.hardware]]


def where_started(campaign: Any, environments: list[dict]) -> tuple[Path, list[str]] | None:
    """(the run's starting folder, the option paths found only there), or None when the run's options read the
    same from here (or the folder is unknown or gone)."""
    folder = started_in(environments)
    if folder is None or not folder.is_dir() or folder.resolve() == Path.cwd().resolve():
        return None
    names = paths_only_there(campaign_options(campaign), folder)
    return (folder, names) if names else None


def run_environments(run_dir: str | Path) -> list[dict]:
    """The sessions' environments of a run folder (its store's metadata alone, not its evaluations)."""
    from nasfw.store import Store

    store = Store(run_dir, read_only=True)
    try:
        return store.get_meta("environment") or []
    finally:
        store.close()


def _say(command: str, folder: Path, names: list[str]) -> None:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    print(f"note: {command} works in {folder}, where the run was started: its options name {shown} from there")


def work_where_started(campaign: Any, environments: list[dict], command: str) -> Path | None:
    """Change to the run's starting folder when its options name paths only found from there; says so. The
    caller makes its own path arguments absolute first. Returns the folder changed to, or None."""
    found = where_started(campaign, environments)
    if found is None:
        return None
    os.chdir(found[0])
    _say(command, *found)
    return found[0]


@contextlib.contextmanager
def in_folder(found: tuple[Path, list[str]] | None, command: str) -> Iterator[None]:
    """`work_where_started` for a library call: the caller's working folder is given back afterwards."""
    if found is None:
        yield
        return
    here = os.getcwd()
    os.chdir(found[0])
    _say(command, *found)
    try:
        yield
    finally:
        os.chdir(here)


def absolute(path: str | Path | None) -> str | None:
    return None if path is None else os.path.abspath(path)
