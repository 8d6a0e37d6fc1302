"""The SuperNet protocol: one set of weights from which every architecture of a space can be run.

Four verbs, the size of SPVNAS's protocol: `activate(arch)` selects the subnet the next forward pass uses;
`extract(arch)` hands back a standalone module carrying the inherited weights (no dependency on the
supernet); `smallest()`/`largest()` give the extreme subnets the sandwich rule needs.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from torch import nn

from nasfw.space import Arch, Space


class SuperNet(nn.Module, metaclass=ABCMeta):
    space: Space

    def __init__(self, space: Space):
        super().__init__()
        self.space = space
        self.active: Arch | None = None

    def activate(self, arch: Arch) -> None:
        self.space.validate(arch)
        self.active = arch

    @abstractmethod
    def extract(self, arch: Arch) -> nn.Module:
        """A standalone module for `arch` carrying the inherited weights."""

    def largest(self) -> Arch:
        """The largest subnet (default: last option of every decision, which is how spaces order them)."""
        return _extreme(self.space, -1)

    def smallest(self) -> Arch:
        return _extreme(self.space, 0)


def _extreme(space: Space, end: int) -> Arch:
    def choose(_key: str, n: int, mask: Any) -> int:
        if mask is not None:
            idx = [i for i in range(n) if mask[i]]
            return idx[end]
        return (n - 1) if end == -1 else 0
    return space.walk(choose)
