"""The weight-shared supernet of the MBConv space (Once-for-All's elastic kernel, expand ratio and depth; the
resolution is elastic by resizing the input). `extract(arch)` is a plain torch network whose JSON config is
`to_config(arch, ...)`, so the MCU cost model, the ONNX export and the network agree on every layer."""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from nasfw.search_spaces.mbconv import (DEPTHS, EXPANDS, KERNELS, MBV2_WIDTHS, PROXYLESS_WIDTHS, STAGE_STRIDES,
                                       make_divisible, mbconv_space, to_config)
from nasfw.supernet.base import SuperNet
from nasfw.supernet.elastic import ElasticBatchNorm, ElasticConv, ElasticDepthwiseConv, sort_channels


class ElasticMBBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        mid = cin * max(EXPANDS)
        self.cin, self.cout, self.stride = cin, cout, stride
        self.expand, self.bn1 = ElasticConv(cin, mid), ElasticBatchNorm(mid)
        self.dw, self.bn2 = ElasticDepthwiseConv(mid, KERNELS, stride), ElasticBatchNorm(mid)
        self.project, self.bn3 = ElasticConv(mid, cout), ElasticBatchNorm(cout)
        self.residual = stride == 1 and cin == cout

    def set(self, k: int, e: int) -> None:
        self.expand.active_out, self.dw.active_k = self.cin * e, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.relu6(self.bn1(self.expand(x)))
        y = nn.functional.relu6(self.bn2(self.dw(y)))
        y = self.bn3(self.project(y))
        return x + y if self.residual else y

    def static(self) -> nn.Module:
        mid = self.expand.active_out
        body = nn.Sequential(self.expand.static(self.cin, mid), self.bn1.static(mid), nn.ReLU6(),
                             self.dw.static(mid), self.bn2.static(mid), nn.ReLU6(),
                             self.project.static(mid, self.cout), self.bn3.static(self.cout))
        return _Residual(body) if self.residual else body

    def reorganize(self) -> None:
        """Most important expanded channels first, so every expand ratio keeps the best ones."""
        order = sort_channels(self.expand, self.bn1, self.dw)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(self.bn2, name).copy_(getattr(self.bn2, name)[order])
            self.project.weight.copy_(self.project.weight[:, order])

class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

class MBConvSuperNet(SuperNet):
    """Every subnet of `mbconv_space` in one network: elastic kernel and expand ratio per block, elastic
    depth per stage (the first blocks run). `extract(arch)` is a plain torch network whose JSON config is
    `to_config(arch, width_mult, ...)` (so the MCU cost model and the network agree)."""

    def __init__(self, width_mult: float = 1.0, widths: str = "proxyless", n_classes: int = 10,
                 resolutions: Sequence[int] | None = None):
        # with `resolutions`, the space carries width and resolution (the arch describes a whole network)
        super().__init__(mbconv_space(widths, width_mult if resolutions is not None else None, resolutions))
        base = PROXYLESS_WIDTHS if widths == "proxyless" else MBV2_WIDTHS
        ch = [make_divisible(c * width_mult) for c in base]
        self.width_mult, self.widths, self.n_classes = width_mult, widths, n_classes
        self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, 2, 1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU6(),
                                  nn.Conv2d(ch[0], ch[0], 3, 1, 1, groups=ch[0], bias=False),
                                  nn.BatchNorm2d(ch[0]), nn.ReLU6(),
                                  nn.Conv2d(ch[0], ch[1], 1, bias=False), nn.BatchNorm2d(ch[1]))
        self.stages = nn.ModuleList()
        cin = ch[1]
        for s, stride in enumerate(STAGE_STRIDES):
            n = max(DEPTHS) if s < len(STAGE_STRIDES) - 1 else 1
            blocks = nn.ModuleList([ElasticMBBlock(cin if b == 0 else ch[s + 2], ch[s + 2],
                                                   stride if b == 0 else 1) for b in range(n)])
            self.stages.append(blocks)
            cin = ch[s + 2]
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_classes))
        self.activate(self.largest())

    def activate(self, arch: dict) -> None:
        super().activate(arch)
        for s, blocks in enumerate(self.stages):
            for b in range(arch[f"s{s}.depth"]):
                blocks[b].set(arch[f"s{s}.b{b}.k"], arch[f"s{s}.b{b}.e"])

    def _active_blocks(self, arch: dict) -> list:
        return [blk for s, blocks in enumerate(self.stages) for blk in blocks[: arch[f"s{s}.depth"]]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for blk in self._active_blocks(self.active):
            x = blk(x)
        return self.head(x)

    def extract(self, arch: dict) -> nn.Module:
        self.activate(arch)
        return nn.Sequential(copy.deepcopy(self.stem), *[blk.static() for blk in self._active_blocks(arch)],
                             copy.deepcopy(self.head))

    def reorganize(self) -> None:
        for blocks in self.stages:
            for blk in blocks:
                blk.reorganize()

    def config(self, arch: dict, resolution: int | None = None) -> dict:
        return to_config(arch, self.width_mult, resolution, self.widths, self.n_classes)
