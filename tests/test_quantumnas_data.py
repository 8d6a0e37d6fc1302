"""QuantumNAS's QML data: the sources, their splits, and the split checked from the labels before any work."""
import numpy as np
import pytest

pytest.importorskip("qiskit")  # the plugin's task, which the split checks run through

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas.data import load_qml  # noqa: E402


def test_datasets(tmp_path, shared_data):
    d = load_qml("mnist", [3, 6], 16, n_valid=100, n_test=100)
    assert d.n_classes == 2 and d.train.x.shape[1] == 16 and len(d.train) == 1000 - 200
    assert set(d.train.y.tolist()) == {0, 1}
    d = load_qml("digits", list(range(10)), 36, n_valid=100, n_test=100)
    assert d.train.x.shape[1] == 36
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x=rng.random((60, 16)), y=rng.integers(0, 2, 60))
    d = load_qml(str(tmp_path / "mine.npz"), [0, 1], 16, n_valid=10, n_test=10)
    assert len(d.train) == 40
    d = load_qml(str(shared_data / "mnist_t10k"), [0, 1, 2, 3], 16, n_valid=500, n_test=300)
    assert len(d.train) + len(d.valid) + len(d.test) == 980 + 1135 + 1032 + 1010
    # a separate test set: the main source is split into validation and training only
    plain = load_qml("mnist", [0, 1, 2, 3], 16, n_valid=300, n_test=300, seed=1)
    d = load_qml("mnist", [0, 1, 2, 3], 16, n_valid=300, n_test=2000, seed=1,
                 test_dataset=str(shared_data / "mnist_t10k"))
    assert len(d.test) == 2000 and len(d.valid) == 300 and len(d.train) == len(plain.train) + 300
    assert set(d.test.y.tolist()) == {0, 1, 2, 3} and "test: MNIST idx files" in d.source
    with pytest.raises(ConfigError, match="task_options.test_dataset = 'nowhere'"):
        load_qml("digits", [0, 1], 16, n_valid=10, n_test=10, test_dataset="nowhere")
    with pytest.raises(ConfigError, match="n_test = 9000"):
        load_qml("mnist", [0, 1, 2, 3], 16, n_test=9000, test_dataset=str(shared_data / "mnist_t10k"))
    with pytest.raises(ConfigError, match="task_options.dataset"):
        load_qml("cifar", [0, 1])
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(ConfigError, match="'x' and 'y'"):
        load_qml(str(tmp_path / "bad.npz"), [0, 1])
    with pytest.raises(ConfigError, match="classes"):
        load_qml("digits", [0, 11])


def test_the_labels_read_for_the_split_check_are_the_datasets(tmp_path, shared_data):
    from nasfw.plugins.quantumnas.data import _labels, _load_raw

    np.savez(tmp_path / "mine.npz", x=np.zeros((30, 16)), y=np.arange(30) % 3)
    for source in ("mnist", "digits", str(tmp_path / "mine.npz"), str(shared_data / "mnist_t10k")):
        assert np.bincount(_labels(source)).tolist() == np.bincount(_load_raw(source)[1]).tolist(), source


@pytest.mark.parametrize("sets, expected", [
    ([], ("n_valid (300) + n_test (300) leave no training data out of the 400 samples of classes [0, 1, 2, 3] in "
          "'{npz}'; set fewer, e.g. --set task_options.n_valid=80 --set task_options.n_test=80")),
    (["task_options.classes=[0,1,7]", "task_options.n_valid=10", "task_options.n_test=10"],
     "task_options.classes = [0, 1, 7]: [7] not among the dataset's labels; labels present: [0, 1, 2, 3]"),
])
def test_a_dataset_too_small_for_the_split_is_refused_before_the_run(run_cli, tmp_path, sets, expected):
    """A user's .npz of 400 samples under the default campaign's 300 validation + 300 test samples (or without a
    class the campaign names) was refused only when the SuperCircuit began to train, its run folder written."""
    npz = tmp_path / "mine.npz"
    np.savez(npz, x=np.random.default_rng(0).random((400, 28, 28)).astype(np.float32), y=np.arange(400) % 4)
    args = [a for kv in sets for a in ("--set", kv)]
    p = run_cli("search", "--plugin", "quantumnas", "--set", f"task_options.dataset={npz}", *args,
                "--out", tmp_path / "run")
    assert p.returncode == 2, p.stdout + p.stderr
    assert expected.format(npz=npz) in p.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("scale, dtype", [(16, np.float64), (255 / 16, np.uint8), (255 / 16, np.float32)])
def test_a_users_images_are_read_in_their_own_intensity_range(tmp_path, scale, dtype):
    """scikit-learn's digits saved as they come (intensities 0-16), or as 8-bit images (0-255, uint8 or float):
    the same features as the built-in 'digits' source. Images with a maximum above 1 were divided by 255, which
    left 0-16 images at a sixteenth of their range, and every feature about equal, without a word."""
    from sklearn.datasets import load_digits

    images = load_digits().images * (scale if dtype is not np.float64 else 1.0)
    np.savez(tmp_path / "d.npz", x=np.round(images).astype(dtype), y=load_digits().target)
    mine = load_qml(str(tmp_path / "d.npz"), [3, 6], 16, n_valid=50, n_test=50)
    builtin = load_qml("digits", [3, 6], 16, n_valid=50, n_test=50)
    assert np.allclose(mine.train.x.numpy(), builtin.train.x.numpy(), atol=0.05 if dtype is not np.float64 else 1e-6)


def test_images_with_negative_intensities_are_refused(tmp_path):
    """Standardised images (mean 0, std 1) cannot be told from intensities; the encoder normalises as MNIST."""
    x = np.random.default_rng(0).standard_normal((40, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "z.npz", x=x, y=np.arange(40) % 2)
    with pytest.raises(ConfigError, match=r"task_options.dataset = .*z.npz.*intensities from -?\d.*allowed: .*0"):
        load_qml(str(tmp_path / "z.npz"), [0, 1], 16, n_valid=10, n_test=10)


def _npz(path, shape):
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random(shape).astype(np.float32), y=np.arange(shape[0]) % 2)
    return str(path)


@pytest.mark.parametrize("source, n_features, needle", [
    ("mnist", 900, ("n_features = 900 is not allowed for the images of 'mnist' (24 pixels a side, pooled to a g x g "
                   "grid); allowed: a square g * g with g <= 24, e.g. 4, 9, 16, 25, 36")),
    ("digits", 100, "images of 'digits' (8 pixels a side"),
    ("mnist", 15, "n_features = 15 is not allowed"),
    ((100, 12, 12), 169, "(12 pixels a side, pooled to a g x g grid); allowed: a square g * g with g <= 12"),
    ((100, 10), 16, ("n_features = 16: the dataset '{npz}' holds 10 features per sample (x of shape (N, 10)); the "
                    "encoder takes one per rotation, so n_features must be 10")),
])
def test_a_feature_count_the_source_cannot_give_is_refused_when_the_task_is_built(tmp_path, source, n_features,
                                                                                 needle):
    """900 features of MNIST pooled 24 x 24 pixels up to 30 x 30 (repeating them) and trained on it; an .npz of 10
    features under the default 16 built the task and failed when the SuperCircuit began to train."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    npz = _npz(tmp_path / "mine.npz", source) if isinstance(source, tuple) else source
    with pytest.raises(ConfigError) as e:
        QuantumNASTask(dataset=npz, classes=[0, 1], n_features=n_features, n_valid=10, n_test=10)
    assert needle.format(npz=npz) in str(e.value)


@pytest.mark.parametrize("shape, expected", [((100, 10), 10), ((100, 3, 3), 9), ((100, 28, 28), 16)])
def test_left_out_n_features_follows_the_source(tmp_path, shape, expected):
    """An .npz of features gives its own count, small images their own side; the paper's 4 x 4 otherwise."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    t = QuantumNASTask(dataset=_npz(tmp_path / "mine.npz", shape), classes=[0, 1], n_valid=10, n_test=10)
    assert t.n_features == expected == t.data.train.x.shape[1]


def test_an_idx_folders_shape_is_read_from_its_header(shared_data):
    from nasfw.plugins.quantumnas.data import _idx_shape, _read_idx_file

    folder = shared_data / "mnist_t10k"
    assert _idx_shape(folder, "images") == _read_idx_file(folder, "images").shape == (10000, 28, 28)


def _idx_copy(shared_data, folder, images=lambda raw: raw, labels=lambda raw: raw):
    """The shared MNIST idx files, decompressed, each passed through a change, written to `folder`."""
    import gzip

    folder.mkdir()
    for name, change in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        raw = change(gzip.open(shared_data / "mnist_t10k" / f"{name}.gz").read())
        if raw is not None:
            (folder / name).write_bytes(raw)
    return str(folder)


@pytest.mark.parametrize("change, needle", [
    ({"labels": lambda raw: None}, ("a folder of MNIST idx files needs t10k-images-idx3-ubyte and "
                                   "t10k-labels-idx1-ubyte (each may be .gz); it has no labels file")),
    ({"images": lambda raw: raw[:100000]}, ("t10k-images-idx3-ubyte holds 99984 bytes of data; its header says "
                                           "10000 x 28 x 28")),
    ({"images": lambda raw: b"\x1f\x8b\x08\x08" + raw[4:]}, ("is not an idx file of unsigned bytes in 3 dimensions "
                                                             "(it begins 1f8b0808; expected 00000803)")),
    ({"labels": lambda raw: raw[:4] + (1000).to_bytes(4, "big") + raw[8:1008]}, "10000 images but 1000 labels"),
])
def test_an_idx_folder_is_checked_from_its_headers_when_the_task_is_built(tmp_path, shared_data, change, needle):
    """A folder without its labels file was a StopIteration, a truncated or foreign file a numpy reshape error,
    each from inside the first training step, after the dry run had passed."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    folder = _idx_copy(shared_data, tmp_path / "idx", **change)
    with pytest.raises(ConfigError) as e:
        QuantumNASTask(dataset=folder)
    assert f"task_options.dataset = '{folder}': " in str(e.value) and needle in str(e.value)


def test_a_decompressed_idx_folder_reads_as_the_gz_one(tmp_path, shared_data):
    from nasfw.plugins.quantumnas.data import _read_idx

    _idx_copy(shared_data, tmp_path / "idx")
    plain = _read_idx(tmp_path / "idx")
    gz = _read_idx(shared_data / "mnist_t10k")
    assert all(np.array_equal(a, b) for a, b in zip(plain, gz))
