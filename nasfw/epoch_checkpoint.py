"""A training loop's whole state kept on disk at epoch ends, so that an interrupted training continues where it
stopped and ends with the weights, losses and random streams an uninterrupted one would have.

The supernet loop (`nasfw.supernet.train`) keeps its state this way, and so do plugins' own loops: finalize's
trainings (TinyNAS's fine-tune and from-scratch runs, QuantumNAS's circuits trained from scratch) kept each finished
training (`nasfw.finalize_store`) but restarted an interrupted one from its first epoch. What is kept: each object
with `state_dict()` / `load_state_dict()` (module, optimiser, learning-rate schedule), torch's random stream, the
numpy generators the loop draws batches from, and any picklable extras (a sampler, the losses so far). A
checkpoint is continued only by a training of the same `key` (its settings), written at most every `every_s`
seconds to a temporary name and renamed over the last, and removed when the training ends.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

CHECKPOINT_EVERY_S = 30.0  # at most one checkpoint per this many seconds, unless the caller says otherwise


class EpochCheckpoint:
    """`restore(...)` once before the loop, `save(epoch_done, ...)` after each epoch, `finish()` after the last.
    With `path` None every call does nothing, so a loop is written once for both cases."""

    def __init__(self, path: str | Path | None, key: str, every_s: float | None = None):
        self.path = Path(path) if path is not None else None
        self.key = key
        self.every = CHECKPOINT_EVERY_S if every_s is None else float(every_s)
        self.saved_at = time.time()

    def restore(self, objects: Mapping[str, Any], rngs: Sequence[np.random.Generator] = ()) -> dict | None:
        """Load a kept state of this training into `objects` and `rngs` (and torch's random stream); returns its
        extras with the epochs done under "epoch", or None to start from the first epoch (no checkpoint, one of
        other settings, or a file a crash cut short)."""
        if self.path is None or not self.path.is_file():
            return None
        try:  # our own file (extras may hold a sampler object, so not weights_only)
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            return None
        for name, obj in objects.items():
            obj.load_state_dict(state["objects"][name])
        torch.set_rng_state(state["torch_rng"])
        for g, st in zip(rngs, state["rngs"]):
            g.bit_generator.state = st
        return {**state["extras"], "epoch": int(state["epoch"])}

    def save(self, epoch: int, objects: Mapping[str, Any], rngs: Sequence[np.random.Generator] = (),
             **extras: Any) -> None:
        """Keep the state after `epoch` epochs, unless the last was kept less than `every_s` seconds ago."""
        if self.path is None or time.time() - self.saved_at < self.every:
            return
        state = {"key": self.key, "epoch": epoch, "objects": {k: o.state_dict() for k, o in objects.items()},
                 "torch_rng": torch.get_rng_state(), "rngs": [g.bit_generator.state for g in rngs], "extras": extras}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)  # an interrupt while writing leaves the previous checkpoint whole
        self.saved_at = time.time()

    def finish(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
