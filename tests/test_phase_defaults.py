"""`phases: {supernet: {}}` means "train the supernet with the task's own defaults", as `true` does. The runner
read the empty mapping as false and skipped the phase: a campaign that changes the default campaign's task (a
VQE run from QuantumNAS's QML default, whose phase settings are reset to {} for the new task) searched with
untrained inherited weights, and nothing said so."""
from __future__ import annotations

import json

import pytest

import nasfw
from nasfw import Choice, Space


class Counting:
    """A task with a supernet phase that records how it was called."""

    calls: list = []

    def __init__(self, seed: int = 0):
        self.trained = False

    def train_supernet(self, run_dir, epochs: int = 7) -> None:
        Counting.calls.append(epochs)
        self.trained = True

    def shared_state(self) -> dict:
        return {"trained": self.trained}

    def use_shared_state(self, state: dict) -> None:
        self.trained = state["trained"]

    def evaluate(self, arch: dict) -> dict[str, float]:
        return {"score": float(arch["x"]) + (10.0 if self.trained else 0.0)}


@pytest.mark.parametrize("supernet, trained", [({}, [7]), (True, [7]), ({"epochs": 2}, [2]), (False, [])])
def test_an_empty_supernet_mapping_trains_with_the_tasks_defaults(tmp_path, supernet, trained):
    Counting.calls = []
    run = nasfw.search(task=Counting, space=Space([Choice("x", [1, 2, 3])]), searcher="random", budget=3,
                       objectives=[{"metric": "score", "direction": "max"}], phases={"supernet": supernet},
                       out=str(tmp_path / "run"), progress=False)
    assert Counting.calls == trained
    assert run.best.metrics["score"] == (13.0 if trained else 3.0)


def test_a_vqe_campaign_from_the_qml_default_trains_its_supercircuit(run_cli, tmp_path):
    cfg = tmp_path / "h2.yaml"
    cfg.write_text("plugin: quantumnas\ntask: quantumnas-vqe\ntask_options: {molecule: h2, n_blocks: 2}\n"
                   "space_options: {n_blocks: 2}\nbudget: {evaluations: 4}\nworkers: 1\n"
                   "phases: {finalize: {task: false}}\n")
    p = run_cli("search", "--config", cfg, "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    campaign = (tmp_path / "run" / "campaign.yaml").read_text()
    assert "supernet: {}" in campaign  # the QML default's settings, reset for the VQE task
    assert "supernet" in json.loads((tmp_path / "run" / "summary.json").read_text())["phase_s"]
    assert (tmp_path / "run" / "supercircuit.pt").is_file()
