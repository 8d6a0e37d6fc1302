"""The UCCSD baseline for VQE: openfermion's singlet UCCSD generators, Jordan-Wigner mapped, applied to the
Hartree-Fock state as a first-order Trotter product of Pauli rotations, one amplitude per generator.

Trained noise-free in torch (dense Pauli rotations, fine up to about 12 qubits), then compiled to the device
as qiskit `PauliEvolutionGate`s and scored under the same noise as the searched ansatz."""
from __future__ import annotations

import numpy as np
import torch

_P = {"X": np.array([[0, 1], [1, 0]], dtype=complex), "Y": np.array([[0, -1j], [1j, 0]]),
      "Z": np.diag([1.0 + 0j, -1.0]), "I": np.eye(2, dtype=complex)}


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
        self._mats = {s: torch.tensor(_dense(s), dtype=torch.complex64)
                      for g in self.generators for _, s in g}

    @property
    def n_params(self) -> int:
        return len(self.generators)

    def state(self, start: torch.Tensor) -> torch.Tensor:
        psi = start.reshape(-1).to(torch.complex64)
        for k, terms in enumerate(self.generators):
            for a, s in terms:
                phi = self.theta[k] * a
                psi = torch.cos(phi) * psi + 1j * torch.sin(phi) * (self._mats[s] @ psi)
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


def _dense(s: str) -> np.ndarray:
    m = np.array([[1.0 + 0j]])
    for ch in s:
        m = np.kron(m, _P[ch])
    return m
