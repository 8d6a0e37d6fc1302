"""The engine's own searchers, registered as the plugin ``core`` through the same hooks as any plugin."""
from __future__ import annotations

from nasfw.hooks import hookimpl
from nasfw.searchers import BUILTIN


@hookimpl
def nasfw_register_searchers(register) -> None:
    for cls in BUILTIN:
        register(cls.name, cls, ((cls.__doc__ or "").strip().splitlines() or [""])[0])
