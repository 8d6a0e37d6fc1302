"""The NAAS task: an accelerator arch of `naas-accelerator` is built within the baseline's resources (PEs,
on-chip bytes, NoC and DRAM bandwidth), every layer of the benchmark networks gets its own mapping from the
inner search, and the fitness is the geometric mean over networks of the network EDP (energy x cycles).

`mapping: search` is full NAAS (connectivity from the arch, mappings searched); `mapping: row-stationary` is
the sizing-only ablation: a 2-D array with Eyeriss's connectivity and its row-stationary mapping, only the
sizes searched. The baseline (Eyeriss v1 with row-stationary mappings by default; NVDLA-like with
weight-stationary, ShiDianNao-like with output-stationary) sets the resources, is scored once, and every
evaluation reports its speed-up and energy saving against it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, get_args

import numpy as np

from nasfw.errors import ConfigError, missing_modules, unknown_name
from nasfw.hardware.eyeriss import Accelerator, load_accelerator
from nasfw.hardware.workloads import NETWORKS, load_network
from nasfw.plugins.naas.finalize import finalize as run_finalize
from nasfw.plugins.naas.mapper import fixed_layer, network_cost, search_layer
from nasfw.option_types import NonNegativeInt, Note, PositiveInt
from nasfw.registry import options_of
from nasfw.search_spaces.accelerator import array_sizes, buffers, parallel_dims
from nasfw.registry import checks_options

MappingMode = Literal["search", "row-stationary"]
MAPPINGS: tuple[str, ...] = get_args(MappingMode)


class UnmappableAccelerator(ValueError):
    """An accelerator the network cannot run on (no valid mapping, no room for a buffer): a failed evaluation,
    which the searcher ranks last."""
# a baseline is an accelerator preset with its own dataflow
BASELINES = {"eyeriss-v1": "row-stationary", "nvdla-like": "weight-stationary", "shidiannao-like": "output-stationary"}
BaselineName = Annotated[str, Note("eyeriss-v1, nvdla-like, shidiannao-like, or an accelerator YAML's path (its PEs, "
                                   "buffers and energies)")]
Dataflow = Literal["row-stationary", "weight-stationary", "output-stationary"]  # hardware.dataflows' mappings
NetworkName = Annotated[str, Note("vgg16, resnet50, mobilenetv2, squeezenet, mnasnet, unet, or an .onnx model's path")]


def resolve_baseline(baseline: str, dataflow: str | None, field: str = "task_options") -> tuple[Accelerator, str]:
    """A preset with its own dataflow, or a user's accelerator YAML (hardware/eyeriss.py `load_accelerator`) with
    the dataflow its baseline mappings use: NAAS then searches within that accelerator's resources."""
    from nasfw.hardware.dataflows import DATAFLOWS

    if baseline in BASELINES:
        acc, own = load_accelerator(baseline), BASELINES[baseline]
    elif baseline.endswith((".yaml", ".yml")) or Path(baseline).is_file():
        acc, own = load_accelerator(baseline), None
    else:
        raise ConfigError(unknown_name(f"{field}.baseline", baseline, BASELINES) +
                          " (or the path of an accelerator YAML)")
    flow = dataflow or own
    if flow is None:
        raise ConfigError(f"{field}.baseline_dataflow is needed with an accelerator file ({baseline!r}): the "
                          f"dataflow its baseline mappings use; allowed: {', '.join(DATAFLOWS)}")
    if flow not in DATAFLOWS:
        raise ConfigError(unknown_name(f"{field}.baseline_dataflow", flow, DATAFLOWS))
    return acc, flow


def baseline_onchip_bytes(acc: Accelerator) -> int:
    rf = sum(acc.rf_words.values()) if isinstance(acc.rf_words, dict) else acc.rf_words
    return acc.n_pes * rf * acc.word_bytes + acc.glb_bytes


@checks_options("task 'naas'")
class NAASTask:
    def __init__(self, networks: Sequence[NetworkName] = ("mobilenetv2", "squeezenet", "mnasnet"),
                 baseline: BaselineName = "eyeriss-v1", mapping: MappingMode = "search", n_random: PositiveInt = 128,
                 rounds: NonNegativeInt = 2, seed: int = 0, baseline_dataflow: Dataflow | None = None):
        if isinstance(networks, str) or not networks:
            raise ConfigError(f"task_options.networks = {networks!r}; it must be a list of at least one of "
                              f"{', '.join(NETWORKS)} or the path of an .onnx model")
        self.layers: dict[str, list] = {}
        for i, entry in enumerate(networks):
            name, layers = load_network(entry, f"task_options.networks[{i}]")
            if name in self.layers:
                raise ConfigError(f"task_options.networks[{i}] = {entry!r} is named {name!r}, as an earlier entry; "
                                  "give each network its own name (an ONNX model is named by its file's stem)")
            self.layers[name] = layers
        if mapping not in MAPPINGS:
            raise ConfigError(f"task_options.mapping = {mapping!r}; allowed: {', '.join(MAPPINGS)}")
        if n_random < 1 or rounds < 0:
            raise ConfigError(f"task_options.n_random = {n_random} (>= 1), rounds = {rounds} (>= 0)")
        self.networks, self.mapping, self.n_random, self.rounds, self.seed = list(self.layers), mapping, n_random, \
            rounds, seed
        self.baseline, self.baseline_dataflow = resolve_baseline(baseline, baseline_dataflow)
        self.baseline_name = baseline
        self.onchip_bytes = baseline_onchip_bytes(self.baseline)
        self._baseline_cost: dict[str, dict] | None = None

    @classmethod
    def campaign_defaults(cls, task_options: dict) -> dict:
        """The accelerator space within the baseline's PEs, so that another baseline (`--set
        task_options.baseline=shidiannao-like`, or an accelerator file) brings its own PE count."""
        from nasfw.registry import with_defaults

        baseline = with_defaults(cls, task_options)["baseline"]
        if not isinstance(baseline, str) or not (baseline in BASELINES or Path(baseline).is_file()):
            return {}  # the task refuses it with its own message
        out = {"space": "naas-accelerator", "space_options": {"max_pes": load_accelerator(baseline).n_pes}}
        if baseline != "eyeriss-v1":  # the resources model's default: a campaign already right resolves as it did
            out["hardware_options"] = {"accelerator-resources": {"baseline": baseline}}
        return out

    def check_campaign(self, campaign) -> None:
        """`accelerator-resources` must share the task's on-chip budget: with its Eyeriss default on another
        baseline it sized the buffers of another budget, and its n_pes and rf_bytes, the values a run keeps where a
        cost model and the task report one metric, were not the task's."""
        from nasfw.registry import with_defaults
        from nasfw.plugins.naas import AcceleratorResources

        for i, (name, opts) in enumerate(campaign.hardware):
            if name != "accelerator-resources":
                continue
            given = with_defaults(AcceleratorResources, opts)["baseline"]
            if not isinstance(given, str):
                continue  # the model refuses it with its own message
            acc = resolve_baseline(given, "row-stationary", f"hardware[{i}].options")[0]
            if baseline_onchip_bytes(acc) != self.onchip_bytes:
                raise ConfigError(f"hardware[{i}] = 'accelerator-resources' sizes buffers within the on-chip bytes of "
                                  f"baseline {given!r}, not of task_options.baseline {self.baseline_name!r}; leave "
                                  f"its baseline out (it follows the task) or give it {self.baseline_name!r}")

    def check_space(self, space) -> None:
        """NAAS searches within the baseline's resources: a space with more PEs than the baseline has would
        leave every arch above them unmappable (failed evaluations), so refuse it before any work."""
        pes = {d["name"]: d for d in space.to_dict()["decisions"]}.get("pes")
        top = None if pes is None else max(pes["options"]) if pes["type"] == "choice" else pes.get("high")
        if top is not None and top > self.baseline.n_pes:
            raise ConfigError(f"space_options.max_pes = {top} exceeds the {self.baseline.n_pes} PEs of "
                              f"task_options.baseline {self.baseline_name!r}; allowed: at most {self.baseline.n_pes} "
                              "(NAAS searches within the baseline's resources)")

    # -- the accelerator of an arch ---------------------------------------------------------------------
    def accelerator(self, arch: dict[str, Any]) -> tuple[Accelerator, list[str]]:
        a = dict(arch)
        if self.mapping == "row-stationary":
            a["dims"] = 2  # Eyeriss's connectivity: only the sizes are searched
        if int(a["pes"]) > self.baseline.n_pes:
            raise UnmappableAccelerator(f"arch has {a['pes']} PEs, more than the baseline's {self.baseline.n_pes}: "
                                        f"set space_options.max_pes to {self.baseline.n_pes}")
        sizes = array_sizes(a)
        rf, glb = buffers(a, self.onchip_bytes)
        if glb < 1024:
            raise UnmappableAccelerator(f"arch leaves a {glb}-byte global buffer (< 1 kB) after "
                                        f"{int(np.prod(sizes))} PEs x {rf} B register files within "
                                        f"{self.onchip_bytes} B on chip")
        b = self.baseline
        acc = Accelerator("naas", sizes, rf // b.word_bytes, glb, b.word_bytes, b.noc_words_per_cycle,
                          b.dram_words_per_cycle, ("W", "I", "O"), dict(b.costs), b.pj_scale)
        return acc, (parallel_dims(a) if self.mapping == "search" else ["R", "Y"])

    def network_costs(self, arch: dict[str, Any], n_random: int | None = None, rounds: int | None = None,
                      keep_layers: bool = False) -> dict[str, dict]:
        acc, par = self.accelerator(arch)
        rng = np.random.default_rng(self.seed)
        out = {}
        for name, layers in self.layers.items():
            if self.mapping == "search":
                res = [search_layer(layer, acc, par, acc.array, rng, n_random or self.n_random,
                                    self.rounds if rounds is None else rounds) for layer in layers]
            else:
                res = [fixed_layer(layer, acc, "row-stationary") for layer in layers]
            bad = [layer.name for layer, r in zip(layers, res) if r.mapping is None]
            if bad:
                raise UnmappableAccelerator(f"no valid mapping on this accelerator for {len(bad)} layer(s) of {name}, "
                                      f"e.g. {bad[0]}")
            out[name] = network_cost(res)
            if keep_layers:
                out[name]["layers"] = list(zip(layers, res))
        return out

    def baseline_costs(self) -> dict[str, dict]:
        if self._baseline_cost is None:
            self._baseline_cost = {name: network_cost([fixed_layer(layer, self.baseline, self.baseline_dataflow)
                                                       for layer in layers])
                                   for name, layers in self.layers.items()}
        return self._baseline_cost

    # -- scoring ---------------------------------------------------------------------------------------------
    def evaluate(self, arch: dict[str, Any]) -> dict[str, float]:
        costs, base = self.network_costs(arch), self.baseline_costs()
        acc, _ = self.accelerator(arch)
        m: dict[str, float] = {"n_pes": float(acc.n_pes), "glb_kb": acc.glb_bytes / 1024,
                               "rf_bytes": float(acc.rf_words * acc.word_bytes)}
        for name, c in costs.items():
            m[f"{name}.edp"] = c["edp"]
            m[f"{name}.energy_uj"] = c["energy_pj"] / 1e6
            m[f"{name}.cycles"] = c["cycles"]
        geo = lambda xs: float(math.exp(sum(math.log(x) for x in xs) / len(xs)))  # noqa: E731
        m["edp_geomean"] = geo([c["edp"] for c in costs.values()])
        m["speedup_geomean"] = geo([base[n]["cycles"] / c["cycles"] for n, c in costs.items()])
        m["energy_saving_geomean"] = geo([base[n]["energy_pj"] / c["energy_pj"] for n, c in costs.items()])
        m["edp_gain_geomean"] = geo([base[n]["edp"] / c["edp"] for n, c in costs.items()])
        return m

    @options_of(run_finalize)
    def finalize(self, arch: dict[str, Any], run_dir: Path, progress: bool = True, **options: Any) -> dict[str, Any]:
        return run_finalize(self, arch, Path(run_dir), progress=progress, **options)

    def check_finalize(self, n_random: int = 512, rounds: int = 4, zigzag: bool = True, **_: Any) -> None:
        """Before the search: finalize's mapping search sizes (they failed deep in the mapper after it), and
        ZigZag where its column is asked for (without the `hw` extra the run failed once the search was done)."""
        if n_random < 1 or rounds < 0:
            raise ConfigError(f"phases.finalize.task.n_random = {n_random} (>= 1), rounds = {rounds} (>= 0)")
        if zigzag:
            missing = missing_modules(("zigzag", "six"))
            if missing:
                raise ConfigError(f"phases.finalize.task.zigzag = true re-evaluates the result with ZigZag, which "
                                  f"needs zigzag-dse and six ({' and '.join(missing)} not installed): pip install "
                                  "'nasfw[hw]', or --set phases.finalize.task.zigzag=false")
