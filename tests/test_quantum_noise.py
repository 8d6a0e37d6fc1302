import json

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.hardware import quantum_noise as qn  # noqa: E402


def test_the_papers_devices_are_there():
    names = qn.device_names()
    for d in ("yorktown", "santiago", "belem", "quito", "lima", "athens", "manila", "jakarta", "guadalupe",
              "montreal"):
        assert d in names


def test_an_error_about_qubits_names_the_smallest_devices_that_have_enough():
    text = qn.devices_with(6)
    assert text.startswith("e.g. casablanca, jakarta, lagos, nairobi (7 qubits;")
    assert all(qn.backend(n).num_qubits == 7 for n in ("casablanca", "jakarta", "lagos", "nairobi"))
    assert qn.devices_with(5, limit=2) == ("e.g. athens, belem (5 qubits; `nasfw hardware --plugin quantumnas` lists "
                                           "them all)")
    assert qn.devices_with(1000) == "no fake device has 1000 qubits (the largest has 156)"


def test_the_eagle_and_heron_devices_are_there():
    """qiskit-ibm-runtime names its newer fake devices without the V2 suffix (FakeTorino, FakeBrisbane): they are
    today's IBM machines, and reading only `Fake*V2` names left 27 of them out."""
    names = qn.device_names()
    for d in ("brisbane", "sherbrooke", "kyiv", "osaka", "torino", "fez", "marrakesh", "kingston", "aachen"):
        assert d in names
    assert "fractionalbackend" not in names and "backend" not in names  # qiskit's demo and base classes
    assert qn.backend("ibm_torino").num_qubits == 133 and qn.backend("FakeTorino").name == "fake_torino"
    assert qn.summary("torino")["two_qubit_gate"] == "cz" and qn.summary("brisbane")["two_qubit_gate"] == "ecr"
    assert sorted(qn.summary("boston")["basis_gates"]) == ["cz", "id", "rz", "sx", "x"]  # not its measure_2


def test_quito_summary_matches_its_calibration():
    s = qn.summary("quito")
    b = qn.backend("quito")
    assert s["qubits"] == 5 and s["two_qubit_gate"] == "cx" and "sx" in s["basis_gates"]
    cx = sorted(p.error for p in b.target["cx"].values())
    assert s["median_2q_error"] == pytest.approx((cx[len(cx) // 2 - 1] + cx[len(cx) // 2]) / 2 if len(cx) % 2 == 0
                                                 else cx[len(cx) // 2])
    assert 1e-4 < s["median_1q_error"] < s["median_2q_error"] < 0.1
    assert 0.005 < s["median_readout_error"] < 0.2 and 10 < s["median_t1_us"] < 1000


def _agree(name: str) -> None:
    files, target = dict(qn.summary(name)), dict(qn._summary_of_target(name))
    assert sorted(files.pop("basis_gates")) == target.pop("basis_gates"), name
    assert files.keys() == target.keys(), name
    for k, v in target.items():  # the medians to rounding (qiskit converts T1 to seconds and back)
        assert files[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), (name, k)


@pytest.mark.parametrize("name", ["quito", "almaden", "cairo", "boston", "brisbane", "torino", "armonk"])
def test_a_shipped_devices_summary_read_from_its_files_is_qiskits(name):
    """The listing reads a fake device's two JSON files instead of building its qiskit target (10 s -> 4 s for
    `nasfw hardware --plugin quantumnas`): the same figures, on devices of every era (u1/u2/u3 Almaden, Cairo's
    configuration listing two couplings its calibration does not hold, Boston's measure_2, ECR Brisbane, CZ Torino,
    one-qubit Armonk). Basis gates come in the device's own order, the same in every process (the target's came
    in a set's order)."""
    _agree(name)
    assert qn.summary("quito")["basis_gates"] == ["id", "rz", "sx", "x", "cx"]
    # a scaled device or a user's file is summarised from its target
    assert qn._shipped_files("lima@x2") is None and qn._shipped_files("my_device.json") is None


@pytest.mark.slow
def test_every_shipped_devices_summary_read_from_its_files_is_qiskits():
    for name in qn.device_names():
        _agree(name)


def test_noise_model_and_clear_errors():
    nm = qn.noise_model("lima")
    assert "cx" in nm.noise_instructions and "measure" in nm.noise_instructions
    with pytest.raises(ConfigError, match="unknown quantum device 'qiuto'; did you mean 'quito'"):
        qn.summary("qiuto")


@pytest.mark.parametrize("name", ["FakeLimaV2", "FakeLima", "ibmq_lima", "IBMQ_Lima", "Lima"])
def test_qiskit_and_ibm_names_of_a_device_are_the_device(name):
    """Users copy device names from qiskit (FakeLimaV2) and from IBM's own pages (ibmq_lima, ibm_lagos)."""
    assert qn.backend(name).num_qubits == 5 and qn.backend(name).name == qn.backend("lima").name
    assert qn.backend("ibm_lagos").num_qubits == 7


def test_device_from_a_users_backend_properties_json(tmp_path):
    import shutil
    from pathlib import Path

    import numpy as np
    import qiskit_ibm_runtime

    from nasfw.errors import ConfigError
    from nasfw.hardware import quantum_noise as qn

    src = Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends" / "lima" / "props_lima.json"
    mine = tmp_path / "my_device.json"
    shutil.copy(src, mine)
    b = qn.backend(str(mine))
    assert b.num_qubits == 5 and "cx" in b.target.operation_names
    assert sorted(b.coupling_map.get_edges()) == sorted(qn.backend("lima").coupling_map.get_edges())
    g_user, r_user = qn.channels(str(mine))
    g_ref, r_ref = qn.channels("lima")
    assert set(g_user) == set(g_ref)
    for k in g_ref:  # the same calibration gives the same channels (compared as superoperators)
        s = lambda ks: sum(np.kron(m, m.conj()) for m in ks)  # noqa: E731
        assert np.abs(s(g_user[k]) - s(g_ref[k])).max() < 1e-9
    assert all(np.allclose(r_user[q], r_ref[q]) for q in r_ref)
    bad = tmp_path / "bad.json"
    bad.write_text('{"qubits": []}')
    with pytest.raises(ConfigError, match="'qubits' and 'gates'"):
        qn.backend(str(bad))
    for text, needle in [('{"qubits": [], "gates": []}', "'qubits' must be a non-empty list"),
                         ('{"qubits": [[]], "gates": [{"name": "cx"}]}',
                          r"gates\[0\] = \{\"name\": \"cx\"\}; each gate needs"),
                         ('{"qubits": [[]], "gates": [{"gate": "x", "qubits": [3]}]}', "qubit indices below 1")]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=needle):  # a KeyError from deep inside, before
            qn.backend(str(bad))


def _props(device: str) -> dict:
    import json
    from pathlib import Path

    import qiskit_ibm_runtime

    folder = Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends" / device
    return json.loads(next(folder.glob("props_*.json")).read_text())


def _set_first(props: dict, name: str, value) -> None:
    """The first calibrated item called `name` (a qubit's or a gate's) set to `value`."""
    items = [it for q in props["qubits"] for it in q] + [it for g in props["gates"] for it in g["parameters"]]
    next(it for it in items if it["name"] == name)["value"] = value


@pytest.mark.parametrize("name, value, needle", [
    ("gate_error", 1.5, "gates[0] (id on [0]) gate_error = 1.5 is not allowed; allowed: a number in [0, 1]"),
    ("T1", -5, "qubits[0] T1 = -5 us is not allowed; allowed: a number > 0"),
    ("readout_error", 1.7, "qubits[0] readout_error = 1.7 is not allowed; allowed: a number in [0, 1]"),
    ("gate_length", -3, "gate_length = -3 ns is not allowed; allowed: a number >= 0"),
    ("gate_error", "abc", "gate_error = 'abc' is not allowed"),
])
def test_a_users_calibration_out_of_range_is_refused_when_the_device_is_read(tmp_path, name, value, needle):
    """A negative T1 or a readout error of 1.7 built the device, let the SuperCircuit train, and then failed every
    evaluation of the search in qiskit-aer's noise model; a gate error of 1.5 was taken without a word."""
    import json

    from nasfw.errors import ConfigError

    props = _props("quito")
    _set_first(props, name, value)
    f = tmp_path / "mine.json"
    f.write_text(json.dumps(props))
    with pytest.raises(ConfigError) as e:
        qn.backend(str(f))
    assert needle in str(e.value)


def test_a_calibration_edited_in_one_session_is_read_again(tmp_path):
    """backend() and channels() were kept by name: a user's JSON edited between two runs of one Python session was
    read as it first was."""
    import json
    import os

    props = _props("quito")
    f = tmp_path / "mine.json"
    f.write_text(json.dumps(props))
    before = qn.backend(str(f)).target["sx"][(0,)].error
    assert qn.backend(str(f)) is qn.backend(str(f))  # one object per version
    for g in props["gates"]:  # every sx error doubled
        if g["gate"] == "sx":
            next(it for it in g["parameters"] if it["name"] == "gate_error")["value"] *= 2
    f.write_text(json.dumps(props))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert qn.backend(str(f)).target["sx"][(0,)].error == pytest.approx(2 * before)
    assert qn.channels(str(f)) is not None


def test_every_shipped_calibration_is_in_range():
    """The ranges hold for the snapshots of the real devices (a user's file is often one of them, edited)."""
    from pathlib import Path

    import qiskit_ibm_runtime

    folders = sorted((Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends").glob("*/props_*.json"))
    assert len(folders) > 20
    for f in folders:
        qn._check_calibration(_props(f.parent.name), f.name)


def test_a_scaled_device_multiplies_every_calibrated_error():
    base, scaled = qn.backend("lima"), qn.backend(qn.device_key("lima", 3))
    assert qn.device_key("Lima", 1) == "lima" and qn.device_key("lima", 3) == "lima@x3"
    assert qn.backend("lima@x1") is base  # one object per device, whichever way it is named
    assert base.coupling_map.get_edges() == scaled.coupling_map.get_edges()
    for gate in ("sx", "x", "cx"):
        for qargs, p in base.target[gate].items():
            assert scaled.target[gate][qargs].error == pytest.approx(3 * p.error)
            assert scaled.target[gate][qargs].duration == p.duration
    for qargs, p in base.target["measure"].items():
        assert scaled.target["measure"][qargs].error == pytest.approx(min(0.5, 3 * p.error))
    for q in range(base.num_qubits):
        assert scaled.target.qubit_properties[q].t1 == pytest.approx(base.target.qubit_properties[q].t1 / 3)
        assert scaled.target.qubit_properties[q].t2 == pytest.approx(base.target.qubit_properties[q].t2 / 3)
    # past the physical bounds the errors stop: a coin-flip readout, the completely depolarising gate
    loud = qn.backend("lima@x100")
    assert max(p.error for p in loud.target["measure"].values()) == 0.5
    assert max(p.error for p in loud.target["cx"].values()) == pytest.approx(0.8)
    assert qn.summary("lima@x0.5")["median_2q_error"] == pytest.approx(qn.summary("lima")["median_2q_error"] / 2)


@pytest.mark.parametrize("scale", [0, -1, "3", True, 101, float("nan")])
def test_a_bad_noise_scale_is_named(scale):
    with pytest.raises(ConfigError, match=r"task_options\.noise_scale = .*\(0, 100\]"):
        qn.device_key("lima", scale)


def test_a_users_json_device_keeps_its_path_and_scales(tmp_path):
    import shutil
    from pathlib import Path

    import qiskit_ibm_runtime

    src = Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends" / "lima" / "props_lima.json"
    mine = tmp_path / "My_Device.json"  # upper case: the path must reach the file as written
    shutil.copy(src, mine)
    key = qn.device_key(str(mine), 2)
    assert key == f"{mine}@x2"
    cx = qn.backend(str(mine)).target["cx"]
    assert all(qn.backend(key).target["cx"][q].error == pytest.approx(2 * p.error) for q, p in cx.items())


def test_hardware_lists_the_fake_devices(run_cli):
    r = run_cli("hardware", "--plugin", "quantumnas", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    by_name = {d["device"]: d for d in data["devices"]}
    for dev in ("yorktown", "santiago", "belem", "quito", "lima", "athens", "manila", "jakarta", "guadalupe",
                "montreal"):
        assert dev in by_name
    assert by_name["quito"]["qubits"] == 5 and "cx" in by_name["quito"]["basis_gates"]
    assert 0 < by_name["quito"]["median_2q_error"] < 0.1


def test_a_users_json_with_heron_fractional_gates(tmp_path):
    """A Heron calibration lists RZZ (two qubits) and RX beside CZ. Every gate other than CX, ECR and CZ was taken
    for a one-qubit gate, and qiskit refused the file ('The number of qubits for rzz does not match')."""
    import shutil
    from pathlib import Path

    import qiskit
    import qiskit_ibm_runtime

    from nasfw.plugins.quantumnas import compile as qc

    src = Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends" / "fractional" / "props_fractional.json"
    mine = tmp_path / "heron_like.json"
    shutil.copy(src, mine)
    props = json.loads(mine.read_text())
    b = qn.backend(str(mine))
    t = b.target
    assert {"rzz", "rx", "cx"} <= set(t.operation_names)
    rzz_pairs = {tuple(g["qubits"]) for g in props["gates"] if g["gate"] == "rzz"}
    assert set(t["rzz"]) == rzz_pairs and all(len(q) == 2 for q in t["rzz"])
    assert set(t["rx"]) == {(q,) for q in range(5)}
    gates, _ = qn.channels(str(mine))
    assert any(g == "rzz" and len(q) == 2 and gates[(g, q)][0].shape == (4, 4) for g, q in gates)
    qc_ = qiskit.QuantumCircuit(2)
    qc_.rzz(0.3, 0, 1)
    qc_.measure_all()
    tq = qiskit.transpile(qc_, b, initial_layout=[0, 1], basis_gates=["rzz", "rz", "sx", "x"], optimization_level=0)
    assert qc.stats(tq, str(mine))["two_qubit_gates"] == 1  # counted by arity, not from a list of names
