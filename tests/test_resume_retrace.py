"""A resumed ordered run retraces the stored one (nasfw/replay.py) and ends where the uninterrupted run ends. From a
checkpoint, the searcher had lost the candidates it asked for after it, and a run killed at 15 of 40 evaluations
ended on other architectures than the same run left alone, with evolution, bayes and reinforce alike."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import PLUGIN_DIR
from tests.test_resume import _count


def _args(out, searcher="evolution", budget=30, *extra):
    return ["search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--searcher", searcher, "--budget", budget,
            "--workers", "2", "--out", out, "--no-progress", "--set", "task_options.sleep=0.05", *extra]


def _rows(out):
    with sqlite3.connect(out / "nasfw.sqlite") as c:
        return c.execute("SELECT arch_key, status, metrics FROM evaluations ORDER BY id").fetchall()


def _start_and_stop(out, args, rows, sig=signal.SIGKILL, stalled_s=None):
    """Start `nasfw search` and send `sig` once the store holds `rows` rows (or, with `stalled_s`, once it holds
    some and has not grown for that long)."""
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=out.parent, text=True)
    db, deadline, last, since = out / "nasfw.sqlite", time.time() + 90, -1, time.time()
    while time.time() < deadline:
        n = _count(db)
        if n != last:
            last, since = n, time.time()
        if (stalled_s is None and n >= rows) or (stalled_s and n > 0 and time.time() - since > stalled_s):
            break
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)
    return _count(db)


# a cheap constraint the REINFORCE controller often breaks: candidates skipped as infeasible are stored in the
# driver, between the evaluations, and retracing meets them there
CONSTRAINED = ("--set", "hardware=[toy-size]", "--set", "constraints=[{metric: size, max: 60}]")


SLOW = pytest.mark.slow


@pytest.mark.parametrize("searcher, extra", [("evolution", ()), pytest.param("bayes", (), marks=SLOW),
                                             pytest.param("reinforce", (), marks=SLOW),
                                             pytest.param("reinforce", CONSTRAINED, marks=SLOW)])
def test_a_killed_run_resumed_ends_as_the_uninterrupted_run(tmp_path, searcher, extra, run_cli):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_cli(*_args(whole, searcher, 30, *extra), check=True)
    stored = _start_and_stop(cut, _args(cut, searcher, 30, *extra), rows=12)
    assert 12 <= stored < len(_rows(whole)), "the kill must land mid-campaign"
    p = run_cli(*_args(cut, searcher, 30, *extra), "--resume", check=True)
    assert "did not retrace" not in p.stderr
    assert _rows(cut) == _rows(whole)
    if extra:
        assert sum(s == "infeasible" for _, s, _ in _rows(whole)) > 10


@pytest.mark.slow
@pytest.mark.parametrize("searcher", ["evolution", "random", "ofa-evolution", "nsga2", "ppo", "tune-optuna"])
def test_a_run_resumed_with_a_larger_budget_ends_as_one_started_with_it(tmp_path, searcher, run_cli):
    """Every built-in searcher repeats itself from its seed and what it was told (bayes and reinforce above)."""
    whole, grown = tmp_path / "whole", tmp_path / "grown"
    run_cli(*_args(whole, searcher, 33), check=True)
    run_cli(*_args(grown, searcher, 20), check=True)
    run_cli(*_args(grown, searcher, 33), "--resume", check=True)
    assert _rows(grown) == _rows(whole)


@pytest.mark.slow
def test_a_run_stopped_with_a_result_waiting_its_turn_resumes_as_the_uninterrupted_run(tmp_path, run_cli):
    """One op's evaluations take 1.5 s, so a result of the other worker waits for an older one: SIGTERM there
    stores the waiting result ahead of its turn; the resumed run meets it in its turn and evaluates the older
    one again (it was lost with its worker)."""
    slow = ("--set", "task_options.slow_op=b", "--set", "task_options.slow_s=1.5")
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_cli(*_args(whole, "evolution", 16, *slow), check=True)
    stored = _start_and_stop(cut, _args(cut, "evolution", 16, *slow), rows=0, sig=signal.SIGTERM, stalled_s=0.6)
    assert 0 < stored < 16
    assert _rows(cut) != _rows(whole)[:stored], "a result must have been stored ahead of its turn"
    p = run_cli(*_args(cut, "evolution", 16, *slow), "--resume", check=True)
    assert "did not retrace" not in p.stderr
    assert sorted(_rows(cut)) == sorted(_rows(whole))


def test_a_stored_run_the_searcher_cannot_retrace_is_told_to_it_and_goes_on(tmp_path, run_cli):
    """A stored evaluation the searcher does not propose again (here: its learning rate edited in the store; in
    life a searcher that does not repeat itself, or other code) ends the retracing: the rows left are told to the
    searcher as a checkpoint's replay tells them, nothing is evaluated twice and the budget holds."""
    out = tmp_path / "run"
    run_cli(*_args(out, "evolution", 12), check=True)
    with sqlite3.connect(out / "nasfw.sqlite") as c:
        rid, key = c.execute("SELECT id, arch_key FROM evaluations ORDER BY id LIMIT 1 OFFSET 2").fetchone()
        arch = json.loads(key)
        assert json.dumps(arch, sort_keys=True, separators=(",", ":")) == key
        arch["lr"] = 0.05123
        new = json.dumps(arch, sort_keys=True, separators=(",", ":"))
        c.execute("UPDATE evaluations SET arch_key = ?, arch = ? WHERE id = ?", (new, new, rid))
    before = _rows(out)
    p = run_cli(*_args(out, "evolution", 24), "--resume", check=True)
    assert "note: the resumed run did not retrace the stored one" in p.stderr
    after = _rows(out)
    assert after[:12] == before
    assert sum(s == "ok" for _, s, _ in after) == 24
    assert len({k for k, _, _ in after}) == len(after)


@pytest.mark.slow  # end to end: with the slow tests, to keep the fast suite short
def test_a_run_resumed_with_other_workers_resumes_from_its_checkpoint(tmp_path, run_cli):
    """The order results were recorded in depends on the number of workers: with another, the run goes on from
    its checkpoint as before, and a later resume does not try to retrace it."""
    out = tmp_path / "run"
    run_cli(*_args(out, "evolution", 12), check=True)
    for workers, budget in (("1", 20), ("2", 26)):
        p = run_cli(*_args(out, "evolution", budget), "--workers", workers, "--resume", check=True)
        assert "did not retrace" not in p.stderr
    rows = _rows(out)
    assert sum(s == "ok" for _, s, _ in rows) == 26 and len({k for k, _, _ in rows}) == 26
    with sqlite3.connect(out / "nasfw.sqlite") as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'ordered_workers'").fetchone()[0] == "null"
