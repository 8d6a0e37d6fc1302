"""Hand-written mappings of the classic dataflows, for any layer on any 2-D array: row-stationary (Eyeriss:
filter rows x input channels down the rows, output rows across, a filter row and some output channels kept
in each PE), weight-stationary (NVDLA: input channels x output channels unrolled) and output-stationary
(ShiDianNao: output rows x columns unrolled). Every factor divides its dimension exactly (so ZigZag can run
the same mapping), and the global-buffer tiles are shrunk until they fit. They are the baselines NAAS's
searched mappings are compared with."""
from __future__ import annotations

from typing import Callable

from nasfw.errors import ConfigError, unknown_name
from nasfw.hardware.eyeriss import DIMS, Accelerator, Layer, Mapping, evaluate


def _div(n: int, cap: int) -> int:
    """The largest divisor of n that is at most cap (>= 1)."""
    cap = max(1, min(n, cap))
    return max(d for d in range(1, cap + 1) if n % d == 0)


def _rf_cap(acc: Accelerator, t: str) -> int:
    return acc.rf_words.get(t, 0) if isinstance(acc.rf_words, dict) else acc.rf_words // 3


def _fit_glb(layer: Layer, acc: Accelerator, m: Mapping, grow: tuple[str, ...]) -> Mapping:
    """Grow the GLB factors of `grow` (in turn, to divisors of what is left) while the mapping stays valid."""
    glb = dict(m.glb)
    for d in grow:
        left = getattr(layer, d)
        for s in m.spatial:
            left //= int(s.get(d, 1))
        left //= int(m.rf.get(d, 1))
        for f in sorted((f for f in range(1, left + 1) if left % f == 0), reverse=True):
            trial = Mapping(m.spatial, m.rf, {**glb, d: f}, m.glb_order, m.dram_order)
            if evaluate(layer, acc, trial)["valid"]:
                glb[d] = f
                break
    return Mapping(m.spatial, m.rf, glb, m.glb_order, m.dram_order)


def _two_d(acc: Accelerator) -> tuple[int, int]:
    if len(acc.array) != 2:
        raise ConfigError(f"the classic dataflows map onto a 2-D array; {acc.name!r} has {len(acc.array)} dimension(s)")
    return int(acc.array[0]), int(acc.array[1])


def row_stationary(layer: Layer, acc: Accelerator) -> Mapping:
    rows, cols = _two_d(acc)
    r = _div(layer.R, rows)
    c = _div(layer.C, rows // r)
    k_sp = _div(layer.K, rows // (r * c))
    y = _div(layer.Y, cols)
    s = _div(layer.S, _rf_cap(acc, "W"))
    k_rf = _div(layer.K // k_sp, min(_rf_cap(acc, "W") // s, _rf_cap(acc, "O"))) if not layer.depthwise else 1
    m = Mapping([{"R": r, "C": c, "K": k_sp}, {"Y": y}], {"S": s, "K": k_rf}, {}, "NCRSKYX", "NKCYXRS")
    return _fit_glb(layer, acc, m, ("X", "K", "C", "Y"))


def weight_stationary(layer: Layer, acc: Accelerator) -> Mapping:
    rows, cols = _two_d(acc)
    c = _div(layer.C, rows)
    k = _div(layer.K, cols)
    r = _div(layer.R, min(_rf_cap(acc, "W"), _rf_cap(acc, "I")))
    s = _div(layer.S, min(_rf_cap(acc, "W"), _rf_cap(acc, "I")) // r)
    m = Mapping([{"C": c}, {"K": k}], {"R": r, "S": s}, {}, "NKCRSYX", "NKCYXRS")
    return _fit_glb(layer, acc, m, ("X", "Y", "C", "K"))


def output_stationary(layer: Layer, acc: Accelerator) -> Mapping:
    rows, cols = _two_d(acc)
    y, x = _div(layer.Y, rows), _div(layer.X, cols)
    c = _div(layer.C, min(_rf_cap(acc, "W"), _rf_cap(acc, "I")))
    m = Mapping([{"Y": y}, {"X": x}], {"C": c}, {}, "NKYXCRS", "NKYXCRS")
    return _fit_glb(layer, acc, m, ("R", "S", "C", "K"))


DATAFLOWS: dict[str, Callable[[Layer, Accelerator], Mapping]] = {
    "row-stationary": row_stationary, "weight-stationary": weight_stationary, "output-stationary": output_stationary}


def dataflow(name: str, layer: Layer, acc: Accelerator) -> Mapping:
    if name not in DATAFLOWS:
        raise ConfigError(unknown_name("dataflow", name, DATAFLOWS))
    m = DATAFLOWS[name](layer, acc)
    assert all(getattr(layer, d) % _prod(m, d) == 0 for d in DIMS)
    return m


def _prod(m: Mapping, d: str) -> int:
    p = int(m.rf.get(d, 1)) * int(m.glb.get(d, 1))
    for s in m.spatial:
        p *= int(s.get(d, 1))
    return p
