"""Figures written to files (report, compare, TinyNAS stage 1), made without pyplot.

pyplot's figures go through the process-wide backend: calling `matplotlib.use("Agg")` to draw them switched a
notebook's inline backend to Agg after `nasfw.search`, and the user's next `plt.show()` drew nothing. A
`matplotlib.figure.Figure` made directly belongs to no backend and to no pyplot figure list (nothing to close);
`savefig` picks the Agg canvas for a PNG by itself."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(width: float, height: float) -> tuple[Any, Any]:
    """(figure, axes) of one plot of the given size in inches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return Path(path)


def colour_cycle() -> list[str]:
    """The colours matplotlib's style gives lines in turn."""
    import matplotlib

    return list(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])
