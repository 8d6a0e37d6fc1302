"""A noisy evaluator in torch for compiled circuits too large for a density matrix: Monte-Carlo quantum
trajectories (state vectors whose noise is sampled, one Kraus operator per channel per trajectory).

Why our own: a 10-qubit circuit routed on a 16-qubit device touches 12-16 qubits, where the density matrix of
`quantum_density.py` (4^n numbers per input) is out of reach, and qiskit-aer runs its noisy trajectories one
bound circuit and one shot at a time (about 10 s per input at 256 shots for the MNIST-10 SubCircuit on
Guadalupe, 14 qubits). Here every instruction is one batched tensor operation over all inputs x trajectories.
Each trajectory also gives exact <Z> of its own state (no shot noise), and the readout error is applied to
those expectations exactly, so far fewer trajectories than shots reach a given precision.

The program is the density-matrix program of the same circuit (same parsing, same noise: each fused gate +
noise superoperator is turned back into its minimal Kraus set through the Choi matrix), so the two evaluators
see one noise model; averaged over trajectories the expectations converge to the density matrix's, and both
are tested against qiskit-aer (`tests/test_quantum_trajectories.py`).

Sampling a channel {K_j} on k qubits needs p_j = <psi|K_j^dagger K_j|psi>, read from the 2^k x 2^k reduced
density matrix of those qubits, so a step costs a few passes over the states (bring its qubits forward, read
the probabilities, apply the drawn operator) whatever the number of Kraus operators; hence the program folds
neighbouring channels into as few steps as it can (`_folded_steps`), and a noiseless RZ is a phase.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from nasfw.search_spaces.quantum_density import _PARAM_1Q, CDTYPE, DensityProgram, superop_from_kraus

MAX_QUBITS = 20  # 2^20 complex64 amplitudes = 8 MiB per trajectory


def kraus_from_superop(s: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Minimal Kraus operators (J, d, d) of a superoperator in `superop_from_kraus`'s convention
    (S[(a, b), (c, d)] = sum_j K_j[a, c] conj(K_j[b, d])), from the eigenvectors of its Choi matrix."""
    d = int(round(np.sqrt(s.shape[0])))
    choi = np.asarray(s, dtype=np.complex128).reshape(d, d, d, d).transpose(0, 2, 1, 3).reshape(d * d, d * d)
    choi = (choi + choi.conj().T) / 2
    w, v = np.linalg.eigh(choi)
    keep = w > tol * max(1.0, float(w.max()))
    return np.stack([np.sqrt(wi) * v[:, i].reshape(d, d) for i, wi in zip(np.nonzero(keep)[0], w[keep])])


@dataclass
class _Op:
    wires: tuple[int, ...]
    kraus: torch.Tensor | None = None    # (J, d, d): a fixed gate with its noise, or the noise after a gate
    povm: torch.Tensor | None = None     # (J, d, d): K_j^dagger K_j, for the branch probabilities
    gate: str = ""                       # an input-dependent single-qubit gate before `kraus` (rz, u3, ...)
    angles: list | None = None           # its angles as (const, coef) pairs
    first: bool = False                  # `kraus` goes before the gate, not after it


class TrajectoryProgram:
    """`expval_z(x, trajectories)`: the noisy <Z> of each classical bit, (B, n_clbits), averaged over
    `trajectories` sampled noise histories per input, readout error included."""

    def __init__(self, prog: DensityProgram, fold: bool = True):
        """`fold=False` keeps the density program's steps as they are (one per gate; the benchmark's reference)."""
        self.n_qubits, self.measured, self.readout = prog.n_qubits, prog.measured, prog.readout
        self.physical, self.n_features = prog.physical, prog.n_features
        self.ops: list[_Op] = []
        self._ops_on: dict[torch.device, list[_Op]] = {}
        for wires, superop, st, first in (_folded_steps if fold else _one_step_per_gate)(prog.steps):
            if st is None:
                self.ops.append(self._channel(wires, superop))
                continue
            gate, angles = (st.gate, st.angles) if st.gate else ("rz", [(st.rz_const, st.rz_coef)])
            op = self._channel(st.wires, superop) if superop is not None else _Op(st.wires)
            op.gate, op.angles = gate, [(float(c), torch.as_tensor(k, dtype=torch.float64)) for c, k in angles]
            op.first = first
            self.ops.append(op)

    @staticmethod
    def _channel(wires: tuple[int, ...], superop: np.ndarray) -> _Op:
        k = torch.tensor(kraus_from_superop(superop), dtype=CDTYPE)
        return _Op(wires, kraus=k, povm=k.conj().transpose(-1, -2) @ k)

    @classmethod
    def from_qiskit(cls, circuit: Any, noise: dict, readout: dict, inputs: Sequence[Any] = (),
                    fold: bool = True) -> "TrajectoryProgram":
        """As `DensityProgram.from_qiskit`, for circuits of up to `MAX_QUBITS` qubits (wires plus ancillas)."""
        return cls(DensityProgram.from_qiskit(circuit, noise, readout, inputs, max_qubits=MAX_QUBITS), fold)

    # -- running -----------------------------------------------------------------------------------------------
    def _ops_for(self, device: torch.device) -> list[_Op]:
        """The program's operators on `device` (moved once per device and kept)."""
        if device.type == "cpu":
            return self.ops
        if device not in self._ops_on:
            mv = lambda t: None if t is None else t.to(device)  # noqa: E731
            self._ops_on[device] = [_Op(o.wires, mv(o.kraus), mv(o.povm), o.gate, o.angles, o.first)
                                    for o in self.ops]
        return self._ops_on[device]

    def states(self, x: torch.Tensor | np.ndarray, trajectories: int, seed: int = 0,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Final states, (B * trajectories, 2, ..., 2), input-major (the trajectories of input 0 first), on
        `device` (a GPU draws other random numbers than the CPU for the same seed: same statistics).

        A qubit joins the states when a step first acts on it (until then it is |0>, and the rest of the state
        does not depend on it): the encoder's steps run on a few qubits, and routing's ancillas join late, so a
        circuit pays 17-42% of the work of holding every qubit from the start (MNIST-10 candidates on
        Guadalupe)."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        if x.dim() == 1:
            x = x[None]
        if x.shape[1] != self.n_features:
            raise ValueError(f"inputs have {x.shape[1]} features; the program was compiled for {self.n_features}")
        device = torch.device(device)
        n, b = self.n_qubits, x.shape[0] * trajectories
        gen = torch.Generator(device=device).manual_seed(seed)
        psi = torch.ones((b,), dtype=CDTYPE, device=device)  # no qubit yet
        axis: dict[int, int] = {}  # program qubit -> its place among the qubits in the states
        for op in self._ops_for(device):
            for w in op.wires:
                if w not in axis:
                    psi, axis[w] = _joined(psi), len(axis)
            wires = tuple(axis[w] for w in op.wires)
            u = None
            if op.gate:
                theta = [(c + x @ k).float().repeat_interleave(trajectories).to(device) for c, k in op.angles]
                if op.gate == "rz" and op.kraus is None:
                    psi = _phase(psi, theta[0], wires[0])
                    continue
                u = _rz(theta[0]) if op.gate == "rz" else _PARAM_1Q[op.gate](*theta)
                if op.kraus is None:
                    psi = _apply(psi, u, wires)
                    continue
            psi = _sample_channel(psi, op, gen, u, op.first, wires)
        for w in range(n):  # qubits no step acts on
            if w not in axis:
                psi, axis[w] = _joined(psi), len(axis)
        return psi.permute(0, *[1 + axis[w] for w in range(n)])

    def expval_z(self, x: torch.Tensor | np.ndarray, trajectories: int = 32, seed: int = 0,
                 max_bytes: int | None = None, sem: bool = False, device: torch.device | str = "cpu"
                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Mean over trajectories of each trajectory's exact <Z> per classical bit, with the readout confusion
        applied (and with `sem`, its standard error over the trajectories), returned on CPU. The trajectories of all
        inputs go in chunks that keep the states under `max_bytes`, however many one input has: on CPU 4 MiB (every
        step makes a few passes over the states, and states that stay in the cache run about 3x faster at 14 qubits
        than 256 MB chunks did); on a GPU 1 GiB, where a launch per step for few amplitudes is what costs."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        if x.dim() == 1:
            x = x[None]
        device = torch.device(device)
        if max_bytes is None:
            max_bytes = 2 ** 22 if device.type == "cpu" else 2 ** 30
        rows = max(1, max_bytes // (8 * 2 ** self.n_qubits))  # states held at once
        each = x.repeat_interleave(trajectories, 0)  # one row per trajectory, input-major
        confusion = [torch.tensor(r, dtype=torch.float32, device=device) for r in self.readout]
        z = []
        for i in range(0, len(each), rows):
            p = self.states(each[i:i + rows], 1, seed + i, device).abs().square()
            zc = []
            for c, q in enumerate(self.measured):
                marg = torch.movedim(p, q + 1, -1).reshape(p.shape[0], -1, 2).sum(1)  # (b, 2): P(0), P(1)
                marg = marg / marg.sum(-1, keepdim=True)
                read = marg @ confusion[c]  # P(read j) = sum_i P(i) P(j | i)
                zc.append(read[:, 0] - read[:, 1])
            z.append(torch.stack(zc, -1).cpu())
        z = torch.cat(z).reshape(-1, trajectories, len(self.measured))
        err = z.std(1) / trajectories ** 0.5 if trajectories > 1 else torch.full_like(z[:, 0], float("nan"))
        return (z.mean(1), err) if sem else z.mean(1)


# --- helpers -----------------------------------------------------------------------------------------------------
def _folded_steps(steps: Sequence[Any]) -> list[tuple[tuple[int, ...], np.ndarray | None, Any, bool]]:
    """The density program's steps with fewer, larger channels. A fixed single-qubit channel is folded into the
    last fixed channel that acted on its wire if nothing has acted on the wire since, else into the next fixed one,
    else into the input-dependent gate after it (sampled before the gate, in the same pass) or before it
    (`_place`); a fixed two-qubit channel on the qubits of the last fixed channel on both (the three CNOTs of a
    routing SWAP, a CU3's two) is folded into it. Items: (wires, superoperator, None, False) for a fixed channel;
    (wires, its channel or None, step, whether the channel goes first) for an input-dependent gate.

    Why: every channel costs the same few passes over all the states whatever it holds, and a two-qubit channel
    has at most 16 Kraus operators however many are folded into it. On a 10-qubit U3+CU3 circuit routed on
    Guadalupe the 191 steps become 65 and a noisy evaluation runs about 3x faster. It is exact: a channel moved
    commutes with everything it moves past (those act on other qubits), and the composed channel is sampled
    as one."""
    out: list[list] = []                   # [wires, superop (complex128) or None, step or None, channel first]
    last: dict[int, int] = {}              # wire -> index in `out` of the last item acting on it
    waiting: dict[int, np.ndarray] = {}    # wire -> a single-qubit channel held for the next fixed step there
    for st in steps:
        if st.superop is not None and len(st.wires) == 1:
            w, s = st.wires[0], st.superop.numpy().astype(np.complex128)
            i = last.get(w)
            if i is not None and out[i][2] is None:  # a fixed channel
                out[i][1] = _embedded(s, out[i][0], w) @ out[i][1]
            else:
                waiting[w] = s @ waiting[w] if w in waiting else s
            continue
        if st.superop is not None:
            s = st.superop.numpy().astype(np.complex128)
            i = last.get(st.wires[0])
            if (i is not None and out[i][2] is None and all(last.get(w) == i for w in st.wires)
                    and sorted(out[i][0]) == sorted(st.wires)):  # the same qubits again (a routing SWAP's CNOTs)
                out[i][1] = _reordered(s, st.wires, out[i][0]) @ out[i][1]
                continue
            for w in st.wires:
                if w in waiting:
                    s = s @ _embedded(waiting.pop(w), st.wires, w)
            out.append([st.wires, s, None, False])
        else:
            before = None
            for w in st.wires:  # an input-dependent gate: what waits on its wire goes first
                if w in waiting and st.after is None and len(st.wires) == 1:
                    before = waiting.pop(w)
                elif w in waiting:
                    _place(out, last.get(w), w, waiting.pop(w))
            after = None if st.after is None else st.after.numpy().astype(np.complex128)
            out.append([st.wires, after if before is None else before, st, before is not None])
        for w in st.wires:
            last[w] = len(out) - 1
    for w, s in waiting.items():
        _place(out, last.get(w), w, s)
    return [tuple(item) for item in out]


def _place(out: list[list], i: int | None, w: int, s: np.ndarray) -> None:
    """A single-qubit channel with no fixed step to fold into: sampled with the input-dependent gate before it on
    its wire (`out[i]`, in the same pass), or on its own at the start of the circuit. A noiseless RZ is a phase
    applied in one pass, so the channel waits for a fixed step first if there is one."""
    if i is None or out[i][3]:  # nothing before it, or the gate before it has its channel first
        out.append([(w,), s, None, False])
    else:
        out[i][1] = s if out[i][1] is None else s @ out[i][1]


def _one_step_per_gate(steps: Sequence[Any]) -> list[tuple[tuple[int, ...], np.ndarray | None, Any, bool]]:
    """The density program's steps as they are, in `_folded_steps`'s items."""
    return [(st.wires, st.superop.numpy().astype(np.complex128), None, False) if st.superop is not None else
            (st.wires, None if st.after is None else st.after.numpy().astype(np.complex128), st, False)
            for st in steps]


def _reordered(s: np.ndarray, wires: tuple[int, ...], order: tuple[int, ...]) -> np.ndarray:
    """The superoperator `s` on `wires` with its qubits in the order `order` (the same qubits)."""
    k = len(wires)
    perm = [wires.index(w) for w in order]
    ks = [op.reshape((2,) * 2 * k).transpose(perm + [k + p for p in perm]).reshape(2 ** k, 2 ** k)
          for op in kraus_from_superop(s)]
    return superop_from_kraus(ks)


def _embedded(s1: np.ndarray, wires: tuple[int, ...], w: int) -> np.ndarray:
    """The single-qubit superoperator `s1` on wire `w` as a superoperator on `wires` (the first wire is the most
    significant bit of a step's matrices, as `_apply` orders them)."""
    if len(wires) == 1:
        return s1
    eye = np.eye(2, dtype=np.complex128)
    ks = []
    for k in kraus_from_superop(s1):
        full = np.ones((1, 1), dtype=np.complex128)
        for v in wires:
            full = np.kron(full, k if v == w else eye)
        ks.append(full)
    return superop_from_kraus(ks)


def _rz(theta: torch.Tensor) -> torch.Tensor:
    e = torch.exp(0.5j * theta.to(torch.float64)).to(CDTYPE)
    zero = torch.zeros_like(e)
    return torch.stack([torch.stack([e.conj(), zero], -1), torch.stack([zero, e], -1)], -2)


def _apply(psi: torch.Tensor, u: torch.Tensor, wires: tuple[int, ...]) -> torch.Tensor:
    """u (d, d), or one per trajectory (B, d, d), on `wires` of every state."""
    k = len(wires)
    src = [1 + w for w in wires]
    t = torch.movedim(psi, src, list(range(1, 1 + k)))
    shape = t.shape
    t = t.reshape(shape[0], 2 ** k, -1)
    t = (u if u.dim() == 3 else u[None]) @ t
    return torch.movedim(t.reshape(shape), list(range(1, 1 + k)), src)


def _joined(psi: torch.Tensor) -> torch.Tensor:
    """The states with one more qubit, in |0>, as their last axis."""
    return torch.stack([psi, torch.zeros_like(psi)], -1)


def _phase(psi: torch.Tensor, theta: torch.Tensor, w: int) -> torch.Tensor:
    """RZ(theta) per trajectory on wire `w`: a diagonal, applied as one product in the states' own layout."""
    e = torch.exp(0.5j * theta.to(torch.float64)).to(CDTYPE)
    f = torch.stack([e.conj(), e], -1)[:, None, :, None]  # (B, 1, 2, 1)
    return (psi.reshape(psi.shape[0], 2 ** w, 2, -1) * f).reshape(psi.shape)


def _sample_channel(psi: torch.Tensor, op: _Op, gen: torch.Generator, u: torch.Tensor | None = None,
                    first: bool = False, wires: tuple[int, ...] | None = None) -> torch.Tensor:
    """One Kraus operator per trajectory, drawn with probability ||K_j psi||^2, then the state renormalised.
    With `u` (B, d, d), a gate per trajectory in the same pass: applied before the channel (the probabilities are
    read from the state before it through u^dagger K_j^dagger K_j u, and K_j u is applied), or after it with
    `first` (u K_j is applied). `wires`: the states' axes of the channel's qubits (default `op.wires`)."""
    wires = op.wires if wires is None else wires
    with_gate = (lambda k: k) if u is None else (lambda k: u @ k if first else k @ u)  # noqa: E731
    if op.kraus.shape[0] == 1:
        return _apply(psi, with_gate(op.kraus[0]), wires)
    k = len(wires)
    src = [1 + w for w in wires]
    t = torch.movedim(psi, src, list(range(1, 1 + k)))
    shape = t.shape
    t = t.reshape(shape[0], 2 ** k, -1)
    rho = t @ t.conj().transpose(-1, -2)  # (B, d, d) reduced density matrix of the channel's qubits
    if u is None or first:
        p = torch.einsum("jab,zba->zj", op.povm, rho)
    else:
        p = torch.einsum("zca,jcd,zdb,zba->zj", u.conj(), op.povm, u, rho)
    p = p.real.clamp_min(0)
    j = torch.multinomial(p, 1, generator=gen)[:, 0]
    norm = p.gather(1, j[:, None])[:, 0].clamp_min(1e-30).sqrt()
    # the d x d operators are scaled, not the state: a complex division over every amplitude cost as much as the
    # matrix product itself
    t = (with_gate(op.kraus[j]) / norm[:, None, None].to(CDTYPE)) @ t
    return torch.movedim(t.reshape(shape), list(range(1, 1 + k)), src)
