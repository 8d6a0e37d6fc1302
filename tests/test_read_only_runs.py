"""A run folder this process may not write (a colleague's results, an archive) is read by show, compare, report
and export all the same; what would be written into it is refused in one line."""
import multiprocessing
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

import nasfw
from nasfw.errors import ConfigError, StoreError, output_folder
from nasfw.report import write_report
from nasfw.store import Store
from tests.conftest import PLUGIN_DIR

NOBODY = 65534


def _as_another_user(fn):
    """fn() where the folders' permissions apply: root writes everywhere, so as root it runs in a forked child
    that has dropped to an unprivileged user (the modules it needs are already imported)."""
    if os.geteuid() != 0:
        return fn()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child():
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        try:
            queue.put(("ok", fn()))
        except Exception as e:  # noqa: BLE001 - handed back to the test as text
            queue.put(("raised", f"{type(e).__name__}: {e}"))
    p = ctx.Process(target=child)
    p.start()
    kind, value = queue.get(timeout=120)
    p.join()
    if kind == "raised":
        raise AssertionError(value)
    return value


@pytest.fixture
def read_only_run():
    base = Path(tempfile.mkdtemp(prefix="nasfw-ro-"))  # not under pytest's folder, which only its owner may enter
    base.chmod(0o755)
    run = base / "run"
    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=4, out=run, progress=False)
    write_report(run)  # the folders a report and an export would write into again exist, unwritable
    (run / "export").mkdir(exist_ok=True)
    for p in [run, *run.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield run
    for p in [run, *run.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(base)


def test_a_read_only_run_is_read_and_nothing_is_written_into_it(read_only_run):
    run = read_only_run
    before = sorted(p.name for p in run.iterdir())

    def look():
        view = nasfw.open_run(run)
        comp = nasfw.compare_runs([run])
        errors = []
        for call in (lambda: output_folder(run / "export", "--out (default RUN/export)"),
                     lambda: write_report(run, field="--out (default RUN/report)")):
            try:
                call()
            except ConfigError as e:
                errors.append(str(e))
        return view.summary()["ok"], view.state(), len(comp.runs), errors
    ok, state, compared, errors = _as_another_user(look)
    assert (ok, state, compared) == (4, "finished", 1)
    assert errors == [f"--out (default RUN/{what}) = {str(run / what)!r}: this process may not write into that "
                      "folder; allowed: a folder it can write" for what in ("export", "report")]
    assert sorted(p.name for p in run.iterdir()) == before


def test_a_read_only_store_refuses_writes(tmp_path):
    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=2, out=tmp_path / "run", progress=False)
    store = Store(tmp_path / "run", read_only=True)
    assert store.count() == 2
    with pytest.raises(StoreError, match="cannot write to .*readonly"):
        store.set_meta("x", 1)
    store.close()
    assert not list((tmp_path / "run").glob("nasfw.sqlite-*"))  # the log's files go with the last connection
    with pytest.raises(StoreError, match="is not a nasfw run folder"):
        Store(tmp_path / "elsewhere", read_only=True)
    assert not (tmp_path / "elsewhere").exists()


def test_the_write_ahead_index_that_cannot_be_made_falls_back_to_an_immutable_read(tmp_path):
    """SQLite's read-only mode makes the WAL index (nasfw.sqlite-shm) beside the file; where it cannot, the file
    is read as immutable. A folder of that name stands in for a folder this process may not write."""
    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, out=tmp_path / "run", progress=False)
    (tmp_path / "run" / "nasfw.sqlite-shm").mkdir()
    assert Store(tmp_path / "run", read_only=True).count() == 3
    assert nasfw.open_run(tmp_path / "run").summary()["ok"] == 3
