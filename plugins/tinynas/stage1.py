"""TinyNAS stage 1, search-space optimisation: before any training, pick the width multiplier and input
resolution whose space holds the most capable networks that fit the device.

For every (width, resolution) cell, sample networks of the MBConv space, keep those within the device's SRAM
and Flash, and score the cell by the mean MACs of the fitting ones (MCUNet: more computation in the fitting
part of a space means better accuracy). Cells where too few networks fit (`min_fit`) are out: a space that
mostly fails the constraints wastes the search. The MACs CDFs of the candidate cells are plotted as a PNG.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasfw.hardware.mcu import MCUCost
from nasfw.search_spaces.mbconv import mbconv_space, to_config

WIDTHS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RESOLUTIONS = tuple(range(48, 225, 16))


def optimise_space(device: str = "stm32f746", memory: str = "tinyengine", widths: Sequence[float] = WIDTHS,
                   resolutions: Sequence[int] = RESOLUTIONS, samples: int = 1000, min_fit: float = 0.4,
                   seed: int = 0, sram_kb: float | None = None, flash_kb: float | None = None,
                   n_classes: int = 1000, plot: str | Path | None = None) -> dict[str, Any]:
    """Returns the chosen cell and every cell's fitting fraction and mean MACs (M)."""
    cost = MCUCost(device, memory=memory, sram_kb=sram_kb, flash_kb=flash_kb)
    space = mbconv_space()
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(samples)]  # the same networks in every cell
    cells, macs_of = [], {}
    for w in widths:
        for r in resolutions:
            ms = [cost.evaluate(to_config(a, w, r, n_classes=n_classes)) for a in archs]
            fit = np.array([m["macs_m"] for m in ms if m["sram_fits"] and m["flash_fits"]])
            macs_of[(w, r)] = fit
            cells.append({"width": w, "resolution": r, "fit": len(fit) / samples,
                          "mean_macs_m": float(fit.mean()) if len(fit) else 0.0})
    ok = [c for c in cells if c["fit"] >= min_fit]
    best = max(ok, key=lambda c: c["mean_macs_m"]) if ok else None
    out = {"device": device, "memory": memory, "sram_kb": cost.device.sram_kb, "flash_kb": cost.device.flash_kb,
           "min_fit": min_fit, "samples": samples, "best": best, "cells": cells}
    if plot:
        out["plot"] = str(_plot_cdfs(macs_of, sorted(ok, key=lambda c: -c["mean_macs_m"])[:6], best, Path(plot)))
    return out


def _plot_cdfs(macs_of: dict, cells: list[dict], best: dict | None, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for c in cells:
        m = np.sort(macs_of[(c["width"], c["resolution"])])
        label = f"w{c['width']:g}-r{c['resolution']} ({c['fit']:.0%} fit)"
        ax.plot(m, np.arange(1, len(m) + 1) / len(m), lw=2.5 if c is best else 1.2, label=label)
    ax.set_xlabel("MACs of the fitting networks (M)")
    ax.set_ylabel("CDF")
    ax.set_title("TinyNAS stage 1: search spaces that fit")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
