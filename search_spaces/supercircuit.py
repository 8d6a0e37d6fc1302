"""QuantumNAS SuperCircuits: the six design spaces of the paper, and the weight-shared circuit that runs any
SubCircuit of them.

A space is a block of layers repeated `n_blocks` times. Each layer applies one gate type either on single
wires or on wire pairs; its decision is how many of its gates are on, always the *front* ones (the first k
wires, or the first k pairs of the ring), which is the paper's "share front" design: a SubCircuit with k
gates in a layer reuses exactly the weights of the first k gates of the SuperCircuit. A final decision,
`n_blocks`, keeps the first blocks only; decisions of the blocks it turns off are absent from the arch.
An optional `layout` decision (a permutation of physical qubits, k = n_wires) is the qubit mapping that
the noise-adaptive co-search explores together with the circuit.

Gate sets (layers per block): u3cu3 [U3, CU3 ring]; zz_ry [RZZ ring, RY]; rxyz [sqrt(H) once in front, then
RX, RY, RZ, CZ on alternating pairs]; zx_xx [RZX ring, RXX ring]; rxyz_u1_cu3 [RX, S, CNOT ring, RY, T, SWAP
ring, RZ, H, sqrt(SWAP) ring, U1, CU3 ring]; ibmq_basis [RZ, X, RZ, SX, RZ, CNOT ring].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from nasfw.decisions import Choice
from nasfw.list_decisions import Permutation
from nasfw.errors import ConfigError, unknown_name
from nasfw.search_spaces import quantum_sim as qs
from nasfw.search_spaces.circuit_options import MAX_BLOCKS
from nasfw.space import Arch, Space
from nasfw.supernet.base import SuperNet


@dataclass(frozen=True)
class Layer:
    gate: str
    pattern: str = "single"  # single | ring | alter

    def wires(self, n_wires: int) -> list[tuple[int, ...]]:
        """All gate positions of the layer, front first."""
        if self.pattern == "single":
            return [(q,) for q in range(n_wires)]
        if self.pattern == "ring":
            return [(q, (q + 1) % n_wires) for q in range(n_wires if n_wires > 2 else 1)]
        pairs = [(q, q + 1) for q in range(0, n_wires - 1, 2)] + [(q, q + 1) for q in range(1, n_wires - 1, 2)]
        return pairs


@dataclass(frozen=True)
class SpaceDef:
    layers: tuple[Layer, ...]
    blocks: int
    front: tuple[Layer, ...] = ()
    description: str = ""


L = Layer
SPACES: dict[str, SpaceDef] = {
    "u3cu3": SpaceDef((L("u3"), L("cu3", "ring")), 8, description="U3 + CU3 (the paper's main space)"),
    "zz_ry": SpaceDef((L("rzz", "ring"), L("ry")), 8, description="ZZ + RY (Lloyd et al.)"),
    "rxyz": SpaceDef((L("rx"), L("ry"), L("rz"), L("cz", "alter")), 8, front=(L("sh"),),
                     description="sqrt(H), RX, RY, RZ + CZ (McClean et al., barren plateaus)"),
    "zx_xx": SpaceDef((L("rzx", "ring"), L("rxx", "ring")), 8, description="ZX + XX (Farhi & Neven)"),
    "rxyz_u1_cu3": SpaceDef((L("rx"), L("s"), L("cx", "ring"), L("ry"), L("t"), L("swap", "ring"), L("rz"),
                             L("h"), L("sswap", "ring"), L("u1"), L("cu3", "ring")), 4,
                            description="RXYZ + U1 + CU3, 11 layers (Henderson et al.)"),
    "ibmq_basis": SpaceDef((L("rz"), L("x"), L("rz"), L("sx"), L("rz"), L("cx", "ring")), 8,
                           description="IBMQ basis gates RZ, X, SX, CNOT"),
}


def space_def(name: str, field: str = "space_options") -> SpaceDef:
    """`field`: where the user gave the options (`task_options` when a task builds its own SuperCircuit), so
    that an error names what the user wrote."""
    if name not in SPACES:
        raise ConfigError(unknown_name(f"{field}.circuit", name, SPACES))
    return SPACES[name]


def supercircuit_space(circuit: str = "u3cu3", n_wires: int = 4, n_blocks: int | None = None,
                       device_qubits: int | None = None, min_front: int = 1,
                       layout_edges: list[list[int]] | None = None, field: str = "space_options") -> Space:
    """The SubCircuit space of a SuperCircuit; with `device_qubits`, also the qubit mapping. `layout_edges` (the
    device's coupling map, as plain pairs) makes sampling and mutation of the mapping follow it; the space of
    mappings stays all of them."""
    d = space_def(circuit, field)
    blocks = d.blocks if n_blocks is None else n_blocks
    if not isinstance(n_wires, int) or n_wires < 2:
        raise ConfigError(f"{field}.n_wires = {n_wires!r}; it must be an integer >= 2")
    if not isinstance(blocks, int) or isinstance(blocks, bool) or not 1 <= blocks <= MAX_BLOCKS:
        raise ConfigError(f"{field}.n_blocks = {blocks!r} is not allowed; allowed: an integer from 1 to {MAX_BLOCKS}")
    if device_qubits is not None and (not isinstance(device_qubits, int) or device_qubits < n_wires):
        raise ConfigError(f"{field}.device_qubits = {device_qubits!r}; it must be an integer >= n_wires "
                          f"({n_wires})")
    decisions: list = [Choice("n_blocks", list(range(1, blocks + 1)))]
    for i, layer in enumerate(d.front):
        decisions.append(Choice(f"front{i}", list(range(min(min_front, n_wires), len(layer.wires(n_wires)) + 1))))
    for b in range(blocks):
        when = {"n_blocks": list(range(b + 1, blocks + 1))} if b else None
        for i, layer in enumerate(d.layers):
            n_ops = len(layer.wires(n_wires))
            decisions.append(Choice(f"b{b}.{i}.{layer.gate}", list(range(min(min_front, n_ops), n_ops + 1)),
                                    when=when))
    if device_qubits is not None:
        decisions.append(Permutation("layout", device_qubits, k=n_wires, edges=layout_edges))
    return Space(decisions, name=f"supercircuit-{circuit}")


# --- the encoder --------------------------------------------------------------------------------------------
ENCODER_CYCLE = ("ry", "rz", "rx")


def encoder_ops(n_features: int, n_wires: int) -> list[tuple[str, int, int]]:
    """(gate, wire, feature index): feature f drives layer f // n_wires on wire f % n_wires, the layers cycling
    RY, RZ, RX. For 16 features on 4 wires this is torchquantum's 4x4_ryzxy encoder."""
    return [(ENCODER_CYCLE[(f // n_wires) % 3], f % n_wires, f) for f in range(n_features)]


# --- SubCircuits as gate lists -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    gate: str
    wires: tuple[int, ...]
    slot: tuple[str, int] | None  # (weight name, row) of the SuperCircuit, None for a fixed gate


def subcircuit_ops(circuit: str, n_wires: int, arch: Arch, n_blocks: int | None = None) -> list[Op]:
    """The trainable part of a SubCircuit, in order, each gate pointing to its shared weight row."""
    d = space_def(circuit)
    ops: list[Op] = []

    def layer_ops(key: str, layer: Layer, k: int) -> None:
        for j, w in enumerate(layer.wires(n_wires)[:k]):
            ops.append(Op(layer.gate, w, (key, j) if qs.n_params(layer.gate) else None))

    for i, layer in enumerate(d.front):
        layer_ops(f"front{i}", layer, arch[f"front{i}"])
    for b in range(arch["n_blocks"]):
        for i, layer in enumerate(d.layers):
            key = f"b{b}.{i}.{layer.gate}"
            layer_ops(key, layer, arch[key])
    return ops


def count_params(ops: Sequence[Op]) -> int:
    return sum(qs.n_params(o.gate) for o in ops)


class SuperCircuit(SuperNet):
    """Weight-shared parameterised circuit: encoder, then the active SubCircuit, then <Z> per wire."""

    def __init__(self, circuit: str = "u3cu3", n_wires: int = 4, n_blocks: int | None = None,
                 device_qubits: int | None = None, n_features: int = 16, seed: int = 0, field: str = "space_options"):
        super().__init__(supercircuit_space(circuit, n_wires, n_blocks, device_qubits, field=field))
        self.circuit, self.n_wires, self.n_features = circuit, n_wires, n_features
        d = space_def(circuit)
        self.n_blocks = d.blocks if n_blocks is None else n_blocks
        g = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterDict()
        layers = [(f"front{i}", lay) for i, lay in enumerate(d.front)]
        layers += [(f"b{b}.{i}.{lay.gate}", lay) for b in range(self.n_blocks) for i, lay in enumerate(d.layers)]
        for key, lay in layers:
            n = qs.n_params(lay.gate)
            if n:  # uniform in [-pi, pi), as torchquantum initialises rotation angles
                w = (torch.rand(len(lay.wires(n_wires)), n, generator=g) * 2 - 1) * math.pi
                self.weights[_pkey(key)] = nn.Parameter(w)
        self.encoder = encoder_ops(n_features, n_wires)
        self.active = self.largest()
        self._ops = subcircuit_ops(circuit, n_wires, self.active)

    def activate(self, arch: Arch) -> None:
        super().activate(arch)
        self._ops = subcircuit_ops(self.circuit, self.n_wires, arch)

    def ops(self, arch: Arch | None = None) -> list[Op]:
        return self._ops if arch is None else subcircuit_ops(self.circuit, self.n_wires, arch)

    def weight(self, op: Op) -> torch.Tensor:
        key, row = op.slot  # type: ignore[misc]
        return self.weights[_pkey(key)][row]

    def state(self, x: torch.Tensor, ops: Sequence[Op] | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"SuperCircuit expects inputs of shape (batch, {self.n_features}), got {tuple(x.shape)}")
        ops = self._ops if ops is None else ops
        gates = [(op.gate, op.wires, self.weight(op) if op.slot else None) for op in ops]
        return run_circuit(self.n_wires, self.encoder, x, gates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """<Z> of every wire, (batch, n_wires)."""
        return qs.expval_z(self.state(x))

    def extract(self, arch: Arch) -> "SubCircuit":
        return SubCircuit(self, arch)

    def n_params(self, arch: Arch | None = None) -> int:
        return count_params(self.ops(arch))


class SubCircuit(nn.Module):
    """A standalone circuit with its own copy of the inherited weights (trainable from there on, prunable)."""

    def __init__(self, parent: SuperCircuit, arch: Arch):
        super().__init__()
        self.arch, self.circuit, self.n_wires = dict(arch), parent.circuit, parent.n_wires
        self.n_features, self.encoder = parent.n_features, parent.encoder
        self.op_list = parent.ops(arch)
        trainable = [op for op in self.op_list if op.slot]
        rows = [parent.weight(op).detach().clone() for op in trainable]
        self.theta = nn.Parameter(torch.cat(rows) if rows else torch.zeros(0))
        sizes = [qs.n_params(op.gate) for op in trainable]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.register_buffer("mask", torch.ones_like(self.theta))

    def gates(self, drop_identities: bool = False) -> list[tuple[str, tuple[int, ...], torch.Tensor | None]]:
        """(gate, wires, angles or None) in order; masked (pruned) angles are zero. With `drop_identities`,
        as deployed: a gate whose angles are all below 1e-3 (modulo 4 pi) is the identity and is left out."""
        theta = self.theta * self.mask
        out, t = [], 0
        for op in self.op_list:
            if op.slot:
                n = qs.n_params(op.gate)
                angles = theta[self.offsets[t]:self.offsets[t] + n]
                t += 1
                if drop_identities:
                    # modulo 4 pi: a 2 pi rotation flips the sign, which a control turns into a relative phase
                    folded = torch.remainder(angles.detach() + 2 * math.pi, 4 * math.pi) - 2 * math.pi
                    if bool((folded.abs() < 1e-3).all()):
                        continue
                out.append((op.gate, op.wires, angles))
            else:
                out.append((op.gate, op.wires, None))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return qs.expval_z(run_circuit(self.n_wires, self.encoder, x, self.gates()))

    def reinitialise(self, seed: int = 0, scale: float = math.pi) -> None:
        """Fresh weights, uniform in [-scale, scale]: training the SubCircuit from scratch, as the paper does for the
        winner. `scale=0` sets every angle to zero, where each rotation is the identity (VQE's start at the
        reference state)."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.theta.copy_((torch.rand(self.theta.shape, generator=g) * 2 - 1) * scale)
            self.mask.fill_(1.0)


def run_circuit(n_wires: int, encoder, x: torch.Tensor, gates) -> torch.Tensor:
    """State after the encoder (feature f on its wire; single-qubit rotations, so a product state) and `gates`
    as (gate, wires, angles or None), the angles shared by the batch."""
    s = qs.product_state(n_wires, [(gate, wire, (x[:, f],)) for gate, wire, f in encoder], x.shape[0], x.device)
    return qs.run(s, gates)


def _pkey(key: str) -> str:
    return key.replace(".", "_")  # ParameterDict keys may not contain dots


# --- qiskit ---------------------------------------------------------------------------------------------------
def qiskit_gate(name: str, params: Sequence[Any] = ()):
    """The qiskit gate object for one of our gate names."""
    from qiskit.circuit import library as lib

    table = {"rx": lib.RXGate, "ry": lib.RYGate, "rz": lib.RZGate, "u1": lib.PhaseGate, "u3": lib.UGate,
             "x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "h": lib.HGate, "sx": lib.SXGate, "s": lib.SGate,
             "t": lib.TGate, "rzz": lib.RZZGate, "rxx": lib.RXXGate, "ryy": lib.RYYGate, "rzx": lib.RZXGate,
             "crx": lib.CRXGate, "cry": lib.CRYGate, "crz": lib.CRZGate, "cu3": lib.CU3Gate, "cx": lib.CXGate,
             "cz": lib.CZGate, "swap": lib.SwapGate}
    if name in table:
        return table[name](*params)
    if name == "sh":
        return lib.UnitaryGate(qs.fixed("sh")[0].numpy().astype(complex), label="sh")
    if name == "sswap":
        return lib.SwapGate().power(0.5)
    raise ValueError(f"no qiskit gate for {name!r}")


def to_qiskit(module: "SubCircuit", measure: bool = True):
    """The SubCircuit as a qiskit circuit: encoder angles as a ParameterVector `x` (bound per sample later),
    weights bound to their trained values. Wire q of the circuit is qubit q (qiskit's little-endian order
    only matters when reading states; <Z> per clbit q is <Z> of wire q)."""
    import qiskit
    from qiskit.circuit import ParameterVector

    x = ParameterVector("x", module.n_features)
    qc = qiskit.QuantumCircuit(module.n_wires, module.n_wires if measure else 0)
    for gate, wire, f in module.encoder:
        qc.append(qiskit_gate(gate, [x[f]]), [wire])
    for gate, wires, angles in module.gates(drop_identities=True):
        params = [float(a) for a in angles.detach()] if angles is not None else []
        qc.append(qiskit_gate(gate, params), list(wires))
    if measure:
        qc.measure(range(module.n_wires), range(module.n_wires))
    return qc
