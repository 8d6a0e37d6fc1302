"""A run's JSON files and `--json` output are JSON every reader takes: an infinite metric was written as
`Infinity`, which jq and JavaScript refuse (the whole document, not the one value)."""
from __future__ import annotations

import json
import math

import pytest

import nasfw
from nasfw import Choice, Space
from nasfw.json_text import dumps


def strict(text: str):
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_run_with_an_infinite_metric_writes_json_every_reader_takes(tmp_path, monkeypatch, capsys):
    from nasfw.cli import main

    space = Space([Choice("a", [1, 2, 3, 4])], name="s")
    out = tmp_path / "run"
    nasfw.search(task=lambda arch: {"acc": float(arch["a"]), "lat": math.inf if arch["a"] == 4 else 1.0},
                 space=space, objectives=["acc"], searcher="random", budget=4, out=str(out), progress=False)
    for name in ("best.json", "top.json", "summary.json"):
        strict((out / name).read_text())
    assert strict((out / "best.json").read_text())["metrics"] == {"acc": 4.0, "lat": None}
    assert nasfw.open_run(out).best.metrics["lat"] == math.inf  # the store keeps the value itself
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["show", "run", "--json"]) == 0
    shown = strict(capsys.readouterr().out)
    assert shown["top"][0]["metrics"]["lat"] is None


@pytest.mark.parametrize("value, expected", [
    ({"a": [1.0, math.nan, (math.inf, -math.inf)], "b": "inf"}, '{"a": [1.0, null, [null, null]], "b": "inf"}'),
    (2, "2"),
])
def test_non_finite_numbers_become_null(value, expected):
    import numpy as np

    assert dumps(value) == expected
    assert dumps({"x": np.float64("nan")}) == '{"x": null}'
