"""The paired comparison of two finalize rows (exact McNemar) against the binomial sum written out."""
from math import comb

import numpy as np
import pytest

pytest.importorskip("scipy")

from nasfw.plugins.quantumnas.finalize import table  # noqa: E402
from nasfw.plugins.quantumnas.paired import (decode_correct, describe, encode_correct, inputs_fingerprint,  # noqa: E402
                                             paired_difference, pooled_difference)


def exact_mcnemar(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def _rows(only_a: int, only_b: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = [True] * only_a + [False] * only_b + [True] * both + [False] * neither
    b = [False] * only_a + [True] * only_b + [True] * both + [False] * neither
    return np.array(a), np.array(b)


@pytest.mark.parametrize("only_a,only_b", [(15, 9), (34, 9), (4, 7), (0, 6), (12, 12)])
def test_paired_difference_is_the_exact_mcnemar_test(only_a, only_b):
    a, b = _rows(only_a, only_b, both=30, neither=100 - 30 - only_a - only_b)
    d = paired_difference(a, b)
    assert d["only_this"] == only_a and d["only_reference"] == only_b
    assert d["difference"] == pytest.approx(100 * (a.mean() - b.mean()))
    assert d["p_value"] == pytest.approx(exact_mcnemar(only_a, only_b), rel=1e-9)
    # the test is symmetric, the difference changes sign
    back = paired_difference(b, a)
    assert back["p_value"] == pytest.approx(d["p_value"]) and back["difference"] == pytest.approx(-d["difference"])


def test_identical_rows_do_not_differ_and_mismatched_rows_are_refused():
    a, _ = _rows(3, 0, 20, 10)
    assert paired_difference(a, a) == {"difference": 0.0, "only_this": 0, "only_reference": 0, "p_value": 1.0}
    with pytest.raises(ValueError, match="same inputs"):
        paired_difference(a, a[:-1])


def test_the_report_table_carries_the_paired_column():
    a, b = _rows(15, 9, 20, 56)
    common = {"params": 10, "layout": [0, 1], "depth": 5, "two_qubit_gates": 2, "fidelity": 0.9,
              "noise_free_accuracy": 0.5, "torch_noisy_accuracy": None}
    report = {"device": "lima", "dataset": "digits", "classes": [0, 1], "test_samples": 100, "shots": 256,
              "rows": [{"name": "searched", "aer_accuracy": b.mean(), **common},
                       {"name": "human design", "aer_accuracy": a.mean(), **common,
                        "aer_vs_searched": paired_difference(a, b)}]}
    text = table(report)
    assert "| aer vs searched |" in text
    assert "| searched |" in text and text.split("| searched |")[1].splitlines()[0].rstrip().endswith("| - |")
    assert f"| {describe(paired_difference(a, b))} |" in text and "+6.0 (15:9, p 0.31)" in text


def test_the_table_names_rows_whose_outputs_the_shots_cannot_resolve():
    """A row whose exact expectations classify clearly more than its shots do has outputs shrunk to the shot noise
    (MNIST-2's human design on Quito: 0.917 exact, 0.693 from 8192 shots); the table says so beneath, and only for
    such rows (a healthy row's two readings differ by less than a point)."""
    common = {"params": 10, "layout": [0, 1], "depth": 5, "two_qubit_gates": 2, "fidelity": 0.9,
              "noise_free_accuracy": 0.95, "aer_accuracy": 0.7}
    healthy = {"name": "searched", **common, "torch_noisy_accuracy": 0.953, "torch_noisy_exact_accuracy": 0.96,
               "torch_noisy_mean_abs_z": 0.26}
    shrunk = {"name": "human design", **common, "torch_noisy_accuracy": 0.693, "torch_noisy_exact_accuracy": 0.917,
              "torch_noisy_mean_abs_z": 0.019}
    report = {"device": "quito", "dataset": "mnist", "classes": [3, 6], "test_samples": 300, "shots": 8192,
              "torch_evaluator": "density matrix, 8192 shots sampled", "rows": [healthy, shrunk]}
    text = table(report)
    note = text.split("Read from exact expectations", 1)[1]
    assert "human design 0.917 (mean |<Z>| 0.019)" in note and "searched" not in note and "8192 shots" in note
    assert "Read from exact expectations" not in table({**report, "rows": [healthy]})
    # trajectories (no exact reading kept) and runs written before the column was sampled: no note
    old = {k: v for k, v in shrunk.items() if not k.startswith("torch_noisy_")} | {"torch_noisy_accuracy": 0.917}
    assert "Read from exact expectations" not in table({**report, "rows": [healthy, old]})


def test_correctness_strings_and_the_inputs_fingerprint():
    a, _ = _rows(3, 2, 20, 10)
    assert decode_correct(encode_correct(a)).tolist() == a.tolist() and encode_correct(a)[:5] == "11100"
    with pytest.raises(ValueError, match="0s and 1s"):
        decode_correct("0120")
    x, y = np.arange(12.0).reshape(3, 4), np.array([0, 1, 1])
    assert inputs_fingerprint(x, y) == inputs_fingerprint(x.astype(np.float64), y.astype(np.int32))
    assert inputs_fingerprint(x, y) != inputs_fingerprint(x, y[::-1]) != inputs_fingerprint(x + 1e-3, y)


def test_pooled_difference_pools_the_discordant_inputs_and_spreads_the_runs():
    runs = [_rows(10, 4, 30, 56), _rows(7, 5, 30, 58), _rows(9, 2, 30, 59)]
    d = pooled_difference(runs)
    assert d["per_run"] == pytest.approx([6.0, 2.0, 7.0])
    assert (d["only_this"], d["only_reference"]) == (26, 11)
    assert d["p_value"] == pytest.approx(exact_mcnemar(26, 11), rel=1e-9)
    # Student t over the three runs: mean 5, sd sqrt(7), t(0.975, 2) = 4.303
    assert d["mean"] == pytest.approx(5.0) and d["half_width"] == pytest.approx(4.3027 * 7 ** 0.5 / 3 ** 0.5, rel=1e-4)
    one = pooled_difference(runs[:1])
    assert one["half_width"] == float("inf") and one["p_value"] == pytest.approx(exact_mcnemar(10, 4))
    with pytest.raises(ValueError, match="at least one run"):
        pooled_difference([])
