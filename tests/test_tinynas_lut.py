"""`nasfw lut build`: every layer of the MBConv space timed with onnxruntime into OFA-format tables that
predict whole networks; the layer keys of a JSON net config."""
from __future__ import annotations

import json

import pytest
import yaml

from nasfw.cli import main


def test_config_keys_follow_the_network():
    from nasfw.hardware.phone_lut import config_keys
    from nasfw.search_spaces.mbconv import mobilenetv2_config

    cfg = mobilenetv2_config(0.35, 96, 10, scale_last=True)
    keys = config_keys(cfg)
    assert keys[0] == "Conv-input:96x96x3-output:48x48x16"
    assert len(keys) == 1 + len(cfg["blocks"]) + 3  # first conv, blocks, feature mix, pool, logits
    assert keys[1].startswith("expanded_conv-input:48x48x16-output:48x48x8-expand:16-kernel:3-stride:1-idskip:0")
    assert keys[-3] == "Conv_1-input:3x3x112-output:3x3x448" and keys[-1] == "Logits-input:1x1x448-output:10"
    with pytest.raises(Exception, match="not a JSON net config"):
        config_keys({"blocks": []})


def test_lut_build_times_every_layer_and_checks_whole_networks(tmp_path, capsys):
    out = tmp_path / "lut"
    rc = main(["lut", "build", "--plugin", "tinynas", "--out", str(out), "--resolutions", "32", "--repeats", "5",
               "--warmup", "1", "--check", "3", "--calibrate", "2", "--no-progress"])
    assert rc == 0
    table = yaml.safe_load((out / "32_lookup_table.yaml").read_text())
    # at most 12 (kernel, expand) variants of the first and the later blocks of 5 stages, 12 of the last
    # stage's one block, the first conv + expand-1 block, the pool and the classifier (fewer where two stages
    # share channels and size: at width 0.25 stage 4's first block is stage 3's later block)
    assert 100 < len(table) <= 5 * 24 + 12 + 4
    assert all(set(v) == {"count", "mean", "std"} and v["mean"] >= 0 for v in table.values())
    check = json.loads((out / "lut_check.json").read_text())
    assert check["subnets"] == 3 and all(r["predicted_ms"] > 0 and r["measured_ms"] > 0 for r in check["rows"])
    assert "mean |error|" in capsys.readouterr().out

    from nasfw.hardware.phone_lut import PhoneLUT, config_keys
    from nasfw.search_spaces.mbconv import mbconv_space, to_config

    lut = PhoneLUT.load(out)
    for i in range(50):  # the table covers every subnet of the space at that resolution
        cfg = to_config(mbconv_space(width_mult=0.25, resolutions=[32]).sample(i), n_classes=10)
        assert lut.predict(config_keys(cfg), 32) > 0


    # the finished network's latency under the table, in the TinyNAS report
    from nasfw.plugins.tinynas.task import TinyNASTask

    task = TinyNASTask(dataset="digits", width_mult=0.25, resolutions=[32], n_valid=100, n_test=100, lut=str(out))
    arch = task.supernet.smallest()
    report = task.finalize(arch, tmp_path / "run", finetune_epochs=0, baseline=False, progress=False)
    assert report["rows"][0]["lut_latency_ms"] == pytest.approx(lut.predict(config_keys(task.config(arch)), 32))
    # tables that miss a searched resolution, or a folder without tables, are refused when the task is built: they
    # were read only in finalize, after the search and the training
    from nasfw.errors import ConfigError

    with pytest.raises(ConfigError, match=r"task_options.lut = .* has no table for resolution\(s\) \[48\]; it has "
                                          r"\[32\]"):
        TinyNASTask(dataset="digits", width_mult=0.25, resolutions=[32, 48], lut=str(out))
    with pytest.raises(ConfigError, match=r"task_options.lut = .*: latency tables: no \*_lookup_table.yaml in"):
        TinyNASTask(dataset="digits", width_mult=0.25, resolutions=[32], lut=str(tmp_path / "run"))


def test_lut_build_takes_the_campaign_field_set_on_the_command_line(tmp_path):
    """The table of the space a campaign with another width will search, without writing a campaign file."""
    from nasfw.hardware.phone_lut import PhoneLUT, config_keys
    from nasfw.search_spaces.mbconv import mbconv_space, to_config

    out = tmp_path / "lut"
    assert main(["lut", "build", "--plugin", "tinynas", "--set", "task_options.width_mult=0.5", "--out", str(out),
                 "--resolutions", "32", "--repeats", "3", "--warmup", "0", "--check", "0", "--calibrate", "0",
                 "--no-progress"]) == 0
    lut = PhoneLUT.load(out)
    for i in range(20):
        cfg = to_config(mbconv_space(width_mult=0.5, resolutions=[32]).sample(i), n_classes=10)
        assert lut.predict(config_keys(cfg), 32) > 0
    narrow = to_config(mbconv_space(width_mult=0.25, resolutions=[32]).sample(0), n_classes=10)
    from nasfw.errors import ConfigError

    with pytest.raises(ConfigError, match="lacks layer"):  # the default width's layers are not in it
        lut.predict(config_keys(narrow), 32)


def test_lut_build_errors(tmp_path, capsys):
    assert main(["lut", "build", "--plugin", "nasbench201", "--out", str(tmp_path)]) == 2
    assert "cannot build a latency lookup table" in capsys.readouterr().err
    assert main(["lut", "build", "--plugin", "tinynas", "--out", str(tmp_path), "--repeats", "1"]) == 2
    assert "nasfw lut build: --repeats 1 is not allowed; allowed: an integer >= 3" in capsys.readouterr().err
    assert main(["lut", "build", "--plugin", "tinynas", "--out", str(tmp_path), "--threads", "0"]) == 2
    assert capsys.readouterr().err == "error: nasfw lut build: --threads 0 is not allowed; allowed: an integer >= 1\n"
    # an 8x8 input was timed as a table for a network five stride-2 stages leave nothing of
    assert main(["lut", "build", "--plugin", "tinynas", "--out", str(tmp_path), "--resolutions", "8"]) == 2
    assert "--resolutions [8] is not allowed; allowed: input sizes (integers from 16 to 1024)" in \
        capsys.readouterr().err
    assert not list(tmp_path.glob("*_lookup_table.yaml"))
