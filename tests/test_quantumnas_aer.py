"""The final qiskit-aer evaluation: its inputs run as parallel experiments on every core, with the counts of a
serial run."""
import os

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from nasfw.plugins.quantumnas import compile as qc  # noqa: E402
from nasfw.plugins.quantumnas.task import QuantumNASTask  # noqa: E402


@pytest.fixture(scope="module")
def compiled():
    task = QuantumNASTask(dataset="digits", n_blocks=2, n_valid=20, n_test=12, device="quito")
    module = task.supercircuit.extract({**task.supercircuit.largest(), "layout": [0, 1, 2, 3]})
    tq, inputs = qc.transpile(module, task.device, [0, 1, 2, 3])
    return tq, inputs, task.data.test.x.numpy(), task.device


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="parallel experiments need two cores")
def test_aer_runs_the_inputs_side_by_side_on_every_core(compiled):
    """A 4-qubit density matrix is too small for aer to split one state over threads, and aer ran its
    experiments one at a time by default: one core worked while the others sat idle."""
    tq, inputs, x, device = compiled
    result = qc.aer_run(tq, inputs, x, device, shots=1024, seed=3)
    assert result.metadata["parallel_experiments"] >= 2


def test_parallel_experiments_count_what_a_serial_run_counts(compiled):
    tq, inputs, x, device = compiled
    parallel = qc.aer_run(tq, inputs, x, device, shots=1024, seed=3)
    serial = qc.aer_run(tq, inputs, x, device, shots=1024, seed=3, threads=1)
    assert serial.metadata["parallel_experiments"] == 1
    assert [parallel.get_counts(i) for i in range(len(x))] == [serial.get_counts(i) for i in range(len(x))]
    z = qc.aer_expval(tq, inputs, x, device, shots=1024, seed=3)
    assert z.shape == (len(x), 4) and np.abs(z).max() <= 1
    assert np.array_equal(z, qc.aer_expval(tq, inputs, x, device, shots=1024, seed=3, threads=1))
