"""A search whose first evaluations all fail stops (`evaluation.fail_fast`, 10 by default): a task, a cost model or
an option broken for every candidate spent the whole budget failing, with nothing on the bar to say so."""
import json
from pathlib import Path

import pytest

from nasfw.campaign import parse
from nasfw.errors import ConfigError
from nasfw.results import RunView
from tests.conftest import PLUGIN_DIR
from tests.test_campaign import BASE, run

GOOD = {"op": "b", "width": 16, "width_out": 16, "lr": 0.01, "mapping": [0, 1, 2], "blocks": [{"k": 3, "e": 2}],
        "se": 0}


def test_a_search_whose_first_evaluations_all_fail_stops_and_says_why(tmp_path):
    s = run({**BASE, "budget": 40, "task_options": {"fail_op": "*"}}, tmp_path)
    assert (s["evaluations"], s["failed"]) == (10, 10)
    assert "the first 10 evaluations of this session all failed" in s["stopped"]
    assert "evaluation.fail_fast: 10; 0 spends the whole budget" in s["stopped"]
    # the folder says it again: summary.json, report.md, the Python view (and `nasfw show`, below)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["stopped"] == s["stopped"]
    assert RunView.open(tmp_path / "run").summary()["stopped"] == s["stopped"]
    from nasfw.report import write_report

    assert f"- stopped early: {s['stopped']}" in Path(write_report(tmp_path / "run")["report"]).read_text()


def test_show_says_why_the_search_stopped(tmp_path, run_cli):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({**BASE, "budget": 30, "task_options": {"fail_op": "*"},
                               "evaluation": {"fail_fast": 2}}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--out", tmp_path / "run", "--no-progress")
    assert p.returncode == 1 and "stopped early: the first 2 evaluations" in p.stdout
    p = run_cli("show", tmp_path / "run", check=True)
    assert "stopped early: the first 2 evaluations of this session all failed" in p.stdout


def test_worker_processes_stop_too_and_what_was_in_flight_is_kept(tmp_path):
    s = run({**BASE, "budget": 40, "workers": 2, "searcher": "random", "task_options": {"fail_op": "*"},
             "evaluation": {"fail_fast": 3}}, tmp_path)
    assert 3 <= s["evaluations"] <= 4 and s["failed"] == s["evaluations"]  # the second worker's may finish
    assert len(RunView.open(tmp_path / "run").evaluations) == s["evaluations"]


def test_zero_spends_the_whole_budget(tmp_path):
    s = run({**BASE, "budget": 12, "task_options": {"fail_op": "*"}, "evaluation": {"fail_fast": 0}}, tmp_path)
    assert s["failed"] == 12 and not s["stopped"]


def test_failures_after_a_success_do_not_stop_the_search(tmp_path):
    s = run({**BASE, "budget": 30, "searcher": {"name": "random", "initial": [GOOD]},
             "task_options": {"fail_op": "a"}, "evaluation": {"fail_fast": 2}}, tmp_path)
    assert s["evaluations"] == 30 and s["failed"] >= 4 and not s["stopped"]
    view = RunView.open(tmp_path / "run")
    assert view.evaluations[0].status == "ok"


def test_a_resumed_run_that_reaches_its_budget_drops_the_old_reason(tmp_path):
    raw = {**BASE, "budget": 12, "task_options": {"fail_op": "*"}}
    assert "fail_fast" in run(raw, tmp_path)["stopped"]
    s = run({**raw, "evaluation": {"fail_fast": 0}}, tmp_path, resume=True)
    assert s["failed"] == 12 and not s["stopped"]


@pytest.mark.parametrize("value", [-1, "x", 1.5])
def test_a_bad_value_is_refused_with_the_field(value):
    with pytest.raises(ConfigError, match=r"evaluation\.fail_fast.*a non-negative integer \(0: never stop"):
        parse({**BASE, "evaluation": {"fail_fast": value}})
