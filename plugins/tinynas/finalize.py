"""TinyNAS's last steps for the searched network: fine-tune it from its inherited weights, optionally train it
and the MobileNetV2 baseline from scratch with the same recipe, export ONNX + the JSON net config, quantise both
to int8 as the board runs them (`int8.py`), and report SRAM, Flash, MACs, parameters, accuracy (float and int8)
and latency (onnxruntime on this machine; a lookup table's prediction when one is given) in `tinynas.json` and
`tinynas.md`.

The baseline is MCUNet's: MobileNetV2 scaled down (width multiplier, last channel scaled too, and input
resolution among the space's) to the largest-MACs network that fits the same SRAM and Flash.

Each network trained here is kept in `finalize/` as it finishes (`nasfw.finalize_store`), and a training under way
keeps its state at epoch ends: `--resume` after an interrupt trains only what had not finished, from its last
checkpoint, and reports what an uninterrupted run would have.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F

from nasfw.errors import ConfigError
from nasfw.finalize_store import FinalizeStore, weights_digest
from nasfw.option_types import NonNegativeInt, Note, PositiveFloat, PositiveInt
from nasfw.plugins.tinynas.data import Split, batches, resize
from nasfw.plugins.tinynas.int8 import CALIBRATION_IMAGES, onnx_accuracy, parameter_bytes, quantize_int8
from nasfw.plugins.tinynas.layout import channels_last
from nasfw.search_spaces.mbconv import build_model, export_onnx, mobilenetv2_config

LatencyTables = Annotated[str, Note("a folder of Once-for-All-format latency tables (<resolution>_lookup_table.yaml, "
                                    "as `nasfw lut build` writes them)")]

BASELINE_WIDTHS = tuple(round(0.05 * i, 2) for i in range(20, 1, -1))  # 1.0 down to 0.1


def fit_mobilenetv2(cost, resolutions, n_classes: int) -> dict | None:
    """The largest-MACs scaled-down MobileNetV2 within the device's SRAM and Flash (None if none fits)."""
    best = None
    for w in BASELINE_WIDTHS:
        for r in resolutions:
            cfg = mobilenetv2_config(w, r, n_classes, scale_last=True)
            m = cost.evaluate(cfg)
            if m["sram_fits"] and m["flash_fits"] and (best is None or m["macs_m"] > best[1]["macs_m"]):
                best = (cfg, m, w)
    if best is None:
        return None
    cfg, m, w = best
    return {"config": cfg, "metrics": m, "width": w}


def train_model(net: torch.nn.Module, data, resolution: int, epochs: int, lr: float, batch_size: int = 64,
                weight_decay: float = 3e-5, seed: int = 0, desc: str = "train", progress: bool = True,
                checkpoint: Path | None = None) -> torch.nn.Module:
    """Adam with a cosine learning rate; the plain recipe every network of the comparison gets. With `checkpoint`
    the training keeps its state at epoch ends and an interrupted one continues from there."""
    from nasfw.epoch_checkpoint import EpochCheckpoint
    from nasfw.progress import progress_bar, start_at

    torch.manual_seed(seed)
    net = channels_last(net)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * len(batches(data.train, batch_size, drop_single=True))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    ckpt = EpochCheckpoint(checkpoint, repr((epochs, lr, batch_size, weight_decay, seed, resolution)))
    state = {"net": net, "optimizer": opt, "schedule": sched}
    bar = progress_bar(epochs, desc, progress)
    kept = ckpt.restore(state, [rng])
    start = kept["epoch"] if kept else 0
    if start:
        start_at(bar, start)
    for epoch in range(start, epochs):
        net.train()
        for x, y in batches(data.train, batch_size, rng, resolution, drop_single=True):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            sched.step()
        bar.update(1)
        if epoch + 1 < epochs:
            ckpt.save(epoch + 1, state, [rng])
    bar.close()
    ckpt.finish()
    return net.eval()


def onnx_check(net: torch.nn.Module, config: dict, path: Path, threads: int = 1) -> dict[str, float]:
    """Export, then onnxruntime's output against torch's and the measured latency (batch 1)."""
    from nasfw.hardware.onnx_timing import session, time_session

    export_onnx(config, path, net)
    r = int(config["resolution"])
    x = torch.randn(1, 3, r, r, generator=torch.Generator().manual_seed(0))
    sess = session(path, threads)
    feed = {sess.get_inputs()[0].name: x.numpy()}
    with torch.no_grad():
        diff = float(np.abs(sess.run(None, feed)[0] - net.eval()(x).numpy()).max())
    return {"onnx_max_abs_diff": diff, "onnx_latency_ms": time_session(sess, feed, 10, 50)[0]}


def export(task, arch: dict, net: torch.nn.Module, out_dir: Path, fmt: str) -> list[Path]:
    if fmt not in task.export_formats:
        raise ConfigError(f"export format {fmt!r}: the tinynas task exports {list(task.export_formats)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = task.config(arch)
    if fmt == "json":
        p = out_dir / "best.net.json"
        p.write_text(json.dumps(cfg, indent=2))
    elif fmt == "pt":
        p = out_dir / "best.pt"
        torch.save(net.state_dict(), p)
    elif fmt == "onnx-int8":  # the float graph, then its int8 version calibrated on training images
        fp32 = export_onnx(cfg, out_dir / "best.onnx", net)
        calibration = resize(task.data.train.x[:CALIBRATION_IMAGES], int(cfg["resolution"])).numpy()
        return [Path(fp32), quantize_int8(Path(fp32), out_dir / "best_int8.onnx", calibration)]
    else:
        p = export_onnx(cfg, out_dir / "best.onnx", net)
    return [Path(p)]


def check_finalize_options(task, finetune_epochs: int = 3, scratch_epochs: int = 0, lut: str | None = None,
                           **_: Any) -> None:
    """Checked by the engine before the search (the task's `check_finalize`) and by finalize itself."""
    if finetune_epochs < 0 or scratch_epochs < 0:
        raise ConfigError(f"phases.finalize.task: finetune_epochs = {finetune_epochs}, scratch_epochs = "
                          f"{scratch_epochs}; both must be >= 0")
    if lut is not None:
        from nasfw.plugins.tinynas.task import check_lut

        check_lut(lut, task.resolutions, "phases.finalize.task.lut")


def finalize(task, arch: dict, run_dir: Path, finetune_epochs: NonNegativeInt = 3, lr: PositiveFloat = 1e-3,
             scratch_epochs: NonNegativeInt = 0, scratch_lr: PositiveFloat = 3e-3, baseline: bool = True,
             lut: LatencyTables | None = None, int8: bool = True, calibration_images: PositiveInt = CALIBRATION_IMAGES,
             progress: bool = True) -> dict[str, Any]:
    check_finalize_options(task, finetune_epochs=finetune_epochs, scratch_epochs=scratch_epochs, lut=lut)
    d, out = task.data, run_dir / "tinynas"
    out.mkdir(parents=True, exist_ok=True)
    cfg = task.config(arch)
    r = int(cfg["resolution"])
    from nasfw.plugins.tinynas.task import score

    rows: list[dict[str, Any]] = []

    def row(name: str, config: dict, net, how: str, accuracy: float | None = None) -> dict[str, Any]:
        """`accuracy`: measured elsewhere (the int8 graph's), else the torch network's on the test split."""
        m = task.cost.evaluate(config)
        res = int(config["resolution"])
        loss, acc = score(net, d.test, res) if accuracy is None else (None, accuracy)
        entry = {"network": name, "training": how, "resolution": res, "test_accuracy": acc, "test_loss": loss,
                 "peak_sram_kb": m["peak_sram_kb"], "flash_kb": m["flash_kb"], "macs_m": m["macs_m"],
                 "params_m": m["params_m"], "fits": bool(m["sram_fits"] and m["flash_fits"])}
        if lut or task.lut:
            from nasfw.hardware.phone_lut import PhoneLUT, config_keys

            entry["lut_latency_ms"] = PhoneLUT.load(lut or task.lut).predict(config_keys(config), res)
        rows.append(entry)
        return entry

    store = FinalizeStore(run_dir, task.device, task.memory, task.seed, task.batch_size, d.train.x, d.train.y,
                          d.test.x, d.test.y)
    net = task.subnet(arch)
    row("searched", cfg, net, "inherited (BN recalibrated)")
    if finetune_epochs:
        start = weights_digest(net)
        key = (cfg, finetune_epochs, lr, start)
        net = store.module("finetune", key, lambda: task.subnet(arch, recalibrate=False),
                           lambda: train_model(net, d, r, finetune_epochs, lr, task.batch_size, seed=task.seed,
                                               desc="fine-tune", progress=progress,
                                               checkpoint=store.checkpoint("finetune", key))).eval()
        row("searched", cfg, net, f"fine-tuned {_epochs(finetune_epochs)}")
    best = dict(rows[-1])
    best.update(onnx_check(net, cfg, out / "searched.onnx"))

    def int8_row(name: str, config: dict, fp32: Path, how: str) -> dict[str, Any]:
        """The network as the board runs it: the memory figures are those of int8, so is this accuracy."""
        res = int(config["resolution"])
        path = quantize_int8(fp32, fp32.with_name(fp32.stem + "_int8.onnx"),
                             resize(d.train.x[:calibration_images], res).numpy())
        acc, ms = onnx_accuracy(path, Split(resize(d.test.x, res), d.test.y))
        entry = row(name, config, None, f"{how}, int8", accuracy=acc)
        return {"path": path.name, "test_accuracy": acc, "latency_ms": ms, **parameter_bytes(path),
                "flash_model_parameter_bytes": round((entry["flash_kb"] - task.cost.device.code_kb) * 1024)}

    if int8:
        best["int8"] = int8_row("searched", cfg, out / "searched.onnx", rows[-1]["training"])
    (out / "searched.net.json").write_text(json.dumps(cfg, indent=2))
    torch.save(net.state_dict(), out / "searched.pt")

    def scratch(config: dict, epochs: int, desc: str) -> torch.nn.Module:
        key = (config, epochs, scratch_lr)

        def build() -> torch.nn.Module:
            torch.manual_seed(task.seed)
            return train_model(build_model(config), d, int(config["resolution"]), epochs, scratch_lr, task.batch_size,
                               seed=task.seed, desc=desc, progress=progress,
                               checkpoint=store.checkpoint("scratch", key))
        return store.module("scratch", key, lambda: build_model(config), build).eval()

    if scratch_epochs:
        fresh = scratch(cfg, scratch_epochs, "searched, scratch")
        row("searched", cfg, fresh, f"from scratch {_epochs(scratch_epochs)}")
    base = fit_mobilenetv2(task.cost, task.resolutions, d.n_classes) if baseline else None
    if baseline and base is None:
        rows.append({"network": "MobileNetV2", "training": "no scaled-down MobileNetV2 fits the device"})
    elif base is not None:
        epochs = scratch_epochs or finetune_epochs
        bnet = scratch(base["config"], epochs, "MobileNetV2, scratch")
        name = f"MobileNetV2-w{base['width']:g}-r{base['config']['resolution']}"
        row(name, base["config"], bnet, f"from scratch {_epochs(epochs)}")
        if int8:
            export_onnx(base["config"], out / "mobilenetv2.onnx", bnet)
            int8_row(name, base["config"], out / "mobilenetv2.onnx", f"from scratch {_epochs(epochs)}")
        (out / "mobilenetv2.net.json").write_text(json.dumps(base["config"], indent=2))
    report = {"device": task.device, "memory": task.memory, "sram_kb": task.cost.device.sram_kb,
              "flash_kb": task.cost.device.flash_kb, "dataset": d.source, "n_test": len(d.test), "arch": arch,
              "best": best, "rows": rows}
    (out / "tinynas.json").write_text(json.dumps(report, indent=2))
    (out / "tinynas.md").write_text(markdown(report))
    return {**report, "table": str(out / "tinynas.md")}  # the table report.md and `nasfw show` carry


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def markdown(report: dict[str, Any]) -> str:
    cols = ["network", "training", "resolution", "test_accuracy", "peak_sram_kb", "flash_kb", "macs_m", "params_m",
            "lut_latency_ms"]
    cols = [c for c in cols if any(c in r for r in report["rows"])]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    lines = [(f"# TinyNAS on {report['device']} ({report['sram_kb']:g} kB SRAM, {report['flash_kb']:g} kB Flash, "
              f"memory {report['memory']})"), "", f"Data: {report['dataset']}, {report['n_test']} test images.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in report["rows"]]
    b = report["best"]
    lines += ["", (f"Exported: searched.onnx (onnxruntime vs torch max |diff| {b['onnx_max_abs_diff']:.2e}, "
                   f"{b['onnx_latency_ms']:.2f} ms on this machine, 1 thread), searched.net.json, searched.pt.")]
    q = b.get("int8")
    if q:
        lines += ["", (f"int8 ({q['path']}: onnxruntime static quantisation, per-channel int8 weights, int8 "
                       f"activations): {q['test_accuracy']:.2f}% against {b['test_accuracy']:.2f}% in float, "
                       f"{q['latency_ms']:.2f} ms per image here. Its layers store {q['int8_weights']:,} int8 weights, "
                       f"{q['int32_biases']:,} int32 biases and {q['weight_scales']:,} float scales, "
                       f"{q['bytes']:,} bytes; the Flash model charges {q['flash_model_parameter_bytes']:,} for "
                       "them (plus its code constant).")]
    return "\n".join(lines) + "\n"
