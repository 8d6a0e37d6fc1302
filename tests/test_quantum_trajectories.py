"""The torch trajectory evaluator: its Kraus sets are the density program's channels, and averaged over
trajectories its <Z> converge to the exact noisy <Z> of the density matrix (itself equal to qiskit-aer's,
tests/test_quantum_density.py), within a few standard errors; past the density matrix's reach it runs a
10-qubit circuit routed on a 16-qubit device and agrees with qiskit-aer's own trajectories."""
import numpy as np
import pytest
import torch

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from nasfw.hardware.quantum_noise import backend, channels, noise_model  # noqa: E402
from nasfw.search_spaces.quantum_density import DensityProgram, superop_from_kraus  # noqa: E402
from nasfw.search_spaces.quantum_trajectories import TrajectoryProgram, kraus_from_superop  # noqa: E402
from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit  # noqa: E402


def compiled(circuit, device, layout, n_wires=4, blocks=2, seed=0):
    sc = SuperCircuit(circuit, n_wires, n_blocks=blocks, device_qubits=backend(device).num_qubits, seed=seed,
                      n_features=16 if n_wires <= 8 else 36)
    qc = to_qiskit(sc.extract(sc.space.sample(seed)))
    tq = qiskit.transpile(qc, backend(device), optimization_level=2, initial_layout=list(layout), seed_transpiler=0)
    return tq, sorted(qc.parameters, key=lambda p: p.index)


def test_kraus_sets_give_back_the_channels():
    tq, inputs = compiled("u3cu3", "quito", (0, 1, 2, 3))
    g, ro = channels("quito")
    prog = DensityProgram.from_qiskit(tq, g, ro, inputs)
    for st in [s for s in prog.steps if s.superop is not None][:12]:
        k = kraus_from_superop(st.superop.numpy())
        d = k.shape[1]
        assert len(k) <= d * d  # minimal: at most d^2 operators
        assert np.abs(superop_from_kraus(list(k)) - st.superop.numpy()).max() < 1e-5
        assert np.abs(sum(x.conj().T @ x for x in k) - np.eye(d)).max() < 1e-5  # trace preserving


@pytest.mark.parametrize("circuit,device,layout", [("u3cu3", "quito", (0, 1, 2, 3)),
                                                   ("rxyz", "lima", (4, 3, 1, 0)),
                                                   ("u3cu3", "yorktown", (2, 0, 1, 3)),
                                                   ("zz_ry", "quito", (1, 3, 4, 2))])
def test_trajectories_converge_to_the_density_matrix(circuit, device, layout):
    tq, inputs = compiled(circuit, device, layout)
    g, ro = channels(device)
    dens = DensityProgram.from_qiskit(tq, g, ro, inputs)
    traj = TrajectoryProgram(dens)
    x = np.random.default_rng(1).uniform(0, np.pi, (3, 16))
    exact = dens.expval_z(x).numpy()
    z, sem = traj.expval_z(x, trajectories=3000, seed=2, sem=True)
    dev = np.abs(z.numpy() - exact) / np.maximum(sem.numpy(), 1e-4)
    assert dev.max() < 4.5, (dev.max(), np.abs(z.numpy() - exact).max())
    # noise makes the trajectories differ: a standard error that shrinks with their number
    _, sem_few = traj.expval_z(x, trajectories=100, seed=2, sem=True)
    assert (sem_few.mean() > 3 * sem.mean()) and float(sem.mean()) > 0


def test_same_seed_same_result_and_chunks_do_not_matter():
    tq, inputs = compiled("u3cu3", "quito", (0, 1, 2, 3))
    g, ro = channels("quito")
    traj = TrajectoryProgram.from_qiskit(tq, g, ro, inputs)
    x = np.random.default_rng(3).uniform(0, np.pi, (4, 16))
    a = traj.expval_z(x, trajectories=50, seed=7)
    assert torch.equal(a, traj.expval_z(x, trajectories=50, seed=7))
    assert not torch.equal(a, traj.expval_z(x, trajectories=50, seed=8))
    # a state of 16 amplitudes x 50 trajectories is 6.4 kB: 7 kB chunks hold one input; the seed follows the input
    one_by_one = traj.expval_z(x, trajectories=50, seed=7, max_bytes=7000)
    assert one_by_one.shape == a.shape and torch.isfinite(one_by_one).all()


@pytest.mark.slow  # aer's 4096 trajectories of 13 qubits
def test_ten_qubits_past_the_density_matrix_agree_with_aer():
    """A 10-qubit U3+CU3 circuit on Guadalupe with a spread layout touches more qubits than a density matrix
    holds; qiskit-aer's noisy trajectories (4096 shots) and ours agree within their combined errors."""
    from qiskit_aer import AerSimulator

    tq, inputs = compiled("u3cu3", "guadalupe", (0, 2, 4, 6, 8, 10, 12, 14, 1, 3), n_wires=10, blocks=1)
    g, ro = channels("guadalupe")
    with pytest.raises(ValueError, match="density-matrix evaluator stops at 12"):
        DensityProgram.from_qiskit(tq, g, ro, inputs)
    traj = TrajectoryProgram.from_qiskit(tq, g, ro, inputs)
    assert traj.n_qubits > 12
    x = np.random.default_rng(4).uniform(0, np.pi, (1, 36))
    z, sem = traj.expval_z(x, trajectories=400, seed=1, sem=True)
    shots = 4096
    sim = AerSimulator(method="statevector", noise_model=noise_model("guadalupe"), seed_simulator=5)
    counts = sim.run(tq.assign_parameters({p: float(v) for p, v in zip(inputs, x[0])}), shots=shots).result() \
        .get_counts()
    ref = np.zeros(10)
    for bits, c in counts.items():
        bits = bits[::-1]
        ref += c * np.array([1.0 if bits[q] == "0" else -1.0 for q in range(10)])
    ref /= shots
    err = np.sqrt(sem.numpy()[0] ** 2 + (1 - ref ** 2) / shots)
    assert (np.abs(z.numpy()[0] - ref) / err).max() < 4.5
    assert np.abs(ref).max() > 0.1  # the comparison is not of two noise floors
