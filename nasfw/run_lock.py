"""One search per run folder at a time.

Two processes on one folder (a `--resume` typed while the first run still goes on in another terminal, a job
scheduled twice) both append to its store and checkpoint its searcher: the run ends with more evaluations than
its budget and a history neither search made. The search holds an exclusive `flock` on `RUN/.nasfw.lock` for as
long as it runs; the operating system drops it when the process ends, however it ends, so a crashed run never
leaves a stale lock to clean up. Readers (`nasfw show`, `report`, `nasfw.open_run`) do not take it. Where
`fcntl` does not exist (Windows) the folder is not locked.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from nasfw.errors import StoreError

FILENAME = ".nasfw.lock"


class RunLock:
    def __init__(self, fd: int | None, path: Path):
        self.fd, self.path = fd, path

    @classmethod
    def acquire(cls, run_dir: str | Path, what: str = "--out") -> "RunLock":
        """Lock `run_dir` (made if missing) or raise StoreError naming the search that holds it; `what` is how
        the caller names the run folder (`--out`, or `out=` from Python)."""
        folder = Path(run_dir)
        path = folder / FILENAME
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return cls(None, path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot write the run folder {str(folder)!r}: {e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise StoreError(f"output folder {str(folder)!r} is in use by another nasfw search ({holder}); wait for "
                             f"it to end (or stop it) before resuming, or choose another {what}") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        return cls(fd, path)

    def release(self) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def holder(run_dir: str | Path) -> str | None:
    """Who is searching in `run_dir` now ("process 123 on host, since ..."), None when no search holds it. A
    shared lock taken and dropped at once: it fails only while a search holds its exclusive one."""
    path = Path(run_dir) / FILENAME
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # never searched here, or not ours to read
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _read(fd)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"process {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError):
        return "a process that has not written its name yet"
