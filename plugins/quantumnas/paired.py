"""Whether two circuits of one finalize table really differ: the exact McNemar test on the shared test inputs.

Every row of a QuantumNAS table is scored on the same test inputs, so two rows are compared input by input: only
the inputs one circuit classifies right and the other wrong carry information, and under "no difference" each of
them goes either way with probability 1/2 (scipy's exact binomial test). With 100 test inputs a gap of 5 points
is often not resolved; an unpaired reading of two accuracies overstates or understates that, the paired one says
it. The bench scripts over seeds (bench/quantumnas_seeds.py) answer the other question, across runs.

Across runs (one per seed, or the same seed under two campaign files) the same test holds where the runs share
their test inputs: each finalize report keeps, per row, which inputs aer classifies right (`aer_correct`, a string
of 0s and 1s) and a fingerprint of the test inputs (`test_inputs`). `pooled_difference` pairs two rows run by run
and gives both readings: the spread of the per-run differences (a Student t interval over the runs, which counts
the search's own randomness) and the McNemar test on the discordant inputs pooled over the runs (which treats every
run's inputs as independent draws and so is the sharper, and the more optimistic, of the two).
"""
from __future__ import annotations

import hashlib
import math
import statistics
from typing import Any, Sequence

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


def encode_correct(correct: Any) -> str:
    """Per-input correctness as the report keeps it: one character per test input, '1' where it is right."""
    return "".join("1" if c else "0" for c in np.asarray(correct, dtype=bool).ravel())


def decode_correct(text: str) -> np.ndarray:
    if not isinstance(text, str) or set(text) - {"0", "1"}:
        raise ValueError(f"aer_correct must be a string of 0s and 1s, got {str(text)[:40]!r}")
    return np.frombuffer(text.encode(), dtype=np.uint8) == ord("1")


def inputs_fingerprint(x: Any, y: Any) -> str:
    """Which test inputs a run scored (features as the circuit reads them, and labels): two runs compare paired
    only when these agree. Hashed as float32 and int64 bytes, so that the same features hash alike whatever dtype
    they came in (features computed on another machine may differ in their last bits, and then do not match)."""
    h = hashlib.sha256(np.ascontiguousarray(np.asarray(x, dtype=np.float32)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(y, dtype=np.int64)).tobytes())
    return h.hexdigest()[:16]


def pooled_difference(pairs: Sequence[tuple[Any, Any]]) -> dict[str, Any]:
    """Row a against row b over several runs: `pairs` holds, per run, the two rows' per-input correctness on that
    run's test inputs. Returns the per-run differences in points, their mean and the half-width of its 95% Student
    t interval over the runs (inf for one run), and the discordant inputs pooled over the runs with their exact
    McNemar p-value."""
    if not pairs:
        raise ValueError("pooled_difference needs at least one run")
    per_run = [paired_difference(a, b) for a, b in pairs]
    diffs = [d["difference"] for d in per_run]
    mean = statistics.mean(diffs)
    if len(diffs) > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, len(diffs) - 1)) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    else:
        half = math.inf
    pooled = paired_difference(np.concatenate([np.asarray(a, dtype=bool) for a, _ in pairs]),
                               np.concatenate([np.asarray(b, dtype=bool) for _, b in pairs]))
    return {"per_run": diffs, "mean": mean, "half_width": half, "only_this": pooled["only_this"],
            "only_reference": pooled["only_reference"], "p_value": pooled["p_value"]}


def describe(d: dict[str, Any] | None) -> str:
    """One table cell: '+6.0 (15:9, p 0.31)'."""
    if not d:
        return "-"
    return f"{d['difference']:+.1f} ({d['only_this']}:{d['only_reference']}, p {d['p_value']:.2g})"
