"""NAAS's search spaces (Lin, Yang, Han, DAC 2021): the accelerator and, per layer, the compiler mapping.

Accelerator: the PE array's dimensionality (1-3) and sizes (steps of 2), which loop dimension each array
dimension unrolls, per-PE register file (steps of 16 bytes) and global buffer (steps of 16 bytes). The
parallel dimensions come from NAAS's *importance encoding*: one value per loop dimension (K, C, Y, X, R, S);
the k most important are unrolled, most important first. The *index encoding* (the paper's ablation) picks
each array dimension's loop dimension by an index instead; a repeated index is a different, worse-behaved
search space, which is the point of the ablation. Resource caps (PEs, on-chip bytes) are constraints the
campaign applies with the `accelerator-resources` cost model.

Mapping: per loop dimension a tiling ratio for the register file and for the global buffer (what fraction
of the remaining extent the level covers, on a log scale) and, for the global buffer and DRAM, a loop-order
importance (largest outermost). `decode_mappings` turns many such vectors into loop factors at once.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nasfw.errors import ConfigError

LOOP_DIMS = ("N", "K", "C", "Y", "X", "R", "S")
PARALLEL = ("K", "C", "Y", "X", "R", "S")  # the loop dimensions an array dimension may unroll
ENCODINGS = ("importance", "index")


def accelerator_space(encoding: str = "importance", max_size: int = 64, max_rf_bytes: int = 512,
                      max_glb_kb: int = 256):
    from nasfw.decisions import Float, IntRange
    from nasfw.space import Space

    if encoding not in ENCODINGS:
        raise ConfigError(f"space_options.encoding = {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    if max_size < 2 or max_rf_bytes < 16 or max_glb_kb < 1:
        raise ConfigError(f"space_options: max_size = {max_size} (>= 2), max_rf_bytes = {max_rf_bytes} (>= 16), "
                          f"max_glb_kb = {max_glb_kb} (>= 1)")
    ds: list = [IntRange("dims", 1, 3)]
    ds += [IntRange(f"size{a}", 2, max_size - max_size % 2, 2) for a in range(3)]
    if encoding == "importance":
        ds += [Float(f"imp.{d}", 0.0, 1.0) for d in PARALLEL]
    else:
        ds += [IntRange(f"par{a}", 0, len(PARALLEL) - 1) for a in range(3)]
    ds += [IntRange("rf_bytes", 16, max_rf_bytes - max_rf_bytes % 16, 16),
           IntRange("glb_bytes", 1024, max_glb_kb * 1024, 16)]
    return Space(ds, name=f"naas-accelerator-{encoding}")


def parallel_dims(arch: dict[str, Any]) -> list[str]:
    """The loop dimension each array dimension unrolls, outer array dimension first."""
    n = int(arch["dims"])
    if "imp.K" in arch:
        ranked = sorted(PARALLEL, key=lambda d: -float(arch[f"imp.{d}"]))
        return ranked[:n]
    return [PARALLEL[int(arch[f"par{a}"])] for a in range(n)]


def array_sizes(arch: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(arch[f"size{a}"]) for a in range(int(arch["dims"])))


def resources(arch: dict[str, Any]) -> dict[str, float]:
    n_pes = int(np.prod(array_sizes(arch)))
    return {"n_pes": float(n_pes), "onchip_bytes": float(n_pes * int(arch["rf_bytes"]) + int(arch["glb_bytes"]))}


# --- mappings ------------------------------------------------------------------------------------------
MAPPING_WIDTH = 4 * len(LOOP_DIMS)  # rf ratio, glb ratio, glb order, dram order per loop dimension


def spatial_factors(dims: np.ndarray, par: list[str], sizes: tuple[int, ...]) -> np.ndarray:
    """(A, 7) spatial factors for one layer: array dimension a unrolls min(size, what is left) of its loop
    dimension (two array dimensions on the same loop dimension share it)."""
    out = np.ones((len(sizes), len(LOOP_DIMS)), dtype=np.int64)
    left = dims.astype(np.int64).copy()
    for a, (d, s) in enumerate(zip(par, sizes)):
        i = LOOP_DIMS.index(d)
        f = int(min(s, left[i]))
        out[a, i] = f
        left[i] = -(-left[i] // f)
    return out


def decode_mappings(dims: np.ndarray, spatial: np.ndarray, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Loop factors and orders from mapping vectors in [0, 1] (n, 28), for one layer `dims` (7,) and its
    spatial factors (A, 7): register-file factor = ceil(left ** ratio), likewise the global buffer's on what
    the register file leaves; DRAM covers the rest. Orders: larger importance outermost."""
    v = np.clip(np.asarray(vectors, dtype=float), 0.0, 1.0)
    n, L = len(v), len(LOOP_DIMS)
    left = -(-dims[None, :] // spatial.prod(axis=0)[None, :])
    rf = np.maximum(1, np.minimum(left, np.ceil(left ** v[:, :L] - 1e-9))).astype(np.int64)
    left2 = -(-left // rf)
    glb = np.maximum(1, np.minimum(left2, np.ceil(left2 ** v[:, L:2 * L] - 1e-9))).astype(np.int64)
    glb_order = np.argsort(-v[:, 2 * L:3 * L], axis=1, kind="stable")
    dram_order = np.argsort(-v[:, 3 * L:], axis=1, kind="stable")
    return {"spatial": np.broadcast_to(spatial, (n, *spatial.shape)).copy(), "rf": rf, "glb": glb,
            "glb_order": glb_order, "dram_order": dram_order}
