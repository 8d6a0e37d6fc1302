"""Evaluations per second of the Eyeriss-like model (hardware/eyeriss.py) against ZigZag evaluating one given
mapping, on the same layers (ResNet-50 and MobileNetV2, depthwise included) and the same Eyeriss v1, in the
same run. Ours: (layer, mapping) pairs in batches, as NAAS's inner search calls it, and one at a time;
ZigZag: its API with a complete mapping (no search), one call per layer. Target: at least 1000x.

    python bench/accelerator.py --batch 100000 --zigzag-layers 20
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from nasfw.hardware import zigzag_ref
from nasfw.hardware.dataflows import dataflow
from nasfw.hardware.eyeriss import evaluate, evaluate_batch, eyeriss_v1
from nasfw.hardware.workloads import network
from nasfw.search_spaces.accelerator import MAPPING_WIDTH, decode_mappings, spatial_factors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--zigzag-layers", type=int, default=20)
    a = ap.parse_args()
    acc = eyeriss_v1()
    layers = (network("resnet50")[::4] + network("mobilenetv2")[::2])[: a.zigzag_layers]
    rng = np.random.default_rng(0)

    # ours, batched: random mappings of every layer, decoded and scored together
    per = a.batch // len(layers)
    parts = []
    for layer in layers:
        sp = spatial_factors(layer.dims, ["C", "Y"], acc.array)
        parts.append((layer, decode_mappings(layer.dims, sp, rng.random((per, MAPPING_WIDTH)))))
    dims = np.concatenate([np.tile(layer.dims, (per, 1)) for layer, _ in parts])
    stride = np.concatenate([np.full(per, layer.stride) for layer, _ in parts])
    dw = np.concatenate([np.full(per, layer.depthwise) for layer, _ in parts])
    cat = lambda k: np.concatenate([m[k] for _, m in parts])  # noqa: E731
    t = time.perf_counter()
    r = evaluate_batch(dims, stride, dw, acc, cat("spatial"), cat("rf"), cat("glb"), cat("glb_order"),
                       cat("dram_order"), cat("dram"))
    batched = len(dims) / (time.perf_counter() - t)

    # ours, one call per (layer, mapping), and ZigZag on the same row-stationary mappings
    maps = [(layer, dataflow("row-stationary", layer, acc)) for layer in layers]
    t = time.perf_counter()
    for _ in range(20):
        for layer, m in maps:
            evaluate(layer, acc, m)
    single = 20 * len(maps) / (time.perf_counter() - t)
    zigzag_ref.evaluate(*maps[0])  # imports and first-call set-up outside the timing
    t = time.perf_counter()
    for layer, m in maps:
        zigzag_ref.evaluate(layer, m)
    zz = len(maps) / (time.perf_counter() - t)
    print(f"{len(layers)} layers (ResNet-50, MobileNetV2), Eyeriss v1, one process")
    print("| evaluator | (layer, mapping) evaluations/s | vs ZigZag |\n|---|---|---|")
    print(f"| ours, batches of {len(dims):,} ({int(r['valid'].sum()):,} valid) | {batched:,.0f} | "
          f"{batched / zz:,.0f}x |")
    print(f"| ours, one mapping per call | {single:,.0f} | {single / zz:,.0f}x |")
    print(f"| ZigZag 3.9, one complete mapping per call | {zz:,.2f} | 1x |")


if __name__ == "__main__":
    main()
