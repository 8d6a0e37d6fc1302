"""Microcontroller cost model against the figures MCUNet and TinyEngine publish for their released configs,
and MobileNetV2 against torchvision's reference table."""
import csv
import json

import pytest

from nasfw.errors import ConfigError
from nasfw.hardware.mcu import MCUCost, layer_table, params, peak_sram_bytes
from nasfw.search_spaces.mbconv import mobilenetv2_config

# per-layer peak SRAM (MCUNet README), TinyEngine SRAM and Flash (TinyEngine README), kB
PUBLISHED = {"mbv2-w0.35-r144": (303, 295, 839), "mcunet-320kb-1mb": (333, 260, 835),
             "proxyless-w0.3-r176": (242, 259, 842)}


def config(shared_data, name):
    return json.loads((shared_data / "mcunet_configs" / f"{name}_imagenet.json").read_text())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_released_configs_match_the_published_memory(shared_data, name):
    sram, te_sram, flash = PUBLISHED[name]
    m = MCUCost("stm32f746").evaluate(config(shared_data, name))
    assert abs(m["peak_sram_kb"] - sram) <= 1
    assert abs(m["flash_kb"] - flash) <= 3
    te = MCUCost("stm32f746", memory="tinyengine").evaluate(config(shared_data, name))
    assert abs(te["peak_sram_kb"] - te_sram) <= 1 and te["flash_kb"] == m["flash_kb"]
    assert MCUCost("stm32f746", memory="in-place-depthwise").evaluate(config(shared_data, name))["peak_sram_kb"] \
        <= m["peak_sram_kb"]


def test_mobilenetv2_macs_params_and_in_place_sram_are_exact(shared_data):
    t = layer_table(mobilenetv2_config(1.0, 224))
    with open(shared_data / "reference" / "torchvision_0.29.1_weights_meta.csv") as f:
        row = next(r for r in csv.DictReader(f) if "mobilenetv2" in r["file"])
    assert params(t) == int(row["num_params"])
    assert round(t.macs.sum() / 1e9, 3) == float(row["gflops_ops"])
    assert peak_sram_bytes(t, "in-place-depthwise") / 1024 == 1372


def test_mobilenetv2_matches_a_torch_count():
    import torch
    from torch import nn

    cfg = mobilenetv2_config(0.35, 144)
    layers = []
    fc = cfg["first_conv"]
    layers += [nn.Conv2d(3, fc["out_channels"], 3, 2, 1, bias=False), nn.BatchNorm2d(fc["out_channels"])]
    for b in cfg["blocks"]:
        m = b["mobile_inverted_conv"]
        mid = m["in_channels"] * m["expand_ratio"]
        if m["expand_ratio"] != 1:
            layers += [nn.Conv2d(m["in_channels"], mid, 1, bias=False), nn.BatchNorm2d(mid)]
        layers += [nn.Conv2d(mid, mid, 3, m["stride"], 1, groups=mid, bias=False), nn.BatchNorm2d(mid),
                   nn.Conv2d(mid, m["out_channels"], 1, bias=False), nn.BatchNorm2d(m["out_channels"])]
    fm = cfg["feature_mix_layer"]
    layers += [nn.Conv2d(fm["in_channels"], fm["out_channels"], 1, bias=False), nn.BatchNorm2d(fm["out_channels"]),
               nn.Flatten(), nn.Linear(fm["out_channels"], 1000)]
    n_torch = sum(p.numel() for p in nn.Sequential(*layers).parameters())
    assert params(layer_table(cfg)) == n_torch
    del torch


def test_cli_cost_and_clear_errors(shared_data, run_cli):
    path = shared_data / "mcunet_configs" / "mbv2-w0.35-r144_imagenet.json"
    r = run_cli("cost", "--hardware", "stm32f412", "--model", path, "--option", "memory=in-place-depthwise", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)["metrics"]
    assert m["peak_sram_kb"] < 303 and m["macs_m"] == pytest.approx(23.5, abs=0.05)
    r = run_cli("cost", "--hardware", "stm32f412", "--model", path, "--option", "memory=tinyengin")
    assert r.returncode == 2 and "memory" in r.stderr
    with pytest.raises(ConfigError, match="first_conv"):
        layer_table({"blocks": []})


def test_the_space_reproduces_a_released_mcunet_config(shared_data):
    from nasfw.search_spaces.mbconv import mbconv_space, to_config

    ref = config(shared_data, "mcunet-320kb-1mb")
    arch = {}
    blocks = [b["mobile_inverted_conv"] for b in ref["blocks"][1:]]
    depths = [4, 3, 3, 3, 3, 1]
    i = 0
    for s, d in enumerate(depths):
        arch[f"s{s}.depth"] = d
        for b in range(d):
            arch[f"s{s}.b{b}.k"], arch[f"s{s}.b{b}.e"] = blocks[i]["kernel_size"], blocks[i]["expand_ratio"]
            i += 1
    mbconv_space().validate(arch)
    mine = to_config(arch, width_mult=0.5, resolution=176)
    key = lambda c: [(b["mobile_inverted_conv"]["in_channels"], b["mobile_inverted_conv"]["out_channels"],  # noqa
                      b["mobile_inverted_conv"]["kernel_size"], b["mobile_inverted_conv"]["stride"],
                      b["mobile_inverted_conv"]["expand_ratio"], b["shortcut"] is not None) for b in c["blocks"]]
    assert key(mine) == key(ref)
    cost = MCUCost("stm32f746")
    assert cost.evaluate(mine) == cost.evaluate(ref)


def test_fast_summary_equals_the_table_reductions():
    from nasfw.hardware.mcu import flash_bytes, layer_rows
    from nasfw.search_spaces.mbconv import mbconv_space, to_config

    space = mbconv_space()
    for i in range(20):
        cfg = to_config(space.sample(i), 0.5, 160)
        t = layer_table(cfg)
        for mode in ("per-layer", "in-place-depthwise"):
            m = MCUCost("stm32f746", memory=mode, code_kb=0).evaluate(cfg)
            assert m["peak_sram_kb"] * 1024 == peak_sram_bytes(t, mode)
            assert m["flash_kb"] * 1024 == flash_bytes(t)
            assert m["macs_m"] * 1e6 == pytest.approx(t.macs.sum()) and m["params_m"] * 1e6 == pytest.approx(params(t))
        assert len(layer_rows(cfg)) == len(t.kind)


def test_torch_model_and_onnx_from_a_config(shared_data, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from nasfw.search_spaces.mbconv import build_model, export_onnx

    cfg = config(shared_data, "proxyless-w0.3-r176")  # has ZeroLayer blocks and a feature-mix layer
    model = build_model(cfg).eval()
    assert sum(p.numel() for p in model.parameters()) == params(layer_table(cfg))
    x = torch.randn(1, 3, 176, 176)
    path = export_onnx(cfg, tmp_path / "net.onnx", model)
    out = ort.InferenceSession(str(path)).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    assert out.shape == (1, 1000) and np.abs(out - ref).max() < 1e-3


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_an_onnx_model_costs_as_its_net_config(shared_data, tmp_path, name):
    """`nasfw cost --model net.onnx` failed on a model of one's own ("'PosixPath' object is not subscriptable"):
    only OFA/MCUNet JSON configs were read. The graph read from ONNX gives the same layer rows and TinyEngine ops
    as the config, hence the same figures in every memory mode: for MCUNet's released models (the published
    ones above), their int8 (QDQ) graphs, and random MBConv networks of the search space."""
    import numpy as np

    from nasfw.hardware.mcu import layer_rows, tinyengine_ops
    from nasfw.hardware.mcu_onnx import read_onnx
    from nasfw.plugins.tinynas.int8 import quantize_int8
    from nasfw.search_spaces.mbconv import export_onnx, mbconv_space, to_config

    cfg = config(shared_data, name)
    configs = [(name, cfg)]
    space = mbconv_space()
    rng = np.random.default_rng(sorted(PUBLISHED).index(name))
    configs += [(f"random{i}", to_config(space.sample(rng), width_mult=0.35, resolution=64, n_classes=10))
                for i in range(2)]
    for label, c in configs:
        path = export_onnx(c, tmp_path / f"{label}.onnx")
        rows, ops = read_onnx(path)
        assert rows == layer_rows(c) and ops == tinyengine_ops(c), label
        for memory in ("per-layer", "in-place-depthwise", "tinyengine"):
            cost = MCUCost("stm32f746", memory=memory)
            assert cost.evaluate(path) == cost.evaluate(c), (label, memory)
    small = configs[1][1]
    fp32 = export_onnx(small, tmp_path / "small.onnx")
    int8 = quantize_int8(fp32, tmp_path / "small_int8.onnx",
                         np.random.default_rng(0).random((4, 3, 64, 64)).astype(np.float32))
    assert read_onnx(int8) == read_onnx(fp32)
    import torch

    from nasfw.search_spaces.mbconv import build_model

    torch.onnx.export(build_model(small).eval(), (torch.zeros(1, 3, 64, 64),), str(tmp_path / "dyn.onnx"),
                      dynamo=False, input_names=["image"], dynamic_axes={"image": {0: "batch"}})  # any batch
    assert read_onnx(tmp_path / "dyn.onnx") == read_onnx(fp32)


def test_an_onnx_model_on_the_command_line_and_what_it_cannot_be(shared_data, run_cli, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from nasfw.search_spaces.mbconv import export_onnx

    cfg = config(shared_data, "mcunet-320kb-1mb")
    export_onnx(cfg, tmp_path / "net.onnx")
    p = run_cli("cost", "--hardware", "stm32f746", "--model", tmp_path / "net.onnx", "--option", "memory=tinyengine",
                "--json")
    assert p.returncode == 0, p.stderr
    assert round(json.loads(p.stdout)["metrics"]["peak_sram_kb"]) == PUBLISHED["mcunet-320kb-1mb"][1]
    p = run_cli("cost", "--hardware", "stm32f746", "--model", tmp_path / "net.onnx", "--option", "resolution=96")
    assert p.returncode == 2 and "option resolution = 96 with an ONNX model" in p.stderr
    (tmp_path / "net.txt").write_text("x")
    p = run_cli("cost", "--hardware", "stm32f746", "--model", tmp_path / "net.txt")
    assert p.returncode == 2 and "reads an OFA/MCUNet JSON net config or an .onnx model" in p.stderr
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 16])],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)])
    onnx.save(helper.make_model(graph), tmp_path / "wide.onnx")
    p = run_cli("cost", "--hardware", "stm32f746", "--model", tmp_path / "wide.onnx")
    assert p.returncode == 2 and "square (N, C, H, H) maps" in p.stderr
