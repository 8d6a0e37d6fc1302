"""A paper's last steps (finalize), kept in the run folder so that an interrupted finalize resumes where it stopped.

The store keeps every search evaluation, but finalize's own work (networks and circuits trained from scratch or
fine-tuned, baselines, each reference-simulator evaluation) would live only in memory: a Ctrl-C during finalize
would throw away minutes of it (QuantumNAS: circuits trained from scratch and qiskit-aer rows, one MNIST-10 row is
minutes of trajectories; TinyNAS: the fine-tune and the MobileNetV2 baseline). Each result is kept under
`finalize/` as soon as it exists, named by a digest of everything it depends on (the data, the device, the
architecture, the weights it started from and the options), and used again by a finalize that asks for the same
thing, and a training that was interrupted continues from its last epoch checkpoint (`checkpoint(kind, key)`).
Every step is deterministic given its inputs, so a resumed finalize reports what an uninterrupted one would have;
a changed option or changed data give another digest and are computed afresh. Files are written to a temporary
name and renamed, so an interrupt never leaves a half-written one behind.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

FOLDER = "finalize"


def digest(*parts: Any) -> str:
    """A short stable name for `parts`: JSON-able values, arrays and tensors (by their bytes)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, torch.Tensor):
            p = p.detach().cpu().numpy()
        if isinstance(p, np.ndarray):
            h.update(str((p.dtype.str, p.shape)).encode())
            h.update(np.ascontiguousarray(p))  # the buffer itself: tobytes() would copy every image once more
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()[:24]


def weights_digest(module: torch.nn.Module) -> str:
    return digest(*[t for _, t in sorted(module.state_dict().items())])


class FinalizeStore:
    """Results of finalize's steps in `run_dir/finalize`, each under a digest of its inputs and of `context`
    (what every step depends on: data, device, seed; arrays and tensors count by their bytes)."""

    def __init__(self, run_dir: Path, *context: Any):
        self.folder = Path(run_dir) / FOLDER
        self.context = digest(*context)

    def _path(self, kind: str, key: Any, suffix: str) -> Path:
        return self.folder / f"{kind}-{digest(self.context, kind, key)}{suffix}"

    def _write(self, path: Path, save: Callable[[Path], None]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save(tmp)
        os.replace(tmp, path)

    def checkpoint(self, kind: str, key: Any) -> Path:
        """Where the training that `module(kind, key, ...)` keeps when it finishes keeps its state while it runs
        (`nasfw.epoch_checkpoint`): an interrupt in the middle of a long training then loses at most its last
        half minute, not the whole training."""
        return self._path(kind, key, ".ckpt")

    def module(self, kind: str, key: Any, make: Callable[[], torch.nn.Module],
               build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
        """`build()` (train a circuit), or the weights it gave before loaded into `make()` (the untrained
        circuit)."""
        path = self._path(kind, key, ".pt")
        if path.exists():
            m = make()
            m.load_state_dict(torch.load(path))
            return m
        m = build()
        self._write(path, lambda p: torch.save(m.state_dict(), p))
        return m

    def value(self, kind: str, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()` (an array, or numbers that make one), or what it returned before, as an array."""
        path = self._path(kind, key, ".npy")
        if path.exists():
            return np.load(path, allow_pickle=False)
        out = compute()
        arr = np.asarray(out)

        def save(p: Path) -> None:
            with open(p, "wb") as f:
                np.save(f, arr, allow_pickle=False)
        self._write(path, save)
        return out

    def record(self, kind: str, key: Any, compute: Callable[[], dict]) -> dict:
        """`compute()` (a JSON-able dict: a finished report row), or what it returned before."""
        path = self._path(kind, key, ".json")
        if path.exists():
            return json.loads(path.read_text())
        out = compute()
        self._write(path, lambda p: p.write_text(json.dumps(out)))
        return json.loads(json.dumps(out))  # the same types a resumed run reads back
