"""Phone latency from lookup tables in Once-for-All's format: one YAML per input resolution, each key a layer
(`expanded_conv-input:HxWxC-output:HxWxC-expand:E-kernel:K-stride:S-idskip:I-se:S-hs:H`, `Conv-...`,
`Conv_1-...`, `AvgPool2D-...`, `Conv_2-...`, `Logits-...`), each value {count, mean (ms), std}. A network's
latency is the sum of its layers' means; a layer the table lacks is an error that names it.

`ofa_mbv3_keys` lists the layers of an OFA MobileNetV3 subnet (OFA's `{ks, e, d}` format, width 1.2: the
network family the published Note10 tables were measured for). Once-for-All's Note10 tables ship with the
package (hardware/data/ofa_note10_lut, 75 kB, MIT, its license beside them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Sequence

from nasfw.errors import ConfigError
from nasfw.option_types import Note

# OFA MobileNetV3, width 1.2: first conv, the expand-1 block, five stages, final expand and feature layers
MBV3_FIRST, MBV3_FIRST_BLOCK = 24, 24
MBV3_STAGES = ((32, 2, 0, 0), (48, 2, 1, 0), (96, 2, 0, 1), (136, 1, 1, 1), (192, 2, 1, 1))  # width, stride, se, hs
MBV3_FINAL_EXPAND, MBV3_FEATURE = 1152, 1536


class PhoneLUT:
    def __init__(self, tables: dict[int, dict[str, float]], name: str = "lut"):
        if not tables:
            raise ConfigError(f"latency table {name!r} holds no resolution")
        self.tables, self.name = tables, name

    @staticmethod
    def table_files(folder: str | Path) -> dict[int, Path]:
        """resolution -> its `<resolution>_lookup_table.yaml` in `folder`, without reading them (a check before
        any work needs only which resolutions are there)."""
        files = sorted(Path(folder).glob("*_lookup_table.yaml"))
        if not files:
            raise ConfigError(f"latency tables: no *_lookup_table.yaml in {str(folder)!r}")
        odd = [f.name for f in files if not f.name.split("_")[0].isdigit()]
        if odd:
            raise ConfigError(f"latency tables in {str(folder)!r}: {odd[0]} is not named "
                              "<resolution>_lookup_table.yaml (e.g. 160_lookup_table.yaml: the input size it was "
                              "measured at)")
        return {int(f.name.split("_")[0]): f for f in files}

    @classmethod
    def load(cls, folder: str | Path) -> "PhoneLUT":
        """Every `<resolution>_lookup_table.yaml` in `folder`."""
        from nasfw import yaml_files

        tables = {}
        for res, f in cls.table_files(folder).items():
            tables[res] = _means(yaml_files.read(f, f"latency table {f.name}"), f.name)
        return cls(tables, Path(folder).name)

    def predict(self, keys: Sequence[str], resolution: int) -> float:
        """Sum of the layers' mean latencies (ms)."""
        if resolution not in self.tables:
            raise ConfigError(f"latency table {self.name!r} has no resolution {resolution}; it has "
                              f"{sorted(self.tables)}")
        table = self.tables[resolution]
        missing = [k for k in keys if k not in table]
        if missing:
            raise ConfigError(f"latency table {self.name!r} at resolution {resolution} lacks layer {missing[0]!r}"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        return float(sum(table[k] for k in keys))


def _means(raw: object, name: str) -> dict[str, float]:
    """Each layer's mean latency (ms) of one table; a table not in Once-for-All's format (LAYER: {count, mean,
    std}) is refused with the first entry that is not, rather than as a KeyError from the first prediction."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"latency table {name}: expected a mapping of layer key to {{count, mean, std}} (Once-for-"
                          f"All's format); got {type(raw).__name__}")
    out = {}
    for key, v in raw.items():
        mean = v.get("mean") if isinstance(v, dict) else None
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not mean >= 0:
            raise ConfigError(f"latency table {name}: entry {str(key)!r} = {v!r} is not allowed; allowed: "
                              "{count: .., mean: MS, std: ..} with mean a number >= 0 (milliseconds)")
        out[str(key)] = float(mean)
    return out


def _mb(h: int, cin: int, ho: int, cout: int, mid: int, k: int, s: int, idskip: int, se: int, hs: int) -> str:
    return (f"expanded_conv-input:{h}x{h}x{cin}-output:{ho}x{ho}x{cout}-expand:{mid}-kernel:{k}-stride:{s}"
            f"-idskip:{idskip}-se:{se}-hs:{hs}")


def ofa_mbv3_keys(ks: Sequence[int], e: Sequence[int], d: Sequence[int], resolution: int) -> list[str]:
    """Layer keys of an OFA MobileNetV3 (w1.2) subnet: `ks` and `e` per block slot (4 per stage, 20), `d`
    per stage (5), as OFA's `sample_active_subnet` gives them."""
    if len(ks) != 20 or len(e) != 20 or len(d) != 5:
        raise ConfigError(f"OFA MobileNetV3 subnet: ks and e need 20 values, d 5; got {len(ks)}, {len(e)}, {len(d)}")
    h = (resolution + 1) // 2
    keys = [f"Conv-input:{resolution}x{resolution}x3-output:{h}x{h}x{MBV3_FIRST}",
            _mb(h, MBV3_FIRST, h, MBV3_FIRST_BLOCK, MBV3_FIRST_BLOCK, 3, 1, 1, 0, 0)]
    cin = MBV3_FIRST_BLOCK
    for stage, (width, stride, se, hs) in enumerate(MBV3_STAGES):
        for b in range(d[stage]):
            slot = 4 * stage + b
            s = stride if b == 0 else 1
            ho = (h + s - 1) // s
            keys.append(_mb(h, cin, ho, width, cin * e[slot], ks[slot], s, int(s == 1 and cin == width), se, hs))
            cin, h = width, ho
    keys += [f"Conv_1-input:{h}x{h}x{cin}-output:{h}x{h}x{MBV3_FINAL_EXPAND}",
             f"AvgPool2D-input:{h}x{h}x{MBV3_FINAL_EXPAND}-output:1x1x{MBV3_FINAL_EXPAND}",
             f"Conv_2-input:1x1x{MBV3_FINAL_EXPAND}-output:1x1x{MBV3_FEATURE}",
             f"Logits-input:1x1x{MBV3_FEATURE}-output:1000"]
    return keys


def config_keys(config: dict) -> list[str]:
    """Layer keys, in the same format, of an OFA/ProxylessNAS/MCUNet JSON net config (MBConv blocks without SE
    or h-swish): what `nasfw lut build` measures for such a space and what predicts its networks."""
    try:
        r = int(config["resolution"])
        fc = config["first_conv"]
        h = (r - 1) // fc["stride"] + 1
        keys = [f"Conv-input:{r}x{r}x{fc['in_channels']}-output:{h}x{h}x{fc['out_channels']}"]
        c = fc["out_channels"]
        for b in config["blocks"]:
            m = b["mobile_inverted_conv"]
            if m.get("name") == "ZeroLayer":
                continue
            cin, cout, k, st = m["in_channels"], m["out_channels"], m["kernel_size"], m["stride"]
            mid = m.get("mid_channels") or int(round(cin * m["expand_ratio"]))
            ho = (h - 1) // st + 1
            keys.append(_mb(h, cin, ho, cout, mid, k, st, int(b.get("shortcut") is not None), 0, 0))
            h, c = ho, cout
        fm = config.get("feature_mix_layer")
        if fm:
            keys.append(f"Conv_1-input:{h}x{h}x{c}-output:{h}x{h}x{fm['out_channels']}")
            c = fm["out_channels"]
        keys += [f"AvgPool2D-input:{h}x{h}x{c}-output:1x1x{c}",
                 f"Logits-input:1x1x{c}-output:{config['classifier']['out_features']}"]
    except (KeyError, TypeError) as e:
        raise ConfigError(f"not a JSON net config (first_conv, blocks, classifier, resolution): missing {e}") from None
    return keys


DEFAULT_TABLES = Path(__file__).with_name("data") / "ofa_note10_lut"
TablesFolder = Annotated[str, Note("a folder of latency tables in Once-for-All's format (null: its Samsung Note10 "
                                   "tables, shipped)")]


class Note10Latency:
    """Cost model: latency (ms) of an OFA MobileNetV3 subnet `{ks, e, d, r}` on a Samsung Note10, from the
    shipped tables or a folder of tables in the same format (`tables`)."""

    cheap = True

    def __init__(self, tables: TablesFolder | None = None):
        self.lut = PhoneLUT.load(tables or DEFAULT_TABLES)

    def evaluate(self, arch: dict) -> dict[str, float]:
        try:
            ks, e, d = arch["ks"], arch["e"], arch["d"]
            r = int(arch.get("r", arch.get("resolution", 224)))
        except (KeyError, TypeError):
            raise ConfigError("note10 latency: the arch must be an OFA MobileNetV3 subnet {ks: [20], e: [20], "
                              "d: [5], r: resolution}") from None
        return {"latency_ms": self.lut.predict(ofa_mbv3_keys(ks, e, d, r), r)}
