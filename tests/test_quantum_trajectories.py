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
import nasfw.search_spaces.quantum_trajectories as qt  # noqa: E402
from nasfw.search_spaces.quantum_density import _PARAM_1Q, DensityProgram, superop_from_kraus  # noqa: E402
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


def _density_of(traj: TrajectoryProgram, x: np.ndarray) -> np.ndarray:
    """Every step of the trajectory program applied as a whole channel (all its Kraus operators) to a density
    matrix: the state the trajectories sample from, computed exactly."""
    n = traj.n_qubits
    rho = np.zeros((2 ** n, 2 ** n), dtype=np.complex128)
    rho[0, 0] = 1.0
    rho = rho.reshape((2,) * 2 * n)

    def apply(rho, ks, wires):
        k = len(wires)
        out = 0
        for op in ks:
            t = op.reshape((2,) * 2 * k)
            r = np.moveaxis(np.tensordot(t, rho, axes=(list(range(k, 2 * k)), list(wires))), list(range(k)), wires)
            r = np.tensordot(r, t.conj(), axes=([n + w for w in wires], list(range(k, 2 * k))))
            out = out + np.moveaxis(r, list(range(2 * n - k, 2 * n)), [n + w for w in wires])
        return out

    for op in traj.ops:
        kraus = [] if op.kraus is None else [k.numpy().astype(np.complex128) for k in op.kraus]
        if op.gate:
            theta = [torch.tensor([c + float(x @ k.numpy())]) for c, k in op.angles]
            u = (qt._rz(theta[0]) if op.gate == "rz" else _PARAM_1Q[op.gate](*theta))[0].numpy()
            kraus = [u] if not kraus else [u @ k if op.first else k @ u for k in kraus]
        rho = apply(rho, kraus, op.wires)
    return rho.reshape(2 ** n, 2 ** n)


@pytest.mark.parametrize("device,layout,n_wires", [("quito", (0, 1, 2, 3), 4), ("lima", (4, 3, 1, 0), 4),
                                                   ("manila", (0, 4, 2, 3), 4)])
def test_folded_steps_are_the_density_programs_channels(device, layout, n_wires):
    """Folding the single-qubit channels into their neighbours, and a SWAP's CNOTs into one channel, changes
    the steps but not the channel: applied whole to a density matrix, the trajectory program's fewer steps give
    the density program's exact <Z> (a channel folded onto the wrong qubit or in the wrong order moves them by
    about a gate error, far above the 1e-5 checked; the statistical tests below would not see it)."""
    tq, inputs = compiled("u3cu3", device, layout, n_wires=n_wires, blocks=3)
    g, ro = channels(device)
    dens = DensityProgram.from_qiskit(tq, g, ro, inputs)
    traj = TrajectoryProgram(dens)
    assert len(traj.ops) < 0.6 * len(dens.steps)
    assert any(o.gate and o.kraus is not None and o.first for o in traj.ops)  # a channel sampled before a gate
    unfolded = TrajectoryProgram(dens, fold=False)  # the benchmark's reference: one step per gate
    assert len(unfolded.ops) == len(dens.steps)
    x = np.random.default_rng(5).uniform(0, np.pi, (2, 16))
    exact = dens.expval_z(x).numpy()
    for prog, b in [(prog, b) for prog in (traj, unfolded) for b in range(len(x))]:
        p = np.clip(np.diag(_density_of(prog, x[b])).real, 0, None).reshape((2,) * prog.n_qubits)
        for c, q in enumerate(prog.measured):
            marg = np.moveaxis(p, q, -1).reshape(-1, 2).sum(0)
            read = marg @ prog.readout[c]
            assert abs((read[0] - read[1]) - exact[b, c]) < 1e-5, (b, c, read[0] - read[1], exact[b, c])


def test_qubits_joining_as_they_are_first_used_give_the_circuits_state():
    """Without noise a trajectory is the circuit's state vector. Qubits join the states when a step first acts on
    them (routing's ancillas late); the final state, with its qubits back in the program's order, is qiskit's."""
    from qiskit.quantum_info import Statevector

    tq, inputs = compiled("u3cu3", "guadalupe", (0, 2, 4, 6, 8, 10, 12, 14, 1, 3), n_wires=10, blocks=1)
    traj = TrajectoryProgram(DensityProgram.from_qiskit(tq, {}, {}, inputs, max_qubits=qt.MAX_QUBITS))
    x = np.random.default_rng(6).uniform(0, np.pi, 36)
    first_use = [next(i for i, o in enumerate(traj.ops) if q in o.wires) for q in range(traj.n_qubits)]
    assert max(first_use) > len(traj.ops) // 4  # some qubit joins well after the start
    ours = traj.states(x, 1)[0].reshape(-1).numpy()
    bound = tq.remove_final_measurements(inplace=False).assign_parameters(dict(zip(inputs, x)))
    full = Statevector(bound).data.reshape((2,) * tq.num_qubits)  # axis 0 is the last qubit
    full = np.transpose(full, list(range(tq.num_qubits))[::-1])
    ref = full[tuple(slice(None) if p in traj.physical else 0 for p in range(tq.num_qubits))].reshape(-1)
    assert abs(np.vdot(ref, ours)) > 1 - 1e-4, abs(np.vdot(ref, ours))  # equal up to a global phase


@pytest.mark.parametrize("first,z", [(False, 0.6), (True, 0.0)])
def test_a_gate_and_its_channel_in_one_pass_keep_their_order(first, z):
    """A gate per trajectory and a channel are sampled in one pass, the channel after the gate or before it.
    With amplitude damping (gamma 0.6) and RY(pi/2) on |0>: damping after the gate leaves <Z> = 1 - 2 * 0.5 *
    (1 - 0.6) = 0.6, damping first does nothing and the gate gives <Z> = 0 (the jump probabilities read without
    the gate would give 0.43 for the first order)."""
    gamma = 0.6
    k = torch.tensor(np.array([[[1, 0], [0, np.sqrt(1 - gamma)]], [[0, np.sqrt(gamma)], [0, 0]]]), dtype=qt.CDTYPE)
    op = qt._Op((0,), kraus=k, povm=k.conj().transpose(-1, -2) @ k, gate="ry", first=first)
    b = 20000
    psi = torch.zeros((b, 2), dtype=qt.CDTYPE)
    psi[:, 0] = 1
    u = _PARAM_1Q["ry"](torch.full((b,), np.pi / 2))
    out = qt._sample_channel(psi, op, torch.Generator().manual_seed(0), u, first)
    got = float((out.abs().square() @ torch.tensor([1.0, -1.0])).mean())
    assert abs(got - z) < 0.03, got  # 4 standard errors of 20,000 trajectories
    assert torch.allclose(out.abs().square().sum(1), torch.ones(b), atol=1e-5)  # each state stays normalised


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
    # a state of 16 amplitudes is 128 bytes: chunks of 2,560 bytes hold 20 trajectories, so each input's 50 are
    # cut across chunks (and chunks across inputs); the result estimates the same <Z>
    z, sem = traj.expval_z(x, trajectories=400, seed=7, sem=True)
    cut, sem_cut = traj.expval_z(x, trajectories=400, seed=7, max_bytes=2560, sem=True)
    assert cut.shape == a.shape and not torch.equal(cut, z)
    assert ((cut - z).abs() / (sem ** 2 + sem_cut ** 2).sqrt().clamp_min(1e-4)).max() < 4.5


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
