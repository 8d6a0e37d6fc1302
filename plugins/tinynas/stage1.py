"""TinyNAS stage 1, search-space optimisation: before any training, pick the width multiplier and input
resolution whose space holds the most capable networks that fit the device.

For every (width, resolution) cell, sample networks of the MBConv space, keep those within the device's SRAM
and Flash, and score the cell by the mean MACs of the fitting ones (MCUNet: more computation in the fitting
part of a space means better accuracy). Cells where too few networks fit (`min_fit`) are out: a space that
mostly fails the constraints wastes the search. The MACs CDFs of the candidate cells are plotted as a PNG.

The same sampled networks are costed in every cell, so cells differ by width and resolution alone. The
classifier counts towards Flash, so `n_classes` is the dataset's (`nasfw space optimise` passes the task's).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasfw.errors import ConfigError
from nasfw.figures import new_figure, save_figure
from nasfw.hardware.mcu import MCUCost
from nasfw.progress import bars_enabled, progress_bar
from nasfw.search_spaces.mbconv import INPUT_SIZES, is_input_size, mbconv_space, to_config

WIDTH_MULTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RESOLUTIONS = tuple(range(32, 225, 16))


def optimise_space(device: str = "stm32f746", memory: str = "tinyengine", width_mults: Sequence[float] = WIDTH_MULTS,
                   resolutions: Sequence[int] = RESOLUTIONS, samples: int = 1000, min_fit: float = 0.4,
                   seed: int = 0, sram_kb: float | None = None, flash_kb: float | None = None,
                   n_classes: int = 1000, widths: str = "proxyless", devices: str | None = None,
                   plot: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Returns the chosen cell (None when no cell has `min_fit` of its networks fitting) and every cell's
    fitting fraction and mean MACs (M) of the fitting networks."""
    check_grid(width_mults, resolutions, samples, min_fit)
    cost = MCUCost(device, memory=memory, sram_kb=sram_kb, flash_kb=flash_kb, devices=devices)
    space = mbconv_space(widths)
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(samples)]  # the same networks in every cell
    cells, macs_of = [], {}
    bar = progress_bar(len(width_mults) * len(resolutions), "stage 1", progress)
    for w in width_mults:
        for r in resolutions:
            ms = [cost.evaluate(to_config(a, w, r, widths, n_classes=n_classes)) for a in archs]
            fit = np.array([m["macs_m"] for m in ms if m["sram_fits"] and m["flash_fits"]])
            macs_of[(w, r)] = fit
            cells.append({"width": w, "resolution": r, "fit": len(fit) / samples,
                          "mean_macs_m": float(fit.mean()) if len(fit) else 0.0})
            bar.update(1)
            best = max((c for c in cells if c["fit"] >= min_fit), key=lambda c: c["mean_macs_m"], default=None)
            if best:
                bar.set_postfix_str(f"best w{best['width']:g}-r{best['resolution']} {best['mean_macs_m']:.1f} MMACs")
    bar.close()
    ok = [c for c in cells if c["fit"] >= min_fit]
    best = max(ok, key=lambda c: c["mean_macs_m"]) if ok else None
    out = {"device": device, "memory": memory, "sram_kb": cost.device.sram_kb, "flash_kb": cost.device.flash_kb,
           "n_classes": n_classes, "widths": widths, "min_fit": min_fit, "samples": samples, "best": best,
           "cells": cells}
    if plot:
        out["plot"] = str(_plot_cdfs(macs_of, sorted(ok, key=lambda c: -c["mean_macs_m"])[:6], best, Path(plot)))
    return out


def describe(result: dict[str, Any]) -> dict[str, Any]:
    """What `nasfw space optimise` prints: a summary line, the qualifying cells by mean MACs (or, when none
    qualifies, every cell by its fitting fraction: the nearest first) and the campaign fields of the choice."""
    best, cells = result["best"], result["cells"]
    ok = sorted((c for c in cells if c["fit"] >= result["min_fit"]), key=lambda c: -c["mean_macs_m"])
    shown = ok or sorted(cells, key=lambda c: -c["fit"])
    return {"sets": {} if best is None else {"task_options.width_mult": best["width"],
                                             "task_options.resolutions": [best["resolution"]]},
            "columns": ["width", "resolution", "fit", "mean MACs of fitting (M)", ""],
            "rows": [[f"{c['width']:g}", c["resolution"], f"{c['fit']:.0%}", f"{c['mean_macs_m']:.2f}",
                      "chosen" if c is best else ""] for c in shown],
            "summary": (f"stage 1 for {result['device']} ({result['sram_kb']:g} kB SRAM, {result['flash_kb']:g} kB "
                        f"Flash, {result['memory']} memory), {result['n_classes']} classes: {len(cells)} spaces, "
                        f"{result['samples']} networks each; a space needs {result['min_fit']:.0%} of them to fit, "
                        f"{len(ok)} do")}


def check_grid(width_mults: Sequence[float], resolutions: Sequence[int], samples: int, min_fit: float) -> None:
    """The grid as a user types it (`--widths 0.3,0.5`), refused with the field named before any costing."""
    # each named as the option and as `nasfw space optimise`'s flag, the two ways a user gives it
    bad_w = [w for w in width_mults if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 4]
    if not width_mults or bad_w:
        raise ConfigError(f"width_mults (--widths) = {list(width_mults)!r} is not allowed; allowed: numbers in (0, 4], "
                          "at least one")
    if not resolutions or not all(map(is_input_size, resolutions)):
        raise ConfigError(f"resolutions (--resolutions) = {list(resolutions)!r} is not allowed; allowed: "
                          f"{INPUT_SIZES}, at least one")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples (--samples) = {samples!r} is not allowed; allowed: an integer >= 1")
    if isinstance(min_fit, bool) or not isinstance(min_fit, (int, float)) or not 0 < min_fit <= 1:
        raise ConfigError(f"min_fit (--min-fit) = {min_fit!r} is not allowed; allowed: a fraction in (0, 1]")


def _plot_cdfs(macs_of: dict, cells: list[dict], best: dict | None, path: Path) -> Path:
    fig, ax = new_figure(6, 4)
    for c in cells:
        m = np.sort(macs_of[(c["width"], c["resolution"])])
        label = f"w{c['width']:g}-r{c['resolution']} ({c['fit']:.0%} fit)"
        ax.plot(m, np.arange(1, len(m) + 1) / len(m), lw=2.5 if c is best else 1.2, label=label)
    ax.set_xlabel("MACs of the fitting networks (M)")
    ax.set_ylabel("CDF")
    ax.set_title("TinyNAS stage 1: search spaces that fit")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, path)


AUTO = "auto"


def resolve_auto(opts: dict) -> dict[str, Any]:
    """`width_mult: auto` and/or `resolutions: auto` in a TinyNAS campaign: stage 1 over the grid of what is left
    to it (the default widths and/or resolutions; a value the user gave stays fixed), for the task's board, memory
    model, channel table and the dataset's class count, so one `nasfw search` runs both of MCUNet's stages. Returns
    the options to put in their place ({width_mult: w, resolutions: [r]}) and prints the choice. The result is kept
    per process: a campaign is resolved more than once (dry run, run, `nasfw cost`)."""
    from nasfw.plugins.tinynas.data import class_count
    from nasfw.provenance import file_version

    width, res = opts["width_mult"], opts["resolutions"]
    key = (width, tuple(res) if isinstance(res, (list, tuple)) else res, opts["device"], opts["memory"],
           opts["sram_kb"], opts["flash_kb"], opts.get("widths") or "proxyless", class_count(opts["dataset"]),
           opts["devices"], file_version(opts["devices"]), opts["seed"])  # a boards file edited: chosen again
    if key not in _RESOLVED:
        widths = WIDTH_MULTS if width == AUTO else (width,)
        resolutions = RESOLUTIONS if res == AUTO else tuple([res] if isinstance(res, int) else res)
        result = optimise_space(opts["device"], opts["memory"], widths, resolutions, sram_kb=opts["sram_kb"],
                                flash_kb=opts["flash_kb"], n_classes=key[7], widths=key[6], devices=opts["devices"],
                                seed=opts["seed"], progress=bars_enabled())
        best = result["best"]
        auto = " and ".join(f"task_options.{k}: auto" for k in ("width_mult", "resolutions") if opts[k] == AUTO)
        if best is None:
            near = max(result["cells"], key=lambda c: c["fit"])
            raise ConfigError(f"{auto}: no space of the grid (widths {list(widths)}, resolutions {list(resolutions)}) "
                              f"has {result['min_fit']:.0%} of its networks within {opts['device']}'s memory (the "
                              f"nearest: width {near['width']:g} at {near['resolution']}, {near['fit']:.0%}); give a "
                              "smaller width_mult or resolutions, or a larger board")
        line = (f"stage 1 ({auto}) for {opts['device']}: width {best['width']:g} at resolution "
                f"{best['resolution']} ({best['fit']:.0%} of {result['samples']} networks fit, "
                f"{best['mean_macs_m']:.1f} M mean MACs); `nasfw space optimise` shows every space it weighed")
        _RESOLVED[key] = {"width_mult": best["width"], "resolutions": [best["resolution"]]}
        print(line, file=sys.stderr)  # once per process: the choice is the run's, recorded in its campaign.yaml
    return dict(_RESOLVED[key])


_RESOLVED: dict[tuple, dict[str, Any]] = {}

