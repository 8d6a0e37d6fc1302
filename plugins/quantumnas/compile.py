"""From a trained SubCircuit to the device: qiskit transpile with the candidate's qubit mapping, the noisy
torch program of the compiled circuit, its size and estimated fidelity, the final qiskit-aer evaluation,
and the OpenQASM export. Weights are bound before transpiling (symbolic CU3 angles make level-2
transpiling take minutes); only the encoder inputs stay free."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nasfw.hardware import quantum_noise
from nasfw.search_spaces.quantum_density import DensityProgram
from nasfw.search_spaces.quantum_trajectories import TrajectoryProgram
from nasfw.search_spaces.supercircuit import SubCircuit, to_qiskit


def logits(z: torch.Tensor, n_classes: int) -> torch.Tensor:
    """<Z> per wire -> class scores: one wire per class, or sums of consecutive wires ([Z0+Z1, Z2+Z3] for
    two classes on four qubits), as the QuantumNAS models read them out."""
    n = z.shape[1]
    if n_classes == n:
        return z
    if n % n_classes == 0:
        return z.reshape(z.shape[0], n_classes, n // n_classes).sum(-1)
    if n_classes < n:
        return z[:, :n_classes]
    raise ValueError(f"{n_classes} classes cannot be read from {n} qubits")


def transpile(module: SubCircuit, device: str, layout: Sequence[int] | None, optimization_level: int = 2,
              layout_method: str | None = None, seed: int = 0):
    import qiskit

    qc = to_qiskit(module)
    inputs = sorted(qc.parameters, key=lambda p: p.index)
    kw: dict[str, Any] = {"optimization_level": optimization_level, "seed_transpiler": seed}
    if layout is not None:
        kw["initial_layout"] = list(layout)
    elif layout_method:
        kw["layout_method"] = layout_method
    return qiskit.transpile(qc, quantum_noise.backend(device), **kw), inputs


def program(tq: Any, inputs: Sequence[Any], device: str) -> DensityProgram:
    gates, readout = quantum_noise.channels(device)
    return DensityProgram.from_qiskit(tq, gates, readout, inputs)


def trajectory_program(tq: Any, inputs: Sequence[Any], device: str) -> TrajectoryProgram:
    gates, readout = quantum_noise.channels(device)
    return TrajectoryProgram.from_qiskit(tq, gates, readout, inputs)


def noisy_expval_z(tq: Any, inputs: Sequence[Any], device: str, x: Any, noise: str, trajectories: int = 32,
                   shots: int | None = None, seed: int = 0) -> torch.Tensor:
    """<Z> per clbit under the device noise with the task's torch evaluator: the exact density matrix
    (`density`; with `shots`, sampled as measurements), or `trajectories` sampled noise histories per input."""
    if noise == "trajectories":
        return trajectory_program(tq, inputs, device).expval_z(x, trajectories=trajectories, seed=seed)
    return program(tq, inputs, device).expval_z(x, shots=shots or None, seed=seed)


def stats(tq: Any, device: str) -> dict[str, float]:
    """Depth, gate counts and the estimated success probability: the product of (1 - error) over every
    compiled gate and measurement, from the device's calibration."""
    target = quantum_noise.backend(device).target
    log_f, counts, n2 = 0.0, {}, 0
    for inst in tq.data:
        name = inst.operation.name
        if name in ("barrier", "delay"):
            continue
        counts[name] = counts.get(name, 0) + 1
        qubits = tuple(tq.find_bit(q).index for q in inst.qubits)
        n2 += len(qubits) == 2  # by arity: cx, ecr, cz, Heron's rzz, whatever the device's entangling gate is
        props = target[name].get(qubits) if name in target.operation_names else None
        if props is not None and props.error:
            log_f += math.log(max(1e-12, 1 - props.error))
    return {"depth": float(tq.depth()), "gates": float(sum(v for k, v in counts.items() if k != "measure")),
            "two_qubit_gates": float(n2), "fidelity": math.exp(log_f)}


def initial_layout(tq: Any) -> list[int]:
    """Physical qubit of each logical wire as placed by the transpiler."""
    layout = tq.layout
    if layout is None:
        return list(range(tq.num_qubits))
    return [int(p) for p in layout.initial_index_layout(filter_ancillas=True)]


def touched_qubits(tq: Any) -> set[int]:
    """The physical qubits a compiled circuit acts on: its wires and the routing ancillas."""
    return {tq.find_bit(q).index for inst in tq.data if inst.operation.name not in ("barrier", "delay")
            for q in inst.qubits}


def aer_run(tq: Any, inputs: Sequence[Any], x: np.ndarray, device: str, shots: int = 8192, seed: int = 0,
            threads: int = 0):
    """qiskit-aer's result for the circuit bound to each input row, one experiment per row, up to `threads` run side
    by side (0: every core the process may use): a circuit of a few qubits is too small for aer's threads to share
    one state, and aer ran its experiments one after another, one core busy (300 MNIST-4 inputs on Quito, 2 cores:
    2.9 -> 2.1 s).

    With the density matrix, aer binds the rows itself (`parameter_binds` with runtime binding): it prepares the
    circuit and its noise once per block of rows, one block per thread, where a circuit bound in Python per row was
    prepared anew for each (the searched circuit of the default run, its 300 test inputs, 2 cores: 3.4 -> 1.9 s,
    one thread 4.7 -> 3.2 s, timed in turn in one process). Past 10 qubits (noisy state-vector
    trajectories) each row stays a circuit of its own: there aer's runtime binding with parallel experiments gave
    other counts from run to run. Either way every row keeps its seed (seed_simulator + its index), and the counts
    are those of one bound circuit per row run one after another (tests/test_quantumnas_aer.py)."""
    from qiskit_aer import AerSimulator

    # the density matrix up to 10 qubits; beyond, aer's noisy state-vector trajectories
    method = "density_matrix" if len(touched_qubits(tq)) <= 10 else "statevector"
    x = np.asarray(x, dtype=float)
    bind_in_aer = method == "density_matrix" and bool(inputs)
    sim = AerSimulator(method=method, noise_model=quantum_noise.noise_model(device), seed_simulator=seed,
                       max_parallel_threads=threads, max_parallel_experiments=threads,
                       runtime_parameter_bind_enable=bind_in_aer)
    if not bind_in_aer:
        bound = [tq.assign_parameters({p: float(v) for p, v in zip(inputs, row)}) for row in x]
        return sim.run(bound, shots=shots).result()
    blocks = [b for b in np.array_split(np.arange(len(x)), max(1, min(threads or _cores(), len(x)))) if len(b)]
    binds = [{p: x[b, i].tolist() for i, p in enumerate(inputs)} for b in blocks]
    return sim.run([tq] * len(blocks), parameter_binds=binds, shots=shots).result()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def aer_expval(tq: Any, inputs: Sequence[Any], x: np.ndarray, device: str, shots: int = 8192,
               seed: int = 0, threads: int = 0) -> np.ndarray:
    """<Z> per clbit from qiskit-aer with NoiseModel.from_backend, `shots` shots per input: the reference
    evaluation of a finished circuit (density-matrix method up to 10 active qubits, trajectories beyond)."""
    result = aer_run(tq, inputs, x, device, shots, seed, threads)
    return expval_from_counts([result.get_counts(i) for i in range(len(result.results))], tq.num_clbits)


def expval_from_counts(counts: Sequence[dict[str, int]], n_clbits: int) -> np.ndarray:
    """<Z> per clbit of each experiment's counts (qiskit's bit strings: clbit 0 rightmost, registers apart by
    spaces), each divided by its own number of shots."""
    out = np.zeros((len(counts), n_clbits))
    for i, c_i in enumerate(counts):
        for bits, c in c_i.items():
            bits = bits.replace(" ", "")[::-1]
            out[i] += c * np.array([1.0 if bits[q] == "0" else -1.0 for q in range(n_clbits)])
        out[i] /= max(1, sum(c_i.values()))
    return out


def export_qasm(module: SubCircuit, tq: Any, out_dir: Path, name: str, device: str,
                classifier: dict[str, Any] | None = None) -> list[Path]:
    """OpenQASM 3 of the compiled circuit (weights bound, encoder inputs as `input float` parameters), OpenQASM 2
    of the compiled trainable part (all angles bound), the physical layout and the transpile statistics, and, for a
    classifier, its classes and how its inputs are made (`classifier`: what deployed.py reads back).

    The inputs are named x00, x01, ... (zero-padded to the widest index): qiskit reads a QASM 3 file's inputs back
    in name order, and under their own names (x[0], x[1], ..., written as _x_0_, _x_1_, ...) input 10 came before
    input 2, so a row of features bound by position was scrambled."""
    import qiskit
    from qiskit import qasm2, qasm3
    from qiskit.circuit import Parameter

    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    inputs = sorted(tq.parameters, key=lambda p: getattr(p, "index", 0))
    width = len(str(max(len(inputs) - 1, 0)))
    named = {p: Parameter(f"x{i:0{width}d}") for i, p in enumerate(inputs)}
    p3 = out_dir / f"{name}.qasm3"
    p3.write_text(qasm3.dumps(tq.assign_parameters(named) if named else tq))
    files.append(p3)
    ansatz = to_qiskit(module, measure=True)
    ansatz.data = [d for d in ansatz.data if not any(getattr(p, "parameters", None) for p in d.operation.params)]
    layout = initial_layout(tq)
    t2 = qiskit.transpile(ansatz, quantum_noise.backend(device), optimization_level=2, initial_layout=layout,
                          seed_transpiler=0)
    p2 = out_dir / f"{name}.ansatz.qasm2"
    p2.write_text(qasm2.dumps(t2))
    files.append(p2)
    meta = {"device": device, "initial_layout": layout, "inputs": [named[p].name for p in inputs],
            "transpiled": stats(tq, device), "count_ops": {k: int(v) for k, v in tq.count_ops().items()},
            **({"classifier": classifier} if classifier else {})}
    pj = out_dir / f"{name}.layout.json"
    pj.write_text(json.dumps(meta, indent=2))
    files.append(pj)
    return files
