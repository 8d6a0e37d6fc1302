"""A user's labelled arrays in an `.npz` file (`x`, `y`), read once for every plugin that takes them.

Plugins shape `x` as their inputs need; what they share is what can be wrong with the file itself: missing
arrays, object arrays (numpy refuses them without pickle), text labels, NaN or infinite inputs. Each gets one
line naming the field and the file, where numpy or the first training step would raise from deep inside or
train on NaN without a word.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nasfw.errors import ConfigError


def xy_shapes(path: str | Path, field: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The shapes of `x` and `y` from the arrays' headers alone, with read_xy's refusals of missing arrays and of
    dtypes that are not numbers: for a task's constructor, which runs in every worker and before `--dry-run`
    answers, so it cannot load every image; without it a file with `X` for `x`, or 90 labels for 100 images,
    passed the dry run and failed once the run had started. NaN inputs need the data and wait for read_xy."""
    import zipfile

    where = f"{field} = {str(path)!r}"
    try:
        with zipfile.ZipFile(path) as z:
            names = {n[:-4]: n for n in z.namelist() if n.endswith(".npy")}
            if "x" not in names or "y" not in names:
                raise ConfigError(f"{where}: the .npz must hold arrays 'x' and 'y'; it holds {sorted(names)}")
            headers = {}
            for key in ("x", "y"):
                with z.open(names[key]) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    headers[key] = read(f)  # (shape, fortran order, dtype)
    except ConfigError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ConfigError(f"{where}: cannot be read as an .npz of numeric arrays ({e})") from None
    x_shape, _, x_dtype = headers["x"]
    if x_dtype.kind not in "biuf":
        raise ConfigError(f"{where}: x must hold numbers; it holds {x_dtype}")
    y_dtype = headers["y"][2]
    if y_dtype.hasobject:  # numpy reads those only through pickle
        raise ConfigError(f"{where}: y must hold integer class labels; it holds {y_dtype}")
    with np.load(path) as f:  # the labels are small: read them, to refuse fractional ones now too
        y = _class_labels(f["y"], where)
    return tuple(x_shape), y.shape


def read_xy(path: str | Path, field: str, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """`x` as `dtype` (finite numbers) and `y` as int64 class labels; `field` names the option in errors."""
    where = f"{field} = {str(path)!r}"
    xy_shapes(path, field)  # names, dtypes (an object array as such, not numpy's word on pickles) and labels
    try:
        with np.load(path) as f:
            if "x" not in f or "y" not in f:
                raise ConfigError(f"{where}: the .npz must hold arrays 'x' and 'y'; it holds {sorted(f.files)}")
            raw_x, raw_y = f["x"], f["y"]
    except ConfigError:
        raise
    except (OSError, ValueError) as e:  # not an npz, or object arrays (which need pickle)
        raise ConfigError(f"{where}: cannot be read as an .npz of numeric arrays ({e})") from None
    if raw_x.dtype.kind not in "biuf":
        raise ConfigError(f"{where}: x must hold numbers; it holds {raw_x.dtype}")
    x = raw_x.astype(dtype)
    if not np.isfinite(x).all():
        raise ConfigError(f"{where}: x holds {int((~np.isfinite(x)).sum())} NaN or infinite values; remove or "
                          "replace them")
    return x, _class_labels(raw_y, where)


def _class_labels(raw_y: np.ndarray, where: str) -> np.ndarray:
    """`y` as int64 labels; whole numbers stored as floats are taken, fractions and text are refused."""
    integral = raw_y.dtype.kind in "biu" or (raw_y.dtype.kind == "f" and np.isfinite(raw_y).all()
                                             and (raw_y == np.round(raw_y)).all())
    if not integral:
        fraction = raw_y.flat[np.flatnonzero(raw_y != np.round(raw_y))[0]] if raw_y.dtype.kind == "f" and \
            np.isfinite(raw_y).all() else (raw_y.flat[0] if raw_y.size else None)
        raise ConfigError(f"{where}: y must hold integer class labels; it holds {raw_y.dtype}"
                          + (f" (e.g. {fraction.item()!r})" if fraction is not None else ""))
    return raw_y.astype(np.int64)
