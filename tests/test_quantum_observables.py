"""The density-matrix program read in the Heisenberg picture (search_spaces/quantum_observables.py): the same
<Z> and outcome probabilities as stepping density matrices through the circuit, and as qiskit-aer's exact
density matrix with the calibrated readout error; a circuit whose inputs enter after a two-qubit gate falls
back to stepping."""
import numpy as np
import pytest
import torch

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from qiskit.circuit import Parameter  # noqa: E402

from nasfw.hardware.quantum_noise import backend, channels, noise_model  # noqa: E402
from nasfw.search_spaces import quantum_observables as qo  # noqa: E402
from nasfw.search_spaces.quantum_density import DensityProgram  # noqa: E402
from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit  # noqa: E402


def compiled(circuit, device, layout, wires=4, blocks=2, features=16):
    sc = SuperCircuit(circuit, wires, n_blocks=blocks, device_qubits=backend(device).num_qubits,
                      n_features=features, seed=0)
    arch = sc.space.sample(0)
    layout = list(layout or arch["layout"])  # None: the sampled layout
    qc = to_qiskit(sc.extract({**arch, "layout": layout}))
    tq = qiskit.transpile(qc, backend(device), optimization_level=2, initial_layout=layout, seed_transpiler=0)
    inputs = sorted(qc.parameters, key=lambda p: p.index)
    g, ro = channels(device)
    return tq, inputs, DensityProgram.from_qiskit(tq, g, ro, inputs)


def stepped(prog, x):
    """<Z> and probabilities from the final density matrices, as the program computed them before."""
    p = prog._stepped_probabilities(torch.as_tensor(x, dtype=torch.float32))
    p = p / p.sum(-1, keepdim=True)
    return prog.stepped_expval_z(x), p


def aer_z(tq, inputs, x, device, prog):
    """Exact read-out <Z> per clbit from aer's density matrix and the device's readout confusion matrices."""
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="density_matrix", noise_model=noise_model(device))
    out = []
    for row in x:
        qc = tq.assign_parameters({p: float(v) for p, v in zip(inputs, row)})
        qc.remove_final_measurements()
        qc.save_density_matrix(qubits=prog.physical)
        probs = np.real(np.diag(np.asarray(sim.run(qc).result().data(0)["density_matrix"])))
        z = []
        for q, m in zip(prog.measured, prog.readout):
            p1 = sum(pr for i, pr in enumerate(probs) if (i >> q) & 1)  # aer: local qubit q is bit q
            z.append((1 - p1) * (m[0, 0] - m[0, 1]) + p1 * (m[1, 0] - m[1, 1]))
        out.append(z)
    return np.array(out)


@pytest.mark.parametrize("circuit,device,layout", [("u3cu3", "quito", (0, 1, 2, 3)),
                                                   ("zz_ry", "lima", (4, 3, 1, 0)),
                                                   ("u3cu3", "yorktown", (2, 0, 1, 3)),  # u1/u2/u3 basis
                                                   ("rxyz", "torino", (0, 1, 2, 3))])  # Heron: CZ
def test_the_heisenberg_picture_reads_what_stepping_reads(circuit, device, layout):
    tq, inputs, prog = compiled(circuit, device, layout)
    assert qo.plan(prog.steps, prog.n_qubits) is not None  # the encoder's inputs all enter before entangling
    x = np.random.default_rng(1).uniform(0, np.pi, (40, 16))
    z_ref, p_ref = stepped(prog, x)
    assert (prog.expval_z(x) - z_ref).abs().max() < 2e-6
    assert (prog.probabilities(x) - p_ref).abs().max() < 1e-6
    assert np.abs(prog.expval_z(x[:3]).numpy() - aer_z(tq, inputs, x[:3], device, prog)).max() < 1e-5


def test_routing_ancillas_and_wider_circuits():
    """Six wires on Guadalupe touch nine qubits (routing ancillas start in |0> and take no input)."""
    tq, inputs, prog = compiled("u3cu3", "guadalupe", None, wires=6, blocks=2, features=36)
    assert prog.n_qubits > 6
    x = np.random.default_rng(2).uniform(0, np.pi, (3, 36))
    z_ref, _ = stepped(prog, x)
    assert (prog.expval_z(x) - z_ref).abs().max() < 2e-6


def test_an_input_after_a_two_qubit_gate_falls_back_to_stepping():
    a, b = Parameter("a"), Parameter("b")
    qc = qiskit.QuantumCircuit(2, 2)
    qc.ry(a, 0)
    qc.cx(0, 1)
    qc.rx(b, 1)  # transpiled to rz(b + ...) between sx gates: inside the fixed part, were there one
    qc.measure([0, 1], [0, 1])
    tq = qiskit.transpile(qc, backend("quito"), optimization_level=2, initial_layout=[0, 1], seed_transpiler=0)
    g, ro = channels("quito")
    prog = DensityProgram.from_qiskit(tq, g, ro, [a, b])
    assert qo.plan(prog.steps, prog.n_qubits) is None
    x = np.array([[0.3, 1.1], [2.0, 0.4]])
    assert np.abs(prog.expval_z(x).numpy() - aer_z(tq, [a, b], x, "quito", prog)).max() < 1e-5


def test_observables_carried_back_in_groups_read_the_same(monkeypatch):
    """At 12 qubits one observable is 128 MiB: they go back in groups bounded by CHUNK_ELEMENTS."""
    _, _, prog = compiled("u3cu3", "quito", (0, 1, 2, 3))
    x = np.random.default_rng(3).uniform(0, np.pi, (20, 16))
    whole = prog.expval_z(x)
    monkeypatch.setattr(qo, "CHUNK_ELEMENTS", 4 ** prog.n_qubits)  # one observable at a time
    _, _, again = compiled("u3cu3", "quito", (0, 1, 2, 3))
    assert (again.expval_z(x) - whole).abs().max() < 1e-6


def test_the_picture_is_taken_where_it_pays():
    """Carrying K observables back costs about what stepping K inputs does: 1,024 outcome projectors of 10 qubits
    are not worth it for 100 inputs, ten <Z> are; a 4-qubit program is cheap either way."""
    assert qo.worth_it(10, 10, 100) and not qo.worth_it(10, 1024, 100)
    assert qo.worth_it(4, 16, 1)
    _, _, prog = compiled("u3cu3", "quito", (0, 1, 2, 3))
    prog.probabilities(np.zeros((1, 16)))
    assert prog._observables["outcomes"] is not None


def test_one_qubit_steps_fold_into_the_next_two_qubit_step():
    _, _, prog = compiled("u3cu3", "quito", (0, 1, 2, 3))
    pl = qo.plan(prog.steps, prog.n_qubits)
    entangling = [st for st in prog.steps if len(st.wires) == 2]
    assert len(pl.suffix) < len(entangling) + prog.n_qubits + 1  # only what follows a qubit's last 2-qubit step
    assert sum(len(st.wires) == 2 for st in pl.suffix) == len(entangling)


def test_sampled_shots_come_from_the_same_distribution():
    _, _, prog = compiled("u3cu3", "quito", (0, 1, 2, 3))
    x = np.random.default_rng(4).uniform(0, np.pi, (2, 16))
    a, b = prog.expval_z(x, shots=4096, seed=5), prog.expval_z(x, shots=4096, seed=5)
    assert torch.equal(a, b) and (a - prog.expval_z(x)).abs().max() < 0.08
