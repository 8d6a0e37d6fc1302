"""Slow end-to-end runs (`pytest -m slow`; .ci/run includes them)."""
import json

import pytest

pytestmark = pytest.mark.slow

OPTIMUM = 91.607


@pytest.mark.parametrize("searcher", ["random", "evolution", "ofa-evolution", "nsga2", "reinforce", "ppo", "bayes"])
def test_every_searcher_end_to_end_with_two_workers(searcher, run_cli, tmp_path):
    p = run_cli("search", "--plugin", "nasbench201", "--searcher", searcher, "--budget", "300", "--workers", "2",
                "--out", tmp_path / "run", "--no-progress", timeout=900)
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["evaluations"] == 300 and s["failed"] == 0
    assert OPTIMUM - s["best"]["metrics"]["accuracy"] < 1.2  # random search's mean regret at 300 is ~0.4


def test_budget_can_grow_on_resume(run_cli, tmp_path):
    args = ["search", "--plugin", "nasbench201", "--out", tmp_path / "run", "--no-progress"]
    run_cli(*args, "--budget", "100", check=True)
    run_cli(*args, "--budget", "250", "--resume", check=True)
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["evaluations"] == 250
