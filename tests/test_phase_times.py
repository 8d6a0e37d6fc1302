"""Where a run's time goes: each phase's wall seconds are stored, summed over resumes, and shown by the search,
`nasfw show` and the report (the search's seconds alone said 11.5 s of a three-minute QuantumNAS run)."""
import json

import nasfw
from nasfw.report import duration_text, phase_times_text
from nasfw.store import Store

from tests.conftest import PLUGIN_DIR


def test_each_phase_is_timed_and_resume_adds_to_it(tmp_path, run_cli):
    out = tmp_path / "run"
    config = {"phases": {"supernet": {"sleep_s": 0.8}}, "workers": 1}
    nasfw.search("toy", config=config, plugins_dirs=[PLUGIN_DIR], budget=4, out=out, progress=False)
    times = Store(out, create=False).phase_seconds()
    assert set(times) == {"supernet", "search"} and times["supernet"] >= 0.8 and times["search"] > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["phase_s"] == {k: round(v, 3) for k, v in times.items()}
    assert summary["elapsed_s"] == round(times["search"], 3)
    shown = run_cli("show", out, check=True).stdout
    assert f"\ntime: {phase_times_text(times)}\n" in shown and "; " in shown and " in all" in shown
    assert f"- time: {phase_times_text(times)}\n" in (out / "report" / "report.md").read_text()

    nasfw.search("toy", config=config, plugins_dirs=[PLUGIN_DIR], budget=8, out=out, progress=False, resume=True)
    again = Store(out, create=False).phase_seconds()
    assert again["supernet"] == times["supernet"]  # trained once, not again on resume
    assert again["search"] > times["search"]  # the second start's search time is added to the first's


def test_a_run_stored_before_phases_were_timed_keeps_its_search_time(tmp_path):
    store = Store(tmp_path)
    store.set_meta("elapsed_s", 12.5)
    assert store.phase_seconds() == {"search": 12.5}
    store.add_phase_seconds("finalize", 3.0)
    assert store.phase_seconds() == {"search": 12.5, "finalize": 3.0}


def test_durations_read_as_people_write_them():
    assert duration_text(11.49) == "11.5 s"
    assert duration_text(167.2) == "2 min 47 s" and duration_text(59.97) == "1 min 00 s"
    assert duration_text(3 * 3600 + 5 * 60 + 20) == "3 h 05 min"
    assert phase_times_text({"search": 11.5}) == "search 11.5 s"
    assert phase_times_text({"finalize": 60.0, "search": 11.5, "supernet": 95.5}) == \
        "supernet 1 min 36 s, search 11.5 s, finalize 1 min 00 s; 2 min 47 s in all"
