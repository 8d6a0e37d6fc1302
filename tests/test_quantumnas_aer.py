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


def _bound_one_by_one(tq, inputs, x, device, shots, seed, method="density_matrix"):
    """The reference: one circuit per input row, bound in Python, run as aer's experiments one after another."""
    from qiskit_aer import AerSimulator

    from nasfw.hardware import quantum_noise

    sim = AerSimulator(method=method, noise_model=quantum_noise.noise_model(device), seed_simulator=seed,
                       max_parallel_threads=1)
    bound = [tq.assign_parameters({p: float(v) for p, v in zip(inputs, row)}) for row in x]
    return sim.run(bound, shots=shots).result()


def test_aer_binds_the_inputs_itself_with_the_counts_of_circuits_bound_one_by_one(compiled):
    """aer prepares the circuit and its noise once and binds each row at run time (a row's experiment had been a
    circuit of its own, each prepared anew); every experiment keeps its seed, so the counts are the same."""
    tq, inputs, x, device = compiled
    reference = _bound_one_by_one(tq, inputs, x, device, shots=1024, seed=3)
    for threads in (1, 2, 5, 0):  # one block of rows per thread (0: every core), each bound at run time
        result = qc.aer_run(tq, inputs, x, device, shots=1024, seed=3, threads=threads)
        assert len(result.results) == len(x) and result.results[0].metadata["runtime_parameter_bind"]
        assert [result.get_counts(i) for i in range(len(x))] == [reference.get_counts(i) for i in range(len(x))]


def test_past_ten_qubits_each_row_stays_a_circuit_with_the_serial_counts():
    """Beyond 10 touched qubits aer samples noisy state-vector trajectories, one per shot; bound at run time and run
    as parallel experiments they gave other counts from one run to the next, so there each row is bound in Python,
    as before, and the counts are the serial run's (an 11-wire circuit on Guadalupe)."""
    task = QuantumNASTask(dataset="digits", n_wires=11, n_blocks=1, n_features=16, n_valid=20, n_test=3,
                          device="guadalupe", noise="proxy")
    arch = {**task.supercircuit.largest(), "layout": list(range(11))}
    tq, inputs = qc.transpile(task.supercircuit.extract(arch), task.device, arch["layout"])
    assert len(qc.touched_qubits(tq)) > 10
    x = task.data.test.x.numpy()
    reference = _bound_one_by_one(tq, inputs, x, task.device, shots=32, seed=5, method="statevector")
    for _ in range(3):
        result = qc.aer_run(tq, inputs, x, task.device, shots=32, seed=5)
        assert result.results[0].metadata["method"] == "statevector"
        assert not result.results[0].metadata.get("runtime_parameter_bind")
        assert [result.get_counts(i) for i in range(len(x))] == [reference.get_counts(i) for i in range(len(x))]
