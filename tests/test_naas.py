"""NAAS: the accelerator space stays within the baseline's resources, mapping vectors decode to exact loop
factors, the inner search improves on its random start, the task scores against Eyeriss, and a small campaign
runs end to end with ZigZag's verdict in the report."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from nasfw.errors import ConfigError
from nasfw.hardware.eyeriss import Layer, eyeriss_v1, evaluate_batch
from nasfw.search_spaces.accelerator import (LOOP_DIMS, MAPPING_WIDTH, accelerator_space, array_sizes, buffers,
                                             decode_mappings, parallel_dims, resources, spatial_factors)

ONCHIP = 168 * 520 + 108 * 1024  # Eyeriss v1: 168 PEs x (12 + 224 + 24) 16-bit words, 108 kB global buffer


def test_every_accelerator_fits_the_baselines_resources():
    for enc in ("importance", "index"):
        space = accelerator_space(enc)
        for i in range(300):
            arch = space.sample(i)
            sizes = array_sizes(arch)
            assert len(sizes) == arch["dims"] and all(s % 2 == 0 and s >= 2 for s in sizes)
            assert np.prod(sizes) <= arch["pes"] <= 168 and arch["pes"] % 8 == 0
            r = resources(arch, ONCHIP)
            assert r["onchip_bytes"] <= ONCHIP and r["glb_bytes"] % 16 == 0 and r["rf_bytes"] % 16 == 0
            assert len(parallel_dims(arch)) == arch["dims"]
    arch = {"pes": 168, "dims": 2, "shape0": 0.5, "shape1": 0.5, "imp.K": 0.1, "imp.C": 0.9, "imp.Y": 0.8,
            "imp.X": 0.2, "imp.R": 0.3, "imp.S": 0.0, "rf_bytes": 64, "glb_frac": 0.5}
    assert parallel_dims(arch) == ["C", "Y"]  # the two most important loop dimensions, most important first
    assert parallel_dims({"dims": 3, "par0": 0, "par1": 0, "par2": 5}) == ["K", "K", "S"]  # index encoding
    assert buffers(arch, ONCHIP)[1] == (ONCHIP - int(np.prod(array_sizes(arch))) * 64) // 2 // 16 * 16
    with pytest.raises(ConfigError, match="encoding"):
        accelerator_space("one-hot")


def test_a_space_larger_than_the_baseline_is_refused_before_any_work():
    """ShiDianNao-like has 64 PEs; with the default space (up to 168) most archs were unmappable and failed."""
    from nasfw.plugins.naas.task import NAASTask

    task = NAASTask(networks=["squeezenet"], baseline="shidiannao-like")
    with pytest.raises(ConfigError, match="space_options.max_pes = 168 exceeds the 64 PEs of task_options.baseline "
                                          "'shidiannao-like'; allowed: at most 64"):
        task.check_space(accelerator_space("importance", max_pes=168))
    task.check_space(accelerator_space("index", max_pes=64))  # within the baseline: accepted, either encoding


def test_mapping_vectors_decode_to_exact_factors():
    layer = Layer("l", K=96, C=24, Y=56, X=56, R=3, S=3)
    sp = spatial_factors(layer.dims, ["C", "Y"], (12, 14))
    assert sp[0, LOOP_DIMS.index("C")] == 12 and sp[1, LOOP_DIMS.index("Y")] == 14
    m = decode_mappings(layer.dims, sp, np.random.default_rng(0).random((500, MAPPING_WIDTH)))
    covered = m["rf"] * m["glb"] * m["dram"] * m["spatial"].prod(axis=1)
    assert (covered == layer.dims).all()
    assert all(sorted(o) == list(range(7)) for o in m["glb_order"])
    assert len({tuple(r) for r in m["rf"]}) > 20  # the vectors reach many different tilings


def test_inner_search_improves_on_its_random_start():
    from nasfw.plugins.naas.mapper import search_layer

    acc = eyeriss_v1()
    layer = Layer("conv", K=64, C=64, Y=28, X=28, R=3, S=3)
    rng = np.random.default_rng(1)
    start = search_layer(layer, acc, ["C", "Y"], acc.array, np.random.default_rng(1), n_random=64, rounds=0)
    better = search_layer(layer, acc, ["C", "Y"], acc.array, rng, n_random=64, rounds=3)
    assert better.energy_pj * better.cycles <= start.energy_pj * start.cycles
    assert better.cycles >= layer.macs / acc.n_pes and better.mapping is not None
    dims = layer.dims[None]
    r = evaluate_batch(dims, np.array([1]), np.array([False]), acc, np.ones((1, 2, 7), int), np.ones((1, 7), int),
                       np.ones((1, 7), int), np.arange(7)[None], np.arange(7)[None])
    assert r["cycles"][0] == layer.macs  # one PE doing everything: the compute bound


def test_task_scores_against_eyeriss_and_the_sizing_only_ablation():
    from nasfw.plugins.naas.task import NAASTask

    task = NAASTask(networks=["squeezenet"], n_random=32, rounds=1)
    arch = {"pes": 168, "dims": 2, "shape0": 0.5, "shape1": 0.5, "imp.K": 0.1, "imp.C": 0.9, "imp.Y": 0.8,
            "imp.X": 0.2, "imp.R": 0.3, "imp.S": 0.0, "rf_bytes": 256, "glb_frac": 0.9}
    m = task.evaluate(arch)
    assert m["edp_geomean"] == pytest.approx(m["squeezenet.edp"])
    base = task.baseline_costs()["squeezenet"]
    assert m["edp_gain_geomean"] == pytest.approx(base["edp"] / m["squeezenet.edp"])
    sizing = NAASTask(networks=["squeezenet"], mapping="row-stationary").evaluate(arch)
    assert sizing["squeezenet.edp"] != m["squeezenet.edp"]
    with pytest.raises(ConfigError, match=r"unknown task_options.networks\[0\] 'resnet5'; did you mean 'resnet50'"
                                          r"\?.* \(or the path of an .onnx model\)"):
        NAASTask(networks=["resnet5"])
    with pytest.raises(ConfigError, match="mapping"):
        NAASTask(mapping="weight")


def test_a_users_accelerator_file_is_a_baseline(tmp_path):
    """NAAS's point is co-search within a given accelerator's resources; a user's own accelerator YAML (with the
    dataflow its baseline mappings use) is that baseline, as the presets are (only the presets were accepted)."""
    from nasfw.hardware.dataflows import dataflow
    from nasfw.plugins.naas import AcceleratorResources
    from nasfw.plugins.naas.task import NAASTask, baseline_onchip_bytes

    npu = tmp_path / "npu.yaml"
    npu.write_text("name: my-npu\narray: [12, 12]\nrf_words: 256\nglb_bytes: 65536\n")
    task = NAASTask(networks=["squeezenet"], baseline=str(npu), baseline_dataflow="weight-stationary", n_random=16,
                    rounds=1)
    assert task.baseline.name == "my-npu" and task.baseline.n_pes == 144
    assert task.onchip_bytes == 144 * 256 * 2 + 65536 == AcceleratorResources(str(npu)).onchip
    # the baseline is scored with its own dataflow on its own array
    layer = task.layers["squeezenet"][0]
    assert dataflow("weight-stationary", layer, task.baseline).spatial
    with pytest.raises(ConfigError, match="max_pes = 168 exceeds the 144 PEs"):
        task.check_space(accelerator_space("importance", max_pes=168))
    arch = {"pes": 144, "dims": 2, "shape0": 0.5, "shape1": 0.5, "imp.K": 0.9, "imp.C": 0.8, "imp.Y": 0.1,
            "imp.X": 0.2, "imp.R": 0.3, "imp.S": 0.0, "rf_bytes": 256, "glb_frac": 0.5}
    m = task.evaluate(arch)
    base = task.baseline_costs()["squeezenet"]
    assert m["edp_gain_geomean"] == pytest.approx(base["edp"] / m["squeezenet.edp"])
    assert baseline_onchip_bytes(task.baseline) == task.onchip_bytes
    with pytest.raises(ConfigError, match="task_options.baseline_dataflow is needed with an accelerator file"):
        NAASTask(networks=["squeezenet"], baseline=str(npu))
    with pytest.raises(ConfigError, match="task_options.baseline_dataflow = 'diagonal' is not allowed; allowed: one "
                                          "of 'row-stationary', 'weight-stationary', 'output-stationary'"):
        NAASTask(networks=["squeezenet"], baseline=str(npu), baseline_dataflow="diagonal")
    with pytest.raises(ConfigError, match=r"unknown task_options.baseline 'eyeriss-v2'; did you mean 'eyeriss-v1'\?"
                                          r".* \(or the path of an accelerator YAML\)"):
        NAASTask(networks=["squeezenet"], baseline="eyeriss-v2")
    bad = tmp_path / "bad.yaml"
    bad.write_text("array: [12, 12\n")
    with pytest.raises(ConfigError, match="accelerator file bad.yaml is not valid YAML"):
        NAASTask(networks=["squeezenet"], baseline=str(bad), baseline_dataflow="row-stationary")
    bad.write_text("- 12\n")
    with pytest.raises(ConfigError, match="accelerator file bad.yaml must hold a mapping"):
        NAASTask(networks=["squeezenet"], baseline=str(bad), baseline_dataflow="row-stationary")


@pytest.mark.slow  # 32 s; the fast suite runs NAAS end to end on a small ONNX network (below)
def test_default_campaign_end_to_end(run_cli, tmp_path):
    p = run_cli("search", "--plugin", "naas", "--budget", "12", "--out", tmp_path / "run", "--no-progress",
                timeout=600)
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "run" / "naas" / "naas.json").read_text())
    assert [r["network"] for r in report["rows"]] == ["mobilenetv2", "squeezenet", "mnasnet"]
    for r in report["rows"]:
        assert r["naas_edp"] > 0 and r["zigzag_naas_edp"] > 0 and r["zigzag_baseline_edp"] > 0
    assert report["accelerator"]["n_pes"] <= 168
    assert "| geometric mean |" in (tmp_path / "run" / "naas" / "naas.md").read_text()
    assert "## Final evaluation (naas.md)" in (tmp_path / "run" / "report" / "report.md").read_text()


def test_an_accelerator_for_ones_own_onnx_model(run_cli, tmp_path):
    """`task_options.networks` took only the benchmark networks' names, so the model a user wants an accelerator
    for (a TinyNAS search's export, say) could not be searched for, though the layer reader was there. An ONNX
    file is a network named by its stem, beside the benchmarks or alone."""
    import torch
    from torch import nn

    from nasfw.hardware.workloads import from_onnx
    from nasfw.plugins.naas.task import NAASTask

    model = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1, groups=16),
                          nn.Conv2d(16, 32, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, 32, 32),), str(tmp_path / "tiny.onnx"), dynamo=False)
    task = NAASTask(networks=[str(tmp_path / "tiny.onnx"), "squeezenet"], n_random=16, rounds=1)
    assert task.networks == ["tiny", "squeezenet"] and task.layers["tiny"] == from_onnx(tmp_path / "tiny.onnx")
    arch = {"pes": 168, "dims": 2, "shape0": 0.5, "shape1": 0.5, "imp.K": 0.1, "imp.C": 0.9, "imp.Y": 0.8,
            "imp.X": 0.2, "imp.R": 0.3, "imp.S": 0.0, "rf_bytes": 256, "glb_frac": 0.9}
    m = task.evaluate(arch)
    assert m["edp_geomean"] == pytest.approx((m["tiny.edp"] * m["squeezenet.edp"]) ** 0.5)
    p = run_cli("search", "--plugin", "naas", "--budget", "6", "--set",
                f"task_options.networks=[{tmp_path / 'tiny.onnx'}]", "--set", "phases.finalize.task.zigzag=false",
                "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "run" / "naas" / "naas.json").read_text())
    assert [r["network"] for r in report["rows"]] == ["tiny"] and report["rows"][0]["naas_edp"] > 0
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tiny.onnx").write_bytes((tmp_path / "tiny.onnx").read_bytes())
    for networks, message in (
            ([str(tmp_path / "tiny.onnx"), str(tmp_path / "b" / "tiny.onnx")],
             r"task_options.networks\[1\] = '.*tiny.onnx' is named 'tiny', as an earlier entry"),
            ([str(tmp_path / "none.onnx")], r"task_options.networks\[0\] = '.*none.onnx': no such ONNX file"),
            ("squeezenet", "task_options.networks = 'squeezenet' is not allowed; allowed: a list"),
            ([], "task_options.networks = \\[\\]; it must be a list of at least one")):
        with pytest.raises(ConfigError, match=message):
            NAASTask(networks=networks)


def test_zigzag_missing_is_refused_before_the_search(cli_in_process, monkeypatch):
    """Without the `hw` extra the default campaign searched, then failed in finalize's ZigZag column."""
    monkeypatch.setitem(sys.modules, "zigzag", None)  # as Python sees a package that is not installed
    p = cli_in_process("search", "--plugin", "naas", "--dry-run")
    assert p.returncode == 2
    assert ("phases.finalize.task.zigzag = true re-evaluates the result with ZigZag, which needs zigzag-dse and six "
            "(zigzag not installed): pip install 'nasfw[hw]', or --set phases.finalize.task.zigzag=false") in p.stderr
    p = cli_in_process("search", "--plugin", "naas", "--dry-run", "--set", "phases.finalize.task.zigzag=false")
    assert p.returncode == 0, p.stderr
