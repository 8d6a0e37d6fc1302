"""Quantum devices and their noise: the calibration snapshots qiskit-ibm-runtime ships as fake backends
(the retired IBMQ machines QuantumNAS was evaluated on), summarised for listing, and turned into qiskit-aer
noise models. Nothing is downloaded: the snapshots are inside the installed package."""
from __future__ import annotations

import statistics
from functools import lru_cache
from typing import Any

from nasfw.errors import ConfigError, unknown_name

TWO_QUBIT_GATES = ("cx", "ecr", "cz")


def _provider():
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise ConfigError("quantum devices need qiskit-ibm-runtime: pip install 'nasfw[quantum]'") from None
    return fake_provider


@lru_cache(maxsize=1)
def device_names() -> tuple[str, ...]:
    """'quito', 'lima', ... for every FakeXxxV2 backend of the installed qiskit-ibm-runtime."""
    fp = _provider()
    return tuple(sorted(n[4:-2].lower() for n in dir(fp) if n.startswith("Fake") and n.endswith("V2")
                        and n != "FakeBackendV2" and not n.startswith("FakeProvider")))


@lru_cache(maxsize=None)
def backend(name: str):
    """A fake device by name ('quito', 'FakeLimaV2', ...), or a user's backend-properties JSON by path."""
    fp = _provider()
    if name.lower().endswith(".json"):
        return _from_properties(name)
    key = name.lower().removeprefix("fake").removesuffix("v2")
    if key not in device_names():
        raise ConfigError(unknown_name("quantum device", name, device_names()))
    cls = next(getattr(fp, n) for n in dir(fp) if n.lower() == f"fake{key}v2")
    import warnings

    with warnings.catch_warnings():  # newer fake devices warn that their numbers are not typical; we list them
        warnings.simplefilter("ignore")
        return cls()


def _from_properties(path: str):
    """A backend built from an IBM backend-properties JSON (the `props_*.json` format: qubits with T1, T2,
    readout_error, prob_meas*_prep*; gates with gate_error and gate_length). The configuration the file lacks
    is derived from it: qubit count, basis gates and coupling map from the gates it calibrates."""
    import copy
    import json
    from pathlib import Path

    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    p = Path(path)
    try:
        props = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"device {path!r}: cannot read a backend-properties JSON: {e}") from None
    if not isinstance(props, dict) or "qubits" not in props or "gates" not in props:
        raise ConfigError(f"device {path!r}: a backend-properties JSON needs 'qubits' and 'gates' "
                          "(the props_*.json format of IBM backends)")
    n = len(props["qubits"])
    names = sorted({g["gate"] for g in props["gates"]})
    edges = sorted({tuple(g["qubits"]) for g in props["gates"] if len(g["qubits"]) == 2})
    template = backend("quito")._conf_dict  # a configuration of the same family, reshaped below
    conf = copy.deepcopy(template)
    conf.update({"backend_name": p.stem, "n_qubits": n, "basis_gates": names,
                 "coupling_map": [list(e) for e in edges],
                 "gates": [{"name": g, "parameters": [], "qasm_def": "", "coupling_map":
                            [list(e) for e in edges] if g in TWO_QUBIT_GATES else [[q] for q in range(n)]}
                           for g in names]})
    for k in ("meas_map",):
        conf[k] = [list(range(n))]

    class UserBackend(FakeBackendV2):
        backend_name = p.stem
        dirname = str(p.parent)
        props_filename = p.name
        conf_filename = None

        def _get_conf_dict_from_json(self):
            return conf

    try:
        b = UserBackend()
        b.target  # build now, so a malformed file fails here with its name
    except Exception as e:  # qiskit raises assorted types for malformed calibration data
        raise ConfigError(f"device {path!r}: qiskit cannot build a device from it: {type(e).__name__}: {e}") from None
    return b


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def summary(name: str) -> dict[str, Any]:
    """Qubits, basis gates, coupling, and the median gate/readout errors and T1/T2 of a device."""
    b = backend(name)
    t = b.target
    two_q = next((g for g in TWO_QUBIT_GATES if g in t.operation_names), None)
    one_q = [p.error for g in ("sx", "x", "u2", "u3") if g in t.operation_names for p in t[g].values()
             if p is not None and p.error is not None]
    props = [t.qubit_properties[q] for q in range(b.num_qubits)] if t.qubit_properties else []
    return {
        "device": name.lower(),
        "qubits": b.num_qubits,
        "basis_gates": [g for g in t.operation_names if g not in ("measure", "reset", "delay", "if_else",
                                                                  "switch_case", "for_loop", "while_loop")],
        "two_qubit_gate": two_q,
        "coupling_edges": len(list(b.coupling_map.get_edges())) if b.coupling_map else 0,
        "median_1q_error": _median(one_q),
        "median_2q_error": _median([p.error for p in t[two_q].values() if p is not None]) if two_q else None,
        "median_readout_error": _median([p.error for p in t["measure"].values() if p is not None]),
        "median_t1_us": _median([p.t1 * 1e6 for p in props if p is not None and p.t1]),
        "median_t2_us": _median([p.t2 * 1e6 for p in props if p is not None and p.t2]),
    }


def noise_model(name: str):
    """qiskit-aer's NoiseModel from the device's calibration (depolarising gate errors, thermal relaxation
    over gate durations, readout errors)."""
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_backend(backend(name))


def _big_endian(m):
    """qiskit's little-endian k-qubit matrix -> first-listed qubit most significant."""
    import numpy as np

    k = int(round(np.log2(m.shape[0])))
    if k == 1:
        return m
    perm = list(range(k))[::-1]
    return m.reshape((2,) * (2 * k)).transpose(perm + [k + p for p in perm]).reshape(m.shape)


@lru_cache(maxsize=None)
def channels(name: str) -> tuple[dict, dict]:
    """The device's noise as plain arrays for nasfw's density-matrix evaluator: Kraus operators per
    (gate, physical qubits) and a readout confusion matrix P(measured j | prepared i) per qubit. Built with
    qiskit-aer's own calibration-to-noise functions (the ones `NoiseModel.from_backend` uses: a depolarising
    error sized so that, composed with T1/T2 relaxation over the gate's duration, the gate error equals the
    calibrated one), so the two simulators see the same noise."""
    import numpy as np
    from qiskit.quantum_info import Kraus
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors

    target = backend(name).target
    gates = {}
    for gate, qubits, error in basic_device_gate_errors(target=target):
        gates[(gate, tuple(qubits))] = [_big_endian(np.asarray(k)) for k in Kraus(error).data]
    readout = {int(q[0]): np.asarray(err.probabilities, dtype=float)
               for q, err in basic_device_readout_errors(target=target)}
    return gates, readout
