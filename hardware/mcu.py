"""Microcontroller cost model (MCUNet/TinyNAS): peak SRAM, Flash, MACs and parameters of an MBConv network
from its OFA/ProxylessNAS JSON net config (the format MCUNet releases its models in).

The network is turned into a table of layers (numpy arrays, one row per conv) and every figure is a
vectorised reduction over it, so a constraint check costs microseconds and no torch model is built.

Peak SRAM modes (kB = 1024 bytes; activations int8, or int4 with `bits=4`):
- `per-layer`: the largest input + output of any layer; inside a residual block the block's input stays
  alive until the addition, so it is added to every layer of the block but the first (whose input it is).
- `in-place-depthwise`: as per-layer, but a depthwise conv overwrites its input channel by channel (the
  MCUNetV2 convention): it needs max(input, output) instead of their sum.

- `tinyengine`: TinyEngine's planner. One activation buffer sized for the worst layer, where a depthwise conv
  works in place with a two-channel scratch and a layer whose output feeds a later residual addition needs
  room for its input only; plus the largest im2col buffer (16-bit, two columns of a conv; the padded plane of
  a depthwise conv) and the largest kernel buffer (16-bit weights of a k>1 conv). TinyEngine's planner code
  also reserves a separate residual buffer; its published figures (295 / 260 / 259 kB for the three released
  configs) do not include it, and neither does this mode unless `residual_buffer=True`.

Flash = weights (`bits` each) + 8 bytes per output channel (int32 bias and requantisation scale) + the
device's code-size constant.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np

from nasfw.errors import ConfigError, unknown_name
from nasfw.option_types import MAX_RESOLUTION, InputSize, NonNegativeFloat, Note, PositiveFloat, is_input_size

MemoryModel = Literal["per-layer", "in-place-depthwise", "tinyengine"]
MODES: tuple[str, ...] = get_args(MemoryModel)
Bits = Literal[8, 4]  # int8 or int4 weights and activations
BoardName = Annotated[str, Note("a board's name: stm32f401, stm32f412, stm32f746, stm32f765, stm32h743 (`nasfw "
                               "hardware --plugin tinynas`), or one of the `devices` file's")]
BoardsFile = Annotated[str, Note("a YAML file's path of boards of one's own: name: {sram_kb: ..., flash_kb: ...}")]
KIND = {"conv": 0, "pw": 1, "dw": 2, "fc": 3}


@dataclass
class LayerTable:
    kind: np.ndarray      # KIND codes
    cin: np.ndarray
    cout: np.ndarray
    k: np.ndarray
    hin: np.ndarray
    hout: np.ndarray
    keep: np.ndarray      # bytes of a residual block's input kept alive during this layer (per activation unit)

    @property
    def in_act(self) -> np.ndarray:
        return self.cin * self.hin ** 2

    @property
    def out_act(self) -> np.ndarray:
        return self.cout * self.hout ** 2

    @property
    def weights(self) -> np.ndarray:
        per_out = np.where(self.kind == KIND["dw"], self.k ** 2, self.cin * self.k ** 2)
        return per_out * self.cout

    @property
    def macs(self) -> np.ndarray:
        return self.weights * self.hout ** 2


def _conv_out(h: int, stride: int) -> int:
    return (h + stride - 1) // stride


def layer_table(config: dict, resolution: int | None = None) -> LayerTable:
    a = np.array(layer_rows(config, resolution), dtype=np.int64)
    return LayerTable(*[a[:, i] for i in range(7)])


def _walk(config: dict, resolution: int | None = None) -> list[tuple]:
    """The network once, in order, for both memory models: ("first", cin, cout, k, hin, hout), ("block", cin,
    mid, cout, k, hin, hout, expands, residual) for each MBConv block (ZeroLayer blocks skipped), ("mix", cin,
    cout, h) for the feature-mix layer if any, ("classifier", in, out, h) if any; h is the side of the map a
    layer reads."""
    try:
        r = int(resolution or config["resolution"])
        fc = config["first_conv"]
        h = _conv_out(r, fc["stride"])
        steps: list[tuple] = [("first", fc["in_channels"], fc["out_channels"], fc["kernel_size"], r, h)]
        for b in config["blocks"]:
            m = b["mobile_inverted_conv"]
            if m.get("name") == "ZeroLayer":
                continue
            cin, cout, k, s, e = (m["in_channels"], m["out_channels"], m["kernel_size"], m["stride"],
                                  m["expand_ratio"])
            mid = m.get("mid_channels") or int(round(cin * e))
            ho = _conv_out(h, s)
            steps.append(("block", cin, mid, cout, k, h, ho, e != 1, b.get("shortcut") is not None))
            h = ho
        fm = config.get("feature_mix_layer")
        if fm:
            steps.append(("mix", fm["in_channels"], fm["out_channels"], h))
        cl = config.get("classifier")
        if cl:
            steps.append(("classifier", cl["in_features"], cl["out_features"], h))
    except (KeyError, TypeError) as e:
        raise ConfigError(f"net config: missing or malformed field {e}; expected the OFA/ProxylessNAS JSON format "
                          "(first_conv, blocks[].mobile_inverted_conv, classifier, resolution)") from None
    return steps


def layer_rows(config: dict, resolution: int | None = None) -> list[tuple]:
    """(kind, cin, cout, k, hin, hout, keep) for the first conv, every MBConv block (expand 1x1, depthwise,
    project 1x1), the feature-mix layer if any, and the classifier (a 1x1 'conv' on the pooled features)."""
    rows: list[tuple] = []
    for step in _walk(config, resolution):
        if step[0] == "first":
            _, cin, cout, k, r, h = step
            rows.append((KIND["conv"], cin, cout, k, r, h, 0))
        elif step[0] == "block":
            _, cin, mid, cout, k, h, ho, expands, residual = step
            keep = cin * h * h if residual else 0
            if expands:
                rows.append((KIND["pw"], cin, mid, 1, h, h, 0))
                rows.append((KIND["dw"], mid, mid, k, h, ho, keep))
            else:
                rows.append((KIND["dw"], mid, mid, k, h, ho, 0))
            rows.append((KIND["pw"], mid, cout, 1, ho, ho, keep))
        elif step[0] == "mix":
            _, cin, cout, h = step
            rows.append((KIND["pw"], cin, cout, 1, h, h, 0))
        else:
            _, n_in, n_out, _ = step
            rows.append((KIND["fc"], n_in, n_out, 1, 1, 1, 0))
    return rows


def tinyengine_sram_bytes(config: dict, resolution: int | None = None, residual_buffer: bool = False,
                          bits: int = 8) -> int:
    """Peak SRAM under TinyEngine's buffer plan (see the module docstring)."""
    return tinyengine_peak(tinyengine_ops(config, resolution), residual_buffer, bits)


def tinyengine_ops(config: dict, resolution: int | None = None) -> list[list]:
    """[op, cin, cout, k, hin, hout, feeds_residual] for every op TinyEngine runs: conv, dw, add, pool, fc;
    feeds_residual marks an op whose output is a residual block's input, kept until the block's addition."""
    ops: list[list] = []
    steps = _walk(config, resolution)
    if steps[-1][0] != "classifier":
        raise ConfigError("net config: missing or malformed field 'classifier'")
    for step in steps:
        if step[0] == "first":
            _, cin, cout, k, r, h = step
            ops.append(["conv", cin, cout, k, r, h, False])
        elif step[0] == "block":
            _, cin, mid, cout, k, h, ho, expands, residual = step
            if residual:
                ops[-1][6] = True  # the block's input is kept for the addition
            if expands:
                ops.append(["conv", cin, mid, 1, h, h, False])
            ops += [["dw", mid, mid, k, h, ho, False], ["conv", mid, cout, 1, ho, ho, False]]
            if residual:
                ops.append(["add", cout, cout, 1, ho, ho, False])
        elif step[0] == "mix":
            _, cin, cout, h = step
            ops.append(["conv", cin, cout, 1, h, h, False])
        else:
            _, n_in, n_out, h = step
            ops.append(["pool", n_in, n_in, h, h, 1, False])
            ops.append(["fc", n_in, n_out, 1, 1, 1, False])
    return ops


def tinyengine_peak(ops: list[list], residual_buffer: bool = False, bits: int = 8) -> int:
    act = res = im2col = kernel = 0
    for op, cin, cout, k, hin, hout, feeds_residual in ops:
        a_in, a_out = cin * hin * hin, cout * hout * hout
        if op == "dw":
            a_out = 2 * hin * hin  # in place: two channels of scratch
            im2col = max(im2col, 2 * (hin + 2 * (k // 2)) ** 2)
        elif op == "conv":
            im2col = max(im2col, 4 * k * k * cin)
            if k > 1:
                kernel = max(kernel, 2 * k * k * cin * cout)
        elif op == "add":
            res = max(res, a_in)
        act = max(act, a_in if feeds_residual else a_in + a_out)
    acts = act + (res if residual_buffer else 0)
    return -(-acts * bits // 8) + im2col + kernel  # the im2col and kernel buffers are 16-bit either way


def summary(rows: list[tuple], mode: str = "per-layer", bits: int = 8) -> tuple[int, int, int, int]:
    """(peak SRAM bytes, weight count, output channels, MACs) in one pass of plain Python: for the ~60 rows of
    a network this is several times faster than numpy's per-call overhead, which is what lets a search filter
    tens of thousands of candidates a second. Equal to the LayerTable reductions (tested)."""
    dw, inplace = KIND["dw"], mode == "in-place-depthwise"
    peak = weights = chans = macs = 0
    for kind, cin, cout, k, hin, hout, keep in rows:
        a_in, a_out = cin * hin * hin, cout * hout * hout
        need = (max(a_in, a_out) if inplace and kind == dw else a_in + a_out) + keep
        if need > peak:
            peak = need
        w = (k * k if kind == dw else cin * k * k) * cout
        weights += w
        chans += cout
        macs += w * hout * hout
    return -(-peak * bits // 8), weights, chans, macs


def peak_sram_bytes(t: LayerTable, mode: str = "per-layer", bits: int = 8) -> int:
    if mode not in MODES[:2]:
        raise ConfigError(unknown_name("memory mode of a layer table", mode, MODES[:2]))
    act_in, act_out = t.in_act, t.out_act
    if mode == "in-place-depthwise":
        need = np.where(t.kind == KIND["dw"], np.maximum(act_in, act_out), act_in + act_out) + t.keep
    else:
        need = act_in + act_out + t.keep
    return int(np.ceil(need.max() * bits / 8))


def flash_bytes(t: LayerTable, code_kb: float = 0.0, bits: int = 8) -> int:
    return int(np.ceil(t.weights.sum() * bits / 8) + 8 * t.cout.sum() + code_kb * 1024)


def params(t: LayerTable) -> int:
    """Parameters of the torch model: weights, two batch-norm parameters per conv output channel, and the
    classifier's bias (what torchvision's tables count)."""
    fc = t.kind == KIND["fc"]
    return int(t.weights.sum() + 2 * t.cout[~fc].sum() + t.cout[fc].sum())


@dataclass(frozen=True)
class Device:
    name: str
    sram_kb: float
    flash_kb: float
    code_kb: float = 0.0
    description: str = ""


BUILTIN_DEVICES = Path(__file__).with_name("data") / "mcu_devices.yaml"


def load_devices(path: str | Path | None = None, field: str = "option devices") -> dict[str, Device]:
    """The shipped devices, and with `path` a user's YAML of more (same fields: sram_kb, flash_kb, optional
    code_kb and description), which may also redefine a shipped one."""
    import yaml

    from nasfw import yaml_files

    out = {k: Device(k, **v) for k, v in yaml.safe_load(BUILTIN_DEVICES.read_text()).items()}
    if path is None:
        return out
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{field} = {str(path)!r}: no such YAML file")
    raw = yaml_files.read(p, f"{field} = {str(path)!r}") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{field} = {str(path)!r}: expected a mapping of device name to its fields")
    for name, fields in raw.items():
        _check_device(name, fields, f"device {name!r} in {p.name}")
        out[str(name)] = Device(str(name), **fields)
    return out


DEVICE_FIELDS = ("sram_kb", "flash_kb", "code_kb", "description")


def _check_device(name: object, fields: object, where: str) -> None:
    """A user's board, field by field: `sram_kb: big` surfaced as a bad constraint of the campaign, `sram_kb: -5`
    made every network infeasible without saying why, and `code_kb` above `flash_kb` left the weights no Flash."""
    from nasfw.errors import unknown_name

    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: {fields!r} is not allowed; allowed: a mapping {{sram_kb: .., flash_kb: .., "
                          "code_kb: .., description: ..} (code_kb and description optional)")
    for key in fields:
        if key not in DEVICE_FIELDS:
            raise ConfigError(f"{where}: " + unknown_name("field", key, DEVICE_FIELDS))
    missing = [k for k in ("sram_kb", "flash_kb") if k not in fields]
    if missing:
        raise ConfigError(f"{where}: missing {' and '.join(missing)} (kB, 1024 bytes each)")
    for key in ("sram_kb", "flash_kb", "code_kb"):
        v = fields.get(key, 0.0)
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not number or not (v >= 0 if key == "code_kb" else v > 0):
            raise ConfigError(f"{where}: {key} = {v!r} is not allowed; allowed: a number (kB) "
                              f"{'>= 0' if key == 'code_kb' else '> 0'}")
    if fields.get("code_kb", 0) >= fields["flash_kb"]:
        raise ConfigError(f"{where}: code_kb = {fields['code_kb']} leaves none of flash_kb = {fields['flash_kb']} "
                          "for the weights; allowed: code_kb < flash_kb")
    if not isinstance(fields.get("description", ""), str):
        raise ConfigError(f"{where}: description = {fields['description']!r} is not allowed; allowed: a string")


class MCUCost:
    """Cost model of one microcontroller; `evaluate` takes an OFA/MCUNet JSON net config."""

    cheap = True

    def __init__(self, device: BoardName = "stm32f746", memory: MemoryModel = "per-layer", bits: Bits = 8,
                 resolution: InputSize | None = None, sram_kb: PositiveFloat | None = None,
                 flash_kb: PositiveFloat | None = None, code_kb: NonNegativeFloat | None = None,
                 devices: BoardsFile | None = None):
        devices = load_devices(devices)
        if device not in devices:
            raise ConfigError(unknown_name("device", device, devices))
        if memory not in MODES:
            raise ConfigError(unknown_name("option memory", memory, MODES))
        if bits not in (4, 8):
            raise ConfigError(f"option bits = {bits!r}; allowed: 8, 4")
        if resolution is not None and not is_input_size(resolution):
            raise ConfigError(f"option resolution = {resolution!r} is not allowed; allowed: an integer from 16 to "
                              f"{MAX_RESOLUTION} (or leave it out for the model's own)")
        for field, v, low in (("sram_kb", sram_kb, 0), ("flash_kb", flash_kb, 0), ("code_kb", code_kb, None)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or
                                  (low is not None and v <= low)):
                allowed = "a number >= 0" if low is None else f"a number > {low}"
                raise ConfigError(f"option {field} = {v!r} is not allowed; allowed: {allowed} (or leave it out for "
                                  "the device's own)")
        d = devices[device]
        self.device = Device(d.name, sram_kb or d.sram_kb, flash_kb or d.flash_kb,
                             d.code_kb if code_kb is None else code_kb)
        self.memory, self.bits, self.resolution = memory, bits, resolution

    def evaluate(self, config: Any) -> dict[str, float]:
        """`config`: an OFA/MCUNet JSON net config, or the path of an ONNX model (hardware/mcu_onnx.py)."""
        if isinstance(config, (str, Path)) and str(config).endswith(".onnx"):
            from nasfw.hardware.mcu_onnx import read_onnx

            if self.resolution is not None:
                raise ConfigError(f"option resolution = {self.resolution} with an ONNX model, whose input fixes its "
                                  "resolution; leave it out")
            rows, ops = read_onnx(config)
        elif isinstance(config, (str, Path)):
            raise ConfigError(f"model {str(config)!r}: the microcontroller model reads an OFA/MCUNet JSON net config "
                              "or an .onnx model")
        else:
            rows = layer_rows(config, self.resolution)
            ops = tinyengine_ops(config, self.resolution) if self.memory == "tinyengine" else []
        peak, weights, chans, macs = summary(rows, self.memory if self.memory != "tinyengine" else "per-layer",
                                             self.bits)
        if self.memory == "tinyengine":
            peak = tinyengine_peak(ops, bits=self.bits)
        fc_out = sum(r[2] for r in rows if r[0] == KIND["fc"])
        sram = peak / 1024
        flash = (-(-weights * self.bits // 8) + 8 * chans + self.device.code_kb * 1024) / 1024
        return {"peak_sram_kb": sram, "flash_kb": flash, "macs_m": macs / 1e6,
                "params_m": (weights + 2 * (chans - fc_out) + fc_out) / 1e6,
                "sram_fits": float(sram <= self.device.sram_kb), "flash_fits": float(flash <= self.device.flash_kb)}
