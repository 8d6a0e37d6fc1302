"""A plain torch training loop for supernets that every plugin reuses: per step, the sampling strategy
picks subnets, each is activated and its loss back-propagated into the shared weights (gradients add up
across the subnets of a step, as in the sandwich rule), then one optimiser step. Adam or SGD, warm-up
then cosine learning rate, optional per-epoch callback.

With a `checkpoint` file the loop keeps its whole state at epoch ends (weights, optimiser, sampler, the torch
and data random streams, the losses so far; `nasfw.epoch_checkpoint`), at most every `checkpoint_every_s` seconds,
and a later call with the same configuration continues from it: an interrupted 200-epoch training resumes where it
stopped, and ends with the weights an uninterrupted one would have."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from nasfw.epoch_checkpoint import EpochCheckpoint
from nasfw.errors import ConfigError
from nasfw.supernet.sampling import make_sampler

TRAINING_CHECKPOINT = "supernet_training.ckpt"  # the name plugins give it in the run folder


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 5e-3
    weight_decay: float = 1e-4
    optimizer: str = "adam"
    warmup_epochs: int = 1
    sampling: str = "uniform"
    sampling_options: dict | None = None
    grad_clip: float | None = None
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1:
            raise ConfigError(f"supernet.epochs = {self.epochs} must be >= 1")
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"supernet.optimizer = {self.optimizer!r}; allowed: 'adam', 'sgd'")


def lr_factor(epoch_progress: float, warmup: float, total: float) -> float:
    if warmup > 0 and epoch_progress < warmup:
        return (epoch_progress + 1e-3) / warmup
    span = max(total - warmup, 1e-9)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (epoch_progress - warmup) / span)))


def train_supernet(supernet, loader: Callable[[], Iterable], loss_fn: Callable[[Any, Any], torch.Tensor],
                   config: TrainConfig, on_epoch: Callable[[int, float], None] | None = None,
                   checkpoint: str | Path | None = None, rngs: Sequence[np.random.Generator] = (),
                   checkpoint_key: str = "", checkpoint_every_s: float | None = None,
                   on_resume: Callable[[int], None] | None = None) -> list[float]:
    """`loader()` gives one epoch's batches: an iterable with a length is read batch by batch, a generator is
    held whole to be counted (the progress of each step needs the count); `loss_fn(module, batch)` returns a
    scalar loss for the active subnet. Returns the mean loss per epoch. `rngs`: the numpy generators `loader`
    draws from, kept in the checkpoint; `checkpoint_key`: what else must match for a checkpoint to be continued
    (a batch size, the data); `on_resume(epochs_done)`: told how far a continued training already was (a
    progress bar's start). The checkpoint file is removed once training ends."""
    torch.manual_seed(config.seed)
    sampler = make_sampler(config.sampling, supernet.space, seed=config.seed, **(config.sampling_options or {}))
    params = [p for p in supernet.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay, nesterov=True)
    history: list[float] = []
    ckpt = EpochCheckpoint(checkpoint, repr((asdict(config), checkpoint_key)), checkpoint_every_s)
    state = {"weights": supernet, "optimizer": opt}
    kept = ckpt.restore(state, rngs)
    start = 0
    if kept is not None:
        sampler, history, start = kept["sampler"], list(kept["history"]), kept["epoch"]
        if on_resume:
            on_resume(start)
    for epoch in range(start, config.epochs):
        supernet.train()
        batches = loader()
        if not hasattr(batches, "__len__"):  # a generator: counted by holding its batches (a sized loader is not)
            batches = list(batches)
        total, count = 0.0, 0
        for i, batch in enumerate(batches):
            progress = (epoch + i / max(len(batches), 1)) / config.epochs
            for g in opt.param_groups:
                g["lr"] = config.lr * lr_factor(epoch + i / max(len(batches), 1), config.warmup_epochs, config.epochs)
            opt.zero_grad()
            for arch in sampler.subnets(progress, supernet):
                supernet.activate(arch)
                loss = loss_fn(supernet, batch)
                loss.backward()
                total += float(loss.detach())
                count += 1
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            opt.step()
        history.append(total / max(count, 1))
        if on_epoch:
            on_epoch(epoch, history[-1])
        if epoch + 1 < config.epochs:
            ckpt.save(epoch + 1, state, rngs, sampler=sampler, history=history)
    ckpt.finish()
    return history
