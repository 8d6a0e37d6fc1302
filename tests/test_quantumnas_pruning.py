"""Pruning whole gates: the option that lets pruning remove two-qubit gates (the paper prunes single angles,
and a CU3 whose theta alone is zero is still a controlled phase, two CNOTs on the device)."""
import pytest
import torch

pytest.importorskip("qiskit")

from nasfw.plugins.quantumnas import train as qt  # noqa: E402
from nasfw.plugins.quantumnas.compile import transpile  # noqa: E402
from nasfw.plugins.quantumnas.data import load_qml  # noqa: E402
from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit  # noqa: E402


def test_gate_pruning_removes_whole_gates_smallest_first_and_their_cnots():
    d = load_qml("digits", [0, 1, 2, 3], 16, n_valid=50, n_test=50)
    sc = SuperCircuit("u3cu3", 4, n_blocks=2)
    sub = sc.extract(sc.largest())
    slices = qt.gate_slices(sub)
    cu3 = [i for i, (name, _, angles) in enumerate(g for g in sub.gates() if g[2] is not None) if name == "cu3"]
    u3 = [i for i in range(len(slices)) if i not in cu3]
    with torch.no_grad():
        sub.theta[slices[cu3[0]]] = torch.tensor([0.02, -0.01, 0.03])  # near the identity: it goes first
        sub.theta[slices[u3[0]]] = torch.tensor([0.0, 2.0, -2.0])  # U3(0, phi, -phi) is the identity itself
    distances = qt.gate_distances(sub)
    assert distances[u3[0]] < 1e-6 and distances[cu3[0]] < 0.05 < distances.sort().values[2]
    before = to_qiskit(sub).count_ops().get("cu3", 0)
    history = qt.prune(sub, d.train, 4, final=0.3, initial=0.1, steps=2, epochs_per_step=1, granularity="gate")
    assert history[-1] >= 0.3
    per_gate = [sub.mask[s] for s in slices]
    assert all(bool((m == 0).all()) or bool((m == 1).all()) for m in per_gate)  # all or nothing, gate by gate
    assert bool((per_gate[cu3[0]] == 0).all()) and bool((per_gate[u3[0]] == 0).all())
    after = to_qiskit(sub).count_ops().get("cu3", 0)
    assert after < before
    # as deployed: the pruned gates are gone, and with them their CNOTs after compiling to the device
    full = sc.extract(sc.largest())
    cx = [transpile(m, "quito", [0, 1, 2, 3], 1, seed=0)[0].count_ops().get("cx", 0) for m in (full, sub)]
    assert cx[1] < cx[0]
    with pytest.raises(ValueError, match="granularity 'layer'"):
        qt.prune(sub, d.train, 4, granularity="layer")
