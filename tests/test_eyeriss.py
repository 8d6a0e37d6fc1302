"""The Eyeriss-like analytical model: the Timeloop exercise's anchor, the compute bound, rejected mappings,
and the vectorised path agreeing with the one-mapping path."""
from __future__ import annotations

import numpy as np
import pytest

from nasfw.errors import ConfigError
from nasfw.hardware.eyeriss import D, DIMS, Layer, Mapping, eyeriss_v1, evaluate, evaluate_batch

REF = Layer("timeloop-ref", K=32, C=3, Y=112, X=112, R=3, S=3, stride=2)
# row-stationary: filter rows x input channels down the 12 rows, 14 output rows across; a filter row (S) and
# 16 output channels stay in each PE's scratchpads
RS = Mapping(spatial=[{"R": 3, "C": 3}, {"Y": 14}], rf={"S": 3, "K": 16}, glb={"K": 2, "X": 56},
             glb_order="NCRSKYX", dram_order="NKCYXRS")


def test_timeloop_reference_layer_under_row_stationary():
    assert REF.macs == 10_838_016
    r = evaluate(REF, eyeriss_v1(), RS)
    assert r["valid"], r["reason"]
    assert r["cycles"] == 86_016 and r["utilization"] == pytest.approx(0.75)
    b = r["energy_breakdown_pj"]
    assert sum(b.values()) == pytest.approx(r["energy_pj"]) and b["dram"] > b["glb"]
    # DRAM moves at least every input, weight and output word once
    assert r["accesses"]["dram"] >= 3 * 225 * 225 + 32 * 3 * 9 + 32 * 112 * 112


def test_no_mapping_beats_the_compute_bound():
    acc = eyeriss_v1()
    rng = np.random.default_rng(0)
    n = 2000
    dims = np.tile(REF.dims, (n, 1))
    sp = np.ones((n, 2, 7), dtype=np.int64)
    sp[:, 0, D["K"]] = rng.integers(1, 13, n)
    sp[:, 1, D["Y"]] = rng.integers(1, 15, n)
    rf = np.ones((n, 7), dtype=np.int64)
    rf[:, D["S"]] = rng.choice([1, 3], n)
    glb = np.ones((n, 7), dtype=np.int64)
    glb[:, D["X"]] = rng.integers(1, 20, n)
    orders = np.stack([rng.permutation(7) for _ in range(n)])
    r = evaluate_batch(dims, np.full(n, 2), np.zeros(n, bool), acc, sp, rf, glb, orders, orders[:, ::-1].copy())
    ok = r["valid"]
    assert ok.sum() > 100
    assert (r["cycles"][ok] >= REF.macs / acc.n_pes).all()
    assert (r["utilization"][ok] <= 1.0).all()
    i = int(np.flatnonzero(ok)[0])  # the vectorised path equals the one-mapping path
    m = Mapping(spatial=[{d: int(sp[i, a, D[d]]) for d in DIMS} for a in range(2)],
                rf={d: int(rf[i, D[d]]) for d in DIMS}, glb={d: int(glb[i, D[d]]) for d in DIMS},
                glb_order="".join(DIMS[j] for j in orders[i]), dram_order="".join(DIMS[j] for j in orders[i, ::-1]))
    one = evaluate(REF, acc, m)
    assert one["energy_pj"] == pytest.approx(r["energy_pj"][i]) and one["cycles"] == r["cycles"][i]


def test_invalid_mappings_say_why():
    acc = eyeriss_v1()
    too_wide = Mapping(spatial=[{"K": 13}, {"Y": 14}], rf={"S": 3}, glb={})
    assert evaluate(REF, acc, too_wide)["reason"] == "spatial factors exceed the PE array"
    big_rf = Mapping(spatial=[{"R": 3}, {"Y": 14}], rf={"S": 3, "K": 32, "C": 3}, glb={})
    r = evaluate(REF, acc, big_rf)
    assert not r["valid"] and "scratchpad" in r["reason"] and r["edp"] == float("inf")
    with pytest.raises(ConfigError, match="unknown loop dimension"):
        evaluate(REF, acc, Mapping(spatial=[{"Q": 2}, {}], rf={}, glb={}))
    with pytest.raises(ConfigError, match="permutation"):
        evaluate(REF, acc, Mapping(spatial=[{}, {}], rf={}, glb={}, glb_order="KCY"))
    with pytest.raises(ConfigError, match="array dimension"):
        evaluate(REF, acc, Mapping(spatial=[{}], rf={}, glb={}))
    with pytest.raises(ConfigError, match="depthwise"):
        Layer("dw", K=32, C=32, Y=8, X=8, R=3, S=3, depthwise=True)


def test_depthwise_layers_read_one_input_channel_per_output_channel():
    acc = eyeriss_v1()
    dw = Layer("dw", K=32, C=1, Y=56, X=56, R=3, S=3, depthwise=True)
    m = Mapping(spatial=[{"R": 3, "K": 4}, {"Y": 14}], rf={"S": 3}, glb={"X": 56, "K": 2})
    r = evaluate(dw, acc, m)
    assert r["valid"], r["reason"]
    assert r["macs"] == 32 * 56 * 56 * 9
    assert r["accesses"]["dram"] >= 32 * 58 * 58 + 32 * 56 * 56  # every input channel and output once


@pytest.mark.parametrize("net,entry", [("vgg16", "VGG16_Weights"), ("resnet50", "ResNet50_Weights"),
                                       ("mobilenetv2", "MobileNet_V2_QuantizedWeights"),
                                       ("squeezenet", "SqueezeNet1_0_Weights"), ("mnasnet", "MNASNet1_0_Weights")])
def test_benchmark_networks_have_torchvisions_macs(net, entry, shared_data):
    import csv

    from nasfw.hardware.workloads import network

    rows = {r["weights_class"]: r for r in csv.DictReader(open(shared_data / "reference" /
                                                               "torchvision_0.29.1_weights_meta.csv"))}
    gmacs = sum(layer.macs for layer in network(net)) / 1e9
    assert gmacs == pytest.approx(float(rows[entry]["gflops_ops"]), abs=6e-4)


def test_layers_from_torch_and_onnx_agree(tmp_path):
    import torch
    from torch import nn

    from nasfw.hardware.workloads import from_onnx, from_torch, network

    model = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 1, 1, groups=16),
                          nn.Conv2d(16, 32, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    a = from_torch(model, (1, 3, 32, 32))
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, 32, 32),), str(tmp_path / "m.onnx"), dynamo=False)
    b = from_onnx(tmp_path / "m.onnx")
    key = lambda L: [(x.K, x.C, x.Y, x.X, x.R, x.S, x.stride, x.depthwise) for x in L]  # noqa: E731
    assert key(a) == key(b) == [(16, 3, 16, 16, 3, 3, 2, False), (16, 1, 16, 16, 3, 3, 1, True),
                                (32, 16, 16, 16, 1, 1, 1, False), (10, 32, 1, 1, 1, 1, 1, False)]
    with pytest.raises(ConfigError, match="unknown benchmark network"):
        network("alexnet2")


def test_layers_from_a_quantised_onnx_model_and_from_matmul(tmp_path):
    """An int8 model (QDQ, as TinyNAS's onnx-int8 export writes it) computes its weights with DequantizeLinear:
    reading them as initializers failed with a KeyError. A Linear exported as MatMul by a constant is a layer; a
    MatMul of two activations is not."""
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper
    from torch import nn

    from nasfw.hardware.workloads import from_onnx
    from nasfw.plugins.tinynas.int8 import quantize_int8

    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.Conv2d(8, 16, 1),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, 16, 16),), str(tmp_path / "m.onnx"), dynamo=False,
                      input_names=["image"])
    quantize_int8(tmp_path / "m.onnx", tmp_path / "m_int8.onnx", np.random.default_rng(0).random((8, 3, 16, 16)))
    key = lambda L: [(x.K, x.C, x.Y, x.X, x.R, x.S, x.stride, x.depthwise) for x in L]  # noqa: E731
    assert key(from_onnx(tmp_path / "m_int8.onnx")) == key(from_onnx(tmp_path / "m.onnx")) == [
        (8, 3, 8, 8, 3, 3, 2, False), (8, 1, 8, 8, 3, 3, 1, True), (16, 8, 8, 8, 1, 1, 1, False),
        (4, 16, 1, 1, 1, 1, 1, False)]
    assert [x.name for x in from_onnx(tmp_path / "m.onnx")][:2] == ["m.0", "m.1"]
    torch.onnx.export(model.eval(), (torch.zeros(1, 3, 16, 16),), str(tmp_path / "dyn.onnx"), dynamo=False,
                      input_names=["image"], dynamic_axes={"image": {0: "batch"}})  # as many export: any batch
    assert key(from_onnx(tmp_path / "dyn.onnx")) == key(from_onnx(tmp_path / "m.onnx"))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("MatMul", ["h", "y"], ["z"])], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [10, 5])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(np.zeros((32, 10), np.float32), "w")])
    onnx.save(helper.make_model(graph), tmp_path / "mm.onnx")
    assert key(from_onnx(tmp_path / "mm.onnx")) == [(10, 32, 1, 1, 1, 1, 1, False)]
    (tmp_path / "junk.onnx").write_text("not a model")
    with pytest.raises(ConfigError, match=r"model = '.*junk.onnx' is not a readable ONNX model"):
        from_onnx(tmp_path / "junk.onnx")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["z"])], "r",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph), tmp_path / "relu.onnx")
    with pytest.raises(ConfigError, match="has no Conv, Gemm or MatMul layer"):
        from_onnx(tmp_path / "relu.onnx", field="task_options.networks[0]")


GOOD = "array: [12, 14]\nrf_words: 512\nglb_bytes: 108000\n"


@pytest.mark.parametrize("text, needle", [
    ("array: 168\nrf_words: 512\nglb_bytes: 108000\n", "array = 168 is not allowed; allowed: a list of 1 to 3 PE"),
    ("array: [12.5, 14]\nrf_words: 512\nglb_bytes: 108000\n", "array = [12.5, 14] is not allowed"),
    ("array: [12, 14]\nrf_words: -3\nglb_bytes: 108000\n", "rf_words = -3 is not allowed; allowed: words per PE"),
    ("array: [12, 14]\nrf_words: {W: 224, I: 12}\nglb_bytes: 108000\n",
     "rf_words = {'W': 224, 'I': 12} is not allowed; allowed: a scratchpad's words (integer >= 1) for each of W, I, O"),
    ("array: [12, 14]\nrf_words: {W: 1, I: 1, Q: 1}\nglb_bytes: 108000\n", "rf_words tensor 'Q'; known: I, O, W"),
    ("array: [12, 14]\nrf_words: 512\nglb_bytes: big\n", "glb_bytes = 'big' is not allowed; allowed: an integer >= 1"),
    (GOOD + "costs: {dramm: 100}\n", "costs entry 'dramm'; did you mean 'dram'?"),
    (GOOD + "costs: {dram: -1}\n", "costs.dram = -1 is not allowed; allowed: a number >= 0"),
    (GOOD + "pj_scale: x\n", "pj_scale = 'x' is not allowed; allowed: a number > 0"),
    (GOOD + "noc_words_per_cycle: 0\n", "noc_words_per_cycle = 0 is not allowed"),
    (GOOD + "glb_tensors: [I, I]\n", "glb_tensors = ['I', 'I'] is not allowed"),
    (GOOD + "rf_word: 3\n", "field 'rf_word'; did you mean 'rf_words'?"),
    (GOOD + "array: [1, 2]\n", "key 'array' appears twice"),
])
def test_an_accelerator_file_is_checked_field_by_field(tmp_path, text, needle):
    """Fields went into the simulator as written: `glb_bytes: big` failed inside the first layer's energy sum,
    `array: 168` was "'int' object is not iterable", a misspelt `costs` entry was ignored, `rf_words: -3` and
    `pj_scale: x` were taken, and an rf_words mapping without O gave O a zero-word scratchpad."""
    from nasfw.hardware.eyeriss import load_accelerator

    f = tmp_path / "npu.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_accelerator(str(f))
    assert needle in str(e.value) and str(e.value).count("accelerator file npu.yaml") == 1


@pytest.mark.parametrize("name", ["eyeriss-v1", "nvdla-like", "shidiannao-like"])
def test_each_preset_written_as_a_file_reads_back_as_itself(tmp_path, name):
    import dataclasses

    import yaml

    from nasfw.hardware.eyeriss import load_accelerator

    preset = load_accelerator(name)
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(preset).items()}
    f = tmp_path / "copy.yaml"
    f.write_text(yaml.safe_dump(fields))
    assert load_accelerator(str(f)) == preset


def test_presets_and_user_accelerators(tmp_path):
    from nasfw.hardware.dataflows import dataflow
    from nasfw.hardware.eyeriss import load_accelerator

    for name, df in (("eyeriss-v1", "row-stationary"), ("nvdla-like", "weight-stationary"),
                     ("shidiannao-like", "output-stationary")):
        acc = load_accelerator(name)
        r = evaluate(REF, acc, dataflow(df, REF, acc))
        assert r["valid"], (name, r["reason"])
        assert r["cycles"] >= REF.macs / acc.n_pes
    f = tmp_path / "mine.yaml"
    f.write_text("array: [8, 16]\nrf_words: 64\nglb_bytes: 65536\ncosts: {dram: 100}\n")
    acc = load_accelerator(str(f))
    assert acc.name == "mine" and acc.n_pes == 128 and acc.costs["dram"] == 100 and acc.costs["glb"] == 6
    f.write_text("array: [8, 16]\nrf_words: 64\n")
    with pytest.raises(ConfigError, match="missing glb_bytes; e.g. array: "):
        load_accelerator(str(f))
    with pytest.raises(ConfigError, match="neither a preset"):
        load_accelerator("tpu-v9")
