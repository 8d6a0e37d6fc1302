"""Our Eyeriss model against ZigZag (the independent reference, extra [hw]): the same layers (ResNet-50 and
MobileNetV2, depthwise included), the same Eyeriss v1 and the same row-stationary mapping given completely."""
from __future__ import annotations

import logging

import numpy as np

from nasfw.hardware import zigzag_ref
from nasfw.hardware.dataflows import dataflow
from nasfw.hardware.eyeriss import evaluate, eyeriss_v1
from nasfw.hardware.workloads import network

# the factors within which absolute energies and cycles agree (docs/results-naas.md): ZigZag has no NoC level,
# keeps an operand in a PE register across the loops that do not index it, and adds memory stalls to latency
# where ours overlaps transfers with compute (the classifier layer: 2x)
ENERGY_FACTOR, CYCLES_FACTOR = 1.5, 2.5


def test_edp_ranking_and_magnitudes_agree_with_zigzag():
    acc = eyeriss_v1()
    layers = network("resnet50")[::5] + network("mobilenetv2")[::2]
    ours, ref = [], []
    for layer in layers:
        m = dataflow("row-stationary", layer, acc)
        a, z = evaluate(layer, acc, m), zigzag_ref.evaluate(layer, m)
        assert a["valid"], (layer, a["reason"])
        ours.append((a["energy_pj"], a["cycles"]))
        ref.append((z["energy"], z["cycles"]))
    o, r = np.array(ours), np.array(ref)
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    spearman = np.corrcoef(rank(o[:, 0] * o[:, 1]), rank(r[:, 0] * r[:, 1]))[0, 1]
    assert spearman >= 0.9
    assert any(layer.depthwise for layer in layers)
    for q, f in ((o[:, 0] / r[:, 0], ENERGY_FACTOR), (o[:, 1] / r[:, 1], CYCLES_FACTOR)):
        assert ((1 / f <= q) & (q <= f)).all(), q


def test_generated_description_equals_the_shipped_eyeriss_file():
    acc = eyeriss_v1()
    layer = network("mobilenetv2")[3]
    m = dataflow("row-stationary", layer, acc)
    assert zigzag_ref.evaluate(layer, m, acc) == zigzag_ref.evaluate(layer, m)


def test_the_user_process_logging_is_left_as_it_was():
    # ZigZag calls logging.basicConfig(level=INFO) inside its API: a handler in its format stayed on the root
    # logger, and every later warning of any library (matplotlib's, qiskit's) printed through it
    # (pytest's own capture handlers are taken off the root logger meanwhile: with any handler there,
    # basicConfig does nothing, which a user's plain process does not have)
    root = logging.getLogger()
    pytest_handlers, level = list(root.handlers), root.level
    for h in pytest_handlers:
        root.removeHandler(h)
    try:
        acc = eyeriss_v1()
        layer = network("mobilenetv2")[3]
        zigzag_ref.evaluate(layer, dataflow("row-stationary", layer, acc))
        after = (root.level, list(root.handlers))
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in pytest_handlers:
            root.addHandler(h)
        root.setLevel(level)
    assert after == (level, [])
