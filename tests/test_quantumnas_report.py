"""A QuantumNAS run's final table drawn as a picture, and the report that shows it (result_plots.py, report.py)."""
import json
import shutil
from pathlib import Path

from nasfw.report import write_report


def test_the_report_shows_the_final_rows_as_a_picture(quantumnas_tiny_run, tmp_path):
    """finalize draws its rows (quantumnas.png) and names the picture in summary.json; the report copies it beside
    report.md and links it, also for a run folder moved since (summary.json still names the old place)."""
    summary = json.loads((quantumnas_tiny_run / "summary.json").read_text())
    assert [Path(f).name for f in summary["task"]["figures"]] == ["quantumnas.png"]
    assert (quantumnas_tiny_run / "report" / "quantumnas.png").stat().st_size > 5000  # the run's own report
    moved = tmp_path / "moved"
    shutil.copytree(quantumnas_tiny_run, moved, ignore=shutil.ignore_patterns("report"))
    (moved / "quantumnas.png").rename(moved / "kept.png")  # gone from both places: no picture, no error
    assert "quantumnas.png" not in json.dumps(write_report(moved)["plots"])
    (moved / "kept.png").rename(moved / "quantumnas.png")
    written = write_report(moved)
    assert str(moved / "report" / "quantumnas.png") in written["plots"]
    assert (moved / "report" / "quantumnas.png").read_bytes() == (quantumnas_tiny_run / "quantumnas.png").read_bytes()
    assert "![quantumnas](quantumnas.png)" in (moved / "report" / "report.md").read_text()


def test_run_tables_show_the_noisy_accuracy_and_what_was_chosen(quantumnas_tiny_run, cli_in_process):
    """The tables of `nasfw show` and report.md have six metric columns. A QuantumNAS candidate reports twelve, and
    the noisy accuracy came tenth, after the noise-free losses: the column a noise-adaptive search is read by was
    never shown. Now the objective comes first, then the noisy accuracy beside the noise-free one, the size and the
    fidelity; a campaign's constrained metrics before the task's; and --metrics picks the columns."""
    from nasfw.cost import Constraint
    from nasfw.report import shown_metrics
    from nasfw.results import RunView

    view = RunView.open(quantumnas_tiny_run)
    assert shown_metrics(view, view.ok) == ["calibrated_loss", "accuracy", "noise_free_accuracy", "params",
                                            "two_qubit_gates", "fidelity"]
    view.campaign.constraints = [Constraint("gates", max=500)]
    assert shown_metrics(view, view.ok)[:3] == ["calibrated_loss", "gates", "accuracy"]
    assert shown_metrics(view, [], ["not_yet"]) == ["not_yet"]  # a run with nothing finished: nothing to check

    shown = cli_in_process("show", quantumnas_tiny_run, "--metrics", "depth,accuracy")
    assert shown.returncode == 0, shown.stderr
    head = next(line for line in shown.stdout.splitlines() if line.startswith("#  "))
    assert head.split()[:4] == ["#", "eval", "depth", "accuracy"]
    wrong = cli_in_process("show", quantumnas_tiny_run, "--metrics", "accuracy,acuracy")
    assert wrong.returncode != 0 and "top" not in wrong.stdout  # said before any table
    assert "['acuracy']" in wrong.stderr and "noise_free_accuracy" in wrong.stderr  # what is there to choose
    empty = cli_in_process("show", quantumnas_tiny_run, "--metrics", "accuracy,,depth")
    assert empty.returncode != 0 and "--metrics" in empty.stderr
