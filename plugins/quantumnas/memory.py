"""What training a SuperCircuit holds in memory, compared with what the machine has before any work.

The state-vector simulator keeps about one state per gate for the backward pass: a batch of B inputs on n wires
through G gates holds B x 2^n x 8 bytes (complex64) G times over, which doubles with every wire. Measured here
for the largest U3+CU3 SubCircuit of 8 blocks, batch 256: the tensors autograd saves are 0.82-0.87 of this
estimate at 10 to 14 wires, and the peak of a forward and backward pass was 0.9-1.7 times it (7.8 GB at 14 wires).
16 wires on Guadalupe with `noise: none` would want some 36 GiB, and passed every check before this one. The
check refuses only what cannot fit at all (the estimate against the whole memory of the training device), so a
campaign near the line may still run short.
"""
from __future__ import annotations

from typing import Any

from nasfw.errors import ConfigError

SCRATCH_BATCH = 256  # finalize trains its circuits from scratch in batches of 256 (plugins/quantumnas/train.py)


def training_bytes(n_wires: int, batch: int, gates: int) -> int:
    return batch * 2 ** n_wires * 8 * gates


def _gates(task: Any) -> int:
    from nasfw.search_spaces.supercircuit import encoder_ops, subcircuit_ops

    sc = task.supercircuit
    return len(subcircuit_ops(sc.circuit, task.n_wires, sc.largest())) + len(encoder_ops(task.n_features, task.n_wires))


def _batches(task: Any, phases: dict) -> list[tuple[int, str]]:
    """(batch, where it is set) of each training the campaign runs."""
    from nasfw.phase_options import finalize_trains, supernet_batch

    out = [b for b in [supernet_batch(phases, task.batch_size)] if b is not None]
    if finalize_trains(phases):
        out.append((SCRATCH_BATCH, "finalize's training from scratch"))
    return out


def check_training_memory(task: Any, phases: dict) -> None:
    from nasfw.torch_device import memory_bytes

    batches = _batches(task, phases)
    have = memory_bytes(task.torch_device)
    if not batches or have is None:
        return
    batch, where = max(batches)
    gates = _gates(task)
    need = training_bytes(task.n_wires, batch, gates)
    if need <= have:
        return
    on = "this GPU" if task.torch_device.type == "cuda" else "this machine"
    smaller = "" if where.startswith("finalize") else f", or smaller batches ({where})"
    raise ConfigError(
        f"task_options.n_wires = {task.n_wires}: training keeps about {need / 2 ** 30:,.0f} GiB of states for the "
        f"backward pass (batches of {batch} inputs ({where}) x 2^{task.n_wires} amplitudes x {gates} gates), and "
        f"{on} has {have / 2 ** 30:.0f} GiB; fewer wires or fewer blocks (task_options.n_blocks){smaller}")
