"""`nasfw lut build`: a latency lookup table of the MBConv space measured on this machine, in Once-for-All's
format (one `<resolution>_lookup_table.yaml` per input size, `{count, mean, std}` per layer key), so that the
same `PhoneLUT` that reads OFA's Note10 tables predicts this space's networks here.

Every distinct layer of the space is timed alone with onnxruntime (its own ONNX graph, warm-up, median of
repeats, the fixed per-call overhead subtracted); a block's key does not depend on its position inside a
stage after the first, so the twelve (kernel, expand) networks with every stage at full depth hold every key.
Then whole random subnets are timed and compared with the table's sum, which is the number a user needs
before trusting the table.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from nasfw.errors import ConfigError
from nasfw.hardware.onnx_timing import time_onnx
from nasfw.hardware.phone_lut import PhoneLUT, config_keys
from nasfw.search_spaces.mbconv import EXPANDS, INPUT_SIZES, KERNELS, build_model, is_input_size, to_config

_SHAPE = re.compile(r"input:(\d+)x(\d+)x(\d+)")


def _onnx_bytes(module, shape: tuple[int, ...]) -> bytes:
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.zeros(shape),), buf, opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["y"])
    return buf.getvalue()


def _layers(config: dict) -> list[tuple[str, Any, tuple[int, ...]]]:
    """(key, module, input shape) of every layer of a config, in order (build_model's module layout)."""
    from torch import nn

    model, keys = build_model(config), config_keys(config)
    mods = list(model)
    n_blocks = len(keys) - 3 - int(bool(config.get("feature_mix_layer")))
    parts = [nn.Sequential(*mods[0:3])] + mods[3: 3 + n_blocks]
    i = 3 + n_blocks
    if config.get("feature_mix_layer"):
        parts.append(nn.Sequential(*mods[i: i + 3]))
        i += 3
    parts += [mods[i], nn.Sequential(*mods[i + 1:])]
    out = []
    for key, mod in zip(keys, parts):
        h, w, c = map(int, _SHAPE.search(key).groups())
        out.append((key, mod, (1, c, h, w)))
    return out


def _resolutions(space, resolutions) -> list[int]:
    if resolutions is not None:
        res = [resolutions] if isinstance(resolutions, int) else list(resolutions)
        if not res or not all(map(is_input_size, res)):
            # an 8x8 input leaves the five stride-2 stages nothing: a table was timed for a network that cannot be
            raise ConfigError(f"nasfw lut build: --resolutions {res!r} is not allowed; allowed: {INPUT_SIZES}, as "
                              "the MBConv space takes them")
        return res
    d = space._by_name.get("resolution")
    if d is None:
        raise ConfigError("nasfw lut build: the space has no resolution decision; pass --resolutions")
    return list(d.options)


def build_lut(space, out: Path, widths: str = "proxyless", n_classes: int = 10, resolutions=None,
              repeats: int = 50, warmup: int = 10, threads: int = 1, check: int = 20, calibrate: int = 10,
              seed: int = 0, progress: bool = True) -> dict[str, Any]:
    for name, value, low in (("repeats", repeats, 3), ("warmup", warmup, 0), ("threads", threads, 1),
                             ("check", check, 0), ("calibrate", calibrate, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"nasfw lut build: --{name} {value!r} is not allowed; allowed: an integer >= {low}")
    from nasfw.progress import progress_bar

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    largest = {d.name: d.options[-1] for d in space._by_name.values() if hasattr(d, "options")}
    raw: dict[int, dict[str, tuple[float, float]]] = {}
    res_list = _resolutions(space, resolutions)
    for r in res_list:
        layers: dict[str, tuple] = {}
        for k in KERNELS:
            for e in EXPANDS:
                arch = {n: (k if n.endswith(".k") else e if n.endswith(".e") else v) for n, v in largest.items()}
                for key, mod, shape in _layers(to_config(arch, resolution=r, widths=widths, n_classes=n_classes)):
                    layers.setdefault(key, (mod, shape))
        raw[r] = {key: time_onnx(_onnx_bytes(mod, shape), shape, threads, warmup, repeats)
                  for key, (mod, shape) in progress_bar(len(layers), f"lut r{r}", progress,
                                                        iterable=layers.items())}
    # a layer run alone pays a fixed cost (the call, binding its input, allocating its output) that a whole
    # network pays once: estimated per layer from whole calibration subnets (not the checked ones), subtracted
    per_layer = 0.0
    if calibrate:
        _write_tables(out, raw, 0.0, repeats)
        rows = _measure_subnets(space, out, widths, n_classes, calibrate, repeats, warmup, threads, seed + 1,
                                res_list)
        n = np.array([row["layers"] for row in rows], dtype=float)
        gap = np.array([row["predicted_ms"] - row["measured_ms"] for row in rows])
        per_layer = max(0.0, float((n * gap).sum() / (n * n).sum()))
    tables = _write_tables(out, raw, per_layer, repeats)
    result: dict[str, Any] = {"tables": tables, "layers": sum(len(t) for t in raw.values()),
                              "per_layer_overhead_ms": per_layer, "calibration_subnets": calibrate,
                              "threads": threads, "repeats": repeats}
    if check:
        rows = _measure_subnets(space, out, widths, n_classes, check, repeats, warmup, threads, seed, res_list)
        result["check"] = summarise(rows)
        (out / "lut_check.json").write_text(json.dumps({**result["check"], "per_layer_overhead_ms": per_layer},
                                                       indent=2))
    return result


def _write_tables(out: Path, raw: dict, per_layer: float, repeats: int) -> dict[int, str]:
    import yaml

    paths = {}
    for r, table in raw.items():
        path = out / f"{r}_lookup_table.yaml"
        path.write_text(yaml.safe_dump({k: {"count": repeats, "mean": max(med - per_layer, 0.0), "std": std}
                                        for k, (med, std) in table.items()}, sort_keys=True))
        paths[r] = str(path)
    return paths


def _measure_subnets(space, folder: Path, widths: str, n_classes: int, n: int, repeats: int, warmup: int,
                     threads: int, seed: int, resolutions) -> list[dict[str, Any]]:
    """Predicted (the sum of the table's layers) and measured (the whole network in one session) latency of
    `n` random subnets."""
    lut = PhoneLUT.load(folder)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        arch = space.sample(rng)
        if resolutions and arch.get("resolution") not in resolutions:
            arch = {**arch, "resolution": int(rng.choice(resolutions))}
        cfg = to_config(arch, widths=widths, n_classes=n_classes)
        r, keys = int(cfg["resolution"]), config_keys(cfg)
        measured = time_onnx(_onnx_bytes(build_model(cfg), (1, 3, r, r)), (1, 3, r, r), threads, warmup, repeats)[0]
        predicted = lut.predict(keys, r)
        rows.append({"subnet": i, "resolution": r, "layers": len(keys), "measured_ms": measured,
                     "predicted_ms": predicted, "error_pct": 100.0 * (predicted - measured) / measured})
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    err = np.abs([row["error_pct"] for row in rows])
    meas, pred = [r["measured_ms"] for r in rows], [r["predicted_ms"] for r in rows]
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731 - latencies are floats: ties do not occur
    return {"subnets": len(rows), "mean_abs_error_pct": float(err.mean()), "max_abs_error_pct": float(err.max()),
            "spearman": float(np.corrcoef(rank(meas), rank(pred))[0, 1]) if len(rows) > 2 else None, "rows": rows}
