"""A searched QuantumNAS circuit, classifier or VQE ansatz, put to work from its exported files alone.

The export is what a user takes away from a run: `export/NAME.qasm3` (the compiled circuit, weights bound, one
`input float` per encoder feature) and `export/NAME.layout.json` (the device, the physical layout, the inputs in
feature order, the classes and how samples become inputs). This module reads those two files back and nothing else
of the run (no store, no campaign, no training code), so a circuit can be run on a simulator or handed to another
backend where the run folder is not. It exists because the QASM file alone is not enough to use the circuit right:
the class order, the 2-class read-out ([Z0+Z1, Z2+Z3]), a VQE ansatz's Hamiltonian on the qubits it measures and
the image preparation (scale, MNIST normalisation, crop, pooling) live outside it, and its inputs must be bound by
name (exports before the names were zero-padded read back in name order, x_10 before x_2, and bound by position
scrambled the features).

    clf = ExportedClassifier.load("runs/quantumnas")            # export/searched.*; name="searched_pruned" too
    labels = clf.predict(images)                                 # qiskit-aer with the device's noise, 8192 shots
    circuits = clf.circuits(clf.features(images))                # bound circuits for a backend of one's own
    ExportedAnsatz.load("runs/vqe-h2").energy()                   # a VQE ansatz's <H> under the device's noise
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nasfw.errors import ConfigError
from nasfw.plugins.quantumnas import compile as qc
from nasfw.plugins.quantumnas.data import features as pooled_features


@dataclass
class ExportedClassifier:
    circuit: Any                # the compiled qiskit circuit, physical qubits, inputs free
    inputs: list[Any]           # its input parameters in feature order
    device: str                 # the fake device (with its noise scale, 'lima@x3') the circuit was compiled for
    classes: list[int]          # the labels, in class order
    prepare: dict[str, Any]     # how a sample becomes inputs (data.describe_inputs)
    source: Path

    @classmethod
    def load(cls, path: str | Path, name: str = "searched") -> ExportedClassifier:
        """From a run folder, its export folder, or a NAME.qasm3 file (with its NAME.layout.json beside it)."""
        qasm, circuit, meta = _exported(path, name)
        if "classifier" not in meta:
            kind = "a VQE ansatz: ExportedAnsatz reads it" if "hamiltonian" in meta else (
                "an export from before classifiers were described: `nasfw search --resume` on the run writes its "
                "exports again from what finalize kept")
            raise ConfigError(f"exported circuit {qasm.name}: its layout file names no classes ({kind})")
        return cls(circuit, _inputs_in_order(circuit, meta["inputs"]), meta["device"],
                   list(meta["classifier"]["classes"]), dict(meta["classifier"]["inputs"]), qasm)

    def features(self, samples: np.ndarray) -> np.ndarray:
        """Samples as the run's task prepared them: images (N, H, W), or one (H, W), on the training data's scale
        or in [0, 1], normalised, cropped and pooled to the encoder's features; features (N, F) as they are."""
        x = np.asarray(samples, dtype=np.float64)
        if self.prepare["kind"] == "features":
            x = x[None] if x.ndim == 1 else x
            if x.ndim != 2 or x.shape[1] != len(self.inputs):
                raise ConfigError(f"samples of shape {tuple(np.shape(samples))}: this circuit takes features of "
                                  f"shape (N, {len(self.inputs)})")
            return x
        x = x[None] if x.ndim == 2 else x
        if x.ndim != 3 or min(x.shape[1:]) < self.prepare["grid"]:
            raise ConfigError(f"samples of shape {tuple(np.shape(samples))}: this circuit takes images (N, H, W) or "
                              f"(H, W) at least {self.prepare['grid']} pixels a side")
        if x.size and (x.min() < 0 or x.max() > max(1.0, self.prepare["scale"])):
            raise ConfigError(f"samples hold intensities from {x.min():.3g} to {x.max():.3g}; allowed: 0 to 1, or "
                              f"0 to {self.prepare['scale']:g} (the training data's scale)")
        if x.size and x.max() > 1.0:
            x = x / self.prepare["scale"]
        return pooled_features(x, self.prepare["grid"]).numpy().astype(np.float64)

    def circuits(self, x: np.ndarray) -> list[Any]:
        """The circuit bound to each row of features: for any backend that runs qiskit circuits."""
        x = self._checked(x)
        return [self.circuit.assign_parameters(dict(zip(self.inputs, map(float, row)))) for row in x]

    def expval_z(self, x: np.ndarray, shots: int = 8192, seed: int = 0, backend: Any = None,
                 sampler: Any = None, simulator: str = "aer") -> np.ndarray:
        """<Z> of each measured qubit per row of features, `shots` shots each: on qiskit-aer with the device's noise
        model by default (as the run's table measured it: the same seed gives the same counts), on nasfw's torch
        density matrix with the same noise (`simulator="torch"`, up to 10 qubits touched: the table's torch column;
        the default run's searched circuit on its 300 test inputs took 0.12 s, 0.03 s with `shots=0` (exact
        expectations), where aer took 2.0 s on 2 cores), on `backend`
        (anything with `run(circuits, shots=...)` whose result has `get_counts(i)`: qiskit's fake backends,
        AerSimulator), or with `sampler`, a qiskit SamplerV2 (a device's through qiskit-ibm-runtime, which has no
        `run` for circuits), given the circuit once with every row's input values."""
        x = self._checked(x)
        lowest = 0 if simulator == "torch" and backend is None and sampler is None else 1
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < lowest:
            raise ConfigError(f"expval_z: shots = {shots!r} is not allowed; allowed: an integer >= 1 (or 0, exact "
                              "expectations, with simulator='torch')")
        if backend is not None and sampler is not None:
            raise ConfigError("expval_z: give backend= or sampler=, not both")
        if simulator not in ("aer", "torch"):
            raise ConfigError(f"expval_z: simulator = {simulator!r} is not allowed; allowed: 'aer', 'torch'")
        if sampler is not None:
            columns = [self.inputs.index(p) for p in self.circuit.parameters]  # the sampler binds in this order
            bits = sampler.run([(self.circuit, x[:, columns])], shots=shots).result()[0].join_data()
            counts = [bits.get_counts(loc=i) for i in range(len(x))]
        elif backend is not None:
            result = backend.run(self.circuits(x), shots=shots).result()
            counts = [result.get_counts(i) for i in range(len(x))]
        elif simulator == "torch":
            touched = len(qc.touched_qubits(self.circuit))
            if touched > 10:
                raise ConfigError(f"expval_z: simulator='torch' holds a density matrix of up to 10 qubits; this "
                                  f"circuit touches {touched} (simulator='aer' runs it)")
            prog = qc.program(self.circuit, self.inputs, self.device)
            return prog.expval_z(torch.as_tensor(x), shots=shots or None, seed=seed).double().numpy()
        else:
            result = qc.aer_run(self.circuit, self.inputs, x, self.device, shots=shots, seed=seed)
            counts = [result.get_counts(i) for i in range(len(x))]
        return qc.expval_from_counts(counts, self.circuit.num_clbits)

    def scores(self, z: np.ndarray) -> np.ndarray:
        """Class scores from <Z>, read as the task reads them (compile.logits)."""
        return qc.logits(torch.as_tensor(z), len(self.classes)).numpy()

    def predict(self, samples: np.ndarray, shots: int = 8192, seed: int = 0, backend: Any = None,
                sampler: Any = None, simulator: str = "aer") -> np.ndarray:
        """The label of each sample (images or features, prepared as in `features`), read as `expval_z` says."""
        z = self.expval_z(self.features(samples), shots, seed, backend, sampler, simulator)
        return np.asarray(self.classes)[self.scores(z).argmax(1)]

    def _checked(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.inputs):
            raise ConfigError(f"features of shape {x.shape}: this circuit takes (N, {len(self.inputs)}); images go "
                              "through `features` (or `predict`) first")
        return x


def _inputs_in_order(circuit: Any, names: Sequence[str]) -> list[Any]:
    """The circuit's input parameters in the export's feature order (x00, x01, ...)."""
    by_name = {p.name: p for p in circuit.parameters}
    unknown = [n for n in names if n not in by_name]
    if unknown or len(names) != len(by_name):
        raise ConfigError(f"exported circuit: its layout file lists the inputs {list(names)}, its QASM 3 file has "
                          f"{sorted(by_name)}; the two files come from different exports")
    return [by_name[n] for n in names]


@dataclass
class ExportedAnsatz:
    """A VQE ansatz as finalize (`searched`) or `nasfw export` (`best.inherited`) wrote it: the compiled
    state-preparation circuit with every angle bound, and the qubit Hamiltonian placed on the physical qubits the
    circuit measures its logical ones on (the layout file lists each term by logical qubit)."""
    circuit: Any                # compiled, final measurements removed
    device: str
    hamiltonian: Any            # qiskit SparsePauliOp over the circuit's qubits, without the constant
    constant: float
    exact_energy: float
    source: Path

    @classmethod
    def load(cls, path: str | Path, name: str = "searched") -> ExportedAnsatz:
        qasm, circuit, meta = _exported(path, name)
        if "hamiltonian" not in meta:
            raise ConfigError(f"exported circuit {qasm.name}: its layout file holds no Hamiltonian (a classifier: "
                              "ExportedClassifier reads it)")
        from qiskit.quantum_info import SparsePauliOp

        measured = {circuit.find_bit(i.clbits[0]).index: circuit.find_bit(i.qubits[0]).index
                    for i in circuit.data if i.operation.name == "measure"}
        circuit.remove_final_measurements()
        h = meta["hamiltonian"]
        terms = [(string.replace("I", ""), [measured[i] for i, ch in enumerate(string) if ch != "I"], c)
                 for string, c in h["terms"]]
        op = SparsePauliOp.from_sparse_list(terms, num_qubits=circuit.num_qubits).simplify(atol=0)
        return cls(circuit, meta["device"], op, float(h["constant"]), float(meta["exact_energy"]), qasm)

    def energy(self, noise: bool = True, estimator: Any = None) -> float:
        """<H> in Hartree: on qiskit-aer's density matrix with the device's noise model (exact, as the run's table
        reads it) or without noise, or with `estimator`, any qiskit EstimatorV2 (a device's, with its own
        precision and mitigation)."""
        if estimator is None:
            from qiskit_aer.primitives import EstimatorV2

            from nasfw.hardware.quantum_noise import noise_model

            options = {"method": "density_matrix", "noise_model": noise_model(self.device)} if noise else {}
            estimator = EstimatorV2(options={"backend_options": options})
        return self.constant + float(estimator.run([(self.circuit, self.hamiltonian)]).result()[0].data.evs)


def _exported(path: str | Path, name: str) -> tuple[Path, Any, dict[str, Any]]:
    """The QASM 3 file of an export, its circuit read by qiskit and the layout file's content: `path` a run
    folder, its export folder or the .qasm3 file itself."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir() and (path / "export").is_dir():
        folder = path / "export"
    qasm = path if path.suffix == ".qasm3" else folder / f"{name}.qasm3"
    meta_path = qasm.with_name(qasm.name[: -len(".qasm3")] + ".layout.json")
    missing = [p for p in (qasm, meta_path) if not p.is_file()]
    if missing:
        there = sorted(p.name[: -len(".qasm3")] for p in folder.glob("*.qasm3")) if folder.is_dir() else []
        raise ConfigError(f"exported circuit {str(path)!r}: {', '.join(p.name for p in missing)} not found; "
                          f"circuits exported there: {there or 'none'} (`nasfw export RUN` writes best.inherited, "
                          "a finished QuantumNAS run searched and searched_pruned)")
    from qiskit import qasm3

    return qasm, qasm3.loads(qasm.read_text()), json.loads(meta_path.read_text())
