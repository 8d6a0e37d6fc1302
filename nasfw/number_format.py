"""How many digits a number needs on the screen.

Tables and the progress bar printed every metric with four significant digits, which suits an accuracy
(0.7733) but not an energy in hartree: a VQE run's top ten read -74.93 and -74.93 for circuits a few mHa
apart, and its bar's best stood at -74.93 while it improved. A column (or the bar's best) is printed with the
fewest digits, from four, at which values that differ print differently.
"""
from __future__ import annotations

from typing import Iterable

LEAST, MOST = 4, 8


def digits_apart(values: Iterable[float], least: int = LEAST, most: int = MOST) -> int:
    """The fewest significant digits, `least` to `most`, at which the values that differ at `most` digits all
    print differently (differences past `most` digits are float noise, not something to show)."""
    values = [float(v) for v in values]
    apart = len({f"{v:.{most}g}" for v in values})
    for d in range(least, most):
        if len({f"{v:.{d}g}" for v in values}) == apart:
            return d
    return most


def column(values: list) -> list[str]:
    """A table column: each number with the digits that tell the column's numbers apart; None as '-', anything
    else as its text."""
    d = digits_apart(v for v in values if _number(v))
    return [f"{v:.{d}g}" if _number(v) else "-" if v is None else str(v) for v in values]


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
