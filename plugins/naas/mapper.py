"""NAAS's inner loop: the compiler mapping of each layer on a given accelerator. Random mapping vectors, then
rounds of Gaussian mutation around the best (a small evolution strategy), every candidate of a round scored
at once by the vectorised Eyeriss-like model; the best by EDP wins. A network's cost is the sum over its
layers of energy and of cycles, each layer with its own mapping (the compiler maps layers one by one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nasfw.hardware.dataflows import dataflow
from nasfw.hardware.eyeriss import Accelerator, Layer, Mapping, evaluate, evaluate_batch
from nasfw.search_spaces.accelerator import LOOP_DIMS, MAPPING_WIDTH, decode_mappings, spatial_factors


@dataclass
class LayerResult:
    energy_pj: float
    cycles: float
    utilization: float
    mapping: Mapping | None
    evaluated: int


def _score(layer: Layer, acc: Accelerator, spatial: np.ndarray, vectors: np.ndarray):
    m = decode_mappings(layer.dims, spatial, vectors)
    n = len(vectors)
    r = evaluate_batch(np.tile(layer.dims, (n, 1)), np.full(n, layer.stride), np.full(n, layer.depthwise), acc,
                       m["spatial"], m["rf"], m["glb"], m["glb_order"], m["dram_order"], m["dram"])
    return r, m


def _as_mapping(m: dict[str, np.ndarray], i: int) -> Mapping:
    f = lambda a: {d: int(a[i, j]) for j, d in enumerate(LOOP_DIMS) if a[i, j] > 1}  # noqa: E731
    order = lambda a: "".join(LOOP_DIMS[j] for j in a[i])  # noqa: E731
    return Mapping([{d: int(s[j]) for j, d in enumerate(LOOP_DIMS) if s[j] > 1} for s in m["spatial"][i]],
                   f(m["rf"]), f(m["glb"]), order(m["glb_order"]), order(m["dram_order"]), f(m["dram"]))


def search_layer(layer: Layer, acc: Accelerator, par: Sequence[str], sizes: Sequence[int], rng: np.random.Generator,
                 n_random: int = 256, rounds: int = 3, keep: int = 16, children: int = 16,
                 sigma: float = 0.12) -> LayerResult:
    spatial = spatial_factors(layer.dims, list(par), tuple(sizes))
    vecs = rng.random((n_random, MAPPING_WIDTH))
    r, m = _score(layer, acc, spatial, vecs)
    edp, total = r["edp"], n_random
    for _ in range(rounds):
        top = vecs[np.argsort(edp)[:keep]]
        kids = np.clip(np.repeat(top, children, axis=0) + rng.normal(0, sigma, (len(top) * children, MAPPING_WIDTH)),
                       0, 1)
        r2, m2 = _score(layer, acc, spatial, kids)
        vecs, edp = np.concatenate([vecs, kids]), np.concatenate([edp, r2["edp"]])
        r = {k: (np.concatenate([r[k], r2[k]]) if isinstance(r[k], np.ndarray) else r[k]) for k in r}
        m = {k: np.concatenate([m[k], m2[k]]) for k in m}
        total += len(kids)
    i = int(np.argmin(edp))
    if not np.isfinite(edp[i]):
        return LayerResult(np.inf, np.inf, 0.0, None, total)
    return LayerResult(float(r["energy_pj"][i]), float(r["cycles"][i]), float(r["utilization"][i]), _as_mapping(m, i),
                       total)


def fixed_layer(layer: Layer, acc: Accelerator, name: str = "row-stationary") -> LayerResult:
    """A layer under one of the classic hand-written dataflows (the baselines)."""
    mp = dataflow(name, layer, acc)
    r = evaluate(layer, acc, mp)
    if not r["valid"]:
        return LayerResult(np.inf, np.inf, 0.0, None, 1)
    return LayerResult(r["energy_pj"], r["cycles"], r["utilization"], mp, 1)


def network_cost(results: Sequence[LayerResult]) -> dict[str, Any]:
    energy = float(sum(r.energy_pj for r in results))
    cycles = float(sum(r.cycles for r in results))
    return {"energy_pj": energy, "cycles": cycles, "edp": energy * cycles,
            "mappings_evaluated": int(sum(r.evaluated for r in results))}
