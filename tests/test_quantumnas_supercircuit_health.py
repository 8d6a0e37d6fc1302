"""Whether weight sharing trained: the supernet phase measures its SuperCircuit against guessing, keeps the figures
in the run folder, and says so on stderr and in the final report when the inherited weights rank nothing."""
import json

import pytest

pytest.importorskip("qiskit_aer")

from nasfw.plugins.quantumnas import finalize as qf  # noqa: E402
from nasfw.plugins.quantumnas.task import QuantumNASTask  # noqa: E402


@pytest.mark.parametrize("circuit, learned", [("u3cu3", True), ("ibmq_basis", False)])
def test_a_supercircuit_that_learnt_nothing_is_told_apart(tmp_path, capsys, circuit, learned):
    """Trained alike (100 epochs, digits 3 vs 6), U3+CU3's sampled SubCircuits scored validation loss 0.60 and
    69% (guessing: 0.69, 50%); IBMQ-basis's 0.78 and 46% (a sampled SubCircuit holds its fixed X and SX gates on a
    varying number of wires, and the same angles must serve circuits those gates set apart). A user read such a
    search's ranking without being told."""
    task = QuantumNASTask(dataset="digits", classes=[3, 6], n_valid=72, n_test=72, circuit=circuit, device="quito")
    task.train_supernet(tmp_path, epochs=100, lr=5e-2, batch_size=32, sampling="uniform", warmup_epochs=2,
                        progress=False)
    health = json.loads((tmp_path / "supercircuit.json").read_text())
    assert health["learned"] is learned and health["circuit"] == circuit and health["samples"] == 16
    assert (health["sampled_loss"] < 0.97 * health["guess_loss"]) is learned
    err = capsys.readouterr().err
    assert ("note: the SuperCircuit did not train" in err) is (not learned)
    if not learned:
        assert f"in the {circuit!r} space" in err and "phases.supernet.epochs" in err
        assert "phases.finalize.task.retrain" in err
    # the final report carries the same note above its table
    report = {"device": "quito", "dataset": "digits", "classes": [3, 6], "test_samples": 72, "shots": 8192,
              "torch_evaluator": None, "rows": [], "supercircuit": health}
    table = qf.table(report)
    assert ("Note: the SuperCircuit did not train" in table) is (not learned)
    assert table.index("| circuit |") > (table.find("Note:") if not learned else -1)


def test_a_report_without_the_measurement_reads_as_before():
    """Runs finalized before the supernet phase measured anything have no `supercircuit` entry."""
    report = {"device": "quito", "dataset": "digits", "classes": [3, 6], "test_samples": 72, "shots": 8192,
              "torch_evaluator": None, "rows": []}
    assert "Note:" not in qf.table(report)
