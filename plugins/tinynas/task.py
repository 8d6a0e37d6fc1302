"""The TinyNAS task (MCUNet stage 2): train the weight-shared MBConv supernet of the space stage 1 chose, then
score each subnet with its inherited weights after recalibrating its batch norm on training images, on a
validation split the training never saw. The memory constraint is applied before any of this, by the
campaign's microcontroller cost model (a candidate that does not fit is never evaluated).

Supernet training (`sampling`): `progressive` (Once-for-All's progressive shrinking: the largest network
first, then elastic kernel, then depth, then expand ratio), `uniform` (the largest first, then every
decision elastic), `sandwich` (largest, smallest and random subnets each step). Every step trains
`n_subnets` subnets (4, as MCUNet) at their own input resolution, their gradients added.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, get_args

import numpy as np
import torch
import torch.nn.functional as F

from nasfw.errors import ConfigError, unknown_name
from nasfw.plugins.tinynas.data import (ImageData, batches, check_source, class_count, from_held, image_count,
                                        load_images, resize, split_sizes)
from nasfw.plugins.tinynas.finalize import LatencyTables
from nasfw.plugins.tinynas.layout import channels_last
from nasfw.plugins.tinynas.stage1 import AUTO, resolve_auto
from nasfw.plugins.tinynas.finalize import finalize as run_finalize
from nasfw.option_types import Bounds, Note, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from nasfw.progress import progress_bar, start_at
from nasfw.registry import options_of, with_defaults
from nasfw.hardware.mcu import BoardName, BoardsFile, MemoryModel
from nasfw.search_spaces.mbconv import InputSize, WidthMult, WidthTable, mbconv_space
from nasfw.space_cover import check_within
from nasfw.supernet.bn import recalibrate_bn
from nasfw.supernet.train import TRAINING_CHECKPOINT, TrainConfig, train_supernet
from nasfw.registry import checks_options

WEIGHTS = "supernet.pt"
Auto = Literal["auto"]  # stage 1 chooses (plugins/tinynas/stage1.py `resolve_auto`)
BatchSize = Annotated[int, Bounds(low=2)]  # training images per step: batch norm trains on no fewer than 2
Sampling = Literal["progressive", "uniform", "sandwich"]  # OFA progressive shrinking, or the other two rules
SAMPLINGS = get_args(Sampling)
ImageSource = Annotated[str, Note("mnist, digits (scikit-learn's), an .npz file's path with x (N, H, W), (N, H, W, C) "
                                  "or (N, C, H, W) and y, or a folder of images with one sub-folder per class")]


@checks_options("task 'tinynas'")
class TinyNASTask:
    export_formats = ("onnx", "onnx-int8", "json", "pt")

    def __init__(self, dataset: ImageSource = "mnist", width_mult: WidthMult | Auto = 0.25,
                 resolutions: InputSize | Sequence[InputSize] | Auto = (48, 56, 64), widths: WidthTable = "proxyless",
                 n_valid: PositiveInt | None = None, n_test: PositiveInt | None = None, batch_size: BatchSize = 64,
                 bn_batches: PositiveInt = 4, device: BoardName = "stm32f401", memory: MemoryModel = "tinyengine",
                 sram_kb: PositiveFloat | None = None, flash_kb: PositiveFloat | None = None,
                 lut: LatencyTables | None = None, seed: int = 0, devices: BoardsFile | None = None):
        from nasfw.hardware.mcu import MCUCost

        self.boards = _boards(device, devices)  # shipped + the user's
        if AUTO in (width_mult, resolutions):  # a script's own task; a campaign resolves it first (campaign_defaults)
            width_mult, resolutions = _resolved(dict(locals()))
        self.space = mbconv_space(widths, width_mult, resolutions, "task_options")  # bad widths / resolutions
        self.resolutions = sorted([resolutions] if isinstance(resolutions, int) else resolutions)
        if batch_size < 2 or bn_batches < 1:
            raise ConfigError(f"task_options.batch_size = {batch_size}, bn_batches = {bn_batches}: allowed: a batch "
                              "size >= 2 (batch norm trains on no fewer) and bn_batches >= 1")
        # checks device and mode; `devices`: a YAML of boards of one's own (hardware/mcu.py load_devices)
        self.cost = MCUCost(device, memory=memory, sram_kb=sram_kb, flash_kb=flash_kb, devices=devices)
        check_source(dataset)
        if n_valid is not None or n_test is not None:
            split_sizes(image_count(dataset), n_valid, n_test, f"task_options.dataset = {dataset!r}")
        self.dataset, self.width_mult, self.widths = dataset, float(width_mult), widths
        self.n_valid, self.n_test, self.batch_size, self.bn_batches = n_valid, n_test, batch_size, bn_batches
        self.device, self.memory, self.lut, self.seed, self.devices = device, memory, lut, seed, devices
        if lut is not None:
            check_lut(lut, self.resolutions, "task_options.lut")
        self._data: ImageData | None = None
        self._supernet = None
        self.trained = False

    @property
    def data(self) -> ImageData:
        if self._data is None:
            self._data = load_images(self.dataset, max(self.resolutions), self.n_valid, self.n_test, self.seed)
        return self._data

    @property
    def supernet(self):
        if self._supernet is None:
            from nasfw.search_spaces.mbconv_supernet import MBConvSuperNet

            torch.manual_seed(self.seed)
            self._supernet = channels_last(MBConvSuperNet(self.width_mult, self.widths, self.data.n_classes,
                                                          self.resolutions))
        return self._supernet

    def config(self, arch: dict) -> dict:
        return self.supernet.config(arch)

    # -- weight sharing -------------------------------------------------------------------------------------
    def sampling_options(self, sampling: str, epochs: int, largest_epochs: int, n_subnets: int) -> dict:
        if sampling == "sandwich":
            return {"n_random": max(0, n_subnets - 2)}
        largest = {d.name: [d.options[-1]] for d in self.space._by_name.values() if d.name != "resolution"}
        start = min(largest_epochs, epochs - 1) / epochs
        stages: list = [(0.0, largest)]
        if sampling == "uniform":
            stages.append((start, {}))
        else:  # progressive shrinking: kernel, then depth, then expand ratio become elastic
            keep = lambda part: {k: v for k, v in largest.items() if k.endswith(part)}  # noqa: E731
            third = (1 - start) / 3
            stages += [(start, {**keep(".depth"), **keep(".e")}), (start + third, keep(".e")), (start + 2 * third, {})]
        return {"stages": stages, "n_subnets": n_subnets}

    def train_supernet(self, run_dir: Path, epochs: PositiveInt = 6, lr: PositiveFloat = 3e-3,
                       weight_decay: NonNegativeFloat = 3e-5, warmup_epochs: NonNegativeInt = 1,
                       sampling: Sampling = "progressive", n_subnets: PositiveInt = 4,
                       largest_epochs: NonNegativeInt = 1, batch_size: BatchSize | None = None,
                       optimizer: Literal["adam", "sgd"] = "adam", progress: bool = True) -> list[float]:
        if sampling not in SAMPLINGS:
            raise ConfigError(f"phases.supernet.sampling = {sampling!r}; allowed: {', '.join(SAMPLINGS)}")
        if n_subnets < 1 or largest_epochs < 0:
            raise ConfigError(f"phases.supernet.n_subnets = {n_subnets} (>= 1), largest_epochs = {largest_epochs} "
                              "(>= 0)")
        d, net = self.data, self.supernet
        cfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs,
                          optimizer=optimizer, seed=self.seed,
                          sampling="sandwich" if sampling == "sandwich" else "progressive",
                          sampling_options=self.sampling_options(sampling, epochs, largest_epochs, n_subnets))
        rng = np.random.default_rng(self.seed)
        bar = progress_bar(epochs, "supernet", progress)

        def on_epoch(epoch: int, loss: float) -> None:
            if epoch + 1 == largest_epochs and sampling != "sandwich":
                net.reorganize()  # most important channels first, before expand ratios become elastic
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.update(1)
        bs = batch_size or self.batch_size
        history = train_supernet(net, lambda: batches(d.train, bs, rng, drop_single=True),
                                 lambda m, b: F.cross_entropy(m(resize(b[0], m.active.get("resolution"))), b[1]),
                                 cfg, on_epoch, checkpoint=Path(run_dir) / TRAINING_CHECKPOINT, rngs=[rng],
                                 checkpoint_key=f"batch_size {bs}, largest_epochs {largest_epochs}, {sampling}",
                                 on_resume=lambda done: start_at(bar, done))
        bar.close()
        self.trained = True
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), Path(run_dir) / WEIGHTS)
        return history

    def load_supernet(self, run_dir: Path) -> None:
        path = Path(run_dir) / WEIGHTS
        if path.exists():
            self.supernet.load_state_dict(torch.load(path))
            self.trained = True

    def shared_state(self) -> dict[str, Any]:
        """The supernet's weights and the images: each worker loaded its own copy of these, which the runner now
        hands over as one file that every worker maps (nasfw/shared_arrays.py)."""
        return {"weights": {k: v.detach().clone() for k, v in self.supernet.state_dict().items()},
                "trained": self.trained, "images": self.data.held}

    def use_shared_state(self, state: dict[str, Any]) -> None:
        if state.get("images") is not None:  # before the supernet, whose class count it reads
            self._data = from_held(state["images"])
        self.supernet.load_state_dict(state["weights"])
        self.trained = state["trained"]

    def check_space(self, space) -> None:
        """The searched space must be the supernet's (its widths and width multiplier; resolutions among the
        task's)."""
        check_within(space, self.space, "tinynas", "widths, width_mult and resolutions")

    @classmethod
    def campaign_defaults(cls, task_options: dict) -> dict:
        """What the task's options imply for the campaign: the supernet's space, and on a known board that
        board's cost model and MCUNet's constraints (peak SRAM and Flash within its memory, or within
        `sram_kb`/`flash_kb` where given), so `--set task_options.device=stm32f746` moves all of them. A board of
        one's own (`devices: FILE`) is scored by the `mcu` cost model with the same file."""
        from nasfw.hardware.mcu import load_devices

        opts = with_defaults(cls, task_options)
        chosen: dict[str, Any] = {}
        if AUTO in (opts["width_mult"], opts["resolutions"]):  # stage 1 chooses them (MCUNet's first stage)
            from nasfw.registry import check_options

            # what stage 1 reads, refused as the task refuses it (stage 1's own words would name its internals:
            # "unknown option memory", "space_options.widths")
            check_options(cls, task_options, "task 'tinynas'", prefix="task_options.")
            _boards(opts["device"], opts["devices"])
            chosen = resolve_auto(opts)
            opts.update(chosen)
        res = opts["resolutions"]
        space = {"width_mult": opts["width_mult"], "resolutions": list(res) if isinstance(res, (list, tuple)) else res}
        if "widths" in task_options:  # else the space's own default, the task's too
            space["widths"] = task_options["widths"]
        out: dict[str, Any] = {"space": "mbconv", "space_options": space}
        if chosen:
            out["task_options"] = chosen  # in place of `auto` in the run's campaign: workers and --resume read these
        try:
            boards = load_devices(opts["devices"])
        except (ConfigError, TypeError):
            return out  # the task refuses a bad devices file with its own message
        if not isinstance(opts["device"], str) or opts["device"] not in boards:
            return out  # and an unknown board
        board = boards[opts["device"]]
        # a bound the task will refuse (text, NaN, <= 0) is left out here, so the refusal names the user's option
        memory = {k: opts[k] for k in ("sram_kb", "flash_kb") if isinstance(opts[k], (int, float))
                  and not isinstance(opts[k], bool) and math.isfinite(opts[k]) and opts[k] > 0}
        model = {"memory": opts["memory"], **memory}
        n_classes = _class_count(opts["dataset"])
        if n_classes is not None and n_classes != _mcu_default("n_classes"):  # (so the 10-class campaigns of
            model["n_classes"] = n_classes  # earlier runs resolve as they did, and --resume finds them)
        out["hardware_options"] = _board_model_options(opts, n_classes)
        out["hardware"] = [{"name": board.name, "options": model} if opts["devices"] is None else
                           {"name": "mcu", "options": {"device": board.name, "devices": opts["devices"], **model}}]
        out["constraints"] = [{"metric": "peak_sram_kb", "max": memory.get("sram_kb", board.sram_kb)},
                              {"metric": "flash_kb", "max": memory.get("flash_kb", board.flash_kb)}]
        return out

    def check_campaign(self, campaign) -> None:
        """The board the search filters on (a microcontroller in `hardware`) must be the board finalize reports
        for (`task_options.device`): `--set task_options.device=stm32f746` alone kept the search to the F401's
        memory while the report spoke of the F746. And the images and the training must fit in this machine's
        memory (plugins/tinynas/memory.py)."""
        from nasfw.plugins.tinynas.memory import check_memory

        check_memory(self, campaign)
        generic = _mcu_default("device")  # the `mcu` model's own board
        n_classes = _class_count(self.dataset)
        for i, (name, opts) in enumerate(campaign.hardware):
            if name != "mcu" and name not in self.boards:
                continue  # not a microcontroller model
            classes = opts.get("n_classes", _mcu_default("n_classes"))
            if n_classes is not None and classes != n_classes:
                raise ConfigError(f"hardware[{i}] = {name!r} costs a classifier of n_classes = {classes}, but "
                                  f"task_options.dataset = {self.dataset!r} has {n_classes} classes: its Flash "
                                  "figures would not be those of the network finalize reports; leave `hardware` "
                                  f"out (it follows the dataset) or give it n_classes: {n_classes}")
            board = opts.get("device", generic if name == "mcu" else name)
            if board != self.device:
                which = repr(name) if board == name else f"{name!r} with device {board!r}"
                raise ConfigError(f"hardware[{i}] = {which} is another board than task_options.device = "
                                  f"{self.device!r}: the search would keep to {board}'s memory and finalize report "
                                  f"for {self.device}; leave `hardware` out (it follows the task's board) or name "
                                  "one board in both (and bound the SRAM and Flash constraints by its memory)")

    # -- scoring ---------------------------------------------------------------------------------------------
    def subnet(self, arch: dict, recalibrate: bool = True) -> torch.nn.Module:
        """A standalone network with the inherited weights, its batch norm re-estimated on training images."""
        self.space.validate(arch)
        net = channels_last(self.supernet.extract(arch))
        if recalibrate:
            r = int(arch.get("resolution", max(self.resolutions)))
            recalibrate_bn(net, batches(self.data.train, self.batch_size, np.random.default_rng(self.seed), r,
                                        drop_single=True), self.bn_batches)
        return net.eval()

    def evaluate(self, arch: dict) -> dict[str, float]:
        torch.set_num_threads(1)
        net = self.subnet(arch)
        loss, acc = score(net, self.data.valid, int(arch.get("resolution", max(self.resolutions))))
        return {"accuracy": acc, "loss": loss}

    # -- finishing -------------------------------------------------------------------------------------------
    @options_of(run_finalize)
    def finalize(self, arch: dict, run_dir: Path, progress: bool = True, **options: Any) -> dict[str, Any]:
        return run_finalize(self, arch, Path(run_dir), progress=progress, **options)

    def check_finalize(self, **options: Any) -> None:
        from nasfw.plugins.tinynas.finalize import check_finalize_options

        check_finalize_options(self, **options)

    def export(self, arch: dict, out_dir: Path, fmt: str) -> list[Path]:
        from nasfw.plugins.tinynas.finalize import export

        return export(self, arch, self.subnet(arch), Path(out_dir), fmt)

    def optimise_space(self, out: Path | None = None, progress: bool = True, **options: Any) -> dict[str, Any]:
        """MCUNet's stage 1 for this task's board, memory model, channel table and dataset's class count: the
        width and resolution to search (`nasfw space optimise`). With `out`, stage1.json and the CDF plot."""
        from nasfw.plugins.tinynas.stage1 import describe, optimise_space

        result = optimise_space(self.device, self.memory, sram_kb=self.cost.device.sram_kb,
                                flash_kb=self.cost.device.flash_kb, n_classes=class_count(self.dataset),
                                widths=self.widths, devices=self.devices, seed=self.seed, progress=progress,
                                plot=None if out is None else Path(out) / "stage1_cdf.png", **options)
        result.update(describe(result))
        result["files"] = []
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            (Path(out) / "stage1.json").write_text(json.dumps(result, indent=2))
            result["files"] = [str(Path(out) / "stage1.json"), result["plot"]]
        return result

    def build_lut(self, out: Path, **options: Any) -> dict[str, Any]:
        from nasfw.plugins.tinynas.lut import build_lut

        return build_lut(self.space, Path(out), widths=self.widths, n_classes=self.data.n_classes, **options)


def _boards(device: str, devices: str | None) -> dict:
    """The shipped boards and the user's, with `device` among them."""
    from nasfw.hardware.mcu import load_devices

    boards = load_devices(devices, "task_options.devices")
    if device not in boards:
        raise ConfigError(unknown_name("task_options.device", device, boards) + "; a board of one's own goes in "
                          "task_options.devices, a YAML file of name: {sram_kb: ..., flash_kb: ...}")
    return boards


def _resolved(given: dict) -> tuple[float, list[int]]:
    """width_mult and resolutions of a task built with `auto` outside a campaign, as a campaign resolves them."""
    import inspect

    params = inspect.signature(TinyNASTask).parameters  # the constructor's arguments, not its other locals
    opts = with_defaults(TinyNASTask, {k: v for k, v in given.items() if k in params})
    chosen = resolve_auto(opts)
    return chosen["width_mult"], chosen["resolutions"]


def _board_model_options(opts: dict, n_classes: int | None) -> dict:
    """The network's side of every microcontroller model (memory model, class count, channel table), where it
    differs from the model's default: `hardware: [stm32f401]` in a campaign costed per-layer SRAM and 10 classes
    while finalize reported TinyEngine's and the dataset's, and `nasfw cost --run RUN --hardware stm32f746` costs
    the run's network on the F746 as the run counts memory. The generic `mcu` model also gets the task's board."""
    from nasfw.hardware.mcu import load_devices
    from nasfw.plugins.tinynas import MCUArchCost

    network = {"memory": opts["memory"], "n_classes": n_classes}
    if "widths" in opts and opts["widths"] is not None:
        network["widths"] = opts["widths"]
    own = with_defaults(MCUArchCost, {})  # read once, not once per option
    differ = {k: v for k, v in network.items() if v is not None and v != own[k]}
    out = {name: dict(differ) for name in load_devices()}  # the boards registered as cost models of their own
    board = {k: opts[k] for k in ("device", "devices") if opts[k] is not None and opts[k] != own[k]}
    out["mcu"] = {**differ, **board}
    return out


def _mcu_default(option: str) -> Any:
    from nasfw.plugins.tinynas import MCUArchCost

    return with_defaults(MCUArchCost, {})[option]


def _class_count(dataset: Any) -> int | None:
    """None where the dataset is not readable: the task refuses it with its own message."""
    from nasfw.plugins.tinynas.data import class_count

    try:
        return class_count(dataset)
    except (ConfigError, TypeError, OSError):
        return None


def check_lut(folder: str, resolutions: Sequence[int], field: str) -> None:
    """The latency tables are read only in finalize, after the search and the training: a folder without them, or
    without a searched resolution, fails here instead, before any work (by file name: the task is built in every
    worker, and only finalize reads the tables)."""
    from nasfw.hardware.phone_lut import PhoneLUT

    try:
        tables = PhoneLUT.table_files(folder)
    except ConfigError as e:
        raise ConfigError(f"{field} = {folder!r}: {e}") from None
    missing = [r for r in resolutions if r not in tables]
    if missing:
        raise ConfigError(f"{field} = {folder!r} has no table for resolution(s) {missing}; it has {sorted(tables)} "
                          "(`nasfw lut build --plugin tinynas` times every resolution of the space)")


@torch.no_grad()
def score(net: torch.nn.Module, split, resolution: int, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of `net` on `split` at `resolution`."""
    net.eval()
    loss, correct = 0.0, 0
    for x, y in batches(split, batch_size, None, resolution):
        out = net(x)
        loss += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
    return loss / len(split), 100.0 * correct / len(split)
