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
density matrix of those qubits, so a step costs two passes over the state whatever the number of Kraus
operators.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from nasfw.search_spaces.quantum_density import _PARAM_1Q, CDTYPE, DensityProgram

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


class TrajectoryProgram:
    """`expval_z(x, trajectories)`: the noisy <Z> of each classical bit, (B, n_clbits), averaged over
    `trajectories` sampled noise histories per input, readout error included."""

    def __init__(self, prog: DensityProgram):
        self.n_qubits, self.measured, self.readout = prog.n_qubits, prog.measured, prog.readout
        self.physical, self.n_features = prog.physical, prog.n_features
        self.ops: list[_Op] = []
        self._ops_on: dict[torch.device, list[_Op]] = {}
        for st in prog.steps:
            if st.superop is not None:
                self.ops.append(self._channel(st.wires, st.superop))
                continue
            gate, angles = (st.gate, st.angles) if st.gate else ("rz", [(st.rz_const, st.rz_coef)])
            op = self._channel(st.wires, st.after) if st.after is not None else _Op(st.wires)
            op.gate, op.angles = gate, [(float(c), torch.as_tensor(k, dtype=torch.float64)) for c, k in angles]
            self.ops.append(op)

    @staticmethod
    def _channel(wires: tuple[int, ...], superop: torch.Tensor) -> _Op:
        k = torch.tensor(kraus_from_superop(superop.numpy()), dtype=CDTYPE)
        return _Op(wires, kraus=k, povm=k.conj().transpose(-1, -2) @ k)

    @classmethod
    def from_qiskit(cls, circuit: Any, noise: dict, readout: dict, inputs: Sequence[Any] = ()) -> "TrajectoryProgram":
        """As `DensityProgram.from_qiskit`, for circuits of up to `MAX_QUBITS` qubits (wires plus ancillas)."""
        return cls(DensityProgram.from_qiskit(circuit, noise, readout, inputs, max_qubits=MAX_QUBITS))

    # -- running -----------------------------------------------------------------------------------------------
    def _ops_for(self, device: torch.device) -> list[_Op]:
        """The program's operators on `device` (moved once per device and kept)."""
        if device.type == "cpu":
            return self.ops
        if device not in self._ops_on:
            mv = lambda t: None if t is None else t.to(device)  # noqa: E731
            self._ops_on[device] = [_Op(o.wires, mv(o.kraus), mv(o.povm), o.gate, o.angles) for o in self.ops]
        return self._ops_on[device]

    def states(self, x: torch.Tensor | np.ndarray, trajectories: int, seed: int = 0,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """Final states, (B * trajectories, 2, ..., 2), input-major (the trajectories of input 0 first), on
        `device` (a GPU draws other random numbers than the CPU for the same seed: same statistics)."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        if x.dim() == 1:
            x = x[None]
        if x.shape[1] != self.n_features:
            raise ValueError(f"inputs have {x.shape[1]} features; the program was compiled for {self.n_features}")
        device = torch.device(device)
        n, b = self.n_qubits, x.shape[0] * trajectories
        gen = torch.Generator(device=device).manual_seed(seed)
        psi = torch.zeros((b,) + (2,) * n, dtype=CDTYPE, device=device)
        psi.view(b, -1)[:, 0] = 1.0
        for op in self._ops_for(device):
            if op.gate:
                theta = [(c + x @ k).float().repeat_interleave(trajectories).to(device) for c, k in op.angles]
                if op.gate == "rz":
                    u = _rz(theta[0])
                else:
                    u = _PARAM_1Q[op.gate](*theta)
                psi = _apply(psi, u, op.wires)
            if op.kraus is not None:
                psi = _sample_channel(psi, op, gen)
        return psi

    def expval_z(self, x: torch.Tensor | np.ndarray, trajectories: int = 32, seed: int = 0,
                 max_bytes: int | None = None, sem: bool = False, device: torch.device | str = "cpu"
                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Mean over trajectories of each trajectory's exact <Z> per classical bit, with the readout confusion
        applied (and with `sem`, its standard error over the trajectories), returned on CPU; inputs go in chunks
        that keep the states under `max_bytes`. On CPU 4 MiB (every step makes a few passes over the states, and
        states that stay in the cache run about 3x faster at 14 qubits than 256 MB chunks did); on a GPU 1 GiB,
        where a launch per step for few amplitudes is what costs."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        if x.dim() == 1:
            x = x[None]
        device = torch.device(device)
        if max_bytes is None:
            max_bytes = 2 ** 22 if device.type == "cpu" else 2 ** 30
        chunk = max(1, max_bytes // (8 * 2 ** self.n_qubits * trajectories))
        out, err = [], []
        for i in range(0, len(x), chunk):
            psi = self.states(x[i:i + chunk], trajectories, seed + i, device)
            p = psi.abs().square()
            z = []
            for c, q in enumerate(self.measured):
                marg = torch.movedim(p, q + 1, -1).reshape(p.shape[0], -1, 2).sum(1)  # (b, 2): P(0), P(1)
                marg = marg / marg.sum(-1, keepdim=True)
                m = torch.tensor(self.readout[c], dtype=marg.dtype, device=device)
                read = marg @ m  # P(read j) = sum_i P(i) P(j | i)
                z.append(read[:, 0] - read[:, 1])
            z = torch.stack(z, -1).reshape(-1, trajectories, len(self.measured)).cpu()
            out.append(z.mean(1))
            err.append(z.std(1) / trajectories ** 0.5 if trajectories > 1 else torch.full_like(z[:, 0], float("nan")))
        return (torch.cat(out), torch.cat(err)) if sem else torch.cat(out)


# --- helpers -----------------------------------------------------------------------------------------------------
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


def _sample_channel(psi: torch.Tensor, op: _Op, gen: torch.Generator) -> torch.Tensor:
    """One Kraus operator per trajectory, drawn with probability ||K_j psi||^2, then the state renormalised."""
    if op.kraus.shape[0] == 1:
        return _apply(psi, op.kraus[0], op.wires)
    k = len(op.wires)
    src = [1 + w for w in op.wires]
    t = torch.movedim(psi, src, list(range(1, 1 + k)))
    shape = t.shape
    t = t.reshape(shape[0], 2 ** k, -1)
    rho = t @ t.conj().transpose(-1, -2)  # (B, d, d) reduced density matrix of the channel's qubits
    p = torch.einsum("jab,zba->zj", op.povm, rho).real.clamp_min(0)
    j = torch.multinomial(p, 1, generator=gen)[:, 0]
    norm = p.gather(1, j[:, None])[:, 0].clamp_min(1e-30).sqrt()
    t = (op.kraus[j] @ t) / norm[:, None, None].to(CDTYPE)
    return torch.movedim(t.reshape(shape), list(range(1, 1 + k)), src)
