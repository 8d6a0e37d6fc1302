"""Large arrays of a task's shared state reach local workers as memory-mapped files.

Why: the shared state (`Task.shared_state`, nasfw/runner.py) was one pickle that every worker process loaded into
its own memory. For weights that is small; a dataset held in memory (TinyNAS's images: 0.62 GB for MNIST at 176)
was then one copy per worker. Saved as .npy beside the pickle and mapped read-only (`np.load(mmap_mode="r")`),
the workers read one copy, the operating system's, which it can also drop and read again when memory is short.
Ray shares numpy arrays between the processes of a node through its object store already, so a Ray run reads
the arrays back (`internalise(..., numpy=True)`) before `ray.put`: no file path crosses machines, and each trial
reads the store's copy in place (a tensor, or an np.memmap, would be pickled into the store and copied out again
by every trial).
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MIN_BYTES = 16 * 2 ** 20  # smaller arrays (a supernet's weights) stay in the pickle
FILE_GLOB = "shared_state.*.npy"


@dataclass(frozen=True)
class MappedArray:
    path: str
    torch: bool  # a torch tensor in the state (given back as one, sharing the mapped memory)


def externalise(state: Any, folder: Path) -> Any:
    """`state` with each numpy array or CPU tensor of at least MIN_BYTES saved to `folder` and replaced by a
    MappedArray; dicts, lists and tuples are walked. Files of an earlier call are removed first."""
    folder = Path(folder)
    remove_files(folder)
    numbers = itertools.count()

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(walk(x) for x in v)
        array, is_torch = _as_array(v)
        if array is None or array.nbytes < MIN_BYTES:
            return v
        path = folder / f"shared_state.{next(numbers)}.npy"
        np.save(path, np.ascontiguousarray(array))
        return MappedArray(str(path), is_torch)
    return walk(state)


def internalise(state: Any, numpy: bool = False) -> Any:
    """`state` with each MappedArray replaced by its file mapped read-only (a tensor for a tensor). `numpy`: numpy
    arrays even for tensors, as Ray's object store shares numpy arrays between a node's processes without a copy
    (a tensor would be pickled into it and copied out by every trial); `as_tensor` makes them tensors again."""
    if isinstance(state, dict):
        return {k: internalise(x, numpy) for k, x in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(internalise(x, numpy) for x in state)
    if not isinstance(state, MappedArray):
        return state
    array = np.load(state.path, mmap_mode="r")
    if numpy:
        return np.asarray(array)  # a plain ndarray: Ray pickles an np.memmap in band, a copy per trial
    if not state.torch:
        return array
    return as_tensor(array)  # read-only memory: torch warns that writing to it is undefined; no one writes


def as_tensor(value: Any) -> Any:
    """A tensor over the same memory for a numpy array (read-only ones included: the shared state's arrays are
    only read), the value itself otherwise."""
    if not isinstance(value, np.ndarray):
        return value
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(value)


def remove_files(folder: Path) -> None:
    for p in Path(folder).glob(FILE_GLOB):
        p.unlink(missing_ok=True)


def _as_array(v: Any) -> tuple[np.ndarray | None, bool]:
    if isinstance(v, np.ndarray):
        return v, False
    try:
        import torch
    except ImportError:
        return None, False
    if isinstance(v, torch.Tensor) and v.device.type == "cpu" and not v.requires_grad and v.layout == torch.strided:
        try:
            return v.numpy(), True
        except TypeError:  # a dtype numpy has not (bfloat16): it stays in the pickle
            return None, False
    return None, False
