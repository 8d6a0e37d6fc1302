"""YAML the user writes: a key written twice is refused where it stands; everything else reads as safe_load reads."""
from pathlib import Path

import pytest
import yaml

from nasfw import yaml_files
from nasfw.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, needle", [
    ("plugin: nasbench201\nbudget: {evaluations: 10}\nbudget: {evaluations: 20}\n",
     "at line 3, column 1: key 'budget' appears twice (first at line 2)"),
    ("task_options:\n  seed: 1\n  dataset: cifar10\n  seed: 2\n", "at line 4, column 3: key 'seed' appears twice"),
    ("{1: a, 1.0: b}", "key 1.0 appears twice"),
])
def test_a_key_written_twice_is_refused_where_it_stands(text, needle):
    """PyYAML kept the last of the two without a word: a campaign with two `budget:` ran on the second."""
    with pytest.raises(yaml.YAMLError) as e:
        yaml_files.load(text)
    assert needle in yaml_files.problem(e.value)


def test_merge_keys_may_be_overridden_and_equal_keys_in_other_mappings_are_fine():
    text = "base: &b {lr: 0.1, epochs: 3}\nfast:\n  <<: *b\n  epochs: 1\nlist: [{a: 1}, {a: 2}]\n"
    assert yaml_files.load(text) == yaml.safe_load(text) == {
        "base": {"lr": 0.1, "epochs": 3}, "fast": {"lr": 0.1, "epochs": 1}, "list": [{"a": 1}, {"a": 2}]}


def test_every_shipped_yaml_reads_as_safe_load_reads_it():
    files = sorted((ROOT / "experiments").glob("*.yaml")) + sorted((ROOT / "hardware" / "data").glob("*.yaml"))
    assert len(files) > 10
    for f in files:
        assert yaml_files.load(f.read_text()) == yaml.safe_load(f.read_text()), f.name


def test_the_cli_names_the_repeated_key_of_a_campaign_file(cli_in_process, tmp_path):
    (tmp_path / "c.yaml").write_text("plugin: nasbench201\nseed: 1\nseed: 2\n")
    p = cli_in_process("search", "--config", "c.yaml", "--dry-run")
    assert p.returncode == 2
    assert "campaign file c.yaml is not valid YAML at line 3, column 1: key 'seed' appears twice (first at line 2)" \
        in p.stderr


def test_a_boards_file_that_is_not_yaml_is_one_line(tmp_path):
    """A user's MCU boards file was read by yaml.safe_load bare: a syntax error was a traceback."""
    from nasfw.hardware.mcu import load_devices

    bad = tmp_path / "boards.yaml"
    bad.write_text("myboard: {sram_kb: 320\n")
    with pytest.raises(ConfigError, match=r"^task_options.devices = '.*boards.yaml' is not valid YAML at line 2"):
        load_devices(bad, "task_options.devices")
    bad.write_text("myboard: {sram_kb: 320, flash_kb: 1024}\nmyboard: {sram_kb: 64, flash_kb: 256}\n")
    with pytest.raises(ConfigError, match="key 'myboard' appears twice"):
        load_devices(bad, "task_options.devices")
