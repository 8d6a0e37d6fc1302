"""The UCCSD baseline's training step, side by side on N2 (STO-3G, 1.1 A) in an active space: nasfw's Givens
rotations in the Hartree-Fock state's sector with the Hamiltonian cut to it, against the same ansatz as a product
of Pauli rotations over the whole 2^n space with the whole sparse Hamiltonian (what nasfw did before, and what the
compiled circuit does), and against qiskit-aer computing the circuit's state once (no gradient: a floor for any
simulator that runs the circuit). Both torch ways train the same amplitudes; their energies must agree (the
whole-space way in complex64, as it trained, to about 1e-6 Ha).

    python bench/vqe_uccsd.py                   # 6 active orbitals, 12 qubits: about 30 s
    python bench/vqe_uccsd.py --orbitals 8      # 16 qubits: about 2 minutes
"""
from __future__ import annotations

import argparse
import json
import time

import torch

N2 = "N 0 0 0; N 0 0 1.1"


def _molecule(orbitals: int) -> dict:
    first = max(0, min(7 - orbitals // 2, 10 - orbitals))  # around N2's Fermi level (7 doubly occupied of 10)
    return {"geometry": N2, "active": {"occupied": list(range(first)), "active": list(range(first, first + orbitals))}}


def _timed(step, least: int, seconds: float) -> tuple[float, float]:
    """(seconds per call, the last value): at least `least` calls and `seconds` in all."""
    t0, calls = time.perf_counter(), 0
    while calls < least or time.perf_counter() - t0 < seconds:
        value = step()
        calls += 1
    return (time.perf_counter() - t0) / calls, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orbitals", type=int, default=6, help="active orbitals of N2 (qubits: twice as many)")
    ap.add_argument("--no-aer", action="store_true", help="skip qiskit-aer's state")
    args = ap.parse_args()

    from nasfw.plugins.quantumnas import molecules as M
    from nasfw.plugins.quantumnas.uccsd import UCCSD, pauli_product_state
    from nasfw.plugins.quantumnas.vqe import _sparse_tensor, hermitian_form

    h = M.build(_molecule(args.orbitals))
    m = h.matrix(constant=False, sparse=True)
    t0 = time.perf_counter()
    ucc = UCCSD(h.n_qubits, h.n_electrons, M.hartree_fock_bits(h))
    built = time.perf_counter() - t0
    with torch.no_grad():  # a point away from Hartree-Fock, where every rotation acts
        g = torch.Generator().manual_seed(0)
        ucc.theta.copy_(0.05 * torch.randn(ucc.n_params, dtype=torch.float64, generator=g))
    sector_h, whole_h = _sparse_tensor(ucc.restrict(m), torch.float64), _sparse_tensor(m)

    def sector_step() -> float:
        ucc.theta.grad = None
        psi = ucc.state()
        e = h.constant + hermitian_form(psi, sector_h) / (psi @ psi)
        e.backward()
        return e.item()

    def whole_step() -> float:
        ucc.theta.grad = None
        psi = pauli_product_state(ucc, torch.complex64).to(torch.complex128)  # as it trained before
        e = h.constant + hermitian_form(psi, whole_h) / (psi.conj() @ psi).real
        e.backward()
        return e.item()

    strings = len(ucc.pauli_rotations)
    rows = [("Givens rotations in the sector (nasfw)", *_timed(sector_step, 10, 2.0)),
            ("Pauli rotations over 2^n (before)", *_timed(whole_step, 2, 5.0))]
    if not args.no_aer:
        import qiskit
        from qiskit_aer import AerSimulator

        qc = ucc.qiskit_circuit()
        qc.remove_final_measurements()
        qc.save_statevector()
        sim = AerSimulator(method="statevector")
        tq = qiskit.transpile(qc, sim, optimization_level=0)

        def aer_state() -> float:
            data = sim.run(tq).result().get_statevector().reverse_qargs().data
            psi = torch.from_numpy(data)
            return h.constant + float(hermitian_form(psi, whole_h) / (psi.conj() @ psi).real)

        rows.append(("qiskit-aer statevector, state only", *_timed(aer_state, 2, 5.0)))
    print(f"N2 (STO-3G, 1.1 A), {args.orbitals} active orbitals: {h.n_qubits} qubits, {h.n_electrons} electrons; "
          f"UCCSD {ucc.n_params} amplitudes, {sum(len(g) for g in ucc.generators)} excitations, {strings} Pauli "
          f"strings; sector {len(ucc.basis):,} of {2 ** h.n_qubits:,} amplitudes (built in {built:.1f} s)")
    print(f"{'':40s} {'step (ms)':>12s} {'energy (Ha)':>18s}")
    for name, seconds, energy in rows:
        print(f"{name:40s} {1000 * seconds:12.1f} {energy:18.12f}")
    ours = rows[0][1]
    print("ratio against nasfw's step: " + ", ".join(f"{name}: {seconds / ours:.0f}x" for name, seconds, _ in rows[1:])
          + f"; energies differ from nasfw's by at most {max(abs(r[2] - rows[0][2]) for r in rows):.1e} Ha")
    print(json.dumps([{"way": n, "step_s": s, "energy": e} for n, s, e in rows]))


if __name__ == "__main__":
    main()
