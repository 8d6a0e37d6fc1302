"""Objectives of any magnitude. A constraint violation was scored -1e12 x (1 + violation), "below every feasible
value" only while objectives stay above -1e12: NAAS's EDP (energy in pJ x cycles, about 4e16) minimised scores
-4e16, so an architecture that broke a constraint ranked above every one that met it (the run's best, `nasfw
show`'s top, evolution's parents), and the progress bar, which took anything under -1e11 for a violation, never
showed a best."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nasfw
from nasfw import Choice, Constraint, Objective, Space
from nasfw.cost import scalarize
from nasfw.searchers import BUILTIN, OK, PPO, Reinforce, Result, make_searcher

SPACE = Space([Choice("a", list(range(8))), Choice("b", list(range(8)))], name="big")


def edp(arch: dict) -> dict[str, float]:
    """EDP-like magnitudes: 1e16 to 6e16, smallest at a = b = 0; `area` grows as EDP falls."""
    return {"edp": 1e16 * (1 + 0.3 * arch["a"] + 0.4 * arch["b"]), "area": float(14 - arch["a"] - arch["b"])}


OBJ = [Objective("edp", "min")]
CON = [Constraint("area", max=8.0)]  # only archs with a + b >= 6 meet it: the unconstrained optimum does not


def test_a_feasible_value_of_any_size_ranks_above_every_violation():
    feasible, broken = edp({"a": 4, "b": 4}), edp({"a": 0, "b": 0})
    assert scalarize(OBJ, CON, feasible) > scalarize(OBJ, CON, broken)
    assert scalarize(OBJ, CON, edp({"a": 0, "b": 1})) > scalarize(OBJ, CON, broken)  # a smaller violation first
    assert scalarize(OBJ, CON, {"edp": 1e16, "area": math.nan}) == -math.inf
    for big in (1e20, 1e100, 1e250):
        assert scalarize(OBJ, CON, {"edp": big, "area": 1.0}) > scalarize(OBJ, CON, {"edp": 1.0, "area": 9.0})


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_every_searcher_ranks_a_feasible_candidate_above_a_violation(cls):
    s = make_searcher(cls, SPACE, {}, objectives=OBJ, constraints=CON, seed=0)
    good, bad = Result(OK, edp({"a": 4, "b": 4})), Result(OK, edp({"a": 0, "b": 0}))
    assert s.fitness(good) > s.fitness(bad)


def test_the_runs_best_and_the_bar_are_feasible_at_edp_scale(tmp_path, capfd):
    run = nasfw.search(task=edp, space=SPACE, objectives=[{"metric": "edp", "direction": "min"}],
                       constraints=[{"metric": "area", "max": 8.0}], searcher="random", budget=40, seed=0,
                       out=str(tmp_path / "run"), progress=True)
    ok = [e for e in run.to_dataframe().itertuples() if e.status == "ok"]
    feasible = [e.edp for e in ok if e.area <= 8.0]
    assert feasible and len(feasible) < len(ok)  # both kinds were evaluated
    assert run.best.metrics["area"] <= 8.0 and run.best.metrics["edp"] == min(feasible)
    assert all(e.metrics["area"] <= 8.0 for e in run.top(len(feasible)))
    assert f"best edp={min(feasible):.4g}" in capfd.readouterr().err


@pytest.mark.parametrize("cls", [Reinforce, PPO], ids=lambda c: c.__name__)
def test_policy_gradients_stay_finite_when_candidates_break_a_constraint(cls):
    """A violation's score was the controller's reward: -1e12 against rewards of order -1e16 it is a prize, and a
    score far below every reward would swamp the baseline. A violation is rewarded as the worst reward seen."""
    s = make_searcher(cls, SPACE, {}, objectives=OBJ, constraints=CON, seed=0)
    rewards = []
    for _ in range(64):
        arch = s.ask()
        r = Result(OK, edp(arch))
        rewards.append(s.reward(r))
        s.tell(arch, r)
    seen = [r for r in rewards if r is not None]
    assert seen and all(np.isfinite(seen)) and max(seen) <= -1e16
