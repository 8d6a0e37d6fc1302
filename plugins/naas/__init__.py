"""NAAS (Lin, Yang, Han, DAC 2021): accelerator architecture and compiler mapping co-search. The outer loop
searches the accelerator (PEs, array shape and connectivity by importance encoding, register file, global
buffer) within a baseline's resources; the inner loop maps every layer of the benchmark networks; the reward
is the geometric-mean EDP. Our Eyeriss-like analytical model scores everything; ZigZag re-evaluates the
winner."""
from __future__ import annotations

from nasfw.hooks import hookimpl
from nasfw.plugins.naas.task import BaselineName
from nasfw.search_spaces.accelerator import Encoding, PECount, RFBytes

DEFAULT_CAMPAIGN = {
    "name": "naas",
    "plugin": "naas",
    "description": "NAAS under Eyeriss v1's resources (168 PEs, 193 kB on chip): CMA-ES over the accelerator "
                   "(importance encoding), per-layer mapping search, geometric-mean EDP over MobileNetV2, SqueezeNet "
                   "and MNasNet, against Eyeriss with row-stationary mappings",
    "space": "naas-accelerator",
    "space_options": {"encoding": "importance"},  # max_pes: the baseline's PEs (the task's campaign_defaults)
    "task": "naas",
    "task_options": {"networks": ["mobilenetv2", "squeezenet", "mnasnet"], "baseline": "eyeriss-v1",
                     "mapping": "search", "n_random": 128, "rounds": 2},
    "objectives": [{"metric": "edp_geomean", "direction": "min"}],
    "searcher": {"name": "bayes", "settings": {"sampler": "cmaes", "n_startup_trials": 10}},
    "budget": {"evaluations": 200},
    "budgets": {"small": 60, "medium": 200, "large": 600,
                "paper": {"evaluations": 2000, "task_options": {"n_random": 256, "rounds": 3}}},
    "seed": 0,
    "workers": 2,
    "out": "runs/naas",
    "phases": {"finalize": {"top_k": 5, "task": {"n_random": 512, "rounds": 4, "zigzag": True}}},
}


def accelerator(encoding: Encoding = "importance", max_pes: PECount = 168, max_rf_bytes: RFBytes = 512):
    from nasfw.search_spaces.accelerator import accelerator_space

    return accelerator_space(encoding, max_pes, max_rf_bytes)


class AcceleratorResources:
    """PEs, array shape and buffer sizes of an accelerator arch within a baseline's on-chip budget (closed
    form, cheap): for tables, and for constraints tighter than the baseline's."""

    cheap = True
    name = "accelerator-resources"

    def __init__(self, baseline: BaselineName = "eyeriss-v1"):
        from nasfw.plugins.naas.task import baseline_onchip_bytes, resolve_baseline

        # the dataflow does not change the on-chip bytes; a file's is not needed here
        self.onchip = baseline_onchip_bytes(resolve_baseline(baseline, "row-stationary", "hardware_options")[0])

    def evaluate(self, arch: dict) -> dict[str, float]:
        from nasfw.errors import SpaceError
        from nasfw.search_spaces.accelerator import resources

        try:
            return resources(arch, self.onchip)
        except KeyError as e:  # an arch given by hand (`nasfw cost --arch`): say what it needs, not KeyError: 'pes'
            raise SpaceError(f"arch.{e.args[0]} is missing; {self.name} reads pes, dims, shape0, shape1, rf_bytes and "
                             "glb_frac of a naas-accelerator arch (as `nasfw show` prints it)") from None


@hookimpl
def nasfw_register_search_spaces(register) -> None:
    register("naas-accelerator", accelerator, "NAAS accelerator: PEs (steps of 8), 1-3 array dimensions and their "
             "sizes, parallel loop dimensions (importance or index encoding), register file, global buffer")


@hookimpl
def nasfw_register_tasks(register) -> None:
    from nasfw.plugins.naas.task import NAASTask

    register("naas", NAASTask, "geometric-mean EDP of benchmark networks on an accelerator arch, each layer's "
             "mapping searched (or row-stationary: the sizing-only ablation), against Eyeriss v1")


@hookimpl
def nasfw_register_cost_models(register) -> None:
    register("accelerator-resources", AcceleratorResources, "PEs, on-chip bytes, global buffer and register file "
             "of a naas-accelerator arch (closed form)", cheap=True)


@hookimpl
def nasfw_register_campaigns(register) -> None:
    register("naas", DEFAULT_CAMPAIGN, DEFAULT_CAMPAIGN["description"])
