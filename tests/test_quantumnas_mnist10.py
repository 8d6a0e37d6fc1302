"""MNIST-10 on 10 qubits: the simulator against qiskit at that size, and the experiment's whole path (proxy
fitness, 10-qubit training, aer trajectories beyond 10 active qubits) at a tiny budget."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_ten_qubit_circuit_runs_as_qiskit_runs_it():
    from qiskit.quantum_info import Pauli, Statevector

    sc = SuperCircuit("u3cu3", 10, 2, seed=4, n_features=36)
    sub = sc.extract(sc.space.sample(5))
    x = torch.rand(3, 36) * np.pi
    with torch.no_grad():
        z = sub(x)  # 3 samples < 1024 amplitudes: gate by gate
    qc = to_qiskit(sub, measure=False)
    for i in range(3):
        sv = Statevector(qc.assign_parameters([float(v) for v in x[i]]))
        ref = [sv.expectation_value(Pauli("".join("Z" if k == q else "I" for k in reversed(range(10))))).real
               for q in range(10)]
        assert np.abs(np.array(ref) - z[i].numpy()).max() < 1e-5


def run_tiny(run_cli, tmp_path, name: str, population: int, evaluations: int, task_options: dict,
             finalize: dict | None = None) -> dict:
    """Run an experiment file end to end with every phase cut to a few seconds; its campaign as run."""
    raw = yaml.safe_load((ROOT / "experiments" / name).read_text())
    raw["task_options"].update({"n_test": 8, **task_options})
    raw["budget"] = {"evaluations": evaluations}
    raw["searcher"] = {"name": "ofa-evolution", "settings": {"population_size": population, "parent_ratio": 0.5,
                                                             "mutation_ratio": 0.5, "mutate_prob": 0.4}}
    raw["phases"]["supernet"].update({"epochs": 1})
    raw["phases"]["finalize"]["task"].update({"scratch_epochs": 1, "shots": 32, "prune_steps": 1, "prune_epochs": 1,
                                              "search_population": population, **(finalize or {})})
    raw["out"] = str(tmp_path / "run")
    cfg = tmp_path / name
    cfg.write_text(yaml.safe_dump(raw))
    p = run_cli("search", "--config", cfg, "--no-progress", timeout=900)
    assert p.returncode == 0, p.stderr
    return raw


@pytest.mark.slow
def test_mnist10_experiment_at_a_tiny_budget(run_cli, tmp_path):
    run_tiny(run_cli, tmp_path, "quantumnas-mnist10-guadalupe.yaml", population=4, evaluations=6,
             task_options={"n_valid": 60}, finalize={"torch_trajectories": 4})
    report = json.loads((tmp_path / "run" / "quantumnas.json").read_text())
    assert [r["name"] for r in report["rows"]] == [
        "searched", "searched + pruned", "human design", "random circuit", "noise-unaware search",
        "searched, fixed mapping", "searched, SABRE layout"]
    for r in report["rows"]:
        # proxy fitness, and finalize's torch column from trajectories (torch_trajectories)
        assert 0 <= r["aer_accuracy"] <= 1 and 0 <= r["torch_noisy_accuracy"] <= 1
    human = report["rows"][2]
    assert human["params"] == 240 and human["two_qubit_gates"] > report["rows"][0]["two_qubit_gates"]
    assert len(report["layout"]) == 10 and len(set(report["layout"])) == 10
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["searched, fixed mapping"]["layout"] == list(range(10))
    assert rows["searched, fixed mapping"]["params"] == rows["searched"]["params"]
    assert abs(rows["random circuit"]["params"] - rows["searched"]["params"]) <= 12  # closest of 500 samples


@pytest.mark.slow
def test_mnist10_trajectory_fitness_experiment_at_a_tiny_budget(run_cli, tmp_path):
    """The noisy-fitness variant: the search scores candidates by the calibrated loss under torch trajectories,
    and finalize gives the rows the file asks for, each with a torch noisy column beside aer."""
    raw = run_tiny(run_cli, tmp_path, "quantumnas-mnist10-guadalupe-trajectories.yaml", population=2,
                   evaluations=4, task_options={"n_valid": 24, "trajectories": 2})
    assert raw["task_options"]["noise"] == "trajectories"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["objectives"] == [{"metric": "calibrated_loss", "direction": "min"}]
    best = summary["best"]["metrics"]
    # the fitness is the noisy loss, not the noise-free one it sits beside
    assert best["calibrated_loss"] != best["noise_free_calibrated_loss"]
    report = json.loads((tmp_path / "run" / "quantumnas.json").read_text())
    assert [r["name"] for r in report["rows"]] == [
        "searched", "searched + pruned", "random circuit", "noise-unaware search", "searched, fixed mapping",
        "searched, SABRE layout"]
    for r in report["rows"]:
        assert 0 <= r["aer_accuracy"] <= 1 and 0 <= r["torch_noisy_accuracy"] <= 1
