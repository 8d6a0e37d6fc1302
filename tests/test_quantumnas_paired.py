"""The paired comparison of two finalize rows (exact McNemar) against the binomial sum written out."""
from math import comb

import numpy as np
import pytest

pytest.importorskip("scipy")

from nasfw.plugins.quantumnas.finalize import table  # noqa: E402
from nasfw.plugins.quantumnas.paired import describe, paired_difference  # noqa: E402


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
