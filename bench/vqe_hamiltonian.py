"""VQE's Hamiltonian as a sparse matrix against the dense one it replaced, and its exact energy from occupation
sectors against openfermion's own functions, side by side on one molecule: the peak memory of a process that
builds it (every worker of a campaign builds the task), the time to build, the energy's forward and backward pass
(the training step's share), and the exact energies. (A random state's energy is not compared across the two
processes: pyscf's orbitals may come with other signs in each; tests/test_quantumnas_vqe.py checks the sparse
energies against each Pauli string's expectation in one process.)

    python bench/vqe_hamiltonian.py                     # N2, 6 active orbitals (12 qubits): about 1 minute
    python bench/vqe_hamiltonian.py --orbitals 7 --no-dense      # 14 qubits (dense: 8.9 GB, refused here)
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time

N2 = "N 0 0 0; N 0 0 1.1"


def _molecule(orbitals: int) -> dict:
    first = max(0, min(7 - orbitals // 2, 10 - orbitals))  # around N2's Fermi level (7 doubly occupied of 10)
    return {"geometry": N2, "active": {"occupied": list(range(first)), "active": list(range(first, first + orbitals))}}


def _measure(kind: str, orbitals: int, out) -> None:
    """In its own process: build the Hamiltonian the `kind` way, then 10 energy passes of a random state."""
    import numpy as np
    import torch

    from nasfw.plugins.quantumnas import molecules as M
    from nasfw.plugins.quantumnas.vqe import _sparse_tensor, hermitian_form

    M.MAX_QUBITS = 20
    t0 = time.perf_counter()
    if kind == "openfermion exact + dense matrix (before)":
        import openfermion as of

        M.exact_energy = lambda h: _openfermion_exact(of, h)
        h = M.build(_molecule(orbitals))
        hmat = torch.tensor(h.matrix(constant=False), dtype=torch.complex128)
    else:
        h = M.build(_molecule(orbitals))
        hmat = _sparse_tensor(h.matrix(constant=False, sparse=True))
    built = time.perf_counter() - t0
    g = torch.Generator().manual_seed(0)
    psi = torch.randn(2 ** h.n_qubits, dtype=torch.complex128, generator=g).requires_grad_(True)
    t0, passes = time.perf_counter(), 0
    while passes < 10 or time.perf_counter() - t0 < 1.0:  # 10 passes and at least a second: ms are noisy
        passes += 1
        if hmat.layout == torch.sparse_csr:  # the task's energy
            e = hermitian_form(psi, hmat) / (psi.conj() @ psi).real
        else:  # as it was before, autograd through the product
            e = (psi.conj() @ (hmat @ psi)).real / (psi.conj() @ psi).real
        e.backward()
    step = (time.perf_counter() - t0) / passes
    out.put({"kind": kind, "qubits": h.n_qubits, "exact": h.exact, "build_s": built,
             "step_s": step, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
             "nonzeros": int(hmat._nnz()) if hmat.layout == torch.sparse_csr else int(np.prod(hmat.shape))})


def _openfermion_exact(of, h) -> float:
    """The exact energy as `molecules.exact_energy` found it before: openfermion's sparse operator of the
    Jordan-Wigner Hamiltonian (the string's character q is openfermion's qubit q) and its ground state at the
    molecule's electron count."""
    op = of.QubitOperator((), h.constant)
    for c, s in h.terms:
        op += of.QubitOperator(tuple((q, p) for q, p in enumerate(s) if p != "I"), c)
    sparse = of.get_sparse_operator(op, n_qubits=h.n_qubits)
    return float(of.jw_get_ground_state_at_particle_number(sparse, h.n_electrons)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orbitals", type=int, default=6, help="active orbitals of N2 (qubits: twice as many)")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense reference (past 12 qubits: GBs)")
    args = ap.parse_args()
    kinds = ["sectors + sparse matrix (nasfw)"]
    if not args.no_dense:
        kinds.insert(0, "openfermion exact + dense matrix (before)")
    ctx = mp.get_context("spawn")
    rows = []
    for kind in kinds:
        q = ctx.Queue()
        p = ctx.Process(target=_measure, args=(kind, args.orbitals, q))
        p.start()
        rows.append(q.get())
        p.join()
    print(f"N2 (STO-3G, 1.1 A), {args.orbitals} active orbitals, {rows[0]['qubits']} qubits; each way in a "
          "process of its own (peak: its maximum resident memory)")
    print(f"{'':44s} {'build (s)':>10s} {'peak (GB)':>10s} {'nonzeros':>12s} {'energy pass (ms)':>17s} "
          f"{'exact (Ha)':>16s}")
    for r in rows:
        print(f"{r['kind']:44s} {r['build_s']:10.1f} {r['peak_gb']:10.2f} {r['nonzeros']:12,d} "
              f"{1000 * r['step_s']:17.1f} {r['exact']:16.9f}")
    if len(rows) == 2:
        a, b = rows
        print(f"ratio (before / nasfw): build {a['build_s'] / b['build_s']:.1f}x, peak memory "
              f"{a['peak_gb'] / b['peak_gb']:.1f}x, energy pass {a['step_s'] / b['step_s']:.1f}x; "
              f"exact energies differ by {abs(a['exact'] - b['exact']):.1e} Ha")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
