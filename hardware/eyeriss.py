"""An analytical model of Eyeriss-like spatial accelerators: energy, cycles, EDP and utilisation of a layer
under a mapping, vectorised over many (layer, mapping) pairs with numpy.

Why our own: NAAS's cost model (MAESTRO) and Timeloop are not installable from any registry here, and an
accelerator search needs millions of evaluations; ZigZag (extra `[hw]`) is the independent reference the
tests compare rankings with.

The model, in Timeloop's terms. A layer is a 7-deep loop nest over N, K, C, Y, X, R, S (output rows Y and
columns X, filter rows R and columns S; a depthwise layer has C = 1 and reads input channel k). Memory levels,
inner to outer: per-PE register files (one scratchpad per tensor, or one shared), the PE array (spatial
loops: each array dimension unrolls a product of loop factors), a global buffer (GLB) and DRAM. A mapping
gives each level its loop factors and, for the GLB and DRAM, a loop order (outer to inner). A tensor's tile
at a level is what the loops below it touch; it is refilled from its parent once per iteration of the
loops above it, except that a trailing run of loops that do not index the tensor keeps it resident
(stationarity). Spatial loops that do not index a tensor multicast it: one parent read feeds those PEs.
Partial sums are read and written back at every refill but the first. Energy = accesses x per-access cost
(Eyeriss ISCA'16 normalised table by default: MAC 1, RF 1, NoC 2, GLB 6, DRAM 200) x `pj_scale`; cycles =
max(compute, DRAM words / DRAM bandwidth, array words / NoC bandwidth). Tiles that overflow a buffer make a
mapping invalid, with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping as TMapping, Sequence

import numpy as np

from nasfw.errors import ConfigError

DIMS = ("N", "K", "C", "Y", "X", "R", "S")
D = {d: i for i, d in enumerate(DIMS)}
TENSORS = ("W", "I", "O")
# which loop dimensions index each tensor (the input through its sliding window)
RELEVANT = {"W": np.array([0, 1, 1, 0, 0, 1, 1], bool), "I": np.array([1, 0, 1, 1, 1, 1, 1], bool),
            "O": np.array([1, 1, 0, 1, 1, 0, 0], bool)}
RELEVANT_DW_I = np.array([1, 1, 0, 1, 1, 1, 1], bool)  # depthwise: the input channel is the output channel
EYERISS_COSTS = {"mac": 1.0, "rf": 1.0, "noc": 2.0, "glb": 6.0, "dram": 200.0}


@dataclass(frozen=True)
class Layer:
    name: str
    K: int
    C: int
    Y: int
    X: int
    R: int
    S: int
    stride: int = 1
    N: int = 1
    depthwise: bool = False

    def __post_init__(self):
        for d in DIMS:
            v = getattr(self, d)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"layer {self.name!r}: {d} = {v!r}; must be a positive integer")
        if self.depthwise and self.C != 1:
            raise ConfigError(f"layer {self.name!r}: a depthwise layer has C = 1 (its K channels each read one "
                              f"input channel); got C = {self.C}")

    @property
    def dims(self) -> np.ndarray:
        return np.array([getattr(self, d) for d in DIMS], dtype=np.int64)

    @property
    def macs(self) -> int:
        return int(np.prod(self.dims))


@dataclass(frozen=True)
class Accelerator:
    """`array`: PE array sizes (1-3 dimensions). `rf_words`: per-PE scratchpad words, per tensor
    ({'W': 224, 'I': 12, 'O': 24}) or one number for a shared register file. `glb_tensors`: the tensors the
    global buffer holds (Eyeriss's holds inputs and partial sums; filters go from DRAM to the PEs)."""

    name: str
    array: tuple[int, ...]
    rf_words: Any
    glb_bytes: int
    word_bytes: int = 2
    noc_words_per_cycle: float = 64.0
    dram_words_per_cycle: float = 16.0
    glb_tensors: tuple[str, ...] = ("W", "I", "O")
    costs: TMapping[str, float] = field(default_factory=lambda: dict(EYERISS_COSTS))
    pj_scale: float = 1.0

    def __post_init__(self):
        if not 1 <= len(self.array) <= 3 or any(int(a) < 1 for a in self.array):
            raise ConfigError(f"accelerator {self.name!r}: array = {self.array!r}; 1 to 3 positive sizes")
        bad = [t for t in self.glb_tensors if t not in TENSORS]
        if bad:
            raise ConfigError(f"accelerator {self.name!r}: glb_tensors {bad}; allowed: {TENSORS}")
        missing = [k for k in EYERISS_COSTS if k not in self.costs]
        if missing:
            raise ConfigError(f"accelerator {self.name!r}: costs lack {missing}")

    @property
    def n_pes(self) -> int:
        return int(np.prod(self.array))

    @property
    def glb_words(self) -> int:
        return self.glb_bytes // self.word_bytes


def eyeriss_v1() -> Accelerator:
    """Eyeriss v1 (Chen et al., ISSCC'16 / ISCA'16): 12 x 14 PEs, 108 KB global buffer, 16-bit words,
    scratchpads of 12 input, 224 filter and 24 partial-sum words per PE."""
    return Accelerator("eyeriss-v1", (12, 14), {"W": 224, "I": 12, "O": 24}, 108 * 1024,
                       glb_tensors=("I", "O"))


def nvdla_like() -> Accelerator:
    """NVDLA-like resources (the nv_large configuration): 16 x 64 MACs (output x input channels, its
    weight-stationary atomic-K x atomic-C), a 512 KB convolution buffer, a few registers per MAC."""
    return Accelerator("nvdla-like", (16, 64), {"W": 1, "I": 1, "O": 2}, 512 * 1024, dram_words_per_cycle=32.0,
                       noc_words_per_cycle=128.0)


def shidiannao_like() -> Accelerator:
    """ShiDianNao-like resources (Du et al., ISCA'15): 8 x 8 PEs holding output pixels (output-stationary),
    256 KB of on-chip buffers (NBin, NBout, SB), a few registers per PE."""
    return Accelerator("shidiannao-like", (8, 8), {"W": 1, "I": 2, "O": 1}, 256 * 1024, dram_words_per_cycle=8.0,
                       noc_words_per_cycle=32.0)


PRESETS = {"eyeriss-v1": eyeriss_v1, "nvdla-like": nvdla_like, "shidiannao-like": shidiannao_like}


def load_accelerator(source: str) -> Accelerator:
    """A preset by name, or a user's accelerator from YAML (name, array, rf_words, glb_bytes, and optionally
    word_bytes, noc_words_per_cycle, dram_words_per_cycle, glb_tensors, costs, pj_scale)."""
    from pathlib import Path

    if source in PRESETS:
        return PRESETS[source]()
    p = Path(source)
    if not p.is_file():
        raise ConfigError(f"accelerator {source!r}: neither a preset ({', '.join(PRESETS)}) nor a YAML file")
    from nasfw.hardware.accelerator_file import read_accelerator_file

    raw = read_accelerator_file(p, TENSORS, EYERISS_COSTS, tuple(Accelerator.__dataclass_fields__))
    return Accelerator(**raw)


@dataclass
class Mapping:
    """Loop factors per level ({dim: factor}, missing = 1) and the GLB and DRAM loop orders (outer to inner).
    `spatial[a]` is what array dimension `a` unrolls. DRAM factors default to what covers the layer."""

    spatial: Sequence[TMapping[str, int]]
    rf: TMapping[str, int]
    glb: TMapping[str, int]
    glb_order: str = "NKCYXRS"
    dram_order: str = "NKCYXRS"
    dram: TMapping[str, int] | None = None


def _vec(factors: TMapping[str, int], what: str) -> np.ndarray:
    bad = [k for k in factors if k not in D]
    if bad:
        raise ConfigError(f"mapping {what}: unknown loop dimension(s) {bad}; allowed: {list(DIMS)}")
    v = np.ones(len(DIMS), dtype=np.int64)
    for k, f in factors.items():
        if int(f) < 1:
            raise ConfigError(f"mapping {what}: {k} = {f!r}; factors are positive integers")
        v[D[k]] = int(f)
    return v


def _order(order: str, what: str) -> np.ndarray:
    if sorted(order) != sorted(DIMS):
        raise ConfigError(f"mapping {what} = {order!r}; a permutation of {''.join(DIMS)} (outer to inner)")
    return np.array([D[c] for c in order], dtype=np.int64)


def evaluate(layer: Layer, acc: Accelerator, mapping: Mapping) -> dict[str, Any]:
    """One layer under one mapping: energy (pJ), per-level energy, cycles, EDP, utilisation, access counts;
    `valid` False with `reason` when a tile overflows a buffer or the array."""
    if len(mapping.spatial) != len(acc.array):
        raise ConfigError(f"mapping.spatial has {len(mapping.spatial)} array dimension(s); accelerator "
                          f"{acc.name!r} has {len(acc.array)}")
    sp = np.stack([_vec(s, f"spatial[{a}]") for a, s in enumerate(mapping.spatial)])
    rf, glb = _vec(mapping.rf, "rf"), _vec(mapping.glb, "glb")
    dram = _vec(mapping.dram, "dram") if mapping.dram is not None else None
    out = evaluate_batch(layer.dims[None], np.array([layer.stride]), np.array([layer.depthwise]), acc, sp[None],
                         rf[None], glb[None], _order(mapping.glb_order, "glb_order")[None],
                         _order(mapping.dram_order, "dram_order")[None], None if dram is None else dram[None])
    one = lambda v: v[0].item() if hasattr(v[0], "item") else v[0]  # noqa: E731
    return {k: ({kk: one(vv) for kk, vv in v.items()} if isinstance(v, dict) else one(v)) for k, v in out.items()}


def _fills(factors: np.ndarray, order: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Refills of a tile from its parent: the product of the loop factors above it, outer to inner, up to the
    innermost loop that indexes the tensor (the trailing non-indexing loops keep the tile resident).
    factors, order: (n, L) over the loops above the tile, outer first; relevant: (n, L) bool."""
    f = np.take_along_axis(factors, order, axis=1)
    rel = np.take_along_axis(relevant, order, axis=1) & (f > 1)
    cum = np.cumprod(f, axis=1)
    L = f.shape[1]
    last = np.where(rel.any(axis=1), L - 1 - np.argmax(rel[:, ::-1], axis=1), -1)
    return np.where(last >= 0, cum[np.arange(len(f)), np.maximum(last, 0)], 1)


def _tile(t: str, size: np.ndarray, stride: np.ndarray, dw: np.ndarray) -> np.ndarray:
    n, k, c, y, x, r, s = (size[:, i] for i in range(7))
    if t == "W":
        return k * c * r * s
    if t == "O":
        return n * k * y * x
    ch = np.where(dw, k, c)
    return n * ch * ((y - 1) * stride + r) * ((x - 1) * stride + s)


def evaluate_batch(dims: np.ndarray, stride: np.ndarray, depthwise: np.ndarray, acc: Accelerator,
                   spatial: np.ndarray, rf: np.ndarray, glb: np.ndarray, glb_order: np.ndarray,
                   dram_order: np.ndarray, dram: np.ndarray | None = None) -> dict[str, Any]:
    """n (layer, mapping) pairs at once: dims (n, 7); spatial (n, A, 7); rf, glb, dram (n, 7); orders (n, 7)
    as dimension indices, outer first. Returns arrays of length n."""
    dims = np.asarray(dims, dtype=np.int64)
    n = len(dims)
    sp_total = spatial.prod(axis=1)
    inner = rf * sp_total * glb
    if dram is None:
        dram = -(-dims // inner)  # ceil: the DRAM loops cover what is left (padding where it does not divide)
    covered = inner * dram
    reason = np.full(n, "", dtype=object)
    short = (covered < dims).any(axis=1)
    reason[short] = "loop factors do not cover the layer"
    over = (spatial.prod(axis=2) > np.asarray(acc.array)[None]).any(axis=1)
    reason[over & (reason == "")] = "spatial factors exceed the PE array"
    st = np.asarray(stride, dtype=np.int64)
    dw = np.asarray(depthwise, dtype=bool)
    rel = {t: np.broadcast_to(RELEVANT[t], (n, 7)).copy() for t in TENSORS}
    rel["I"][dw] = RELEVANT_DW_I
    glb_tile_dims = rf * sp_total * glb
    tiles_rf = {t: _tile(t, rf, st, dw) for t in TENSORS}
    tiles_glb = {t: _tile(t, glb_tile_dims, st, dw) for t in TENSORS}
    if isinstance(acc.rf_words, dict):
        for t in TENSORS:
            bad = tiles_rf[t] > acc.rf_words.get(t, 0)
            reason[bad & (reason == "")] = f"{t} tile exceeds its {acc.rf_words.get(t, 0)}-word scratchpad"
    else:
        bad = sum(tiles_rf.values()) > acc.rf_words
        reason[bad & (reason == "")] = f"register-file tiles exceed {acc.rf_words} words"
    glb_need = sum(tiles_glb[t] for t in acc.glb_tensors)
    reason[(glb_need > acc.glb_words) & (reason == "")] = f"global-buffer tiles exceed {acc.glb_words} words"

    above_rf = np.concatenate([dram, glb], axis=1)
    order_rf = np.concatenate([dram_order, glb_order + 7], axis=1)
    totals = {t: _tile(t, dims, st, dw) for t in TENSORS}
    acc_dram = np.zeros(n)
    acc_glb = np.zeros(n)
    acc_noc = np.zeros(n)
    acc_rf = np.zeros(n)
    for t in TENSORS:
        r2 = np.concatenate([rel[t], rel[t]], axis=1)
        fills_rf = _fills(above_rf, order_rf, r2)
        sp_rel = np.where(rel[t], sp_total, 1).prod(axis=1)
        to_pes = fills_rf * tiles_rf[t] * sp_total.prod(axis=1)  # words every PE receives (or sends, partial sums)
        from_parent = fills_rf * tiles_rf[t] * sp_rel  # multicast: one read for PEs that share the data
        acc_noc += to_pes
        acc_rf += to_pes
        if t in acc.glb_tensors:
            fills_glb = _fills(dram, dram_order, rel[t])
            dram_words = fills_glb * tiles_glb[t]
            if t == "O":  # partial sums: written back every time, read back every time but the first
                acc_glb += 2 * from_parent - np.minimum(from_parent, totals[t])
                dram_words = np.maximum(2 * dram_words - totals[t], totals[t])
            else:
                acc_glb += from_parent + dram_words  # reads towards the PEs, writes of what DRAM brings
            acc_dram += dram_words
        else:  # bypasses the GLB: DRAM feeds the array directly
            acc_dram += (np.maximum(2 * from_parent - totals[t], totals[t]) if t == "O" else from_parent)
    macs = dims.prod(axis=1)
    acc_rf += 4 * macs  # per MAC: read weight, input, partial sum; write partial sum
    compute = (rf * glb * dram).prod(axis=1)
    c = acc.costs
    energy_levels = {"mac": macs * c["mac"], "rf": acc_rf * c["rf"], "noc": acc_noc * c["noc"],
                     "glb": acc_glb * c["glb"], "dram": acc_dram * c["dram"]}
    energy = sum(energy_levels.values()) * acc.pj_scale
    cycles = np.maximum.reduce([compute.astype(float), acc_dram / acc.dram_words_per_cycle,
                                acc_noc / acc.noc_words_per_cycle])
    valid = reason == ""
    return {"valid": valid, "reason": reason, "energy_pj": np.where(valid, energy, np.inf),
            "cycles": np.where(valid, cycles, np.inf), "edp": np.where(valid, energy * cycles, np.inf),
            "utilization": np.where(valid, macs / (cycles * acc.n_pes), 0.0), "macs": macs,
            "compute_cycles": compute, "energy_breakdown_pj": {k: v * acc.pj_scale for k, v in energy_levels.items()},
            "accesses": {"dram": acc_dram, "glb": acc_glb, "noc": acc_noc, "rf": acc_rf}}
