"""Once-for-All's Note10 latency tables: every layer of every OFA MobileNetV3 subnet is in them, the shipped
copy equals the reference files, and a missing layer is a clear error."""
import json
import random

import pytest

from nasfw.errors import ConfigError
from nasfw.hardware.phone_lut import DEFAULT_TABLES, Note10Latency, PhoneLUT, ofa_mbv3_keys


def test_shipped_tables_equal_the_reference(shared_data):
    ours, ref = PhoneLUT.load(DEFAULT_TABLES), PhoneLUT.load(shared_data / "ofa_note10_lut")
    assert ours.tables == ref.tables and sorted(ours.tables) == [160, 176, 192, 208, 224]


def test_subnet_keys_cover_the_table_and_latency_grows_with_size():
    lut = PhoneLUT.load(DEFAULT_TABLES)
    rng = random.Random(0)
    seen = set()
    for _ in range(400):
        arch = ([rng.choice([3, 5, 7]) for _ in range(20)], [rng.choice([3, 4, 6]) for _ in range(20)],
                [rng.choice([2, 3, 4]) for _ in range(5)])
        keys = ofa_mbv3_keys(*arch, 224)
        lut.predict(keys, 224)
        seen |= set(keys)
    assert seen == set(lut.tables[224])  # the generated layers are exactly the table's layers
    big = lut.predict(ofa_mbv3_keys([7] * 20, [6] * 20, [4] * 5, 224), 224)
    small = lut.predict(ofa_mbv3_keys([3] * 20, [3] * 20, [2] * 5, 224), 224)
    assert small < big and lut.predict(ofa_mbv3_keys([7] * 20, [6] * 20, [4] * 5, 160), 160) < big


def test_missing_layers_and_resolutions_are_named():
    lut = PhoneLUT.load(DEFAULT_TABLES)
    with pytest.raises(ConfigError, match="no resolution 300"):
        lut.predict([], 300)
    with pytest.raises(ConfigError, match="lacks layer 'Conv-input:224x224x3-output:112x112x16'"):
        lut.predict(["Conv-input:224x224x3-output:112x112x16"], 224)
    with pytest.raises(ConfigError, match="20 values"):
        ofa_mbv3_keys([3] * 19, [3] * 20, [2] * 5, 224)


def test_cli_cost_note10(run_cli, tmp_path):
    arch = {"ks": [5] * 20, "e": [4] * 20, "d": [3] * 5, "r": 192}
    r = run_cli("cost", "--hardware", "note10", "--arch", json.dumps(arch), "--json")
    assert r.returncode == 0, r.stderr
    ms = json.loads(r.stdout)["metrics"]["latency_ms"]
    assert ms == pytest.approx(Note10Latency().evaluate(arch)["latency_ms"]) and 10 < ms < 100


@pytest.mark.parametrize("name, text, needle", [
    ("abc_lookup_table.yaml", "x: {mean: 1}\n", "abc_lookup_table.yaml is not named <resolution>_lookup_table.yaml"),
    ("160_lookup_table.yaml", "x: {mean: 1\n", "latency table 160_lookup_table.yaml is not valid YAML at line 2"),
    ("160_lookup_table.yaml", "x: {mea: 1}\n", "entry 'x' = {'mea': 1} is not allowed; allowed: {count: .., mean: MS"),
    ("160_lookup_table.yaml", "x: {mean: fast}\n", "entry 'x' = {'mean': 'fast'} is not allowed"),
    ("160_lookup_table.yaml", "- 1\n", "expected a mapping of layer key to {count, mean, std}"),
])
def test_a_table_not_in_ofas_format_is_one_line(tmp_path, name, text, needle):
    """A user's `tables` folder was read bare: a file not named by its resolution, a table that is not YAML, an
    entry without a mean were tracebacks (ValueError, ScannerError, KeyError) from `nasfw cost` or a campaign."""
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as e:
        PhoneLUT.load(tmp_path)
    assert needle in str(e.value)
