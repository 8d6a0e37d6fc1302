"""Architectures per second of the MCU cost model, per memory mode: random archs of the TinyNAS MBConv space
(ProxylessNAS widths, width 0.5, resolution 176) turned into JSON net configs and costed, one thread.
Reference: the same work with a torch model built per arch and its activations measured by forward hooks
(what a cost model that builds the network would pay), on a subset.

    python bench/mcu_memory.py --n 5000
"""
from __future__ import annotations

import argparse
import time

import torch

from nasfw.hardware.mcu import MODES, MCUCost
from nasfw.search_spaces.mbconv import build_model, mbconv_space, to_config


def torch_peak(cfg: dict) -> float:
    """Largest input + output of any conv of the network `build_model` makes, measured by running it (no
    residual bookkeeping)."""
    from torch import nn

    net = build_model(cfg).eval()
    peak = [0]

    def hook(mod, inp, out):
        peak[0] = max(peak[0], inp[0].numel() + out.numel())
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, 3, cfg["resolution"], cfg["resolution"]))
    return peak[0] / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--torch-n", type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(1)
    space = mbconv_space()
    archs = [space.sample(i) for i in range(a.n)]
    print(f"{a.n} random archs, width 0.5, resolution 176, one thread")
    print("| memory mode | archs/s |\n|---|---|")
    rates = {}
    for mode in MODES:
        cost = MCUCost("stm32f746", memory=mode)
        t0 = time.perf_counter()
        for arch in archs:
            cost.evaluate(to_config(arch, 0.5, 176))
        rates[mode] = a.n / (time.perf_counter() - t0)
        print(f"| {mode} | {rates[mode]:,.0f} |")
    t0 = time.perf_counter()
    for arch in archs[: a.torch_n]:
        torch_peak(to_config(arch, 0.5, 176))
    torch_rate = a.torch_n / (time.perf_counter() - t0)
    print(f"| torch model + forward hooks (reference) | {torch_rate:,.1f} |")
    print(f"per-layer: {rates['per-layer'] / torch_rate:,.0f}x the torch reference")


if __name__ == "__main__":
    main()
