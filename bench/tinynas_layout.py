"""TinyNAS's evaluation and supernet training in the channels-last layout (NHWC, what the plugin uses) against
torch's default NCHW, side by side in one run on MNIST: the same inherited subnets of the default space (w0.25,
resolutions 48-64, a supernet trained one epoch) scored on the 1,000 validation images, whole evaluations
(extraction, batch-norm recalibration on 4 batches, scoring), and supernet training steps of 64 images on the
same subnets. One thread, as each evaluation worker runs; the rounding difference of the scores is printed too.

    python bench/tinynas_layout.py --nets 8
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def _timed(f, items) -> tuple[float, list]:
    start = time.perf_counter()
    out = [f(i) for i in items]
    return (time.perf_counter() - start) / len(items), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    from nasfw.plugins.tinynas.data import batches
    from nasfw.plugins.tinynas.task import TinyNASTask, score
    from nasfw.supernet.bn import recalibrate_bn

    torch.set_num_threads(a.threads)
    task = TinyNASTask()
    with tempfile.TemporaryDirectory() as run:
        task.train_supernet(run, epochs=1, progress=False)
    archs = [task.space.sample(np.random.default_rng(i)) for i in range(a.nets)]
    layouts = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}

    def as_layout(net, fmt):
        return copy.deepcopy(net).to(memory_format=fmt)
    print(f"{a.nets} subnets of the default space, {a.threads} thread(s)")
    subnets = [(task.subnet(arch), int(arch["resolution"])) for arch in archs]
    scored, times = {}, {}
    for name, fmt in layouts.items():
        nets = [(as_layout(n, fmt), r) for n, r in subnets]
        times[name], scored[name] = _timed(lambda nr: score(nr[0], task.data.valid, nr[1]), nets)
    diff = max(abs(x[0] - y[0]) for x, y in zip(scored["NCHW"], scored["NHWC"]))
    same = sum(x[1] == y[1] for x, y in zip(scored["NCHW"], scored["NHWC"]))
    print(f"scoring 1,000 images: NCHW {times['NCHW']:.3f} s, NHWC {times['NHWC']:.3f} s per subnet: "
          f"x{times['NCHW'] / times['NHWC']:.2f}; losses within {diff:.1e}, {same}/{a.nets} accuracies equal")

    def evaluation(arch, fmt):
        net = task.supernet.extract(arch).to(memory_format=fmt)
        r = int(arch["resolution"])
        recalibrate_bn(net, batches(task.data.train, 64, np.random.default_rng(0), r, drop_single=True), 4)
        return score(net.eval(), task.data.valid, r)
    for name, fmt in layouts.items():
        times[name], _ = _timed(lambda arch: evaluation(arch, fmt), archs)
    print(f"whole evaluation: NCHW {times['NCHW']:.3f} s, NHWC {times['NHWC']:.3f} s per subnet: "
          f"x{times['NCHW'] / times['NHWC']:.2f}")

    x, y = next(iter(batches(task.data.train, 64, np.random.default_rng(0))))
    for name, fmt in layouts.items():
        net = as_layout(task.supernet, fmt).train()
        opt = torch.optim.Adam(net.parameters(), 1e-3)

        def step(arch):
            net.activate(arch)
            r = int(arch["resolution"])
            loss = F.cross_entropy(net(F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times[name], _ = _timed(step, archs)
    print(f"supernet training step (64 images): NCHW {times['NCHW']:.3f} s, NHWC {times['NHWC']:.3f} s: "
          f"x{times['NCHW'] / times['NHWC']:.2f}")


if __name__ == "__main__":
    main()
