"""The NAS-Bench-201 network in torch (the benchmark's macro skeleton: a 3x3 stem, three stages of N
cells at C, 2C, 4C channels joined by residual reduction blocks, BN-ReLU, global pooling, a linear
classifier), for export and to check the closed-form parameter count in `params.py`."""
from __future__ import annotations

import torch
from torch import nn

from nasfw.search_spaces.nasbench201 import EDGES


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def make_op(name: str, c: int) -> nn.Module:
    return {"none": lambda: Zero(), "skip_connect": lambda: nn.Identity(),
            "nor_conv_1x1": lambda: ReLUConvBN(c, c, 1, 1), "nor_conv_3x3": lambda: ReLUConvBN(c, c, 3, 1),
            "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False)}[name]()


class Cell(nn.Module):
    def __init__(self, arch: dict, c: int):
        super().__init__()
        self.ops = nn.ModuleDict({f"{i}_{j}": make_op(arch[f"edge_{i}_{j}"], c) for i, j in EDGES})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in (1, 2, 3):
            nodes.append(sum(self.ops[f"{i}_{j}"](nodes[j]) for j in range(i)))
        return nodes[3]


class ResidualReduction(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.a = ReLUConvBN(c_in, c_out, 3, 2)
        self.b = ReLUConvBN(c_out, c_out, 3, 1)
        self.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.down(x)


class NB201Network(nn.Module):
    def __init__(self, arch: dict, c: int = 16, n: int = 5, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)]
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage:
                layers.append(ResidualReduction(width // 2, width))
            layers += [Cell(arch, width) for _ in range(n)]
        layers += [nn.BatchNorm2d(4 * c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(4 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
