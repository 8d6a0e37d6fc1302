"""A batched, noisy density-matrix evaluator in torch for compiled circuits of 4-10 qubits.

Why our own: the search scores hundreds of candidates, each on hundreds of validation inputs, under a
device's noise. qiskit-aer's density-matrix simulator runs one bound circuit per input (about 18 ms per
input for a 4-qubit, 8-block circuit on Quito); here a candidate is compiled once into a program whose
every instruction is one tensor contraction over the whole batch of inputs, so a 500-input validation set
costs about as much as a handful of aer runs. It is tested against aer (`tests/test_quantum_density.py`):
density matrices to 1e-5 and sampled expectation values within shot noise. What the search reads, <Z> and the
outcome probabilities, comes from the Heisenberg picture where the circuit allows it (quantum_observables.py:
3-4x faster at 4 qubits, 25-50x at 9-10); `density` itself always steps.

Input: a circuit already transpiled to the device (basis gates, coupling map, initial layout), whose
weights are bound and whose only free parameters are the encoder's inputs, and the device's noise as
Kraus operators per (gate, physical qubits) plus a 2x2 readout confusion matrix per qubit. Rotation
angles that depend on the inputs must be affine in them (transpiling an encoder RX/RY/RZ to RZ, SX
gives angles like x + pi/2), which is checked when the program is built.

Conventions: a k-qubit matrix is indexed with the first listed qubit most significant (the same as the
state-vector simulator); the noise dictionary is expected in that convention.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from nasfw.search_spaces import quantum_observables as qo
from nasfw.search_spaces import quantum_sim as qs

CDTYPE = torch.complex64

# qiskit's single-qubit gates whose angles may depend on the inputs after transpiling (older devices have
# a u1/u2/u3 basis), as torch matrices
_PARAM_1Q = {"u3": qs.u3, "u": qs.u3, "u2": lambda phi, lam: qs.u3(torch.full_like(phi, np.pi / 2), phi, lam),
             "rx": qs.rx, "ry": qs.ry}


@dataclass
class _Step:
    wires: tuple[int, ...]               # local qubit indices
    superop: torch.Tensor | None = None  # (4^k, 4^k): a fixed gate fused with its noise channel
    rz_const: float = 0.0                # an input-dependent RZ: angle = rz_const + x @ rz_coef
    rz_coef: torch.Tensor | None = None
    after: torch.Tensor | None = None    # noise channel following an input-dependent gate
    gate: str = ""                       # an input-dependent single-qubit gate other than RZ (u3, u2, rx, ry)
    angles: list = field(default_factory=list)  # its angles as (const, coef) pairs


def superop_from_kraus(kraus: Sequence[np.ndarray]) -> np.ndarray:
    """S[(a, b), (c, d)] = sum_j K_j[a, c] conj(K_j[b, d]), so that vec(rho') = S vec(rho) with rho
    flattened row-major."""
    d = kraus[0].shape[0]
    s = sum(np.einsum("ac,bd->abcd", k, k.conj()) for k in kraus)
    return s.reshape(d * d, d * d)


class TooManyQubits(ValueError):
    """A compiled circuit whose wires and routing ancillas are more qubits than the evaluator holds."""


MAX_QUBITS = 12  # 4^12 complex64 numbers = 128 MiB per input; at 14 qubits it is 2 GiB, at 16 qubits 32 GiB


@dataclass
class DensityProgram:
    n_qubits: int
    steps: list[_Step]
    measured: list[int]                      # local qubit read into clbit c
    readout: list[np.ndarray]                # per clbit, P(measured j | prepared i) as [i, j]
    physical: list[int] = field(default_factory=list)  # local index -> physical qubit
    n_features: int = 0
    # per kind of read-out (`z`, `outcomes`): the Heisenberg plan and observables, or None (built on first use)
    _observables: dict = field(default_factory=dict, repr=False, compare=False)

    # -- building ------------------------------------------------------------------------------------------
    @classmethod
    def from_qiskit(cls, circuit: Any, noise: dict[tuple[str, tuple[int, ...]], list[np.ndarray]],
                    readout: dict[int, np.ndarray], inputs: Sequence[Any] = (),
                    max_qubits: int = MAX_QUBITS) -> "DensityProgram":
        """`circuit`: transpiled, measurements at the end; `inputs`: the circuit's free Parameters in feature
        order; `noise[(gate, physical qubits)]`: Kraus operators applied after that gate. `max_qubits`: the
        trajectory evaluator, which holds states rather than density matrices, builds on this program too."""
        from qiskit.circuit import ParameterExpression

        used: list[int] = []
        for inst in circuit.data:
            if inst.operation.name in ("barrier", "delay", "id"):
                continue
            for q in inst.qubits:
                p = circuit.find_bit(q).index
                if p not in used:
                    used.append(p)
        used.sort()
        if len(used) > max_qubits:
            raise TooManyQubits(f"the compiled circuit touches {len(used)} qubits (its wires plus routing "
                                f"ancillas); the {'density-matrix' if max_qubits == MAX_QUBITS else 'trajectory'} "
                                f"evaluator stops at {max_qubits}")
        local = {p: i for i, p in enumerate(used)}
        index = {p: i for i, p in enumerate(inputs)}
        steps: list[_Step] = []
        measured: dict[int, int] = {}
        for inst in circuit.data:
            op, name = inst.operation, inst.operation.name
            phys = tuple(circuit.find_bit(q).index for q in inst.qubits)
            if name in ("barrier", "delay", "id"):
                continue
            if name == "measure":
                measured[circuit.find_bit(inst.clbits[0]).index] = local[phys[0]]
                continue
            if name == "reset":
                raise ValueError("the density-matrix evaluator does not support mid-circuit reset")
            wires = tuple(local[p] for p in phys)
            kraus = noise.get((name, phys))
            symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
            if symbolic:
                after = torch.tensor(superop_from_kraus(kraus), dtype=CDTYPE) if kraus else None
                if name in ("rz", "p", "u1"):  # p/u1 differ from rz by a global phase only
                    const, coef = _affine(op.params[0], index, len(inputs))
                    steps.append(_Step(wires, rz_const=const, rz_coef=torch.tensor(coef), after=after))
                elif name in _PARAM_1Q:
                    angles = [_affine(p, index, len(inputs)) if isinstance(p, ParameterExpression) and p.parameters
                              else (float(p), np.zeros(len(inputs))) for p in op.params]
                    steps.append(_Step(wires, gate=name, after=after,
                                       angles=[(c, torch.tensor(k)) for c, k in angles]))
                else:
                    raise ValueError(f"input-dependent {name!r} gate after transpiling; supported: rz, p, u1, "
                                     f"{', '.join(_PARAM_1Q)}")
                continue
            u = _matrix(op)
            ks = [k @ u for k in kraus] if kraus else [u]
            steps.append(_Step(wires, superop=torch.tensor(superop_from_kraus(ks), dtype=CDTYPE)))
        clbits = sorted(measured)
        if not clbits:
            raise ValueError("the circuit measures nothing")
        ro = [np.asarray(readout.get(used[measured[c]], np.eye(2)), dtype=np.float64) for c in clbits]
        return cls(len(used), _fuse(steps), [measured[c] for c in clbits], ro, used, len(inputs))

    # -- running -----------------------------------------------------------------------------------------------
    def _inputs(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        if x.dim() == 1:
            x = x[None]
        if x.shape[1] != self.n_features:
            raise ValueError(f"inputs have {x.shape[1]} features; the program was compiled for {self.n_features}")
        return x

    def density(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Final density matrices before measurement, (B, 2^n, 2^n), qubit 0 (local) most significant."""
        x = self._inputs(x)
        n, b = self.n_qubits, x.shape[0]
        rho = torch.zeros((b,) + (2,) * (2 * n), dtype=CDTYPE)
        rho.view(b, -1)[:, 0] = 1.0
        for st in self.steps:
            rho = _apply_step(rho, st, x, st.wires, n)
        d = 2 ** n
        return rho.reshape(b, d, d)

    def _observed(self, kind: str, x: torch.Tensor) -> torch.Tensor | None:
        """The read-out <Z> per clbit (`z`) or the joint outcome probabilities (`outcomes`) from the Heisenberg
        picture (quantum_observables.py), or None where this program cannot use it."""
        m = len(self.measured)
        k = m if kind == "z" else 2 ** m
        if kind not in self._observables:
            if not qo.worth_it(self.n_qubits, k, len(x)):
                return None  # decided again for a larger batch
            pl = qo.plan(self.steps, self.n_qubits)
            make = qo.z_factors if kind == "z" else qo.outcome_factors
            self._observables[kind] = None if pl is None else (pl, qo.heisenberg(
                make(self.n_qubits, self.measured, self.readout), pl, _apply_superop, CDTYPE))
        found = self._observables[kind]
        if found is None:
            return None
        pl, o = found
        states = qo.product_states(pl, x, CDTYPE, lambda rho, st, xs: _apply_step(rho, st, xs, (0,), 1))
        return qo.expectations(o, states)

    def _stepped_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The joint distribution of the read-out bits from the final density matrices, unnormalised."""
        rho = self.density(x)
        n, b = self.n_qubits, rho.shape[0]
        p = torch.diagonal(rho, dim1=-2, dim2=-1).real.clamp_min(0).reshape((b,) + (2,) * n)
        keep = self.measured
        drop = [q for q in range(n) if q not in keep]
        if drop:
            p = p.sum(dim=[q + 1 for q in drop], keepdim=True)
        p = p.permute(0, *[q + 1 for q in keep], *[q + 1 for q in drop]).reshape((b,) + (2,) * len(keep))
        for c, m in enumerate(self.readout):
            p = torch.movedim(torch.tensordot(torch.movedim(p, c + 1, -1), torch.tensor(m, dtype=p.dtype), 1), -1,
                              c + 1)
        return p.reshape(b, -1)

    def probabilities(self, x: torch.Tensor | np.ndarray, shots: int | None = None,
                      seed: int = 0) -> torch.Tensor:
        """Joint distribution of the classical bits, readout error included, (B, 2^n_clbits), clbit 0 most
        significant. With `shots`, an empirical distribution sampled from it, as hardware would give. Inputs
        are processed in chunks that keep the density matrices under about 256 MB."""
        x = self._inputs(x)
        chunk = max(1, 2 ** 25 // 4 ** self.n_qubits)
        if len(x) > chunk:
            return torch.cat([self.probabilities(x[i:i + chunk], shots, seed + i) for i in range(0, len(x), chunk)])
        p = self._observed("outcomes", x)
        p = self._stepped_probabilities(x) if p is None else p.clamp_min(0)
        p = p / p.sum(-1, keepdim=True)
        if shots:
            g = torch.Generator().manual_seed(seed)
            counts = torch.stack([torch.bincount(torch.multinomial(row.double(), shots, replacement=True,
                                                                   generator=g), minlength=p.shape[1])
                                  for row in p])
            p = counts.to(p.dtype) / shots
        return p

    def expval_z(self, x: torch.Tensor | np.ndarray, shots: int | None = None, seed: int = 0) -> torch.Tensor:
        """<Z> of every classical bit, (B, n_clbits)."""
        if not shots:
            x = self._inputs(x)
            z = self._observed("z", x)
            if z is not None:
                return z
        return z_from_probabilities(self.probabilities(x, shots, seed))

    def stepped_expval_z(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """<Z> from density matrices stepped through every gate: the path where the Heisenberg picture does not
        apply, kept callable to check it and to time against it."""
        p = self._stepped_probabilities(self._inputs(x))
        return z_from_probabilities(p / p.sum(-1, keepdim=True))


def z_from_probabilities(p: torch.Tensor) -> torch.Tensor:
    """(B, 2^m) joint probabilities of m bits, bit 0 most significant -> (B, m) <Z> of each bit."""
    m = int(p.shape[1]).bit_length() - 1
    p = p.reshape((p.shape[0],) + (2,) * m)
    out = []
    for c in range(m):
        marg = torch.movedim(p, c + 1, -1).reshape(p.shape[0], -1, 2).sum(1)
        out.append(marg[:, 0] - marg[:, 1])
    return torch.stack(out, -1)


# --- helpers -----------------------------------------------------------------------------------------------------
def _matrix(op: Any) -> np.ndarray:
    """The gate's unitary, converted from qiskit's little-endian order to first-qubit-most-significant."""
    from qiskit.quantum_info import Operator

    u = Operator(op).data
    k = op.num_qubits
    if k == 1:
        return u
    perm = list(range(k))[::-1]
    t = u.reshape((2,) * (2 * k))
    t = t.transpose(perm + [k + p for p in perm])
    return t.reshape(2 ** k, 2 ** k)


def _affine(expr: Any, index: dict, n: int) -> tuple[float, np.ndarray]:
    params = list(expr.parameters)
    for p in params:
        if p not in index:
            raise ValueError(f"parameter {p} is not one of the inputs; bind the weights before compiling")
    zero = {p: 0.0 for p in params}
    const = float(expr.bind(zero))
    coef = np.zeros(n)
    for p in params:
        coef[index[p]] = float(expr.bind({**zero, p: 1.0})) - const
    rng = np.random.default_rng(0)
    probe = {p: float(rng.uniform(-3, 3)) for p in params}
    if abs(float(expr.bind(probe)) - (const + sum(coef[index[p]] * v for p, v in probe.items()))) > 1e-6:
        raise ValueError(f"angle {expr} is not affine in the inputs")
    return const, coef


def _fuse(steps: list[_Step]) -> list[_Step]:
    """Merge consecutive fixed single-qubit steps on the same wire into one superoperator."""
    out: list[_Step] = []
    for st in steps:
        prev = out[-1] if out else None
        if (prev is not None and st.superop is not None and prev.superop is not None and len(st.wires) == 1
                and prev.wires == st.wires):
            prev.superop = st.superop @ prev.superop
        else:
            out.append(st)
    return out


def _apply_step(rho: torch.Tensor, st: _Step, x: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    """One step on `rho` (B, 2,..,2 rows, 2,..,2 columns of n qubits), the step's qubits at `wires`."""
    if st.gate:
        theta = [c + x.double() @ k.double() for c, k in st.angles]
        u = _PARAM_1Q[st.gate](*[t.float() for t in theta])  # (B, 2, 2)
        rho = _apply_1q_unitary(rho, u, wires[0], n)
    elif st.rz_coef is not None:
        theta = st.rz_const + x.double() @ st.rz_coef.double()
        e = torch.exp(1j * theta).to(CDTYPE)
        f = torch.stack([torch.stack([torch.ones_like(e), e.conj()], -1),
                         torch.stack([e, torch.ones_like(e)], -1)], -2)  # (B, 2[row], 2[col])
        rho = _apply_diag_factor(rho, f, wires[0], n)
    else:
        return _apply_superop(rho, st.superop, wires, n)
    return rho if st.after is None else _apply_superop(rho, st.after, wires, n)


def _apply_superop(rho: torch.Tensor, s: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    k = len(wires)
    src = [1 + w for w in wires] + [1 + n + w for w in wires]
    dst = list(range(rho.dim() - 2 * k, rho.dim()))
    t = torch.movedim(rho, src, dst)
    shape = t.shape
    t = t.reshape(-1, 4 ** k) @ s.T
    return torch.movedim(t.reshape(shape), dst, src)


def _apply_1q_unitary(rho: torch.Tensor, u: torch.Tensor, w: int, n: int) -> torch.Tensor:
    """U rho U^dagger with a per-input (B, 2, 2) U on local qubit w."""
    t = torch.movedim(rho, (1 + w, 1 + n + w), (-2, -1))  # (B, ..., 2[row], 2[col])
    shape = t.shape
    t = t.reshape(shape[0], -1, 2, 2)
    t = torch.matmul(torch.matmul(u[:, None], t), u.conj().transpose(-1, -2)[:, None])
    return torch.movedim(t.reshape(shape), (-2, -1), (1 + w, 1 + n + w))


def _apply_diag_factor(rho: torch.Tensor, f: torch.Tensor, w: int, n: int) -> torch.Tensor:
    """rho[..., a_w, ..., b_w, ...] *= f[batch, a_w, b_w]."""
    shape = [rho.shape[0]] + [1] * (2 * n)
    shape[1 + w] = 2
    shape[1 + n + w] = 2
    return rho * f.reshape(shape)
