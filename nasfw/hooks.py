"""The whole plugin contract: pluggy hook specifications in the `nasfw_register_*(register)` style.

Each hook receives a `register` callable (a small registry object) rather than returning values, so a
plugin can register any number of things and the registry can refuse bad names and duplicates at the
point where the plugin made the mistake. Implement any subset; all are optional.
"""
from __future__ import annotations

import pluggy

PROJECT = "nasfw"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nasfw_register_search_spaces(register) -> None:
    """register(name, factory, description="") where factory(**options) -> nasfw.space.Space.
    A factory may return a SuperNet-backed space; the space alone is what searchers see."""


@hookspec
def nasfw_register_cost_models(register) -> None:
    """register(name, factory, description="", cheap=True) where factory(**options) returns an object
    with `evaluate(arch or model) -> dict[str, float]`. These are the hardware targets of
    `nasfw hardware` and `nasfw cost`."""


@hookspec
def nasfw_register_tasks(register) -> None:
    """register(name, factory, description="") where factory(**options) returns a Task: an object with
    `evaluate(arch) -> dict[str, float]` and optionally `train_supernet(run_dir) -> None`,
    `export(arch, path, fmt) -> list[path]`."""


@hookspec
def nasfw_register_searchers(register) -> None:
    """register(name, cls, description="") where cls subclasses nasfw.searchers.Searcher."""


@hookspec
def nasfw_register_campaigns(register) -> None:
    """register(name, campaign_dict, description=""): the default recipe `nasfw search --plugin NAME`
    runs (a campaign mapping as in a YAML file). Name it after the plugin."""
