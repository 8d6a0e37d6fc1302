"""The UCCSD baseline: its state, computed as Givens rotations in one electron-count-and-spin sector, against
qiskit's circuit of the same Pauli rotations and against the whole-space product it replaced; its training to
the exact energy; its noisy energies against qiskit-aer's."""
import itertools

import numpy as np
import pytest
import torch

pytest.importorskip("openfermion")
pytest.importorskip("qiskit_aer")

from nasfw.plugins.quantumnas.uccsd import UCCSD, _pauli_action, pauli_product_state  # noqa: E402
from nasfw.plugins.quantumnas.vqe import VQETask  # noqa: E402


def _random(ucc: UCCSD, seed: int = 0, scale: float = 0.3) -> UCCSD:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ucc.theta.copy_(scale * torch.randn(ucc.n_params, generator=g, dtype=torch.float64))
    return ucc


@pytest.mark.parametrize("n, electrons", [(4, 2), (8, 4)])
def test_the_state_equals_qiskits_circuit(n, electrons):
    from qiskit.quantum_info import Statevector

    ucc = _random(UCCSD(n, electrons))
    qc = ucc.qiskit_circuit()
    qc.remove_final_measurements()
    reference = Statevector(qc).reverse_qargs().data  # qiskit's qubit 0 is the least significant bit
    assert np.allclose(ucc.full_state().numpy(), reference, atol=1e-10)


def test_the_sector_state_equals_the_whole_space_product_of_pauli_rotations():
    """N2-sized (12 qubits, 6 electrons): 400 amplitudes against 4,096, equal to 1e-12."""
    ucc = _random(UCCSD(12, 6), seed=1)
    assert len(ucc.basis) == 400 and ucc.n_params == 54
    with torch.no_grad():
        whole = pauli_product_state(ucc)
    assert torch.allclose(ucc.full_state(), whole, atol=1e-12)
    assert float(torch.linalg.vector_norm(whole)) == pytest.approx(1.0, abs=1e-12)


def test_an_excitations_pauli_strings_commute():
    """Why each excitation's factor is exact both in torch (one rotation) and in qiskit (a gate per string)."""
    ucc = UCCSD(8, 4)
    for excitations in ucc.generators:
        for e in excitations:
            strings = [s for _, s in e.pauli_strings(8)]
            for a, b in itertools.combinations(strings, 2):
                anticommuting = sum(x != "I" and y != "I" and x != y for x, y in zip(a, b))
                assert anticommuting % 2 == 0, (e, a, b)


def test_a_product_written_twice_is_one_excitation():
    """openfermion writes some singlet doubles as a_4^ a_2 a_5^ a_3 + a_5^ a_3 a_4^ a_2: the same operator."""
    ucc = UCCSD(8, 4)
    for excitations in ucc.generators:
        terms = [frozenset(e.term) for e in excitations]
        assert len(terms) == len(set(terms))
    assert sorted({e.coefficient for g in ucc.generators for e in g}) == [1.0, 2.0]


def test_the_gradient_through_the_rotations_is_exact():
    ucc = UCCSD(8, 4)
    w = torch.randn(len(ucc.basis), dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def f(theta):
        with torch.no_grad():
            ucc.theta.copy_(theta)
        ucc.theta.grad = None
        return ucc.state() @ w

    theta = 0.3 * torch.randn(ucc.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    f(theta).backward()
    grad = ucc.theta.grad.clone()
    eps = 1e-6
    for k in range(ucc.n_params):
        d = torch.zeros_like(theta)
        d[k] = eps
        with torch.no_grad():
            numeric = (f(theta + d) - f(theta - d)) / (2 * eps)
        assert float(grad[k]) == pytest.approx(float(numeric), abs=1e-7)


def test_sixteen_qubits_keep_one_sector():
    """N2 in 8 active orbitals (10 electrons): 56 x 56 alpha-beta occupations of 65,536 basis states."""
    ucc = _random(UCCSD(16, 10), scale=0.05)
    with torch.no_grad():
        psi = ucc.state()
    assert len(ucc.basis) == 3136 and ucc.n_params == 135
    assert float(psi @ psi) == pytest.approx(1.0, abs=1e-12)


def test_an_open_shell_reference_keeps_its_spin_sector():
    """Given the Hartree-Fock bits of a triplet (two alpha, no beta), the sector is that Sz's."""
    ucc = UCCSD(6, 2, hf_bits=[1, 0, 1, 0, 0, 0])
    occupations = (ucc.basis[:, None] >> (5 - np.arange(6))) & 1
    assert (occupations[:, 0::2].sum(axis=1) == 2).all() and (occupations[:, 1::2].sum(axis=1) == 0).all()
    assert ucc.full_state()[int("101000", 2)] == 1.0


def test_an_open_shell_state_equals_qiskits_circuit():
    """A doublet's reference (two alpha electrons, one beta): one amplitude per spin-orbital excitation."""
    from qiskit.quantum_info import Statevector

    ucc = _random(UCCSD(6, 3, hf_bits=[1, 1, 1, 0, 0, 0]), seed=2)
    assert ucc.n_params == 8 and all(len(g) == 1 for g in ucc.generators)
    qc = ucc.qiskit_circuit()
    qc.remove_final_measurements()
    assert np.allclose(ucc.full_state().numpy(), Statevector(qc).reverse_qargs().data, atol=1e-10)


def test_uccsd_reaches_an_open_shells_exact_energy():
    """Linear H3 (a doublet, 6 qubits): openfermion's singlet generators assume paired electrons and excited out of
    an empty beta orbital, ending 27.4 mHa above exact; the spin-orbital excitations reach it."""
    t = VQETask({"geometry": "H 0 0 0; H 0 0 0.9; H 0 0 1.8", "spin": 1}, device="jakarta", noise="none")
    row = t._uccsd_row(steps=300, lr=5e-2)
    assert row["params"] == 8 and 0 <= row["error_mha"] < 1e-3


def test_uccsd_baseline():
    t = VQETask("h2", device="lima")
    row = t._uccsd_row(steps=150, lr=5e-2)
    assert row["params"] == 2 and row["error_mha"] < 1.6
    assert row["torch_noisy_energy"] == pytest.approx(row["aer_noisy_energy"], abs=1e-5)


def test_uccsd_reaches_lihs_exact_energy_on_twelve_qubits():
    """LiH without an active space (12 qubits, 4 electrons): 44 amplitudes trained in the 225-state sector; the
    row compiles past what the density matrix holds and says so."""
    lih = {"geometry": [["Li", [0, 0, 0]], ["H", [0, 0, 1.45]]], "basis": "sto-3g"}
    t = VQETask(lih, device="guadalupe", noise="none")
    row = t._uccsd_row(steps=300, lr=5e-2)
    assert row["params"] == 44 and 0 <= row["error_mha"] < 1.6
    assert row["aer_noisy_energy"] is None and row["noisy_not_evaluated"]


def test_pauli_rotations_equal_qiskits_matrices():
    """The reference product applies each Pauli string as a permutation with phases, not a dense matrix (128 MB
    per string at 12 qubits): the same vector as qiskit's matrix of the label, on random strings and states."""
    from qiskit.quantum_info import Pauli

    rng = np.random.default_rng(0)
    for n in (1, 3, 6):
        for _ in range(20):
            label = "".join(rng.choice(list("IXYZ"), n))
            psi = rng.standard_normal(2 ** n) + 1j * rng.standard_normal(2 ** n)
            gather, phase = _pauli_action(label)
            ours = phase.numpy() * psi[gather.numpy()]
            assert np.allclose(ours, Pauli(label).to_matrix() @ psi, atol=1e-12), label
