"""TinyNAS stage 2: the MBConv space as whole networks, supernet training schedules, the task (inherited weights
after BN recalibration), the MobileNetV2 baseline, the data loaders, and a whole campaign on digits."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nasfw.errors import ConfigError


def test_space_with_width_and_resolution_describes_whole_networks():
    from nasfw.plugins.tinynas import MCUArchCost
    from nasfw.search_spaces.mbconv import mbconv_space, to_config

    space = mbconv_space(width_mult=0.25, resolutions=[48, 64])
    arch = space.sample(3)
    assert arch["width"] == 0.25 and arch["resolution"] in (48, 64)
    cfg = to_config(arch, n_classes=10)
    assert cfg["resolution"] == arch["resolution"] and cfg["first_conv"]["out_channels"] == 8
    cost = MCUArchCost("stm32f401", memory="tinyengine")
    assert cost.evaluate(arch) == cost.evaluate(cfg)  # an arch and its JSON config cost the same
    with pytest.raises(ConfigError, match="resolutions"):
        mbconv_space(width_mult=0.25, resolutions=[8])
    with pytest.raises(ConfigError, match="width_mult"):
        mbconv_space(width_mult=-1, resolutions=[48])


def test_user_devices_file(tmp_path):
    from nasfw.hardware.mcu import MCUCost

    f = tmp_path / "boards.yaml"
    f.write_text("my-board: {sram_kb: 48, flash_kb: 192, code_kb: 20}\n")
    cost = MCUCost("my-board", devices=str(f))
    assert (cost.device.sram_kb, cost.device.flash_kb, cost.device.code_kb) == (48, 192, 20)
    f.write_text("bad: {sram_kb: 48}\n")
    with pytest.raises(ConfigError, match="device 'bad' in boards.yaml: missing flash_kb"):
        MCUCost("bad", devices=str(f))


@pytest.mark.parametrize("board, needle", [
    ("{sram_kb: big, flash_kb: 1024}", "sram_kb = 'big' is not allowed; allowed: a number (kB) > 0"),
    ("{sram_kb: -5, flash_kb: 1024}", "sram_kb = -5 is not allowed"),
    ("{sram_kb: 320, flash_kb: 1024, code_kb: 2000}",
     "code_kb = 2000 leaves none of flash_kb = 1024 for the weights; allowed: code_kb < flash_kb"),
    ("{sram_kb: 320, flash_kb: 1024, descr: x}", "unknown field 'descr'; did you mean 'description'?"),
    ("5", "5 is not allowed; allowed: a mapping {sram_kb: .., flash_kb: .., code_kb: .., description: ..}"),
])
def test_a_users_board_is_checked_field_by_field(tmp_path, board, needle):
    """`sram_kb: big` was refused as a bad constraint of the campaign, `sram_kb: -5` made every network
    infeasible without a word, and code_kb above flash_kb left the weights no Flash."""
    from nasfw.hardware.mcu import load_devices

    f = tmp_path / "boards.yaml"
    f.write_text(f"my-board: {board}\n")
    with pytest.raises(ConfigError) as e:
        load_devices(f)
    assert str(e.value).startswith("device 'my-board' in boards.yaml: ") and needle in str(e.value)


def test_progressive_shrinking_trains_the_largest_first_then_widens():
    from nasfw.plugins.tinynas.task import TinyNASTask
    from nasfw.supernet.sampling import make_sampler

    task = TinyNASTask(dataset="digits", width_mult=0.25, resolutions=[32, 40])
    opts = task.sampling_options("progressive", epochs=8, largest_epochs=2, n_subnets=4)
    sampler = make_sampler("progressive", task.space, seed=0, **opts)
    largest = {k: v for k, v in task.supernet.largest().items() if k != "resolution"}
    first = sampler.subnets(0.1)
    assert all({k: v for k, v in a.items() if k != "resolution"} == largest for a in first)
    kernels = sampler.subnets(0.3)  # elastic kernel only: depth and expand still the largest
    assert all(a["s0.depth"] == 4 and a["s1.b2.e"] == 6 for a in kernels)
    late = [a for _ in range(20) for a in sampler.subnets(0.95)]
    assert len({a["s0.depth"] for a in late}) > 1 and len({a["s1.b0.e"] for a in late}) > 1
    assert len(sampler.subnets(0.95)) == 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nasfw.plugins.tinynas.task import TinyNASTask

    task = TinyNASTask(dataset="digits", width_mult=0.25, resolutions=[32], n_valid=300, n_test=300,
                       device="stm32f401", bn_batches=2)
    run = tmp_path_factory.mktemp("tinynas")
    task.train_supernet(run, epochs=5, lr=1e-2, sampling="uniform", largest_epochs=1, batch_size=32,
                        progress=False)
    return task, run


def test_inherited_subnets_learn_and_recalibrate_their_own_batch_norm(trained):
    task, run = trained
    largest = task.supernet.largest()
    before = {k: v.clone() for k, v in task.supernet.state_dict().items()}
    m = task.evaluate(largest)
    assert m["accuracy"] > 50  # ten classes: chance is 10%
    assert task.evaluate(largest) == m  # deterministic
    small = task.evaluate(task.supernet.smallest())
    assert small["accuracy"] > 20
    after = task.supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # scoring never touches the supernet
    other = type(task)(dataset="digits", width_mult=0.25, resolutions=[32], n_valid=300, n_test=300, bn_batches=2)
    other.load_supernet(run)
    assert other.evaluate(largest) == m


def test_finalize_fine_tunes_exports_and_compares_with_mobilenetv2(trained, tmp_path):
    import onnx

    task, _ = trained
    arch = task.supernet.smallest()
    report = task.finalize(arch, tmp_path, finetune_epochs=1, scratch_epochs=1, progress=False)
    names = [(r["network"], r["training"]) for r in report["rows"]]
    assert names[0] == ("searched", "inherited (BN recalibrated)")
    assert any(n.startswith("MobileNetV2-w") for n, _ in names)
    base = [r for r in report["rows"] if r["network"].startswith("MobileNetV2")][0]
    assert base["fits"] and base["peak_sram_kb"] <= 64 and base["flash_kb"] <= 256
    assert report["best"]["onnx_max_abs_diff"] < 1e-3
    onnx.checker.check_model(str(tmp_path / "tinynas" / "searched.onnx"))
    cfg = json.loads((tmp_path / "tinynas" / "searched.net.json").read_text())
    assert cfg == task.config(arch)
    assert "| searched |" in (tmp_path / "tinynas" / "tinynas.md").read_text()
    # the int8 network the memory figures describe: its accuracy, and its parameters byte for byte as Flash charges
    fine = report["rows"][1]
    q8 = [r for r in report["rows"] if r["training"].endswith(", int8")]
    assert [(r["network"], r["training"]) for r in q8][0] == ("searched", "fine-tuned 1 epoch, int8")
    assert len(q8) == 2 and q8[1]["network"] == base["network"]
    assert abs(q8[0]["test_accuracy"] - fine["test_accuracy"]) < 5 and q8[0]["flash_kb"] == fine["flash_kb"]
    q = report["best"]["int8"]
    assert q["bytes"] == q["flash_model_parameter_bytes"] and q["int8_weights"] > 10 * q["int32_biases"] > 0
    graph = onnx.load(str(tmp_path / "tinynas" / "searched_int8.onnx"))
    onnx.checker.check_model(graph)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.graph.node}
    assert "int8 (searched_int8.onnx" in (tmp_path / "tinynas" / "tinynas.md").read_text()
    files = task.export(arch, tmp_path / "export", "onnx-int8")
    assert [f.name for f in files] == ["best.onnx", "best_int8.onnx"]


@pytest.mark.slow  # end to end: with the slow tests, to keep the fast suite short
def test_interrupted_finalize_resumes_without_training_again(trained, tmp_path, monkeypatch):
    """Each trained network is kept as it finishes: a finalize stopped in its second training, run again, trains
    only the two it had not finished and reports exactly the rows of an uninterrupted finalize."""
    from nasfw.plugins.tinynas import finalize as tf

    task, _ = trained
    arch = task.supernet.smallest()
    whole = task.finalize(arch, tmp_path / "whole", finetune_epochs=1, scratch_epochs=1, progress=False)
    real, calls = tf.train_model, []

    def stopping(*args, **kw):
        calls.append(kw["desc"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)
    monkeypatch.setattr(tf, "train_model", stopping)
    with pytest.raises(KeyboardInterrupt):
        task.finalize(arch, tmp_path / "run", finetune_epochs=1, scratch_epochs=1, progress=False)
    assert calls == ["fine-tune", "searched, scratch"]
    calls.clear()
    monkeypatch.setattr(tf, "train_model", lambda *a, **kw: calls.append(kw["desc"]) or real(*a, **kw))
    again = task.finalize(arch, tmp_path / "run", finetune_epochs=1, scratch_epochs=1, progress=False)
    assert calls == ["searched, scratch", "MobileNetV2, scratch"]
    assert again["rows"] == whole["rows"]
    calls.clear()
    task.finalize(arch, tmp_path / "run", finetune_epochs=1, scratch_epochs=1, progress=False)
    assert calls == []
    task.finalize(arch, tmp_path / "run", finetune_epochs=2, scratch_epochs=1, progress=False)
    assert calls == ["fine-tune"]  # another option: only what depends on it is trained again


def test_fit_mobilenetv2_is_the_largest_that_fits():
    from nasfw.hardware.mcu import MCUCost
    from nasfw.plugins.tinynas.finalize import fit_mobilenetv2
    from nasfw.search_spaces.mbconv import mobilenetv2_config

    cost = MCUCost("stm32f401", memory="tinyengine")
    fit = fit_mobilenetv2(cost, [48, 64], 10)
    assert fit["metrics"]["sram_fits"] and fit["metrics"]["flash_fits"]
    w = fit["width"]
    bigger = cost.evaluate(mobilenetv2_config(round(w + 0.05, 2), fit["config"]["resolution"], 10, scale_last=True))
    assert not (bigger["sram_fits"] and bigger["flash_fits"])
    assert fit_mobilenetv2(MCUCost("stm32f401", sram_kb=2), [64], 10) is None


def test_data_loaders(tmp_path):
    from PIL import Image

    from nasfw.plugins.tinynas.data import class_count, image_count, load_images

    x = np.random.default_rng(0).integers(0, 255, size=(40, 12, 12, 3)).astype(np.uint8)  # channels last
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 4)
    d = load_images(str(tmp_path / "d.npz"), resolution=16, n_valid=5, n_test=5)
    assert d.train.x.shape == (30, 3, 16, 16) and d.n_classes == 4
    for c in ("cat", "dog"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(x[i]).save(tmp_path / "imgs" / c / f"{i}.png")
    d = load_images(str(tmp_path / "imgs"), resolution=20, n_valid=2, n_test=2)
    assert d.train.x.shape == (8, 3, 20, 20) and d.n_classes == 2
    (tmp_path / "imgs" / "empty").mkdir()  # a folder without images is no class
    for source in ("mnist", "digits", str(tmp_path / "d.npz"), str(tmp_path / "imgs")):
        loaded = load_images(source, 16, n_valid=2, n_test=2)
        assert class_count(source) == loaded.n_classes, source
        assert image_count(source) == len(loaded.train) + len(loaded.valid) + len(loaded.test), source
    assert abs(float(d.train.x.mean())) < 1e-3
    with pytest.raises(ConfigError, match="n_valid"):
        load_images("digits", 16, n_valid=2000, n_test=1)
    with pytest.raises(ConfigError, match="allowed: 'mnist', 'digits'"):
        load_images("no-such-dataset", 16)
    (tmp_path / "imgs" / "dog" / "broken.png").write_text("not a png")  # PIL's traceback before
    with pytest.raises(ConfigError, match=r"cannot read the image '.*broken.png' \(UnidentifiedImageError"):
        load_images(str(tmp_path / "imgs"), resolution=20, n_valid=2, n_test=2)


def test_an_image_folder_of_photos_is_held_at_the_search_resolution(tmp_path):
    """Photos of any size and shape (a grey one among them) come out at the resolution, their colours kept, and
    are never held at full size: 300 photos of 1280x960 took 12.9 GB of memory (each decoded to floats at full
    size, stacked, then resized), which a folder of a few thousand would not survive."""
    import tracemalloc

    from PIL import Image

    from nasfw.plugins.tinynas.data import load_images

    colours = {"red": (200, 30, 30), "blue": (30, 30, 200)}
    sizes = [(1280, 960), (960, 1280), (1024, 1024), (1280, 720)]
    for c, rgb in colours.items():
        (tmp_path / c).mkdir()
        for i in range(8):
            img = Image.new("RGB", sizes[i % 4], rgb)
            (img.convert("L") if i == 5 else img).save(tmp_path / c / f"{i}.jpg", quality=95)
    tracemalloc.start()
    try:
        d = load_images(str(tmp_path), resolution=32, n_valid=2, n_test=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert d.train.x.shape == (12, 3, 32, 32) and d.n_classes == 2
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB traced while loading 16 photos"  # 16 at full size: 236 MB
    x = torch.cat([d.train.x, d.valid.x, d.test.x]).mean(dim=(2, 3))  # normalised: red and blue lie apart
    y = torch.cat([d.train.y, d.valid.y, d.test.y])
    colourful = [i for i in range(len(y)) if abs(float(x[i, 0] - x[i, 2])) > 0.5]  # a grey photo: red = blue
    assert len(colourful) == 14
    assert all((x[i, 0] > x[i, 2]) == (int(y[i]) == 1) for i in colourful)  # classes sorted: blue 0, red 1


def test_the_default_campaign_splits_any_dataset_and_a_split_too_large_is_refused_before_the_run(run_cli, tmp_path):
    """The default campaign fixed n_valid and n_test at 1,000 (a fifth of MNIST's 5,000 each), so
    `--set task_options.dataset=digits` (1,797 images) or a folder of a few hundred photos failed when the
    supernet began to train, its run folder already written. Left out they are a fifth of any dataset's images;
    given and too large, the campaign is refused before any work."""
    from nasfw.api import resolve_campaign
    from nasfw.registry import get_registry
    from nasfw.runner import build

    task = build(resolve_campaign(get_registry(), "tinynas", sets=["task_options.dataset=digits"]), get_registry()).task
    assert (len(task.data.valid), len(task.data.test)) == (1797 // 5, 1797 // 5)  # the data as the search reads it
    p = run_cli("search", "--plugin", "tinynas", "--set", "task_options.dataset=digits", "--set",
                "task_options.n_valid=1000", "--set", "task_options.n_test=1000", "--out", tmp_path / "run")
    assert p.returncode == 2, p.stdout + p.stderr
    assert ("task_options.n_valid = 1000, n_test = 1000: need both >= 1 and together at most 1795 of the 1797 "
            "images of task_options.dataset = 'digits', which leaves 2 for training (batch norm trains on no fewer); "
            "one left out is a fifth of the images, at most 1,000") in p.stderr
    assert not (tmp_path / "run").exists()


def test_ofa_evolution_breeds_a_whole_population_on_top_of_the_parents():
    from nasfw.searchers.base import OK, Result
    from nasfw.searchers.evolution import OFAEvolution
    from nasfw.search_spaces.mbconv import mbconv_space

    s = OFAEvolution(mbconv_space(), population_size=10, parent_ratio=0.2, n_children=10)
    first = [s.ask() for _ in range(10)]
    for i, a in enumerate(first):
        s.tell(a, Result(OK, {"accuracy": float(i)}))
    assert len(s.population) == 2 and len(s._children()) == 10
    with pytest.raises(ConfigError, match="n_children"):
        OFAEvolution(mbconv_space(), n_children=-1)


def test_scoring_builds_no_autograd_graph():
    """Validation and test scoring run under torch.no_grad (a graph per batch of 500 costs memory and time)."""
    from nasfw.plugins.tinynas.data import Split
    from nasfw.plugins.tinynas.task import score

    seen = []
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    net.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    split = Split(torch.randn(10, 3, 8, 8), torch.randint(0, 4, (10,)))
    loss, acc = score(net, split, 8, batch_size=4)
    assert seen == [False, False, False] and np.isfinite(loss) and 0 <= acc <= 100
