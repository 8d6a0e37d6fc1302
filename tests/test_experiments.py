"""Every campaign under experiments/ builds as `nasfw search --config FILE --dry-run` builds it: each name and
option resolved, the task constructed, the phase settings checked. The files reproduce the documented results;
a change to an option's name or allowed values (the hints of the plugins' factories) must not leave one that
fails only when somebody runs it."""
from pathlib import Path

import pytest

from nasfw.api import resolve_campaign
from nasfw.campaign import load_yaml, merge
from nasfw.registry import get_registry
from nasfw.phase_options import check_phase_options
from nasfw.runner import build

EXPERIMENTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_each_experiment_builds(path, nb201_table):
    reg = get_registry()
    user = load_yaml(path)
    if user.get("plugin") == "nasbench201":  # the table from the shared data, not a download
        user = merge(user, {"task_options": {"path": nb201_table}})
    campaign = resolve_campaign(reg, user.get("plugin"), user, source=str(path))
    check_phase_options(campaign, build(campaign, reg).task)


def test_the_experiments_are_found():
    assert len(EXPERIMENTS) >= 10 and any(p.stem.startswith("quantumnas-vqe") for p in EXPERIMENTS)
