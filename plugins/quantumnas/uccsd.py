"""The UCCSD baseline for VQE: openfermion's singlet UCCSD generators (an open shell: each Sz-keeping single and
double spin-orbital excitation), one amplitude each, applied to the Hartree-Fock state as a first-order Trotter
product over their fermionic excitations, one exponential per excitation operator: exp(theta_k c (T - T^dagger))
for each excitation T of generator k in turn.

An excitation's Jordan-Wigner Pauli strings commute with each other, so its factor is exact both ways it is
computed here: in torch, trained noise-free, as a Givens rotation between the pairs of basis states that T links
within the sector of the Hartree-Fock state's electron count and spin (3,136 of N2's 65,536 amplitudes at 16
qubits, 10 electrons); in qiskit, compiled to the device and scored under the same noise as the searched ansatz, as
one `PauliEvolutionGate` per string. The whole-space product of Pauli rotations this replaced (kept as
`pauli_product_state`, the bench's and the tests' second reference) took 9.5 s per training step at 16 qubits
against 56 ms now, and the row about 13 minutes against 27 s (`python bench/vqe_uccsd.py --orbitals 8`)."""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from nasfw.plugins.quantumnas.molecules import _sector


@dataclass(frozen=True)
class Excitation:
    """c (T - T^dagger), T = openfermion's normal-ordered product `term` of ((mode, 1 create | 0 annihilate))."""

    term: tuple[tuple[int, int], ...]
    coefficient: float

    def pauli_strings(self, n_qubits: int) -> list[tuple[float, str]]:
        """(a, P) with c (T - T^dagger) = sum i a P under Jordan-Wigner, character q of P on qubit q."""
        import openfermion as of

        t = of.FermionOperator(self.term, self.coefficient)
        strings = []
        for term, c in of.jordan_wigner(t - of.hermitian_conjugated(t)).terms.items():
            if abs(c) < 1e-12 or not term:
                continue
            s = ["I"] * n_qubits
            for q, p in term:
                s[q] = p
            strings.append((float(np.imag(c)), "".join(s)))
        return strings


def singlet_excitations(n_qubits: int, n_electrons: int) -> list[list[Excitation]]:
    """For each of openfermion's singlet UCCSD amplitudes, the excitations its generator sums (normal-ordered, so
    that a product written twice, a_4^ a_2 a_5^ a_3 and a_5^ a_3 a_4^ a_2, is one excitation with coefficient 2)."""
    import openfermion as of

    k = of.uccsd_singlet_paramsize(n_qubits, n_electrons)
    out = []
    for i in range(k):
        amps = np.zeros(k)
        amps[i] = 1.0
        gen = of.normal_ordered(of.uccsd_singlet_generator(amps, n_qubits, n_electrons))
        excitations, seen = [], set()
        for term, c in sorted(gen.terms.items()):
            if abs(c) < 1e-12 or term in seen:
                continue
            dagger = next(iter(of.normal_ordered(of.hermitian_conjugated(of.FermionOperator(term))).terms))
            seen |= {term, dagger}
            # of the pair (c T, -c T^dagger) keep the term whose coefficient is positive, as written
            excitations.append(Excitation(term, float(np.real(c))) if np.real(c) > 0 else
                               Excitation(dagger, float(-np.real(c))))
        out.append(excitations)
    return out


def spin_orbital_excitations(hf_bits: list[int]) -> list[list[Excitation]]:
    """For an open shell: every single and double excitation from the reference's occupied spin-orbitals to its
    empty ones that keeps Sz, one amplitude each. openfermion's singlet generators assume the first n_electrons
    spin-orbitals filled, pairs of alpha and beta: for a doublet (H3, 3 electrons) they excite out of an empty
    beta orbital and UCCSD ended 27 mHa above the exact energy."""
    occupied = [q for q, b in enumerate(hf_bits) if b]
    empty = [q for q, b in enumerate(hf_bits) if not b]
    out = [[Excitation(((a, 1), (i, 0)), 1.0)] for i in occupied for a in empty if a % 2 == i % 2]
    for i, j in itertools.combinations(occupied, 2):
        for a, b in itertools.combinations(empty, 2):
            if sorted((a % 2, b % 2)) == sorted((i % 2, j % 2)):
                out.append([Excitation(((b, 1), (a, 1), (j, 0), (i, 0)), 1.0)])
    return out


class UCCSD:
    def __init__(self, n_qubits: int, n_electrons: int, hf_bits: list[int] | None = None):
        """Closed shells (as many alpha as beta electrons in the reference) take openfermion's singlet generators;
        open shells one amplitude per spin-orbital excitation (`spin_orbital_excitations`)."""
        self.n, self.ne = n_qubits, n_electrons
        self.hf_bits = list(hf_bits) if hf_bits is not None else [int(q < n_electrons) for q in range(n_qubits)]
        closed = self.hf_bits == [int(q < n_electrons) for q in range(n_qubits)] and n_electrons % 2 == 0
        self.generators = singlet_excitations(n_qubits, n_electrons) if closed else \
            spin_orbital_excitations(self.hf_bits)
        self.theta = torch.nn.Parameter(torch.zeros(len(self.generators), dtype=torch.float64))
        spin_kept = all(_two_sz_change(e.term) == 0 for g in self.generators for e in g)
        alpha, beta = sum(self.hf_bits[0::2]), sum(self.hf_bits[1::2])
        self.basis = _sector(n_qubits, alpha + beta, alpha - beta if spin_kept else None)
        self._hf_position = int(np.searchsorted(self.basis, _index(self.hf_bits)))
        # per generator: (coefficient, positions of x, positions of y = T x / sign, sign) of each excitation
        self._rotations = [[_givens_pairs(e, self.basis, n_qubits) for e in g] for g in self.generators]

    @property
    def n_params(self) -> int:
        return len(self.generators)

    def state(self) -> torch.Tensor:
        """The ansatz's state over `basis` (real: every factor is a real rotation), differentiable in `theta`."""
        psi = torch.zeros(len(self.basis), dtype=torch.float64)
        psi[self._hf_position] = 1.0
        for k, rotations in enumerate(self._rotations):
            for c, x, y, sign in rotations:
                cos, sin = torch.cos(self.theta[k] * c), torch.sin(self.theta[k] * c)
                a, b = psi[x], psi[y]
                psi = psi.index_copy(0, x, cos * a - sign * sin * b).index_copy(0, y, sign * sin * a + cos * b)
        return psi

    def full_state(self) -> torch.Tensor:
        """The state over all 2^n basis states (qubit 0 the most significant bit of the index)."""
        psi = torch.zeros(2 ** self.n, dtype=torch.complex128)
        psi[torch.from_numpy(self.basis)] = self.state().detach().to(torch.complex128)
        return psi

    def restrict(self, m):
        """A scipy sparse 2^n x 2^n matrix (the Hamiltonian) cut to `basis`, real: a molecular Hamiltonian from
        real integrals is real in the occupation basis, and the ansatz never leaves the sector."""
        block = m.tocsr()[self.basis][:, self.basis].tocsr()
        if block.nnz and np.abs(block.data.imag).max() > 1e-10:
            raise ValueError("the Hamiltonian has complex matrix elements in the occupation basis; UCCSD's real "
                             "rotations cannot represent its ground state")
        return block.real

    @functools.cached_property
    def pauli_rotations(self) -> list[tuple[int, float, str]]:
        """(amplitude, a, P) for each Pauli string of each excitation, in the order `state` applies them: the
        factor exp(i theta_amplitude a P). Jordan-Wigner through openfermion once, not per circuit or step."""
        return [(k, a, s) for k, excitations in enumerate(self.generators) for e in excitations
                for a, s in e.pauli_strings(self.n)]

    def qiskit_circuit(self, hf_bits: list[int] | None = None):
        """X on the occupied spin-orbitals, then exp(i theta_k a P) = PauliEvolutionGate(P, time=-theta_k a) for each
        string of each excitation, in the order `state` applies them; measured."""
        import qiskit
        from qiskit.circuit.library import PauliEvolutionGate
        from qiskit.quantum_info import SparsePauliOp

        qc = qiskit.QuantumCircuit(self.n, self.n)
        for q, b in enumerate(self.hf_bits if hf_bits is None else hf_bits):
            if b:
                qc.x(q)
        for k, a, s in self.pauli_rotations:
            idx = [q for q, ch in enumerate(s) if ch != "I"]
            op = SparsePauliOp.from_sparse_list([("".join(s[q] for q in idx), idx, 1.0)], num_qubits=self.n)
            qc.append(PauliEvolutionGate(op, time=-float(self.theta[k].detach()) * a), range(self.n))
        qc.measure(range(self.n), range(self.n))
        return qc


def _index(bits) -> int:
    return int("".join(str(int(b)) for b in bits), 2)


def _two_sz_change(term) -> int:
    """N_alpha - N_beta added by the product `term` (even modes alpha, odd beta)."""
    return sum((1 if action else -1) * (1 if mode % 2 == 0 else -1) for mode, action in term)


def _givens_pairs(e: Excitation, basis: np.ndarray, n: int):
    """(c, x, y, sign): T |basis[x]> = sign |basis[y]> for each basis state T does not annihilate. Operators act
    right to left; a_q and a_q^ pick up (-1) to the number of occupied modes before q (Jordan-Wigner's order)."""
    bits = ((basis[:, None] >> (n - 1 - np.arange(n))) & 1).astype(np.int64)
    ok = np.ones(len(basis), dtype=bool)
    sign = np.ones(len(basis))
    for mode, action in reversed(e.term):
        ok &= bits[:, mode] == (0 if action else 1)
        sign *= (-1.0) ** bits[:, :mode].sum(axis=1)
        bits[:, mode] = action
    target = (bits[ok] << (n - 1 - np.arange(n))).sum(axis=1)
    y = np.searchsorted(basis, target)
    if not np.array_equal(basis[np.minimum(y, len(basis) - 1)], target):
        raise ValueError(f"excitation {e.term} leaves the sector of the reference state")
    x = np.flatnonzero(ok)
    return (e.coefficient, torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)),
            torch.from_numpy(sign[ok]))


def pauli_product_state(ucc: UCCSD, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The same state as `ucc.full_state()`, the way the qiskit circuit computes it: each Pauli rotation over the
    whole 2^n space (the implementation `state` replaced, which trained in complex64 with each string's action
    built once; the bench's and the tests' reference)."""
    actions = ucc.__dict__.setdefault("_pauli_actions", {})  # (string, dtype) -> (gather, phase), kept
    psi = torch.zeros(2 ** ucc.n, dtype=dtype)
    psi[_index(ucc.hf_bits)] = 1.0
    for k, a, s in ucc.pauli_rotations:
        if (s, dtype) not in actions:
            gather, phase = _pauli_action(s)
            actions[s, dtype] = gather, phase.to(dtype)
        gather, phase = actions[s, dtype]
        phi = ucc.theta[k].to(dtype) * a
        psi = torch.cos(phi) * psi + 1j * torch.sin(phi) * (phase * psi[gather])
    return psi


def _pauli_action(s: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(gather, phase) with (P psi)[j] = phase[j] * psi[gather[j]] for the Pauli string `s` (character 0 on the
    most significant bit of the index, as `Hamiltonian.matrix` orders qubits). X and Y flip their bit; Y|b> is
    i (-1)^b |1-b>, Z|b> is (-1)^b |b>."""
    n = len(s)
    bit = {q: 1 << (n - 1 - q) for q in range(n)}
    flip = sum(bit[q] for q, ch in enumerate(s) if ch in "XY")
    signed = sum(bit[q] for q, ch in enumerate(s) if ch in "YZ")
    source = np.arange(2 ** n) ^ flip  # the amplitude that lands on index j
    parity = source & signed
    for shift in (32, 16, 8, 4, 2, 1):  # fold the bits onto bit 0 (a Python loop: 26 s for N2's 16-qubit UCCSD)
        parity = parity ^ (parity >> shift)
    parity &= 1
    phase = (1j ** s.count("Y")) * (-1.0) ** parity
    return torch.as_tensor(source), torch.as_tensor(phase, dtype=torch.complex128)
