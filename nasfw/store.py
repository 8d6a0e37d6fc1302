"""The run's record: one SQLite file in the run folder, written by the driver process only.

Workers (processes or Ray trials) send results back; only the driver writes, so there is no locking
between writers (the trouble Optuna's SQLite storage has under parallel workers). Each evaluation is
committed as it finishes, in WAL mode, so a driver killed with SIGKILL loses nothing that had finished.
"""
from __future__ import annotations

import json
import os
import pickle
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from nasfw.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arch_key TEXT NOT NULL,
    arch TEXT NOT NULL,
    metrics TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    duration_s REAL NOT NULL,
    worker TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    phase TEXT NOT NULL DEFAULT 'search'
);
CREATE INDEX IF NOT EXISTS evaluations_key ON evaluations(arch_key);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    last_evaluation INTEGER NOT NULL,
    created REAL NOT NULL,
    state BLOB NOT NULL
);
"""


@dataclass
class Evaluation:
    """One stored evaluation. Its repr (what `run.top(5)` shows in a notebook) keeps what a person compares:
    the number, status, metrics, arch and error; the key (the arch again, as JSON), the worker and the clock
    times are attributes still."""
    id: int
    arch_key: str = field(repr=False)
    arch: dict
    metrics: dict
    status: str
    error: str | None
    duration_s: float = field(repr=False)
    worker: str = field(repr=False)
    started: float = field(repr=False)
    finished: float = field(repr=False)
    phase: str = field(repr=False)


def runs_inside(folder: Path, shown: int = 5) -> str:
    """'; it holds runs: a, b' for a folder of runs (`runs/`) given where one run is wanted."""
    try:
        runs = sorted(c.name for c in folder.iterdir() if (c / Store.FILENAME).is_file())
    except OSError:
        return ""
    if not runs:
        return ""
    more = f" and {len(runs) - shown} more" if len(runs) > shown else ""
    return f"; it holds runs: {', '.join(runs[:shown])}{more} (name one, e.g. {str(folder / runs[0])!r})"


class Store:
    FILENAME = "nasfw.sqlite"

    def __init__(self, run_dir: str | Path, create: bool = True, read_only: bool = False):
        """`read_only` for those who only look (show, report, compare, export): a run folder they may not write
        (a colleague's, an archive) is read all the same, and nothing is written into it."""
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / self.FILENAME
        if (read_only or not create) and not self.path.exists():
            raise StoreError(f"{str(self.run_dir)!r} is not a nasfw run folder (no {self.FILENAME} inside)"
                             + runs_inside(self.run_dir))
        if read_only:
            self.db = _connect_read_only(self.path)
            return
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot write the run folder {str(self.run_dir)!r}: {e}") from None

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.Error as e:  # full disk, read-only folder, ...
            raise StoreError(f"cannot write to {str(self.path)!r}: {e}") from None

    # --- meta ------------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def phase_seconds(self) -> dict[str, float]:
        """Wall seconds spent in each phase (supernet, search, finalize), summed over every start of the run:
        a QuantumNAS or TinyNAS run spends most of its time training, outside the search. A run from before
        phases were timed has its search time only, under the older `elapsed_s`."""
        times = self.get_meta("phase_s")
        if times is None:
            old = self.get_meta("elapsed_s")
            times = {"search": float(old)} if old is not None else {}
        return times

    def add_phase_seconds(self, phase: str, seconds: float) -> None:
        times = self.phase_seconds()
        self.set_meta("phase_s", {**times, phase: times.get(phase, 0.0) + seconds})

    # --- evaluations -------------------------------------------------------------------------------
    def add(self, arch_key: str, arch: dict, metrics: dict, status: str, error: str | None, duration_s: float,
            worker: str, started: float, finished: float | None = None, phase: str = "search") -> int:
        cur = self._write(
            "INSERT INTO evaluations(arch_key, arch, metrics, status, error, duration_s, worker, started, finished,"
            " phase) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (arch_key, json.dumps(arch), json.dumps(metrics, allow_nan=True), status, error, float(duration_s),
             str(worker), float(started), float(finished if finished is not None else time.time()), phase))
        return int(cur.lastrowid)

    def evaluations(self, after_id: int = 0, phase: str | None = "search") -> Iterator[Evaluation]:
        sql = "SELECT * FROM evaluations WHERE id > ?"
        args: tuple = (after_id,)
        if phase is not None:
            sql += " AND phase = ?"
            args += (phase,)
        for row in self.db.execute(sql + " ORDER BY id", args):
            yield Evaluation(row[0], row[1], json.loads(row[2]), json.loads(row[3]), *row[4:])

    def count(self, status: str | None = None, phase: str = "search") -> int:
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM evaluations WHERE phase = ?", (phase,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM evaluations WHERE status = ? AND phase = ?",
                               (status, phase)).fetchone()[0]

    def last_id(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM evaluations").fetchone()
        return int(row[0] or 0)

    # --- searcher checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, state: dict, last_evaluation: int) -> None:
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        self._write("INSERT INTO checkpoints(last_evaluation, created, state) VALUES (?,?,?)",
                    (last_evaluation, time.time(), blob))
        # keep the newest few only: checkpoints can be large (controller weights, histories)
        self._write("DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC LIMIT 3)", ())

    def latest_checkpoint(self) -> tuple[dict, int] | None:
        row = self.db.execute("SELECT state, last_evaluation FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return pickle.loads(row[0]), int(row[1])

    def close(self) -> None:
        self.db.close()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. Where this process may write the folder, an ordinary one made query-only:
    closing it removes the write-ahead log's files as a writer's close does (SQLite's read-only mode leaves them
    behind, beside every run `nasfw show` had looked at). Elsewhere read-only mode, which still wants to make the
    log's index beside the file; where even that fails ("attempt to write a readonly database") the file is read
    as immutable (a search still writing there is then not seen past its last checkpoint)."""
    from urllib.request import pathname2url

    uri = f"file:{pathname2url(str(path.resolve()))}"
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    attempts = ([f"{uri}?mode=rw"] if writable else []) + [f"{uri}?mode=ro", f"{uri}?mode=ro&immutable=1"]
    for attempt in attempts:
        try:
            db = sqlite3.connect(attempt, uri=True, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA query_only=ON")
            db.execute("SELECT count(*) FROM meta").fetchone()
            return db
        except sqlite3.Error as e:
            error = e
    raise StoreError(f"cannot read the run folder {str(path.parent)!r}: {error}")
