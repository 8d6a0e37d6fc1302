"""Quantum devices and their noise: the calibration snapshots qiskit-ibm-runtime ships as fake backends
(the retired IBMQ machines QuantumNAS was evaluated on, and the Eagle and Heron machines of today: Brisbane,
Sherbrooke, Torino, Fez, ...), summarised for listing, and turned into qiskit-aer noise models. Nothing is
downloaded: the snapshots are inside the installed package.

A device key names a device and, optionally, a noise scale: 'lima' is the calibration as shipped, 'lima@x3' the
same device with every error three times as likely (`device_key`). Every consumer (qiskit's transpiler, aer's
noise model, nasfw's density-matrix and trajectory evaluators, the fidelity estimate) reads the device through
`backend(key)`, so a scaled device is one object that all of them see alike."""
from __future__ import annotations

import statistics
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from nasfw.errors import ConfigError, unknown_name
from nasfw.option_types import Bounds

TWO_QUBIT_GATES = ("cx", "ecr", "cz", "rzz")  # the entangling gates, most usual first
SCALE_MARK = "@x"
MAX_NOISE_SCALE = 100.0
# a noise_scale option's hint: how many times as likely each calibrated error is
NoiseScale = Annotated[float, Bounds(low=0, high=MAX_NOISE_SCALE, low_open=True)]


def _provider():
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise ConfigError("quantum devices need qiskit-ibm-runtime: pip install 'nasfw[quantum]'") from None
    return fake_provider


# Fake backends that are not a machine's calibration: the base class and qiskit's 5-qubit fractional-gate demo.
NOT_DEVICES = ("FakeBackendV2", "FakeFractionalBackend")


@lru_cache(maxsize=1)
def _device_classes() -> dict[str, str]:
    """Device name -> fake backend class name: 'quito' -> 'FakeQuitoV2', 'torino' -> 'FakeTorino'. The retired
    IBMQ machines carry a V2 suffix; the Eagle and Heron machines added later (Brisbane, Sherbrooke, Torino, Fez,
    ...) do not, and were missed when only `Fake*V2` names were read."""
    fp = _provider()  # (first: without qiskit-ibm-runtime, its one line rather than the import's traceback)
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    out = {}
    for n in dir(fp):
        cls = getattr(fp, n)
        if n.startswith("Fake") and n not in NOT_DEVICES and isinstance(cls, type) and issubclass(cls, FakeBackendV2):
            out[n[4:].removesuffix("V2").lower()] = n
    return out


def device_names() -> tuple[str, ...]:
    """'quito', 'lima', 'torino', ... for every fake device of the installed qiskit-ibm-runtime."""
    return tuple(sorted(_device_classes()))


def devices_with(n_qubits: int, limit: int = 4) -> str:
    """'e.g. casablanca, jakarta, lagos, nairobi (7 qubits)': the smallest fake devices that hold `n_qubits`, for an
    error that says what would do (from the devices' summaries: building their backends took 5 s of that error)."""
    sizes = sorted((summary(n)["qubits"], n) for n in device_names())
    fit = [(q, n) for q, n in sizes if q >= n_qubits]
    if not fit:
        return f"no fake device has {n_qubits} qubits (the largest has {sizes[-1][0]})"
    smallest = [n for q, n in fit if q == fit[0][0]][:limit]
    return f"e.g. {', '.join(smallest)} ({fit[0][0]} qubits; `nasfw hardware --plugin quantumnas` lists them all)"


def device_key(name: str, noise_scale: float = 1.0, field: str = "task_options.noise_scale") -> str:
    """The key of device `name` with its calibrated errors scaled by `noise_scale` ('lima', 'lima@x3').

    Scaling is the knob noise-injection studies turn (torchquantum's NoiseModelTQ calls it `factor`): how does a
    result change on a device that is k times noisier, or quieter? The calibration stays the device's own, qubit
    by qubit and gate by gate; only its magnitude moves."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"device = {name!r}; it must be a device name (`nasfw hardware --plugin quantumnas` lists "
                          "them) or the path of a backend-properties JSON")
    if isinstance(noise_scale, bool) or not isinstance(noise_scale, (int, float)) or \
            not 0 < noise_scale <= MAX_NOISE_SCALE:
        raise ConfigError(f"{field} = {noise_scale!r}; it must be a number in (0, {MAX_NOISE_SCALE:g}]: the factor "
                          "on every calibrated error (1 = the device as calibrated)")
    base, in_name = split_key(name)
    if base != name:  # 'lima@x4', as a report names the device, typed back: the same device
        device_field = field.rpartition(".")[0] + ".device" if "." in field else "device"
        if noise_scale != 1:
            raise ConfigError(f"{device_field} = {name!r} carries a noise scale and {field} = {noise_scale!r} "
                              "another; give it once")
        if not 0 < in_name <= MAX_NOISE_SCALE:
            raise ConfigError(f"{device_field} = {name!r}; the noise scale after {SCALE_MARK!r} must be a number in "
                              f"(0, {MAX_NOISE_SCALE:g}]")
        name, noise_scale = base, in_name
    name = name.lower() if not name.lower().endswith(".json") else name
    return name if noise_scale == 1 else f"{name}{SCALE_MARK}{float(noise_scale):g}"


def split_key(key: str) -> tuple[str, float]:
    """'lima@x3' -> ('lima', 3.0); a plain name -> (name, 1.0)."""
    head, mark, tail = key.rpartition(SCALE_MARK)
    if mark:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return key, 1.0


def backend(name: str):
    """A fake device by name ('quito', 'FakeLimaV2', 'ibmq_quito', ...), or a user's backend-properties JSON by
    path; a key with a noise scale ('lima@x3') gives that device with its errors scaled. One object per device,
    and per version of a user's file: kept by path alone, a calibration edited between two runs of one Python
    session was read as it first was."""
    return _backend(name, _file_version(split_key(name)[0]))


def _file_version(name: str) -> tuple[int, int] | None:
    """(size, mtime) of a user's calibration file; None for a fake device's name (or a file that is not there:
    _from_properties says so)."""
    from nasfw.provenance import file_version

    return file_version(name) if name.lower().endswith(".json") else None


@lru_cache(maxsize=None)
def _backend(name: str, version: tuple[int, int] | None):
    base_name, scale = split_key(name)
    if base_name != name:
        return backend(base_name) if scale == 1 else _scaled(backend(base_name), scale)
    _provider()  # a user's file needs qiskit-ibm-runtime too: without it, its one line first
    if name.lower().endswith(".json"):
        return _from_properties(name)
    cls = _fake_class(name)
    import warnings

    with warnings.catch_warnings():  # newer fake devices warn that their numbers are not typical; we list them
        warnings.simplefilter("ignore")
        return cls()


def _fake_key(name: str) -> str:
    """'quito' for 'quito', 'FakeQuitoV2', 'ibmq_quito' (qiskit's and IBM's own names); unknown names refused."""
    key = name.lower()
    for prefix in ("fake", "ibmq_", "ibm_"):  # FakeLimaV2 (qiskit), ibmq_lima / ibm_lagos (IBM's own names)
        key = key.removeprefix(prefix)
    key = key.removesuffix("v2")
    if key not in device_names():
        raise ConfigError(unknown_name("quantum device", name, device_names()))
    return key


def _fake_class(name: str) -> type:
    """qiskit-ibm-runtime's fake backend class of a device name (any spelling `_fake_key` takes)."""
    return getattr(_provider(), _device_classes()[_fake_key(name)])


def check_space_device(task_device: str, space_options: dict) -> None:
    """The searched space's device must be the task's. A device with another qubit count fails `check_space`;
    one with the same (Quito and Lima) passed, and the campaign then named two devices for one run."""
    space_device = space_options.get("device")
    task_name = split_key(task_device)[0]
    if isinstance(space_device, str) and split_key(space_device)[0].lower() != task_name.lower():
        raise ConfigError(f"space_options.device = {space_device!r} and task_options.device = {task_name!r} name "
                          "two devices; the layouts are searched on the space's and scored on the task's: leave "
                          "space_options.device out (it follows the task's) or set both to one device")


def _scaled(base, scale: float):
    """`base` with every gate error and readout error multiplied by `scale` and T1/T2 divided by it, so that
    the relaxation part of each gate's error scales with the rest. Errors are capped where they stop being
    physical: a gate at the completely depolarising channel's d/(d+1), a readout at a coin flip. The scaled
    numbers go into the calibration record itself, from which qiskit then builds the target as for any device."""
    import copy

    base.target  # loads the calibration record
    props = copy.deepcopy(base._props_dict)
    for qubit in props["qubits"]:
        for item in qubit:
            if item["name"] in ("T1", "T2") and item.get("value"):
                item["value"] = item["value"] / scale
            elif item["name"] in ("readout_error", "prob_meas0_prep1", "prob_meas1_prep0") and \
                    item.get("value") is not None:
                item["value"] = min(0.5, item["value"] * scale)
    for gate in props["gates"]:
        dim = 2 ** len(gate["qubits"])
        for item in gate["parameters"]:
            if item["name"] == "gate_error" and item.get("value") is not None:
                item["value"] = min(dim / (dim + 1), item["value"] * scale)
    scaled = copy.copy(base)
    scaled._props_dict, scaled._target = props, None
    scaled.target  # build now, from the scaled record
    return scaled


def _from_properties(path: str):
    """A backend built from an IBM backend-properties JSON (the `props_*.json` format: qubits with T1, T2,
    readout_error, prob_meas*_prep*; gates with gate_error and gate_length). The configuration the file lacks
    is derived from it: qubit count, basis gates and coupling map from the gates it calibrates."""
    import copy
    import json
    from pathlib import Path

    _provider()
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    p = Path(path)
    try:
        props = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"device {path!r}: cannot read a backend-properties JSON: {e}") from None
    if not isinstance(props, dict) or "qubits" not in props or "gates" not in props:
        raise ConfigError(f"device {path!r}: a backend-properties JSON needs 'qubits' and 'gates' "
                          "(the props_*.json format of IBM backends)")
    n = len(props["qubits"]) if isinstance(props["qubits"], list) else 0
    if not n or not isinstance(props["gates"], list):
        raise ConfigError(f"device {path!r}: 'qubits' must be a non-empty list (one list of calibrated values per "
                          "qubit) and 'gates' a list, as in the props_*.json format of IBM backends")
    qargs: dict[str, set] = {}  # each gate on the qubit tuples the file calibrates it on: its arity comes with it
    for i, g in enumerate(props["gates"]):
        qubits = g.get("qubits") if isinstance(g, dict) else None
        if not isinstance(g, dict) or not isinstance(g.get("gate"), str) or not isinstance(qubits, list) or \
                not qubits or not all(isinstance(q, int) and 0 <= q < n for q in qubits):
            raise ConfigError(f"device {path!r}: gates[{i}] = {json.dumps(g)[:120]}; each gate needs 'gate' (its "
                              f"name) and 'qubits' (a list of qubit indices below {n}), as in the props_*.json "
                              "format of IBM backends")
        qargs.setdefault(g["gate"], set()).add(tuple(qubits))
    _check_calibration(props, path)
    names = sorted(qargs)
    edges = sorted({q for qs in qargs.values() for q in qs if len(q) == 2})
    template = backend("quito")._conf_dict  # a configuration of the same family, reshaped below
    conf = copy.deepcopy(template)
    conf.update({"backend_name": p.stem, "n_qubits": n, "basis_gates": names,
                 "coupling_map": [list(e) for e in edges],
                 "gates": [{"name": g, "parameters": [], "qasm_def": "",
                            "coupling_map": [list(q) for q in sorted(qargs[g])]} for g in names]})
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


# what each calibrated number may be: qiskit-aer refuses the rest only when it builds a noise model, in every
# evaluation of the search (after the SuperCircuit trained), and takes a gate error above 1 without a word
CALIBRATION_RANGES = {"T1": ("> 0", lambda v: v > 0), "T2": ("> 0", lambda v: v > 0),
                      "readout_error": ("in [0, 1]", lambda v: 0 <= v <= 1),
                      "prob_meas0_prep1": ("in [0, 1]", lambda v: 0 <= v <= 1),
                      "prob_meas1_prep0": ("in [0, 1]", lambda v: 0 <= v <= 1),
                      "gate_error": ("in [0, 1]", lambda v: 0 <= v <= 1),
                      "gate_length": (">= 0", lambda v: v >= 0)}


def _check_calibration(props: dict, path: str) -> None:
    """Each calibrated value of a user's file a number in its range, named by where it stands in the file."""
    items = [(f"qubits[{i}]", item) for i, q in enumerate(props["qubits"]) for item in (q if isinstance(q, list)
                                                                                         else [])]
    items += [(f"gates[{i}] ({g['gate']} on {g['qubits']})", item) for i, g in enumerate(props["gates"])
              for item in (g.get("parameters") or [])]
    for where, item in items:
        if not isinstance(item, dict) or item.get("name") not in CALIBRATION_RANGES or item.get("value") is None:
            continue
        v, (allowed, ok) = item["value"], CALIBRATION_RANGES[item["name"]]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):
            unit = f" {item['unit']}" if item.get("unit") else ""
            raise ConfigError(f"device {path!r}: {where} {item['name']} = {v!r}{unit} is not allowed; allowed: a "
                              f"number {allowed}")


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def summary(name: str) -> dict[str, Any]:
    """Qubits, basis gates, coupling, and the median gate/readout errors and T1/T2 of a device. A fake device's
    are read from the two JSON files it ships (`_summary_of_files`); a scaled device or a user's file from the
    qiskit target built for it."""
    shipped = _shipped_files(name)
    return _summary_of_files(name, *shipped) if shipped else _summary_of_target(name)


def _summary_of_target(name: str) -> dict[str, Any]:
    b = backend(name)
    t = b.target
    two_q = next((g for g in TWO_QUBIT_GATES if g in t.operation_names), None)
    one_q = [p.error for g in ("sx", "x", "u2", "u3") if g in t.operation_names for p in t[g].values()
             if p is not None and p.error is not None]
    props = [t.qubit_properties[q] for q in range(b.num_qubits)] if t.qubit_properties else []
    return {
        "device": name.lower(),
        "qubits": b.num_qubits,
        # sorted: the target's names come in a set's order, which changed from one process to the next
        "basis_gates": sorted(g for g in t.operation_names if not g.startswith(_NOT_BASIS)),  # also measure_2
        "two_qubit_gate": two_q,
        "coupling_edges": len(list(b.coupling_map.get_edges())) if b.coupling_map else 0,
        "median_1q_error": _median(one_q),
        "median_2q_error": _median([p.error for p in t[two_q].values() if p is not None]) if two_q else None,
        "median_readout_error": _median([p.error for p in t["measure"].values() if p is not None]),
        "median_t1_us": _median([p.t1 * 1e6 for p in props if p is not None and p.t1]),
        "median_t2_us": _median([p.t2 * 1e6 for p in props if p is not None and p.t2]),
    }


# Why a second reader of the same numbers: building a fake device's qiskit target converts every timestamp of its
# calibration and builds a BackendProperties first, about 0.1 s a device, so listing the 67 devices took 7 of
# `nasfw hardware --plugin quantumnas`'s 10 s. The medians need the JSON alone (0.2 s for all);
# tests/test_quantum_noise.py checks both readers agree on every shipped device.
_TO_US = {"us": 1.0, "\u00b5s": 1.0, "\u03bcs": 1.0, "ns": 1e-3, "ms": 1e3, "s": 1e6}
_NOT_BASIS = ("delay", "if_else", "switch_case", "for_loop", "while_loop", "measure", "reset")


def _shipped_files(name: str) -> tuple[dict, dict] | None:
    """The configuration and calibration JSON a plain fake device ships; None for a scaled key, a user's file, or
    a device whose files are not where its class says."""
    import json
    from pathlib import Path

    if name.lower().endswith(".json") or split_key(name)[0] != name:
        return None
    cls = _fake_class(name)
    folder, conf, props = (getattr(cls, a, None) for a in ("dirname", "conf_filename", "props_filename"))
    if not (folder and conf and props):
        return None
    files = (Path(folder) / conf, Path(folder) / props)
    if not all(f.is_file() for f in files):
        return None
    return json.loads(files[0].read_text()), json.loads(files[1].read_text())


def _summary_of_files(name: str, conf: dict, props: dict) -> dict[str, Any]:
    basis = [g for g in conf.get("basis_gates", []) if not g.startswith(_NOT_BASIS)]
    errors: dict[str, list] = {}
    for gate in props.get("gates", []):
        values = {p["name"]: p.get("value") for p in gate.get("parameters", [])}
        errors.setdefault(gate["gate"], []).append(values.get("gate_error"))
    qubits = [{item["name"]: item for item in q} for q in props.get("qubits", [])]
    if any(q[k].get("unit", "us") not in _TO_US for q in qubits for k in ("T1", "T2") if k in q):
        return _summary_of_target(name)  # a unit this reader does not know: qiskit's conversion decides

    def us(q: dict, k: str) -> float | None:
        return q[k]["value"] * _TO_US[q[k].get("unit", "us")] if k in q and q[k].get("value") else None

    two_q = next((g for g in TWO_QUBIT_GATES if g in basis), None)
    return {
        "device": _fake_key(name),
        "qubits": conf["n_qubits"],
        "basis_gates": basis,
        "two_qubit_gate": two_q,
        # the edges a two-qubit gate is calibrated on, as qiskit's target has them (Cairo's configuration lists
        # two more than its calibration holds)
        "coupling_edges": len({tuple(g["qubits"]) for g in props.get("gates", []) if len(g["qubits"]) == 2}),
        "median_1q_error": _median([e for g in ("sx", "x", "u2", "u3") if g in basis for e in errors.get(g, [])]),
        "median_2q_error": _median(errors.get(two_q, [])) if two_q else None,
        "median_readout_error": _median([q["readout_error"].get("value") for q in qubits if "readout_error" in q]),
        "median_t1_us": _median([us(q, "T1") for q in qubits]),
        "median_t2_us": _median([us(q, "T2") for q in qubits]),
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


class _KrausOnDemand(Mapping):
    """(gate, physical qubits) -> Kraus operators, converted from aer's QuantumError when first read. The
    conversion is about 10 ms a gate: 9 of the 14 s that Torino's 832 calibrated gates took, where a 4-wire
    circuit reads a few dozen of them."""

    def __init__(self, errors: dict) -> None:
        self._errors, self._kraus = errors, {}

    def __getitem__(self, key):
        if key not in self._kraus:
            import numpy as np
            from qiskit.quantum_info import Kraus

            self._kraus[key] = [_big_endian(np.asarray(k)) for k in Kraus(self._errors[key]).data]
        return self._kraus[key]

    def __iter__(self):
        return iter(self._errors)

    def __len__(self) -> int:
        return len(self._errors)


def channels(name: str) -> tuple[Mapping, dict]:
    """The device's noise as plain arrays for nasfw's density-matrix evaluator: Kraus operators per
    (gate, physical qubits) and a readout confusion matrix P(measured j | prepared i) per qubit. Built with
    qiskit-aer's own calibration-to-noise functions (the ones `NoiseModel.from_backend` uses: a depolarising
    error sized so that, composed with T1/T2 relaxation over the gate's duration, the gate error equals the
    calibrated one), so the two simulators see the same noise. Kept per device and file version, as `backend`."""
    return _channels(name, _file_version(split_key(name)[0]))


@lru_cache(maxsize=None)
def _channels(name: str, version: tuple[int, int] | None) -> tuple[Mapping, dict]:
    import numpy as np
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors

    target = backend(name).target
    gates = _KrausOnDemand({(gate, tuple(qubits)): error
                            for gate, qubits, error in basic_device_gate_errors(target=target)})
    readout = {int(q[0]): np.asarray(err.probabilities, dtype=float)
               for q, err in basic_device_readout_errors(target=target)}
    return gates, readout
