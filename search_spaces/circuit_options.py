"""The type hints of the SuperCircuit's options, apart from the SuperCircuit itself.

A plugin's factories carry these hints, and the QuantumNAS plugin is imported whenever nasfw lists or loads its
plugins: importing them from `supercircuit` would load torch into every `nasfw` command (0.8 s each).
"""
from __future__ import annotations

from typing import Annotated, Literal

from nasfw.option_types import Bounds, Note

# the names of supercircuit.SPACES (a test holds the two equal): `circuit: u3cu` is refused with the names,
# and `nasfw plugins quantumnas` lists them
CircuitName = Literal["u3cu3", "zz_ry", "rxyz", "zx_xx", "rxyz_u1_cu3", "ibmq_basis"]
WireCount = Annotated[int, Bounds(low=2)]  # a SuperCircuit's logical qubits: the two-qubit layers need two
# The paper's SuperCircuits have 4 or 8 blocks, and 100 blocks of U3+CU3 on 4 qubits are already some 400 two-qubit
# gates, far past what a device's coherence keeps; beyond that a mistyped count (n_blocks: 100000000) would only
# fill memory, since every block is a decision whose `when` lists the block counts that keep it.
MAX_BLOCKS = 100
BlockCount = Annotated[int, Bounds(low=1, high=MAX_BLOCKS)]  # a SuperCircuit's blocks (null: the space's default)
OptimizationLevel = Literal[0, 1, 2, 3]  # qiskit.transpile's levels
DeviceName = Annotated[str, Note("a fake IBMQ device's name, e.g. quito, lima, lagos (`nasfw hardware --plugin "
                                 "quantumnas` lists them), optionally with its errors scaled (lima@x4), or a "
                                 "calibration JSON's path")]
