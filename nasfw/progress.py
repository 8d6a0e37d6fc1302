"""The progress bar of every long phase, the engine's search and the plugins' training and finalize alike.

tqdm's own default (`disable=None`) hides a bar when its stream is not a terminal. Campaigns run for hours under
nohup, a scheduler or a Ray job whose output goes to a file, and there a hidden bar leaves a 40-minute finalize
silent right after a search that was reported step by step. So a bar shows wherever it is enabled, and
`--no-progress` is the one switch that turns them all off.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

# whether bars show where the code that draws one is not handed the choice: a task's `campaign_defaults` (TinyNAS's
# stage 1 under `auto`) runs while the campaign is resolved, before any `progress` argument reaches a phase
_SHOWN: ContextVar[bool] = ContextVar("nasfw_progress_shown", default=True)


@contextmanager
def bars_shown(enabled: bool) -> Iterator[None]:
    """Within the block, `bars_enabled()` is `enabled`: `nasfw search --no-progress` and `nasfw.search(progress=
    False)` resolve their campaign inside it."""
    token = _SHOWN.set(enabled)
    try:
        yield
    finally:
        _SHOWN.reset(token)


def bars_enabled() -> bool:
    return _SHOWN.get()


def progress_bar(total: int | None, desc: str, enabled: bool = True, *, leave: bool | None = None,
                 **options: Any):
    """A tqdm bar for `total` steps of the phase `desc`; a disabled bar accepts the same calls and prints nothing.

    `leave` by default: on a terminal a phase's bar gives its line back when the phase ends; in a file its last
    state stays, so the log keeps how long each phase took.
    """
    from tqdm import tqdm

    if leave is None:
        stream = options.get("file") or sys.stderr
        leave = not (hasattr(stream, "isatty") and stream.isatty())
    return tqdm(total=total, desc=desc, disable=not enabled, leave=leave, dynamic_ncols=True, **options)


def start_at(bar: Any, done: int) -> None:
    """Continue a bar after `done` steps finished before (a training resumed from its checkpoint): counted as done
    but not as this session's work, so the rate and the ETA are this session's (an `update(done)` showed 60
    epochs in a second, and an ETA of seconds for minutes of training)."""
    bar.initial = bar.n = bar.last_print_n = done
    bar.refresh()


def close_open_bars() -> None:
    """Close every bar still open, so that a message printed next is the last line. A phase stopped by Ctrl-C,
    SIGTERM or an error leaves its bar open until garbage collection, which drew it once more after "terminated
    (SIGTERM): ... continue with --resume": a log's last line was the bar, not what to do next."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is None:  # no bar was ever made in this process
        return
    for bar in list(getattr(tqdm_module.tqdm, "_instances", ())):
        bar.close()
