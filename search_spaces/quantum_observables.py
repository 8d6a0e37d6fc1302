"""The density-matrix program's outcome probabilities and <Z> without stepping a density matrix per input.

Why: the search scores every candidate on 500 validation inputs, and stepping 500 density matrices through a
compiled circuit was 80% of an evaluation (0.20 of 0.25 s on Quito, MNIST-4): each gate moves the whole batch
through a transpose and a copy. A QuantumNAS circuit only depends on its inputs through the encoder, whose
rotations act on one qubit each; until a qubit meets its first two-qubit gate, the noisy state is a product
of one-qubit density matrices (the calibrated noise of a one-qubit gate acts on that qubit alone). Everything
after that is a fixed channel S, the same for every input. So the measured quantities, Tr(O S(rho)), are
computed as Tr(S^dagger(O) rho) (the Heisenberg picture): the few observables O (a projector per outcome, or
Z per measured qubit, the readout error folded in) are carried backwards through the fixed part once per
circuit, then paired with each input's product state, which costs 4^n numbers per input instead of a pass
through every gate. Carrying one observable back costs about what stepping one input does, so the picture
pays where the inputs outnumber the observables (`worth_it`); the observables travel in groups that keep
them under `CHUNK_ELEMENTS`. Where an input-dependent gate follows a two-qubit gate the program steps density
matrices as before (`plan` returns None). Tested against the stepped density matrices and against qiskit-aer
(`tests/test_quantum_observables.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

CHUNK_ELEMENTS = 2 ** 24  # observables carried back together, complex64: 128 MiB (at 12 qubits, one at a time)


@dataclass
class Plan:
    prefix: list[Any]       # the one-qubit steps each qubit takes before its first multi-qubit step, in order
    suffix: list[Any]       # the rest: fixed superoperators only
    n_qubits: int


def plan(steps: Sequence[Any], n_qubits: int) -> Plan | None:
    """Split `steps` into the product-state prefix and the fixed remainder; None where an input-dependent step
    comes after a multi-qubit step on its wire (the Heisenberg picture would need the inputs inside S). In the
    remainder each one-qubit superoperator is folded into the next two-qubit one on its wire, which halves the
    steps the observables are carried through (a transpiled circuit alternates the two)."""
    entangled = [False] * n_qubits
    prefix, suffix = [], []
    for st in steps:
        if len(st.wires) == 1 and not entangled[st.wires[0]]:
            prefix.append(st)  # commutes with every earlier step on the other wires
            continue
        if st.superop is None:
            return None
        for w in st.wires:
            entangled[w] = True
        suffix.append(st)
    return Plan(prefix, _fold_one_qubit(suffix), n_qubits)


def _fold_one_qubit(steps: list[Any]) -> list[Any]:
    """s2 <- s2 (s1 on its qubit) for a one-qubit step s1 followed on its wire by the two-qubit step s2: the steps
    between them act on other wires and commute with s1. Steps keep their order otherwise."""
    pending: dict[int, Any] = {}
    out: list[Any] = []
    for st in steps:
        if len(st.wires) == 1:
            w = st.wires[0]
            pending[w] = st.superop if w not in pending else st.superop @ pending[w]
            continue
        s2 = st.superop
        if len(st.wires) == 2 and any(w in pending for w in st.wires):
            for pos, w in enumerate(st.wires):
                if w in pending:
                    s2 = s2 @ _embed(pending.pop(w), pos)
            st = type(st)(st.wires, superop=s2)
        else:
            for w in st.wires:  # a step on three qubits or more: what waits on its wires goes first
                if w in pending:
                    out.append(type(st)((w,), superop=pending.pop(w)))
        out.append(st)
    out.extend(type(steps[0])((w,), superop=s) for w, s in pending.items())
    return out


def _embed(s1: torch.Tensor, pos: int) -> torch.Tensor:
    """A one-qubit superoperator (rows and columns (r, c)) as a two-qubit one (r_0, r_1, c_0, c_1) acting on the
    qubit at `pos` (0: the first, most significant)."""
    eye = torch.eye(2, dtype=s1.dtype)
    t = s1.reshape(2, 2, 2, 2)  # (r, c, r', c')
    if pos == 0:
        e = torch.einsum("acbd,ik,jl->aicjbkdl", t, eye, eye)  # (r0, r1, c0, c1) x (r0', r1', c0', c1')
    else:
        e = torch.einsum("acbd,ik,jl->iajckbld", t, eye, eye)
    return e.reshape(16, 16)


def worth_it(n_qubits: int, n_observables: int, n_inputs: int) -> bool:
    """Carrying K observables back costs about what stepping K inputs does; small programs are cheap either way."""
    return n_observables <= n_inputs or n_observables * 4 ** n_qubits <= 2 ** 16


def diagonal_observables(factors: torch.Tensor) -> torch.Tensor:
    """(K, n, 2) diagonal one-qubit factors -> the K observables as (K, 2,..,2 rows, 2,..,2 columns)."""
    k, n, _ = factors.shape
    diag = factors[:, 0]
    for w in range(1, n):
        diag = (diag[:, :, None] * factors[:, w, None, :]).reshape(k, -1)
    return torch.diag_embed(diag).reshape((k,) + (2,) * (2 * n))


def heisenberg(factors: torch.Tensor, pl: Plan, apply_superop, cdtype: torch.dtype) -> torch.Tensor:
    """S^dagger(O) for each diagonal observable given by its one-qubit `factors` (K, n, 2), in the pairing
    <O, rho> = sum(O^T * rho): a forward step vec' = s vec becomes O <- O s, which `apply_superop` computes when
    given s transposed. Returns (K, 4^n), each qubit's (row, column) pair adjacent, qubit 0 most significant:
    the layout of `product_states`. The observables go back in groups of at most `CHUNK_ELEMENTS` numbers."""
    n = pl.n_qubits
    group = max(1, CHUNK_ELEMENTS // 4 ** n)
    order = [0] + [p for w in range(n) for p in (1 + w, 1 + n + w)]
    out = []
    for i in range(0, factors.shape[0], group):
        o = diagonal_observables(factors[i:i + group]).to(cdtype)  # diagonal: its own transpose
        for st in reversed(pl.suffix):
            o = apply_superop(o, st.superop.T, st.wires, n)
        out.append(o.permute(order).reshape(o.shape[0], -1))
    return torch.cat(out)


def product_states(pl: Plan, x: torch.Tensor, cdtype: torch.dtype, step_one_qubit) -> torch.Tensor:
    """Each input's state after the prefix: per qubit a 2x2 density matrix (B, n, 2, 2), |0><0| where a qubit
    has no prefix step; `step_one_qubit(rho, st, x)` applies one step to a (B, 1-qubit) density matrix."""
    b, n = x.shape[0], pl.n_qubits
    rho = torch.zeros((b, n, 2, 2), dtype=cdtype)
    rho[:, :, 0, 0] = 1.0
    per_wire: list[torch.Tensor] = [rho[:, w] for w in range(n)]
    for st in pl.prefix:
        w = st.wires[0]
        per_wire[w] = step_one_qubit(per_wire[w], st, x)
    return torch.stack(per_wire, 1)


def expectations(o: torch.Tensor, states: torch.Tensor, chunk_elements: int = 2 ** 22) -> torch.Tensor:
    """Tr(S^dagger(O_k) rho_b) for every input b and observable k, (B, K) real: each input's product state is
    spread to 4^n numbers in chunks of inputs that keep it under `chunk_elements`."""
    b, n = states.shape[0], states.shape[1]
    flat = states.reshape(b, n, 4)
    chunk = max(1, chunk_elements // 4 ** n)
    out = []
    for i in range(0, b, chunk):
        s = flat[i:i + chunk]
        p = s[:, 0]
        for w in range(1, n):
            p = (p[:, :, None] * s[:, w, None, :]).reshape(s.shape[0], -1)
        out.append((p @ o.T).real)
    return torch.cat(out)


def z_factors(n_qubits: int, measured: Sequence[int], readout: Sequence[np.ndarray]) -> torch.Tensor:
    """One observable per classical bit: the read-out <Z> of its qubit, diag(P(0|i) - P(1|i)) for i = 0, 1."""
    f = torch.ones((len(measured), n_qubits, 2), dtype=torch.float64)
    for c, (q, m) in enumerate(zip(measured, readout)):
        f[c, q] = torch.tensor([m[0, 0] - m[0, 1], m[1, 0] - m[1, 1]])
    return f


def outcome_factors(n_qubits: int, measured: Sequence[int], readout: Sequence[np.ndarray]) -> torch.Tensor:
    """One observable per outcome of the classical bits (clbit 0 most significant): the probability of reading
    it, prod_c diag(P(o_c | 0), P(o_c | 1)) on clbit c's qubit."""
    m = len(measured)
    f = torch.ones((2 ** m, n_qubits, 2), dtype=torch.float64)
    for o in range(2 ** m):
        for c, (q, r) in enumerate(zip(measured, readout)):
            bit = (o >> (m - 1 - c)) & 1
            f[o, q] *= torch.tensor([r[0, bit], r[1, bit]])
    return f
