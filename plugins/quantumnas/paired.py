"""Whether two circuits of one finalize table really differ: the exact McNemar test on the shared test inputs.

Every row of a QuantumNAS table is scored on the same test inputs, so two rows are compared input by input: only
the inputs one circuit classifies right and the other wrong carry information, and under "no difference" each of
them goes either way with probability 1/2 (scipy's exact binomial test). With 100 test inputs a gap of 5 points
is often not resolved; an unpaired reading of two accuracies overstates or understates that, the paired one says
it. The bench scripts over seeds (bench/quantumnas_seeds.py) answer the other question, across runs.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def paired_difference(row: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """`row` against `reference`: per-input correctness (booleans over the same inputs) in, the accuracy
    difference in points, the discordant counts and the exact two-sided McNemar p-value out."""
    row, reference = np.asarray(row, dtype=bool), np.asarray(reference, dtype=bool)
    if row.shape != reference.shape or row.ndim != 1:
        raise ValueError(f"paired rows must score the same inputs: shapes {row.shape} and {reference.shape}")
    only_row = int((row & ~reference).sum())
    only_reference = int((~row & reference).sum())
    discordant = only_row + only_reference
    if discordant:
        from scipy.stats import binomtest

        p = float(binomtest(only_row, discordant, 0.5).pvalue)
    else:
        p = 1.0
    return {"difference": 100.0 * (row.mean() - reference.mean()), "only_this": only_row,
            "only_reference": only_reference, "p_value": p}


def describe(d: dict[str, Any] | None) -> str:
    """One table cell: '+6.0 (15:9, p 0.31)'."""
    if not d:
        return "-"
    return f"{d['difference']:+.1f} ({d['only_this']}:{d['only_reference']}, p {d['p_value']:.2g})"
