"""A batched state-vector simulator in torch, for training SuperCircuits.

Why our own: torchquantum, the library QuantumNAS users know, cannot be installed beside current qiskit
(its latest release requires qiskit<1.0), and qiskit-aer does not differentiate. This one is small: a state
is a complex64 tensor of shape (batch, 2, ..., 2) with one axis per qubit; a gate is a (batch or 1, 2, 2)
or (batch or 1, 4, 4) matrix contracted into its axes, so gradients flow through every angle (trainable
weights shared across the batch, encoder angles per sample). Every gate is tested against qiskit-aer.

Speed (`run`): a circuit's gate matrices are built per gate name in one batched call rather than gate by gate,
and where the batch is larger than the state (2^n < batch, as in training 4-qubit circuits on batches of 256) the
weight-only part of the circuit is simulated once on the 2^n basis states and applied to every sample's encoded
state as one matrix product. Both cut the number of small torch operations, which is what a 4-qubit circuit's
time is made of; bench/quantum_sim.py measures the effect against torchquantum and qiskit-aer.

Qubit order: qubit 0 is the first axis. `to_qiskit_order` flattens a state the way qiskit does (qubit 0 the
least significant bit) for comparison.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

CDTYPE = torch.complex64


def zero_state(n_qubits: int, batch: int = 1, device: torch.device | str | None = None) -> torch.Tensor:
    state = torch.zeros((batch,) + (2,) * n_qubits, dtype=CDTYPE, device=device)
    state.view(batch, -1)[:, 0] = 1.0
    return state


def _angle(theta: torch.Tensor | float, batch: int, device) -> torch.Tensor:
    t = torch.as_tensor(theta, dtype=torch.float32, device=device)
    return t.reshape(-1) if t.dim() else t.reshape(1)


def _mat2(a, b, c, d) -> torch.Tensor:
    """Stack four (B,) complex tensors into (B, 2, 2)."""
    return torch.stack([torch.stack([a, b], -1), torch.stack([c, d], -1)], -2)


def _c(x: torch.Tensor) -> torch.Tensor:
    return x.to(CDTYPE)


# --- single-qubit gate matrices (B, 2, 2) --------------------------------------------------------------
def rx(t: torch.Tensor) -> torch.Tensor:
    c, s = _c(torch.cos(t / 2)), _c(torch.sin(t / 2))
    return _mat2(c, -1j * s, -1j * s, c)


def ry(t: torch.Tensor) -> torch.Tensor:
    c, s = _c(torch.cos(t / 2)), _c(torch.sin(t / 2))
    return _mat2(c, -s, s, c)


def rz(t: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-0.5j * _c(t))
    z = torch.zeros_like(e)
    return _mat2(e, z, z, e.conj())


def u3(theta: torch.Tensor, phi: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """qiskit's U(theta, phi, lambda)."""
    c, s = _c(torch.cos(theta / 2)), _c(torch.sin(theta / 2))
    ep, el = torch.exp(1j * _c(phi)), torch.exp(1j * _c(lam))
    return _mat2(c, -el * s, ep * s, ep * el * c)


def u1(lam: torch.Tensor) -> torch.Tensor:
    one = torch.ones_like(_c(lam))
    z = torch.zeros_like(one)
    return _mat2(one, z, z, torch.exp(1j * _c(lam)))


_FIXED = {
    "x": [[0, 1], [1, 0]], "y": [[0, -1j], [1j, 0]], "z": [[1, 0], [0, -1]],
    "h": [[1 / math.sqrt(2), 1 / math.sqrt(2)], [1 / math.sqrt(2), -1 / math.sqrt(2)]],
    "sx": [[0.5 + 0.5j, 0.5 - 0.5j], [0.5 - 0.5j, 0.5 + 0.5j]], "s": [[1, 0], [0, 1j]],
    "t": [[1, 0], [0, complex(math.cos(math.pi / 4), math.sin(math.pi / 4))]],
    # principal square root of H ("SHadamard", the first layer of the RXYZ SuperCircuit): (1+i)/2 I + (1-i)/2 H
    "sh": [[0.5 + 0.5j + (0.5 - 0.5j) / math.sqrt(2), (0.5 - 0.5j) / math.sqrt(2)],
           [(0.5 - 0.5j) / math.sqrt(2), 0.5 + 0.5j - (0.5 - 0.5j) / math.sqrt(2)]],
}


def fixed(name: str, device=None) -> torch.Tensor:
    return torch.tensor(_FIXED[name], dtype=CDTYPE, device=device).unsqueeze(0)


# --- two-qubit gate matrices (B, 4, 4), basis |q0 q1> with q0 the first (control) qubit --------------------
def controlled(u: torch.Tensor) -> torch.Tensor:
    b = u.shape[0]
    m = torch.zeros((b, 4, 4), dtype=CDTYPE, device=u.device)
    m[:, 0, 0] = 1
    m[:, 1, 1] = 1
    m[:, 2:, 2:] = u
    return m


def _diag4(phases: torch.Tensor) -> torch.Tensor:
    return torch.diag_embed(phases)


def rzz(t: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-0.5j * _c(t))
    return _diag4(torch.stack([e, e.conj(), e.conj(), e], -1))


def _pauli_rot(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """exp(-i t/2 P) for a two-qubit Pauli product P (4x4, squares to identity)."""
    c, s = _c(torch.cos(t / 2)), _c(torch.sin(t / 2))
    eye = torch.eye(4, dtype=CDTYPE, device=t.device)
    return c[:, None, None] * eye - 1j * s[:, None, None] * p


def _kron(a: str, b: str, device) -> torch.Tensor:
    return torch.kron(fixed(a, device)[0], fixed(b, device)[0])


def rxx(t: torch.Tensor) -> torch.Tensor:
    return _pauli_rot(t, _kron("x", "x", t.device))


def ryy(t: torch.Tensor) -> torch.Tensor:
    return _pauli_rot(t, _kron("y", "y", t.device))


def rzx(t: torch.Tensor) -> torch.Tensor:
    """qiskit's RZX(t) = exp(-i t/2 Z(x)X) with Z on the first qubit."""
    return _pauli_rot(t, _kron("z", "x", t.device))


# --- applying gates ------------------------------------------------------------------------------------------
def apply_1q(state: torch.Tensor, mat: torch.Tensor, q: int) -> torch.Tensor:
    """mat: (1 or B, 2, 2)."""
    n = state.dim() - 1
    s = torch.movedim(state, q + 1, -1)  # (B, ..., 2)
    shape = s.shape
    s = s.reshape(shape[0], -1, 2)
    s = torch.matmul(s, mat.transpose(-1, -2))
    return torch.movedim(s.reshape(shape), -1, q + 1) if n > 0 else s


def apply_2q(state: torch.Tensor, mat: torch.Tensor, q0: int, q1: int) -> torch.Tensor:
    """mat: (1 or B, 4, 4) in the basis |q0 q1>."""
    if q0 == q1:
        raise ValueError(f"a two-qubit gate needs two different qubits, got {q0} twice")
    s = torch.movedim(state, (q0 + 1, q1 + 1), (-2, -1))
    shape = s.shape
    s = s.reshape(shape[0], -1, 4)
    s = torch.matmul(s, mat.transpose(-1, -2))
    return torch.movedim(s.reshape(shape), (-2, -1), (q0 + 1, q1 + 1))


ONE_Q: dict[str, tuple[int, Callable]] = {"rx": (1, rx), "ry": (1, ry), "rz": (1, rz), "u1": (1, u1),
                                          "u3": (3, u3)}
TWO_Q: dict[str, tuple[int, Callable]] = {"rzz": (1, rzz), "rxx": (1, rxx), "ryy": (1, ryy), "rzx": (1, rzx),
                                          "crx": (1, lambda t: controlled(rx(t))),
                                          "cry": (1, lambda t: controlled(ry(t))),
                                          "crz": (1, lambda t: controlled(rz(t))),
                                          "cu3": (3, lambda a, b, c: controlled(u3(a, b, c)))}
FIXED_2Q = {"cx": lambda d: controlled(fixed("x", d)), "cz": lambda d: controlled(fixed("z", d)),
            "swap": lambda d: torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
                                           dtype=CDTYPE, device=d).unsqueeze(0),
            # square root of SWAP (the RXYZ+U1+CU3 space): (1+i)/2 I + (1-i)/2 SWAP
            "sswap": lambda d: torch.tensor([[1, 0, 0, 0], [0, 0.5 + 0.5j, 0.5 - 0.5j, 0],
                                             [0, 0.5 - 0.5j, 0.5 + 0.5j, 0], [0, 0, 0, 1]],
                                            dtype=CDTYPE, device=d).unsqueeze(0)}


def n_params(name: str) -> int:
    if name in ONE_Q:
        return ONE_Q[name][0]
    if name in TWO_Q:
        return TWO_Q[name][0]
    if name in _FIXED or name in FIXED_2Q:
        return 0
    raise ValueError(f"unknown gate {name!r}; known: {sorted([*ONE_Q, *TWO_Q, *_FIXED, *FIXED_2Q])}")


def apply(state: torch.Tensor, name: str, wires: tuple[int, ...], params: tuple = ()) -> torch.Tensor:
    """Apply gate `name` on `wires` with `params` (each a float, a scalar tensor or a (B,) tensor)."""
    dev = state.device
    angles = [_angle(p, state.shape[0], dev) for p in params]
    if name in ONE_Q:
        return apply_1q(state, ONE_Q[name][1](*angles), wires[0])
    if name in _FIXED:
        return apply_1q(state, fixed(name, dev), wires[0])
    if name in TWO_Q:
        return apply_2q(state, TWO_Q[name][1](*angles), wires[0], wires[1])
    if name in FIXED_2Q:
        return apply_2q(state, FIXED_2Q[name](dev), wires[0], wires[1])
    n_params(name)  # raises with the known names
    raise AssertionError


def gate_matrices(gates, device=None) -> list[torch.Tensor]:
    """One (1, k, k) matrix per (name, angles or None) with angles shared by the whole batch; the matrices of
    each gate name are built in one batched call (stacked angles), whose backward is one operation too."""
    out: list[torch.Tensor | None] = [None] * len(gates)
    by_name: dict[str, list[int]] = {}
    for i, (name, _) in enumerate(gates):
        by_name.setdefault(name, []).append(i)
    for name, idx in by_name.items():
        k = n_params(name)  # raises for an unknown name
        if k == 0:
            m = fixed(name, device) if name in _FIXED else FIXED_2Q[name](device)
            for i in idx:
                out[i] = m
            continue
        rows = [torch.as_tensor(gates[i][1], dtype=torch.float32, device=device).reshape(k) for i in idx]
        fn = ONE_Q[name][1] if name in ONE_Q else TWO_Q[name][1]
        for i, m in zip(idx, fn(*torch.stack(rows).unbind(1)).unbind(0)):
            out[i] = m.unsqueeze(0)
    return out  # type: ignore[return-value]


def apply_matrix(state: torch.Tensor, mat: torch.Tensor, wires: tuple[int, ...]) -> torch.Tensor:
    return apply_1q(state, mat, wires[0]) if len(wires) == 1 else apply_2q(state, mat, wires[0], wires[1])


def product_state(n_qubits: int, gates, batch: int, device=None) -> torch.Tensor:
    """|0...0> after single-qubit gates (name, wire, angles of shape (B,) or shared): each qubit's 2-vector is
    evolved alone and the state is their tensor product, which is exact because no gate entangles."""
    vec: list[torch.Tensor | None] = [None] * n_qubits
    for name, wire, params in gates:
        if name not in ONE_Q and name not in _FIXED:
            raise ValueError(f"product_state takes single-qubit gates only, got {name!r}")
        angles = [_angle(p, batch, device) for p in params]
        m = ONE_Q[name][1](*angles) if name in ONE_Q else fixed(name, device)
        v = vec[wire]
        vec[wire] = m[..., :, 0] if v is None else torch.matmul(m, v.unsqueeze(-1)).squeeze(-1)
    zero = torch.tensor([1.0, 0.0], dtype=CDTYPE, device=device).unsqueeze(0)
    psi = None
    for v in vec:
        v = (zero if v is None else v).expand(batch, 2)
        psi = v if psi is None else (psi.unsqueeze(-1) * v.unsqueeze(1)).reshape(batch, -1)
    return psi.reshape((batch,) + (2,) * n_qubits)


def run(state: torch.Tensor, gates) -> torch.Tensor:
    """Apply gates (name, wires, angles or None) whose angles are shared by the batch. Where the batch holds
    more states than the dimension, the circuit's unitary is built once on the basis states and applied to
    all of them in one product."""
    if not gates:
        return state
    mats = gate_matrices([(g, a) for g, _, a in gates], state.device)
    n, batch = state.dim() - 1, state.shape[0]
    d = 2 ** n
    if d < batch:
        u = torch.eye(d, dtype=CDTYPE, device=state.device).reshape((d,) + (2,) * n)
        for (_, wires, _), m in zip(gates, mats):
            u = apply_matrix(u, m, wires)  # row j: the circuit applied to basis state j, i.e. U^T
        return torch.matmul(state.reshape(batch, d), u.reshape(d, d)).reshape(state.shape)
    for (_, wires, _), m in zip(gates, mats):
        state = apply_matrix(state, m, wires)
    return state


def expval_z(state: torch.Tensor) -> torch.Tensor:
    """<Z_q> for every qubit: (B, n)."""
    probs = (state.abs() ** 2).real
    n = state.dim() - 1
    out = []
    for q in range(n):
        p = torch.movedim(probs, q + 1, -1).reshape(probs.shape[0], -1, 2).sum(1)
        out.append(p[:, 0] - p[:, 1])
    return torch.stack(out, -1)


def to_qiskit_order(state: torch.Tensor) -> torch.Tensor:
    """(B, 2^n) amplitudes indexed as qiskit does (qubit 0 the least significant bit)."""
    n = state.dim() - 1
    return state.permute(0, *range(n, 0, -1)).reshape(state.shape[0], -1)
