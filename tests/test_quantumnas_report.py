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
