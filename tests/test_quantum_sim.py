"""Every gate of the torch simulator against qiskit-aer's statevector (to 1e-5), and gradients."""
import numpy as np
import pytest
import torch

from nasfw.search_spaces import quantum_sim as qs

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

N = 4
ONE = ["rx", "ry", "rz", "u1", "u3", "x", "y", "z", "h", "sx", "s", "t"]
TWO = ["rzz", "rxx", "ryy", "rzx", "crx", "cry", "crz", "cu3", "cx", "cz", "swap"]


def qiskit_gate(qc, name, wires, params):
    from qiskit.circuit import library as lib

    table = {"rx": lib.RXGate, "ry": lib.RYGate, "rz": lib.RZGate, "u1": lib.PhaseGate, "u3": lib.UGate,
             "x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "h": lib.HGate, "sx": lib.SXGate, "s": lib.SGate,
             "t": lib.TGate, "rzz": lib.RZZGate, "rxx": lib.RXXGate, "ryy": lib.RYYGate, "rzx": lib.RZXGate,
             "crx": lib.CRXGate, "cry": lib.CRYGate, "crz": lib.CRZGate, "cu3": lib.CU3Gate, "cx": lib.CXGate,
             "cz": lib.CZGate, "swap": lib.SwapGate}
    qc.append(table[name](*params), list(wires))


def aer_state(qc):
    from qiskit_aer import AerSimulator

    qc = qc.copy()
    qc.save_statevector()
    sim = AerSimulator(method="statevector")
    # optimisation level 0: higher levels elide SWAPs into a final permutation of the saved state
    return np.asarray(sim.run(qiskit.transpile(qc, sim, optimization_level=0)).result().get_statevector())


def random_circuit(rng, n_gates, names):
    ops = []
    for _ in range(n_gates):
        name = names[rng.integers(len(names))]
        k = 1 if name in ONE else 2
        wires = tuple(int(w) for w in rng.choice(N, size=k, replace=False))
        params = tuple(float(p) for p in rng.uniform(-np.pi, np.pi, qs.n_params(name)))
        ops.append((name, wires, params))
    return ops


@pytest.mark.parametrize("name", ONE + TWO)
def test_each_gate_matches_aer(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    prep = random_circuit(rng, 8, ["u3", "cx"])  # a generic state, so every amplitude matters
    k = 1 if name in ONE else 2
    for wires in ([(0,), (3,)] if k == 1 else [(0, 1), (2, 0), (3, 1)]):
        params = tuple(float(p) for p in rng.uniform(-np.pi, np.pi, qs.n_params(name)))
        ops = prep + [(name, wires, params)]
        state = qs.zero_state(N)
        qc = qiskit.QuantumCircuit(N)
        for g, w, p in ops:
            state = qs.apply(state, g, w, p)
            qiskit_gate(qc, g, w, p)
        ours = qs.to_qiskit_order(state)[0].numpy()
        assert np.allclose(ours, aer_state(qc), atol=1e-5), (name, wires)


def test_random_circuits_and_z_expectations_match_aer():
    from qiskit.quantum_info import Pauli, Statevector

    rng = np.random.default_rng(0)
    for _ in range(5):
        ops = random_circuit(rng, 30, ONE + TWO)
        state = qs.zero_state(N)
        qc = qiskit.QuantumCircuit(N)
        for g, w, p in ops:
            state = qs.apply(state, g, w, p)
            qiskit_gate(qc, g, w, p)
        ref = aer_state(qc)
        assert np.allclose(qs.to_qiskit_order(state)[0].numpy(), ref, atol=1e-5)
        sv = Statevector(ref)
        for q in range(N):
            label = "".join("Z" if i == q else "I" for i in reversed(range(N)))
            assert abs(qs.expval_z(state)[0, q].item() - sv.expectation_value(Pauli(label)).real) < 1e-5


def test_batched_angles_and_gradients():
    """Per-sample encoder angles (B,) and shared trainable weights; gradients match finite differences."""
    torch.manual_seed(0)
    x = torch.rand(5, N) * np.pi
    w = torch.rand(3, requires_grad=True)

    def f(w):
        s = qs.zero_state(N, batch=5)
        for q in range(N):
            s = qs.apply(s, "ry", (q,), (x[:, q],))
        s = qs.apply(s, "cu3", (0, 1), (w[0], w[1], w[2]))
        s = qs.apply(s, "rzz", (2, 3), (w[0],))
        return qs.expval_z(s).sum()

    val = f(w)
    val.backward()
    eps = 1e-3
    for i in range(3):
        d = torch.zeros(3)
        d[i] = eps
        fd = (f(w.detach() + d) - f(w.detach() - d)) / (2 * eps)
        assert abs(fd.item() - w.grad[i].item()) < 2e-3
    s = qs.zero_state(N, batch=5)
    s = qs.apply(s, "ry", (0,), (x[:, 0],))
    assert torch.allclose(qs.expval_z(s)[:, 0], torch.cos(x[:, 0]), atol=1e-6)


def test_bad_gate_names_are_named():
    with pytest.raises(ValueError, match="unknown gate 'cu4'"):
        qs.apply(qs.zero_state(2), "cu4", (0, 1), ())
    with pytest.raises(ValueError, match="two different qubits"):
        qs.apply(qs.zero_state(2), "cx", (1, 1), ())


def test_run_matches_gate_by_gate_on_both_paths_with_gradients():
    """`qs.run` (matrices built per gate name; the circuit's unitary applied in one product when the batch is
    larger than the state) equals applying the gates one by one, in value and in gradient, on either side of
    the switch (batch 24 > 16 amplitudes: unitary; batch 8: gate by gate)."""
    rng = np.random.default_rng(5)
    ops = random_circuit(rng, 40, ONE + TWO)
    x = torch.rand(24, N) * np.pi
    w = torch.tensor([p for _, _, ps in ops for p in ps], dtype=torch.float32)

    def encoded(xb):
        s = qs.zero_state(N, batch=xb.shape[0])
        for q in range(N):
            s = qs.apply(s, "ry", (q,), (xb[:, q],))
            s = qs.apply(s, "rz", (q,), (xb[:, (q + 1) % N],))
        return s

    def gates(wt):
        out, i = [], 0
        for name, wires, ps in ops:
            out.append((name, wires, wt[i:i + len(ps)] if ps else None))
            i += len(ps)
        return out

    def loop(wt, xb):
        s = encoded(xb)
        for name, wires, a in gates(wt):
            s = qs.apply(s, name, wires, tuple(a) if a is not None else ())
        return qs.expval_z(s)

    for batch in (24, 8):
        wa, wb = w.clone().requires_grad_(), w.clone().requires_grad_()
        fast, ref = qs.expval_z(qs.run(encoded(x[:batch]), gates(wa))), loop(wb, x[:batch])
        assert torch.allclose(fast, ref, atol=1e-5), batch
        (fast ** 2).sum().backward()
        (ref ** 2).sum().backward()
        assert torch.allclose(wa.grad, wb.grad, atol=1e-4), batch


def test_product_state_equals_the_encoder_applied_gate_by_gate():
    x = torch.rand(6, 8) * np.pi
    enc = [("ry", 0, (x[:, 0],)), ("rx", 2, (x[:, 1],)), ("rz", 0, (x[:, 2],)), ("u3", 1, (x[:, 3], x[:, 4], 0.3)),
           ("h", 3, ()), ("ry", 3, (x[:, 5],))]
    s = qs.zero_state(N, batch=6)
    for name, wire, params in enc:
        s = qs.apply(s, name, (wire,), params)
    assert torch.allclose(qs.product_state(N, enc, 6), s, atol=1e-6)
    with pytest.raises(ValueError, match="single-qubit gates only, got 'cx'"):
        qs.product_state(N, [("cx", 0, ())], 6)
