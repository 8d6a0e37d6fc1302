"""The UCCSD baseline for VQE: openfermion's singlet UCCSD generators, Jordan-Wigner mapped, applied to the
Hartree-Fock state as a first-order Trotter product of Pauli rotations, one amplitude per generator.

Trained noise-free in torch, then compiled to the device as qiskit `PauliEvolutionGate`s and scored under the same
noise as the searched ansatz. A Pauli string acts on a state as a permutation of its amplitudes with phases, so each
rotation is a gather and a product (`_pauli_action`, checked against qiskit's matrices); the dense 2^n x 2^n matrix
per string it replaced held 128 MB at 12 qubits, for each of the hundreds of strings of a 6-orbital UCCSD, and a
12-qubit N2 run was killed for memory in this row."""
from __future__ import annotations

import numpy as np
import torch

class UCCSD:
    def __init__(self, n_qubits: int, n_electrons: int):
        import openfermion as of

        self.n, self.ne = n_qubits, n_electrons
        k = of.uccsd_singlet_paramsize(n_qubits, n_electrons)
        # generators[k] = [(a, pauli string)]: exp(theta_k * sum_j i a_j P_j), a real
        self.generators: list[list[tuple[float, str]]] = []
        for i in range(k):
            amps = np.zeros(k)
            amps[i] = 1.0
            op = of.jordan_wigner(of.uccsd_singlet_generator(amps, n_qubits, n_electrons))
            terms = []
            for term, c in op.terms.items():
                if abs(c) < 1e-12 or not term:
                    continue
                s = ["I"] * n_qubits
                for q, p in term:
                    s[q] = p
                terms.append((float(np.imag(c)), "".join(s)))
            self.generators.append(terms)
        self.theta = torch.nn.Parameter(torch.zeros(k))
        self._actions = {s: _pauli_action(s) for g in self.generators for _, s in g}

    @property
    def n_params(self) -> int:
        return len(self.generators)

    def state(self, start: torch.Tensor) -> torch.Tensor:
        psi = start.reshape(-1).to(torch.complex64)
        for k, terms in enumerate(self.generators):
            for a, s in terms:
                phi = self.theta[k] * a
                gather, phase = self._actions[s]
                psi = torch.cos(phi) * psi + 1j * torch.sin(phi) * (phase * psi[gather])
        return psi

    def qiskit_circuit(self, hf_bits: list[int]):
        import qiskit
        from qiskit.circuit.library import PauliEvolutionGate
        from qiskit.quantum_info import SparsePauliOp

        qc = qiskit.QuantumCircuit(self.n, self.n)
        for q, b in enumerate(hf_bits):
            if b:
                qc.x(q)
        for k, terms in enumerate(self.generators):
            for a, s in terms:
                idx = [q for q, ch in enumerate(s) if ch != "I"]
                op = SparsePauliOp.from_sparse_list([("".join(s[q] for q in idx), idx, 1.0)], num_qubits=self.n)
                # exp(i phi P) = exp(-i t P) with t = -phi
                qc.append(PauliEvolutionGate(op, time=-float(self.theta[k].detach()) * a), range(self.n))
        qc.measure(range(self.n), range(self.n))
        return qc


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
    return torch.as_tensor(source), torch.as_tensor(phase, dtype=torch.complex64)
