"""Elastic layers in the Once-for-All manner, for every CNN plugin: one set of weights, many static shapes.

- Elastic kernel: a depthwise conv keeps the largest kernel; a smaller kernel is the centre of the next larger
  one passed through a learned per-layer transform matrix (k^2 x k^2, initialised to the identity), 7 -> 5 -> 3,
  so small kernels are not forced to equal the centre of large ones.
- Elastic width: a conv keeps the most channels; a narrower layer takes the first k. `sort_channels` reorders
  a layer's output channels by importance (L1 norm of their weights) and the next layer's input channels to
  match, so the first k are the most important and the network computes the same function.
- Elastic depth is a block-level choice (the first D blocks of a stage run), kept by the network using these.
Each layer's `static()` hands back a plain `nn.Module` with the inherited weights, which is what `extract`
returns, exports to ONNX and trains on its own.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ElasticDepthwiseConv(nn.Module):
    def __init__(self, channels: int, kernels: Sequence[int] = (3, 5, 7), stride: int = 1):
        super().__init__()
        self.kernels = sorted(kernels)
        self.max_k, self.stride, self.channels = self.kernels[-1], stride, channels
        self.weight = nn.Parameter(torch.empty(channels, 1, self.max_k, self.max_k))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        # transform for each smaller kernel, applied to the centre of the next larger (already transformed) one
        self.transforms = nn.ParameterDict({str(k): nn.Parameter(torch.eye(k * k)) for k in self.kernels[:-1]})
        self.active_k, self.active_c = self.max_k, channels

    def kernel_weight(self, k: int, c: int | None = None) -> torch.Tensor:
        if k not in self.kernels:
            raise ValueError(f"kernel {k} is not one of this layer's kernels {self.kernels}")
        c = c or self.active_c
        w = self.weight[:c]
        for larger, smaller in zip(reversed(self.kernels), list(reversed(self.kernels))[1:]):
            if larger == k:
                break
            start = (larger - smaller) // 2
            centre = w[:, :, start:start + smaller, start:start + smaller].reshape(c, 1, smaller * smaller)
            w = (centre @ self.transforms[str(smaller)]).reshape(c, 1, smaller, smaller)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, k = x.shape[1], self.active_k
        return F.conv2d(x, self.kernel_weight(k, c), None, self.stride, k // 2, groups=c)

    def static(self, channels: int | None = None, kernel: int | None = None) -> nn.Conv2d:
        c, k = channels or self.active_c, kernel or self.active_k
        conv = nn.Conv2d(c, c, k, self.stride, k // 2, groups=c, bias=False)
        with torch.no_grad():
            conv.weight.copy_(self.kernel_weight(k, c))
        return conv


class ElasticConv(nn.Module):
    """A 1x1 (or k x k) conv whose input and output widths shrink to their first channels."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.kernel, self.stride = kernel, stride
        self.active_out = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight[: self.active_out, : x.shape[1]]
        return F.conv2d(x, w, None, self.stride, self.kernel // 2)

    def static(self, in_channels: int, out_channels: int | None = None) -> nn.Conv2d:
        o = out_channels or self.active_out
        conv = nn.Conv2d(in_channels, o, self.kernel, self.stride, self.kernel // 2, bias=False)
        with torch.no_grad():
            conv.weight.copy_(self.weight[:o, :in_channels])
        return conv


class ElasticBatchNorm(nn.BatchNorm2d):
    """Batch norm over the first channels of its input (statistics and affine parameters sliced alike)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if c == self.num_features:
            return super().forward(x)
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        # views of the running statistics: batch_norm updates the first c entries in place
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
                            self.training, self.momentum, self.eps)

    def static(self, channels: int) -> nn.BatchNorm2d:
        bn = nn.BatchNorm2d(channels, eps=self.eps, momentum=self.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, name).copy_(getattr(self, name)[:channels])
        return bn


def sort_channels(producer: nn.Module, bn: ElasticBatchNorm | None, consumer: nn.Module) -> torch.Tensor:
    """Reorder `producer`'s output channels by importance (L1 norm of their weights, largest first), with its
    batch norm, and `consumer`'s input channels to match; returns the permutation. A depthwise layer between
    them is `consumer` when it is the next layer; pass it as the producer of the following layer next."""
    importance = producer.weight.detach().abs().reshape(producer.weight.shape[0], -1).sum(1)
    order = torch.argsort(importance, descending=True)
    with torch.no_grad():
        producer.weight.copy_(producer.weight[order])
        if bn is not None:
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(bn, name).copy_(getattr(bn, name)[order])
        if isinstance(consumer, ElasticDepthwiseConv):
            consumer.weight.copy_(consumer.weight[order])
        else:
            consumer.weight.copy_(consumer.weight[:, order])
    return order
