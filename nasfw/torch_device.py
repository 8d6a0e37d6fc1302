"""Where a plugin trains: the `torch_device` option of its task, checked when the campaign is read.

Training is the step a campaign runs on a GPU (the SuperCircuit of a 10-qubit space, a supernet); the searches'
evaluations stay on CPU, where they run one per core or Ray worker, so a task moves its module to the device for
a training call and back afterwards (`on_device`), and what it keeps or hands to workers is on CPU. (QuantumNAS's
trajectory evaluator takes a `device` of its own and gains most there, but a campaign does not route its
evaluations to a GPU yet.) A device this torch cannot use is refused up front with the
field, the value and what would work, rather than a CUDA error after the data is loaded.

That check belongs to the process that trains (the driver). An evaluation worker rebuilds the task from the same
options but never trains, and on a Ray cluster it may sit on a node without a GPU: tasks built inside
`evaluation_only()` still have the value's spelling checked, and a device this process cannot use becomes CPU
there instead of an error that would fail every evaluation of a campaign the driver accepted.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Iterator

import torch

from nasfw.errors import ConfigError
from nasfw.option_types import Note

ALLOWED = "cpu, cuda, cuda:N or auto (cuda where torch sees a GPU, else cpu)"
TorchDevice = Annotated[str, Note(ALLOWED)]  # the hint of a task's `torch_device` option
_evaluation_only = False


@contextmanager
def evaluation_only() -> Iterator[None]:
    """Within the block, `resolve` gives CPU for a CUDA device this process cannot use (see the module note)."""
    global _evaluation_only
    before, _evaluation_only = _evaluation_only, True
    try:
        yield
    finally:
        _evaluation_only = before


def resolve(value: object, field: str) -> torch.device:
    """The torch.device that `value` names; `auto` is cuda where this torch sees a GPU, else cpu."""
    if value is None:
        return torch.device("cpu")
    if not isinstance(value, str):
        raise ConfigError(f"{field} = {value!r}; allowed: {ALLOWED}")
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{field} = {value!r} is not a torch device; allowed: {ALLOWED}") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ConfigError(f"{field} = {value!r}; allowed: {ALLOWED}")
    if _evaluation_only and (not torch.cuda.is_available()
                             or (dev.index is not None and dev.index >= torch.cuda.device_count())):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"{field} = {value!r}, but this torch ({torch.__version__}) sees no CUDA device; "
                          "use cpu (or auto), or install a CUDA build of torch on a machine with a GPU")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"{field} = {value!r}, but torch sees {torch.cuda.device_count()} CUDA device(s) "
                          f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return dev


@contextmanager
def on_device(module: torch.nn.Module, device: torch.device) -> Iterator[torch.nn.Module]:
    """`module` on `device` for the block, back on CPU after it (also when the block raises), so that what is
    saved, pickled to workers or evaluated afterwards is where the rest of the campaign expects it."""
    module.to(device)
    try:
        yield module
    finally:
        module.to("cpu")


def memory_bytes(device: torch.device) -> int | None:
    """The memory a training on `device` can have at most: the GPU's, or this machine's (within the container's
    cgroup limit where one is set); None where it cannot be read. A plugin compares what a campaign's training
    would hold with it before any work, so a batch that cannot fit is refused rather than killed hours in."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    import os

    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None
    # cgroup v2 ("max" when unlimited), then v1 (a huge number when unlimited)
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = open(path).read().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
        break
    return total
