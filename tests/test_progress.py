"""Progress bars show where campaigns actually run: output redirected to a file, not a terminal."""
import pytest

from nasfw.progress import progress_bar


def test_a_phase_bar_writes_to_a_file_and_nothing_when_disabled(tmp_path):
    log = tmp_path / "log"
    with log.open("w") as f:  # a file is not a terminal: tqdm's own default would hide the bar here
        bar = progress_bar(3, "finalize", True, file=f)
        for _ in range(3):
            bar.update(1)
        bar.close()
        quiet = progress_bar(3, "quiet", False, file=f)
        quiet.update(3)
        quiet.close()
    text = log.read_text()
    assert "finalize" in text and "3/3" in text
    assert "quiet" not in text


def test_a_plugin_phase_reports_its_epochs_when_stderr_is_not_a_terminal(tmp_path, capsys):
    pytest.importorskip("qiskit_aer")
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_blocks=2, device="lima", n_valid=40, n_test=40)
    task.train_supernet(tmp_path, epochs=2)
    err = capsys.readouterr().err
    assert "supercircuit" in err and "2/2" in err and "loss=" in err
    task.train_supernet(tmp_path, epochs=1, progress=False)
    assert "supercircuit" not in capsys.readouterr().err


def test_the_runs_switch_reaches_phase_methods_that_declare_progress():
    from nasfw.runner import with_progress

    def declares(run_dir, epochs=1, progress=True):
        return progress

    def does_not(run_dir, epochs=1):
        return epochs

    def forwards(run_dir, **options):  # a third-party phase that forwards blindly is left as it was
        return options

    assert with_progress(declares, {"epochs": 3}, False) == {"progress": False, "epochs": 3}
    assert with_progress(does_not, {"epochs": 3}, False) == {"epochs": 3}
    assert with_progress(forwards, {}, False) == {}
    # a campaign that sets the option itself keeps its value
    assert with_progress(declares, {"progress": True}, False) == {"progress": True}


def test_a_resumed_bar_counts_only_this_sessions_steps():
    """A training resumed at epoch 60 of 400 showed 58 epochs a second and an ETA of seconds: the 60 epochs
    kept were counted as this session's work."""
    import io
    import time

    from nasfw.progress import progress_bar, start_at

    def rate_after_one_step(resume):
        bar = progress_bar(400, "supercircuit", file=io.StringIO(), mininterval=0)
        resume(bar)
        time.sleep(0.05)
        bar.update(1)
        state = bar.format_dict
        bar.close()
        assert state["n"] == 61
        return state["rate"]
    assert rate_after_one_step(lambda bar: start_at(bar, 60)) < 25  # one epoch in 0.05 s or more
    assert rate_after_one_step(lambda bar: bar.update(60)) > 100  # what the plain update showed


def test_the_search_bar_counts_failures_and_the_time_budget_left(run_cli, tmp_path):
    """tqdm's ETA is for a count of evaluations: a budget in seconds alone left the bar without any, and a bar of
    failures looked like any other."""
    import json

    from tests.conftest import PLUGIN_DIR

    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"space": "toy", "task": "toy", "task_options": {"fail_op": "a", "sleep": 0.05},
                               "objectives": [{"metric": "score"}], "searcher": "random", "seed": 3,
                               "budget": {"wall_time_s": 3}}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--out", tmp_path / "run", check=True)
    last = [line for line in p.stderr.replace("\r", "\n").splitlines() if line.startswith("search:")][-1]
    assert "of the time budget left" in last and " failed" in last and "best score=" in last


def test_numbers_a_hair_apart_print_apart():
    """Four significant digits printed a VQE run's top ten as -74.93, -74.93, ... for circuits a few mHa apart."""
    from nasfw.number_format import column, digits_apart

    assert digits_apart([-74.9333, -74.9312]) == 5 and digits_apart([0.7733, 0.81, 0.5]) == 4
    assert digits_apart([1.0, 1.0 + 1e-12]) == 4  # float noise is not a difference to show
    assert column([-74.9333, None, -74.9312, 12]) == ["-74.933", "-", "-74.931", "12"]


def test_the_bar_and_the_table_show_a_best_that_moves_a_hair(run_cli, tmp_path):
    """Scores near -74.93 that differ in the fifth digit: the bar's best and `nasfw show` tell them apart."""
    import json
    import re

    from tests.conftest import PLUGIN_DIR

    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"space": "toy", "task": "toy", "objectives": [{"metric": "score"}],
                               "task_options": {"score_scale": 1e-3, "score_offset": -74.93},
                               "searcher": "random", "seed": 3, "budget": {"evaluations": 12}}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--out", tmp_path / "run", check=True)
    bests = re.findall(r"best score=(-?[0-9.]+)", p.stderr)
    assert bests and len(bests[-1].lstrip("-").replace(".", "")) >= 5, bests  # -74.93 from start to end before
    shown = run_cli("show", "--plugins-dir", PLUGIN_DIR, tmp_path / "run", check=True).stdout
    rows = [line.split() for line in shown.splitlines() if re.match(r"\d+\s+\d+\s+-74", line)]
    assert len(rows) == 10 and len({r[2] for r in rows}) == 10, shown  # ten random circuits, ten scores
