"""NAAS's search spaces (Lin, Yang, Han, DAC 2021): the accelerator and, per layer, the compiler mapping.

Accelerator: the number of PEs (steps of 8), the array's dimensionality (1-3) and shape (sizes in steps of 2,
their product within the PEs), which loop dimension each array dimension unrolls, the per-PE register file
(steps of 16 bytes) and the global buffer (steps of 16 bytes, a fraction of the on-chip budget the register
files leave). The
parallel dimensions come from NAAS's *importance encoding*: one value per loop dimension (K, C, Y, X, R, S);
the k most important are unrolled, most important first. The *index encoding* (the paper's ablation) picks
each array dimension's loop dimension by an index instead; a repeated index is a different, worse-behaved
search space, which is the point of the ablation. The baseline's resources (PEs, on-chip bytes) cap every
arch by construction.

Mapping: per loop dimension a tiling ratio for the register file and for the global buffer (what fraction
of the remaining extent the level covers, on a log scale) and, for the global buffer and DRAM, a loop-order
importance (largest outermost). `decode_mappings` turns many such vectors into loop factors at once.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import numpy as np

from nasfw.errors import ConfigError
from nasfw.option_types import Bounds

LOOP_DIMS = ("N", "K", "C", "Y", "X", "R", "S")
PARALLEL = ("K", "C", "Y", "X", "R", "S")  # the loop dimensions an array dimension may unroll
Encoding = Literal["importance", "index"]
ENCODINGS: tuple[str, ...] = get_args(Encoding)
PECount = Annotated[int, Bounds(low=8)]  # PEs come in steps of 8
RFBytes = Annotated[int, Bounds(low=16)]


def accelerator_space(encoding: Encoding = "importance", max_pes: PECount = 168, max_rf_bytes: RFBytes = 512):
    """`max_pes` and the on-chip budget (given when decoding) are the baseline's resources: every arch of the
    space fits them by construction (the global buffer takes a fraction of what the register files leave)."""
    from nasfw.decisions import Float, IntRange
    from nasfw.space import Space

    if encoding not in ENCODINGS:
        raise ConfigError(f"space_options.encoding = {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    if max_pes < 8 or max_rf_bytes < 16:
        raise ConfigError(f"space_options: max_pes = {max_pes} (>= 8), max_rf_bytes = {max_rf_bytes} (>= 16)")
    ds: list = [IntRange("pes", 8, max_pes - max_pes % 8, 8), IntRange("dims", 1, 3),
                Float("shape0", 0.0, 1.0), Float("shape1", 0.0, 1.0)]
    if encoding == "importance":
        ds += [Float(f"imp.{d}", 0.0, 1.0) for d in PARALLEL]
    else:
        ds += [IntRange(f"par{a}", 0, len(PARALLEL) - 1) for a in range(3)]
    ds += [IntRange("rf_bytes", 16, max_rf_bytes - max_rf_bytes % 16, 16), Float("glb_frac", 0.02, 1.0)]
    return Space(ds, name=f"naas-accelerator-{encoding}")


def parallel_dims(arch: dict[str, Any]) -> list[str]:
    """The loop dimension each array dimension unrolls, outer array dimension first."""
    n = int(arch["dims"])
    if "imp.K" in arch:
        ranked = sorted(PARALLEL, key=lambda d: -float(arch[f"imp.{d}"]))
        return ranked[:n]
    return [PARALLEL[int(arch[f"par{a}"])] for a in range(n)]


def _even(v: float, high: int) -> int:
    """v rounded down to an even size in [2, high]."""
    v = int(min(max(v, 2), high))
    return v - v % 2


def array_sizes(arch: dict[str, Any]) -> tuple[int, ...]:
    """Sizes (steps of 2) whose product is at most `pes`: the shape values split log(pes) between the
    dimensions, each leaving room for the ones after it."""
    pes, n = int(arch["pes"]), int(arch["dims"])
    if n == 1:
        return (pes,)
    first = _even(pes ** (0.15 + 0.7 * float(arch["shape0"])), pes // (2 if n == 2 else 4))
    rest = pes // first
    if n == 2:
        return (first, _even(rest, rest))
    second = _even(rest ** (0.15 + 0.7 * float(arch["shape1"])), rest // 2)
    return (first, second, _even(rest // second, rest // second))


def buffers(arch: dict[str, Any], onchip_bytes: int) -> tuple[int, int]:
    """(register-file bytes per PE, global-buffer bytes): the global buffer takes `glb_frac` of the on-chip
    budget the register files leave, in steps of 16 bytes."""
    rf = int(arch["rf_bytes"])
    n_pes = int(np.prod(array_sizes(arch)))
    left = onchip_bytes - n_pes * rf
    glb = int(left * float(arch["glb_frac"])) // 16 * 16
    return rf, glb


def resources(arch: dict[str, Any], onchip_bytes: int) -> dict[str, float]:
    n_pes = int(np.prod(array_sizes(arch)))
    rf, glb = buffers(arch, onchip_bytes)
    return {"n_pes": float(n_pes), "onchip_bytes": float(n_pes * rf + max(glb, 0)), "glb_bytes": float(glb),
            "rf_bytes": float(rf)}


# --- mappings ------------------------------------------------------------------------------------------
MAPPING_WIDTH = 4 * len(LOOP_DIMS)  # rf ratio, glb ratio, glb order, dram order per loop dimension


def _divisors(n: int) -> np.ndarray:
    return np.array([d for d in range(1, int(n) + 1) if n % d == 0], dtype=np.int64)


def spatial_factors(dims: np.ndarray, par: list[str], sizes: tuple[int, ...]) -> np.ndarray:
    """(A, 7) spatial factors for one layer: array dimension a unrolls the largest divisor of what is left of
    its loop dimension that fits its size (exact factors: no padded iterations, and ZigZag can run them)."""
    out = np.ones((len(sizes), len(LOOP_DIMS)), dtype=np.int64)
    left = dims.astype(np.int64).copy()
    for a, (d, s) in enumerate(zip(par, sizes)):
        i = LOOP_DIMS.index(d)
        div = _divisors(left[i])
        f = int(div[div <= s].max())
        out[a, i] = f
        left[i] //= f
    return out


def _snap(left: np.ndarray, target: np.ndarray, divisors: list[np.ndarray]) -> np.ndarray:
    """Per candidate and dimension, the largest divisor of `left` (n, 7) not above `target` (n, 7);
    `divisors[j]` holds every divisor of the layer's extent j, which includes those of any `left`."""
    out = np.ones_like(left)
    for j, div in enumerate(divisors):
        ok = (left[:, j, None] % div[None, :] == 0) & (div[None, :] <= target[:, j, None])
        out[:, j] = np.where(ok, div[None, :], 1).max(axis=1)
    return out


def decode_mappings(dims: np.ndarray, spatial: np.ndarray, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Loop factors and orders from mapping vectors in [0, 1] (n, 28), for one layer `dims` (7,) and its
    spatial factors (A, 7): the register file covers about left ** ratio of what the array leaves (snapped to
    a divisor), the global buffer likewise of what the register file leaves, DRAM the rest. Orders: larger
    importance outermost."""
    v = np.clip(np.asarray(vectors, dtype=float), 0.0, 1.0)
    n, L = len(v), len(LOOP_DIMS)
    left = np.broadcast_to(dims // spatial.prod(axis=0), (n, L)).astype(np.int64)
    divisors = [_divisors(int(x)) for x in dims // spatial.prod(axis=0)]
    rf = _snap(left, np.round(left ** v[:, :L]), divisors)
    left2 = left // rf
    glb = _snap(left2, np.round(left2 ** v[:, L:2 * L]), divisors)
    glb_order = np.argsort(-v[:, 2 * L:3 * L], axis=1, kind="stable")
    dram_order = np.argsort(-v[:, 3 * L:], axis=1, kind="stable")
    return {"spatial": np.broadcast_to(spatial, (n, *spatial.shape)).copy(), "rf": rf, "glb": glb,
            "dram": left2 // glb, "glb_order": glb_order, "dram_order": dram_order}
