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


def read_xy(path: str | Path, field: str, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """`x` as `dtype` (finite numbers) and `y` as int64 class labels; `field` names the option in errors."""
    where = f"{field} = {str(path)!r}"
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
    integral = raw_y.dtype.kind in "biu" or (raw_y.dtype.kind == "f" and np.isfinite(raw_y).all()
                                             and (raw_y == np.round(raw_y)).all())
    if not integral:
        raise ConfigError(f"{where}: y must hold integer class labels; it holds {raw_y.dtype}"
                          + (f" (e.g. {raw_y.flat[0].item()!r})" if raw_y.size else ""))
    return x, raw_y.astype(np.int64)
