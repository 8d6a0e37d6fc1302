"""Batch-norm recalibration: a subnet's BN statistics are not the supernet's running averages, so before
a subnet is scored its BN layers are re-estimated on a few training batches (OFA, BigNAS, MCUNet)."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable, n_batches: int = 50, forward=None) -> nn.Module:
    """Reset every BatchNorm's running stats and re-estimate them as a cumulative average over batches.
    `forward(model, batch)` runs one batch (default: `model(batch[0])` for (x, y) pairs)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    was_training = model.training
    model.train()
    for i, batch in enumerate(batches):
        if i >= n_batches:
            break
        if forward is not None:
            forward(model, batch)
        else:
            model(batch[0] if isinstance(batch, (tuple, list)) else batch)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
    return model
