"""A driver killed with SIGKILL mid-campaign and resumed loses nothing that finished and ends with the
same number of evaluations as an uninterrupted run."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import PLUGIN_DIR


def _count(db):
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("searcher", ["evolution", "bayes", "reinforce"])
def test_sigkill_then_resume(tmp_path, searcher, run_cli):
    out = tmp_path / "run"
    args = ["--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--searcher", searcher, "--budget", "40",
            "--out", out, "--no-progress"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("evaluation: {checkpoint_every_s: 0.3}\ntask_options: {sleep: 0.05}\n")
    cmd = [sys.executable, "-m", "nasfw.cli", "search", "--config", str(cfg), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    db = out / "nasfw.sqlite"
    deadline = time.time() + 60
    while _count(db) < 15 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as c:
        before = c.execute("SELECT id, arch, metrics FROM evaluations ORDER BY id").fetchall()
    assert 15 <= len(before) < 40, "the kill must land mid-campaign"

    p = run_cli("search", "--config", cfg, *args, "--resume")
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        after = c.execute("SELECT id, arch, metrics FROM evaluations ORDER BY id").fetchall()
        ok = c.execute("SELECT COUNT(*) FROM evaluations WHERE status IN ('ok', 'failed')").fetchone()[0]
    assert after[: len(before)] == before  # nothing that had finished is lost or changed
    assert ok == 40  # same count as an uninterrupted run
    keys = [json.dumps(json.loads(a), sort_keys=True) for _, a, _ in after]
    assert len(set(keys)) == len(keys)  # resume knows what was evaluated: no repeats


def test_a_run_folder_takes_one_search_at_a_time(tmp_path, run_cli):
    """A `--resume` typed while the run still went on elsewhere searched beside it in the same store: 53 of a
    budget of 30, two searchers' histories interleaved. The running search holds the folder; a second one is
    refused naming it, readers still read, and once the first has ended the folder can be resumed. (After a
    SIGKILL the operating system drops the lock: test_sigkill_then_resume resumes at once.)"""
    out = tmp_path / "run"
    args = ["--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "30", "--out", out, "--no-progress"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_options: {sleep: 0.4}\n")
    cmd = [sys.executable, "-m", "nasfw.cli", "search", "--config", str(cfg), *map(str, args)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, text=True)
    deadline = time.time() + 60
    while _count(out / "nasfw.sqlite") < 3 and time.time() < deadline:
        time.sleep(0.05)
    for extra in (["--resume"], []):  # resuming it, or starting it over, while it runs
        p = run_cli("search", "--config", cfg, *args, *extra)
        assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
        assert (f"error: output folder '{out}' is in use by another nasfw search (process {first.pid} on "
                in p.stderr) and "wait for it to end (or stop it) before resuming, or choose another --out" in p.stderr
    assert run_cli("show", out).returncode == 0  # readers do not need the folder to themselves
    assert first.poll() is None, "the first search must still be running for this test to mean anything"
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert _count(out / "nasfw.sqlite") == 30  # only the first search wrote
    p = run_cli("search", "--config", cfg, *args[:4], "--budget", "33", "--out", out, "--no-progress", "--resume")
    assert p.returncode == 0, p.stderr
    assert _count(out / "nasfw.sqlite") == 33


def test_resume_without_a_run_is_a_clean_error(run_cli, tmp_path):
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--out", tmp_path / "none", "--resume")
    assert p.returncode == 2
    assert p.stderr.startswith("error: --resume:") and p.stderr.count("\n") == 1


@pytest.mark.slow
@pytest.mark.ray
def test_sigkill_then_resume_on_ray(tmp_path, run_cli):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("evaluation: {checkpoint_every_s: 0.5}\ntask_options: {sleep: 0.3}\nbackend: ray\nworkers: 2\n")
    args = ["search", "--config", str(cfg), "--plugins-dir", str(PLUGIN_DIR), "--plugin", "toy", "--budget", "20",
            "--out", str(out), "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, start_new_session=True)
    db = out / "nasfw.sqlite"
    deadline = time.time() + 300
    while _count(db) < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    proc.wait()
    with sqlite3.connect(db) as c:
        before = c.execute("SELECT id, arch, metrics FROM evaluations ORDER BY id").fetchall()
    assert 6 <= len(before) < 20
    p = run_cli(*args[:-1], "--no-progress", "--resume", timeout=600)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        after = c.execute("SELECT id, arch, metrics FROM evaluations ORDER BY id").fetchall()
        ok = c.execute("SELECT COUNT(*) FROM evaluations WHERE status IN ('ok', 'failed')").fetchone()[0]
    assert after[: len(before)] == before and ok == 20


def test_what_to_do_next_is_the_last_line_a_stopped_search_prints(tmp_path):
    """The bar of the phase a signal stopped was drawn once more after "terminated (SIGTERM): ... continue with
    --resume" (when garbage collection closed it), so a log's last line was a bar."""
    out = tmp_path / "run"
    args = ["--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "20", "--out", out,
            "--set", "phases.supernet={epochs: 100, sleep_s: 60}"]
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", "search", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, text=True)
    err = ""
    deadline = time.time() + 90
    while "toy supernet" not in err and time.time() < deadline:  # stopped inside the supernet phase's bar
        err += os.read(proc.stderr.fileno(), 4096).decode()
    proc.send_signal(signal.SIGTERM)
    err += proc.communicate(timeout=60)[1]
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert proc.returncode == 143 and lines[-1] == ("terminated (SIGTERM): finished evaluations are in the store; "
                                                    "continue with --resume"), lines[-3:]


def test_sigterm_stops_the_workers_and_the_run_resumes(tmp_path, run_cli):
    """`kill`, `timeout` or a scheduler's time limit send SIGTERM: it killed the driver alone, and its evaluation
    workers ran on for ever as orphans. Now the run unwinds as on Ctrl-C and says how to continue."""
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "run"
    args = ["--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "30", "--workers", "2",
            "--set", "task_options.sleep=0.2", "--out", out, "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", "search", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, text=True)
    db = out / "nasfw.sqlite"
    deadline = time.time() + 90
    while _count(db) < 6 and time.time() < deadline:
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
    shown = run_cli("show", out, check=True).stdout  # from another terminal: is it still going?
    assert f"(running (process {proc.pid} on " in shown.splitlines()[0]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated (SIGTERM): finished evaluations are in the store" in err
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    assert 6 <= _count(db) < 30, "the signal must land mid-campaign"
    shown = run_cli("show", out, check=True).stdout.splitlines()
    assert shown[0].endswith("(interrupted)") and shown[1] == f"continue it with: nasfw search --resume --out {out}"
    p = run_cli("search", *args, "--resume")
    assert p.returncode == 0, p.stderr
    assert "evaluations: 30 (30 ok" in p.stdout
    assert run_cli("show", out, check=True).stdout.splitlines()[0].endswith("(finished)")
    assert json.loads(run_cli("show", out, "--json", check=True).stdout)["state"] == "finished"


def test_workers_end_with_a_driver_killed_outright(tmp_path):
    """SIGKILL (the out-of-memory killer) takes the driver alone: its workers waited on the pool's queues for
    ever, each holding its task. They now notice they were orphaned and end within seconds."""
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", "search", "--plugins-dir", str(PLUGIN_DIR), "--plugin",
                             "toy", "--budget", "30", "--workers", "2", "--set", "task_options.sleep=0.2", "--out",
                             str(out), "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tmp_path)
    deadline = time.time() + 90
    while _count(out / "nasfw.sqlite") < 4 and time.time() < deadline:
        time.sleep(0.05)
    workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [p.pid for p in alive]


def test_a_run_of_a_plugin_from_a_folder_resumes_with_that_folder(tmp_path, run_cli):
    """Without the folder the resume said "unknown task 'toy'", not what was missing."""
    import nasfw

    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, out=tmp_path / "run", progress=False)
    p = run_cli("search", "--resume", "--out", tmp_path / "run", "--budget", "5")
    run = str(tmp_path / "run")
    assert p.returncode == 2 and p.stderr == (f"error: the run in {run!r} was made with plugin 'toy', which is not "
                                              "loaded here; give its folder with --plugins-dir DIR, or install it\n")
    with pytest.raises(nasfw.ConfigError, match="give its folder with plugins_dirs=\\[DIR\\], or install it"):
        nasfw.search(resume=True, out=tmp_path / "run")
    p = run_cli("search", "--resume", "--out", tmp_path / "run", "--budget", "5", "--plugins-dir", PLUGIN_DIR)
    assert p.returncode == 0 and "evaluations: 5 (5 ok" in p.stdout, p.stderr
    # export and cost --run need it too: they said "unknown task 'toy'" / "unknown hardware 'toy-size'"
    for command in (["export", run], ["cost", "--run", run, "--hardware", "toy-size"]):
        p = run_cli(*command)
        assert p.returncode == 2, p.stderr
        assert ("was made with plugin 'toy', which is not loaded here; give its folder with --plugins-dir DIR"
                in p.stderr), p.stderr
        run_cli(*command, "--plugins-dir", PLUGIN_DIR, check=True)
