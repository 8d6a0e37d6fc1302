"""The Ray backend: same campaign, same store, same results as the local backend."""
import contextlib
import json
import shutil
import sqlite3
import time

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.ray


def rows(run):
    with sqlite3.connect(run / "nasfw.sqlite") as c:
        return [(json.loads(a), json.loads(m), s) for a, m, s in
                c.execute("SELECT arch, metrics, status FROM evaluations ORDER BY id")]


def n_rows(run) -> int:
    """Rows recorded so far; 0 while the store file exists but its tables are not created yet."""
    try:
        return len(rows(run))
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_ray_and_local_backends_give_identical_results(run_cli, tmp_path, nb201_table):
    """The table is named relative to the working folder, as a user's own file would be: Tune starts trials in
    folders of their own, and they must still read it (before, every Ray trial failed with 'no such file')."""
    shutil.copy(nb201_table, tmp_path / "table.pkl")
    (tmp_path / "c.yaml").write_text("task_options: {path: table.pkl}\n")
    common = ["search", "--plugin", "nasbench201", "--config", "c.yaml", "--budget", "8", "--workers", "1",
              "--no-progress"]
    run_cli(*common, "--out", tmp_path / "local", check=True)
    p = run_cli(*common, "--backend", "ray", "--out", tmp_path / "ray", timeout=600)
    assert p.returncode == 0, p.stderr
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    a = json.loads((tmp_path / "local" / "summary.json").read_text())
    b = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert a["best"] == b["best"] and a["evaluations"] == b["evaluations"] == 8


@pytest.mark.slow
def test_ray_with_two_concurrent_trials(run_cli, tmp_path):
    p = run_cli("search", "--plugin", "nasbench201", "--searcher", "nsga2", "--budget", "10", "--workers", "2",
                "--backend", "ray", "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    r = rows(tmp_path / "run")
    assert len(r) == 10 and {s for _, _, s in r} == {"ok"}
    assert len({json.dumps(a, sort_keys=True) for a, _, _ in r}) == 10


def test_a_ray_search_whose_first_trials_all_fail_stops_as_a_local_one(run_cli, tmp_path):
    """The adapter tells Tune it has finished once the driver stops for failures (`evaluation.fail_fast`); asked
    for more, it would have waited for ever."""
    from tests.conftest import PLUGIN_DIR

    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"space": "toy", "task": "toy", "task_options": {"fail_op": "*"},
                               "objectives": [{"metric": "score"}], "searcher": "random", "budget": 30,
                               "evaluation": {"fail_fast": 4}}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--workers", "2", "--backend", "ray",
                "--out", tmp_path / "run", "--no-progress", timeout=300)
    assert p.returncode == 1, p.stderr
    assert "stopped early: the first" in p.stdout and "evaluation.fail_fast: 4" in p.stdout
    assert 4 <= n_rows(tmp_path / "run") <= 5 and {s for _, _, s in rows(tmp_path / "run")} == {"failed"}


def test_unreachable_address_fails_fast(run_cli):
    t0 = time.time()
    p = run_cli("search", "--plugin", "nasbench201", "--backend", "ray", "--address", "127.0.0.1:9")
    assert time.time() - t0 < 30
    assert p.returncode == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in p.stderr


def test_dry_run_prints_the_plan_and_checks_resources(run_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("backend: ray\nworkers: 2\nresources: {cpus: 1}\n")
    p = run_cli("search", "--plugin", "nasbench201", "--config", cfg, "--dry-run", check=True)
    assert "backend ray: a local Ray instance (127.0.0.1); up to 2 concurrent trials, each 1 CPU / 0 GPU" in p.stdout
    cfg.write_text("backend: ray\nresources: {cpus: 4096}\n")
    p = run_cli("search", "--plugin", "nasbench201", "--config", cfg, "--dry-run")
    assert p.returncode == 2 and "resources.cpus = 4096 per trial is more than" in p.stderr
    cfg.write_text("backend: ray\nresources: {gpu: 1}\n")
    p = run_cli("search", "--plugin", "nasbench201", "--config", cfg, "--dry-run")
    assert p.returncode == 2 and "unknown campaign.resources field 'gpu'; did you mean 'gpus'" in p.stderr


def _ray_bin():
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else shutil.which("ray")


@contextlib.contextmanager
def existing_cluster(node_env: dict | None = None):
    """A real Ray cluster started apart from the run (`ray start --head` on 127.0.0.1, its processes given
    `node_env` too), which a campaign joins with --address as it would a cluster of its own. One node: on
    loopback Ray refuses a second (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, which keeps it off other interfaces,
    allows a single node; `=1` swaps 127.0.0.1 for the machine's outward address). Started with --block in its own
    process group and stopped by killing that group, so no other Ray on the machine is touched."""
    import os
    import signal
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    head = subprocess.Popen([_ray_bin(), "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--node-ip-address=127.0.0.1", "--block",
                             "--disable-usage-stats"], env={**env, **(node_env or {})}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    time.sleep(3)
    try:
        yield f"127.0.0.1:{port}", env, head
    finally:
        try:
            os.killpg(head.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:  # `ray start --block` takes about 33 s to wind down on SIGTERM; its group, killed, leaves nothing
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


@pytest.fixture
def ray_cluster():
    with existing_cluster() as cluster:
        yield cluster


@pytest.mark.slow
def test_campaign_on_an_existing_cluster(ray_cluster, run_cli, tmp_path):
    address, env, _ = ray_cluster
    p = run_cli("search", "--plugin", "nasbench201", "--budget", "8", "--workers", "2", "--backend", "ray",
                "--address", address, "--out", tmp_path / "run", "--no-progress", env={"RAY_AUTH_MODE": "disabled"},
                timeout=600)
    assert p.returncode == 0, p.stderr
    r = rows(tmp_path / "run")
    assert len(r) == 8 and {s for _, _, s in r} == {"ok"}


@pytest.mark.slow
@pytest.mark.parametrize("retries", [0, 1], ids=["lost", "retried"])
def test_trial_workers_killed_mid_campaign(ray_cluster, tmp_path, retries):
    """The processes running trials die (the out-of-memory killer, a node's agent): without retries those trials
    are recorded as lost and not counted in the budget; with `evaluation.retries` Tune runs them again on new
    actors. Either way the campaign completes with the requested number of evaluations."""
    import os
    import subprocess
    import sys

    from tests.conftest import PLUGIN_DIR

    address, env, _ = ray_cluster
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nasfw.cli", "search", "--plugins-dir", str(PLUGIN_DIR), "--plugin", "toy",
           "--searcher", "random", "--budget", "12", "--workers", "2", "--backend", "ray", "--address", address,
           "--out", str(out), "--no-progress"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"task_options: {{sleep: 1.0}}\nevaluation: {{retries: {retries}}}\n")
    proc = subprocess.Popen(cmd + ["--config", str(cfg)], env={**os.environ, "RAY_AUTH_MODE": "disabled"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (out / "nasfw.sqlite").exists() and n_rows(out) >= 3:
            break
        time.sleep(0.3)
    # Tune's name for the trial actors' processes
    killed = subprocess.run(["pkill", "-9", "-f", "ray::ResourceTrainable"], capture_output=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert killed.returncode == 0, "no trial process was running to kill"
    assert proc.returncode == 0, stderr[-3000:]
    r = rows(out)
    assert sum(s == "ok" for _, _, s in r) == 12
    assert {s for _, _, s in r} == ({"ok"} if retries else {"ok", "lost"})


@pytest.mark.slow
@pytest.mark.parametrize("timeout", ["", "evaluation: {timeout_s: 120}\n"], ids=["in-trial", "child-process"])
def test_shared_state_through_the_object_store(run_cli, tmp_path, timeout):
    """With a timeout the trial evaluates in a child process that is not connected to Ray: the trial hands it
    the shared state (before, the child's ray.get waited on an object store it had no access to)."""
    from tests.conftest import PLUGIN_DIR

    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_options: {shared_mb: 2.0}\nphases: {supernet: {epochs: 2}}\nbackend: ray\nworkers: 2\n"
                   + timeout)
    p = run_cli("search", "--config", cfg, "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "6",
                "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(tmp_path / "run" / "nasfw.sqlite") as c:
        ms = [json.loads(m) for (m,) in c.execute("SELECT metrics FROM evaluations WHERE status = 'ok'")]
    assert len(ms) == 6 and all(m["shared_mb"] == 2.0 and m["shared_trained"] == 2.0 for m in ms)


@pytest.mark.slow
def test_timeout_on_ray(run_cli, tmp_path):
    """Each trial starts a child process that builds the task (here longer than the limit) before its clock runs:
    only the hanging evaluations time out, however loaded the machine. The plugin folder is given relative to
    the working folder, as users do: trials, which run in folders of their own, must still find it."""
    from tests.conftest import PLUGIN_DIR

    shutil.copytree(PLUGIN_DIR, tmp_path / "my_plugins")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_options: {hang_op: b, setup_sleep: 2.5}\nevaluation: {timeout_s: 2}\nbackend: ray\n"
                   "workers: 2\nsearcher: random\n")
    p = run_cli("search", "--config", cfg, "--plugins-dir", "my_plugins", "--plugin", "toy", "--budget", "6",
                "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    r = rows(tmp_path / "run")
    assert len(r) == 6 and any(arch["op"] == "b" for arch, _, _ in r)
    for arch, _, status in r:
        assert status == ("failed" if arch["op"] == "b" else "ok"), (arch, status)
    with sqlite3.connect(tmp_path / "run" / "nasfw.sqlite") as c:
        errors = {e for (e,) in c.execute("SELECT error FROM evaluations WHERE status = 'failed'")}
    assert errors <= {"timeout: still running after 2 s"}


@pytest.mark.slow
def test_trials_run_in_the_workers_main_thread_and_qiskit_survives_actor_reuse(run_cli, tmp_path):
    """qiskit 2.6 crashes a process that first imported it in a thread which has ended, once another thread
    builds a circuit: as Tune's function trainables ran trials, every other QuantumNAS trial was lost."""
    from tests.conftest import PLUGIN_DIR

    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_options: {qiskit_circuit: true}\nbackend: ray\nworkers: 2\nsearcher: random\n")
    p = run_cli("search", "--config", cfg, "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", "8",
                "--out", tmp_path / "run", "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    r = rows(tmp_path / "run")
    assert [s for _, _, s in r] == ["ok"] * 8
    assert all(m["main_thread"] == 1.0 for _, m, _ in r)


@pytest.mark.slow
def test_an_objective_the_task_does_not_report_stops_a_ray_run_as_a_local_one(run_cli, tmp_path):
    """The driver's check raises inside Tune's callback; the adapter holds the error until Tune has finished,
    so the user sees the same one-line message as locally, with the evaluations kept."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("objectives: [{metric: acuracy, direction: max}]\n")
    for backend in ("local", "ray"):
        p = run_cli("search", "--plugin", "nasbench201", "--config", cfg, "--budget", "6", "--workers", "1",
                    "--backend", backend, "--out", tmp_path / backend, "--no-progress", timeout=600)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert ("objectives[0].metric = 'acuracy': neither the task nor a cost model reported such a metric (did "
                "you mean 'accuracy'?)") in p.stderr
        assert 1 <= n_rows(tmp_path / backend) <= 2


def test_sigterm_stops_a_ray_run_and_its_local_instance(tmp_path):
    """Ray's core puts its own SIGTERM handler in place: a `kill` ended the driver with a crash report and status
    1. The run's handler is put back, so it unwinds as on Ctrl-C and shuts the Ray instance it started down."""
    import signal
    import subprocess
    import sys

    from tests.conftest import PLUGIN_DIR

    psutil = pytest.importorskip("psutil")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", "search", "--plugins-dir", str(PLUGIN_DIR), "--plugin",
                             "toy", "--budget", "40", "--workers", "2", "--backend", "ray", "--set",
                             "task_options.sleep=0.5", "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, text=True)
    deadline = time.time() + 120
    while n_rows(out) < 4 and time.time() < deadline:
        time.sleep(0.1)
    started = psutil.Process(proc.pid).children(recursive=True)  # the Ray instance's processes among them
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "terminated (SIGTERM): finished evaluations are in the store" in err
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, [" ".join(p.cmdline())[:80] for p in alive]
    assert 4 <= n_rows(out) < 40


def _installed_elsewhere(folder):
    """nasfw's code as a wheel installs it, with one edit: a node that imports it runs other code than the driver."""
    from tests.conftest import wheel_layout_copy

    wheel_layout_copy(folder)
    with open(folder / "nasfw" / "evaluation.py", "a") as f:
        f.write("\n# edited on this node only\n")
    return folder


@pytest.mark.slow
def test_a_cluster_with_other_code_is_named(run_cli, tmp_path):
    """A cluster whose node imports an edited nasfw (installed otherwise than where the driver runs): the run
    notes, once, that its workers ran other code, and keeps each such worker for nasfw show."""
    import nasfw
    from tests.conftest import PLUGIN_DIR

    other = _installed_elsewhere(tmp_path / "other")
    with existing_cluster({"PYTHONPATH": str(other)}) as (address, _, _):
        p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--set", "task_options.sleep=0.5",
                    "--budget", "4", "--workers", "2", "--backend", "ray", "--address", address,
                    "--out", tmp_path / "run", "--no-progress", env={"RAY_AUTH_MODE": "disabled"}, timeout=600)
    assert p.returncode == 0, p.stderr
    view = nasfw.open_run(tmp_path / "run")
    assert len(view.worker_code) == 1, view.worker_code  # one difference: the edited code
    (diff, workers), = view.worker_code.items()
    assert diff.startswith("nasfw code ") and " -> " in diff and ";" not in diff  # the packages are the same
    assert p.stderr.count("runs other code than this driver (nasfw code ") == 1
    assert set(workers) == {e.worker for e in view.evaluations}
    shown = run_cli("show", tmp_path / "run", check=True).stdout
    assert f"workers with other code than the driver, {', '.join(workers)}: nasfw code " in shown


def test_a_worker_on_the_drivers_code_is_not_named(tmp_path):
    """The comparison the driver makes for each Ray worker: its own process's code against this session's."""
    import json as _json

    from nasfw import provenance
    from nasfw.registry import Registry

    env = provenance.environment(Registry(), ["core"])
    assert provenance.worker_changes(env, provenance.process_code()) == []
    other = {**_json.loads(provenance.process_code()), "torch": "0.0.1"}
    other.pop("numpy")
    assert provenance.worker_changes(env, _json.dumps(other)) == [
        f"torch {env['packages']['torch']} -> 0.0.1", f"numpy {env['packages']['numpy']} -> (none)"]
    assert provenance.worker_changes(None, provenance.process_code()) == []


def _toy_ordered(out, budget=20):
    from tests.conftest import PLUGIN_DIR

    return ["search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--budget", budget, "--workers", "2",
            "--no-progress", "--out", out, "--set", "task_options.sleep=0.05", "--set", "task_options.slow_op=b",
            "--set", "task_options.slow_s=0.5"]


@pytest.mark.slow
def test_ray_in_order_records_as_the_local_backend_does(run_cli, tmp_path):
    """`evaluation.in_order: true` on Ray: two concurrent trials, one op's evaluations ten times slower, and the
    store holds what the local backend's two workers store, in the same order. Taken as trials finish (Ray's
    default), the searcher's history depends on Tune's timing."""
    run_cli(*_toy_ordered(tmp_path / "local"), check=True)
    p = run_cli(*_toy_ordered(tmp_path / "ray"), "--backend", "ray", "--set", "evaluation.in_order=true",
                timeout=600)
    assert p.returncode == 0, p.stderr
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")


@pytest.mark.slow
def test_a_killed_ordered_ray_run_resumed_ends_as_the_uninterrupted_run(run_cli, tmp_path):
    """Killed with its Ray instance and resumed on Ray, an ordered run retraces itself (stored candidates are
    answered from the store, not run as trials) and ends on the uninterrupted run's evaluations."""
    import os
    import signal
    import subprocess
    import sys

    run_cli(*_toy_ordered(tmp_path / "local", 24), check=True)
    out = tmp_path / "ray"
    args = [*map(str, _toy_ordered(out, 24)), "--backend", "ray", "--set", "evaluation.in_order=true"]
    proc = subprocess.Popen([sys.executable, "-m", "nasfw.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path, start_new_session=True)
    deadline = time.time() + 300
    while n_rows(out) < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    proc.wait()
    assert 8 <= n_rows(out) < 24
    p = run_cli(*args, "--resume", timeout=600)
    assert p.returncode == 0, p.stderr
    assert "did not retrace" not in p.stderr
    assert rows(out) == rows(tmp_path / "local")
