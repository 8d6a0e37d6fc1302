"""ZigZag (`zigzag-dse`, extra `[hw]`) as the independent reference for `hardware/eyeriss.py`: the same layer,
the same accelerator (the project's Eyeriss v1 YAML in hardware/data/zigzag/) and the same mapping, given
completely (spatial unrolling plus a full temporal ordering), so ZigZag evaluates that one mapping instead of
searching. Loop names translate N->B, Y->OY, X->OX, R->FY, S->FX; a depthwise layer's channels are ZigZag's
group dimension G."""
from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from nasfw.errors import ConfigError
from nasfw.hardware.eyeriss import DIMS, Accelerator, Layer, Mapping

EYERISS_V1_YAML = Path(__file__).with_name("data") / "zigzag" / "eyeriss_v1.yaml"
NAMES = {"N": "B", "K": "K", "C": "C", "Y": "OY", "X": "OX", "R": "FY", "S": "FX"}


def _name(layer: Layer, d: str) -> str:
    return "G" if layer.depthwise and d == "K" else NAMES[d]


def workload(layer: Layer, precision: int = 16) -> list[dict[str, Any]]:
    if layer.depthwise:
        eq, dims = "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]", ["B", "G", "OY", "OX", "FY", "FX"]
        sizes = [layer.N, layer.K, layer.Y, layer.X, layer.R, layer.S]
    else:
        eq, dims = "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]", ["B", "K", "C", "OY", "OX", "FY", "FX"]
        sizes = [layer.N, layer.K, layer.C, layer.Y, layer.X, layer.R, layer.S]
    return [{"id": 0, "name": layer.name, "operator_type": "Conv", "equation": eq, "loop_dims": dims,
             "loop_sizes": [int(s) for s in sizes],
             "dimension_relations": [f"ix={layer.stride}*ox+1*fx", f"iy={layer.stride}*oy+1*fy"],
             "operand_precision": {"W": precision, "I": precision, "O": precision, "O_final": precision}}]


def mapping_yaml(layer: Layer, m: Mapping) -> list[dict[str, Any]]:
    """ZigZag's mapping: the spatial unrolling per array dimension and every temporal loop, innermost first
    (register-file loops, then the GLB's in reverse order, then DRAM's), so nothing is left to search."""
    spatial = {}
    for a, s in enumerate(m.spatial):
        spatial[f"D{a + 1}"] = [f"{_name(layer, d)}, {int(f)}" for d, f in s.items() if int(f) > 1] or \
            [f"{_name(layer, 'K')}, 1"]
    sp_total = {d: 1 for d in DIMS}
    for s in m.spatial:
        for d, f in s.items():
            sp_total[d] *= int(f)
    temporal: list[list[Any]] = []
    inner = {d: int(m.rf.get(d, 1)) * sp_total[d] * int(m.glb.get(d, 1)) for d in DIMS}
    dram = m.dram or {d: -(-getattr(layer, d) // inner[d]) for d in DIMS}
    for d in DIMS:
        if int(m.rf.get(d, 1)) > 1:
            temporal.append([_name(layer, d), int(m.rf[d])])
    for factors, order in ((m.glb, m.glb_order), (dram, m.dram_order)):
        for d in reversed(order):
            if int(factors.get(d, 1)) > 1:
                temporal.append([_name(layer, d), int(factors[d])])
    total = {d: int(m.rf.get(d, 1)) * sp_total[d] * int(m.glb.get(d, 1)) * int(dram.get(d, 1)) for d in DIMS}
    uneven = [d for d in DIMS if total[d] != getattr(layer, d)]
    if uneven:
        raise ConfigError(f"ZigZag needs loop factors that divide the layer exactly; {uneven} of {layer.name!r} do not")
    return [{"name": "default", "spatial_mapping": spatial, "temporal_ordering": temporal,
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


def accelerator_yaml(acc: Accelerator) -> dict[str, Any]:
    """A ZigZag description of one of our accelerators: per-PE register file(s), a global buffer serving the
    array (holding `glb_tensors`; the others go from DRAM to the PEs), DRAM; Eyeriss's per-word costs scaled
    to ZigZag's per-port-width accesses as in the shipped Eyeriss v1 file."""
    ops = {"I": "I1", "W": "I2", "O": "O"}
    word = 8 * acc.word_bytes
    dims = [f"D{a + 1}" for a in range(len(acc.array))]

    def memory(size_bits: int, operands: list[str], cost: float, width_words: int, served: list[str]) -> dict:
        port = lambda name, kind, alloc: {"name": name, "type": kind, "bandwidth_min": word,  # noqa: E731
                                          "bandwidth_max": word * width_words, "allocation": alloc}
        if served:  # shared buffers: one read-write port, as in the shipped Eyeriss v1 file
            alloc = []
            for o in operands:
                alloc += [f"{o}, fh", f"{o}, tl"] + ([f"{o}, fl", f"{o}, th"] if o == "O" else [])
            ports = [port("rw_port_1", "read_write", alloc)]
        else:  # register files: per operand a read port towards the MACs and a write port from above (a shared
            # register file is multi-ported, as our model assumes: one MAC a cycle reads all its operands)
            ports = []
            for i, o in enumerate(operands, 1):
                ports += [port(f"r_port_{i}", "read", [f"{o}, tl"] + ([f"{o}, th"] if o == "O" else [])),
                          port(f"w_port_{i}", "write", [f"{o}, fh"] + ([f"{o}, fl"] if o == "O" else []))]
        return {"size": int(size_bits), "r_cost": cost * width_words, "w_cost": cost * width_words, "area": 0,
                "latency": 1, "operands": operands, "ports": ports, "served_dimensions": list(served)}
    c = acc.costs
    mems: dict[str, Any] = {}
    if isinstance(acc.rf_words, dict):
        for t, o in ops.items():
            mems[f"rf_{t}"] = memory(acc.rf_words.get(t, 0) * word, [o], c["rf"], 1, [])
    else:
        mems["rf"] = memory(acc.rf_words * word, list(ops.values()), c["rf"], 1, [])
    mems["glb"] = memory(acc.glb_bytes * 8, [ops[t] for t in ("I", "W", "O") if t in acc.glb_tensors], c["glb"], 64,
                         dims)
    mems["dram"] = memory(10 ** 10, list(ops.values()), c["dram"], 16, dims)
    return {"name": acc.name, "memories": mems,
            "operational_array": {"unit_energy": c["mac"], "unit_area": 1, "dimensions": list(dims),
                                  "sizes": [int(a) for a in acc.array]}}


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    """ZigZag's API calls logging.basicConfig(level=INFO) on every call: the root logger of the user's process
    would keep a handler in ZigZag's format (every later warning of any library printed as "date - function
    +line - WARNING - ...") and, where it had none, INFO from every library. Its level and handlers are put
    back as they were, and ZigZag's INFO is not printed meanwhile."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(level)


def evaluate(layer: Layer, m: Mapping, accelerator: str | Path | Accelerator = EYERISS_V1_YAML) -> dict[str, float]:
    """ZigZag's energy (its units: the YAML's per-access costs), latency (cycles) and EDP of one mapping."""
    try:
        from zigzag.api import get_hardware_performance_zigzag
    except ImportError:
        raise ConfigError("the ZigZag cross-check needs zigzag-dse and six: pip install 'nasfw[hw]'") from None
    logging.getLogger("zigzag").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(accelerator, Accelerator):
            # the memories' order is the hierarchy, inner first: no key sorting
            (Path(tmp) / "accelerator.yaml").write_text(yaml.safe_dump(accelerator_yaml(accelerator), sort_keys=False))
            accelerator = Path(tmp) / "accelerator.yaml"
        mpath = Path(tmp) / "mapping.yaml"
        mpath.write_text(yaml.safe_dump(mapping_yaml(layer, m)))
        with _root_logger_kept():
            energy, latency, cmes = get_hardware_performance_zigzag(
                workload(layer), str(accelerator), str(mpath), opt="EDP", dump_folder=tmp,
                loma_show_progress_bar=False)
    return {"energy": float(energy), "cycles": float(latency), "edp": float(energy) * float(latency)}
