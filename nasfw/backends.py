"""Where expensive evaluations run. The local backend uses the driver itself (one worker, no timeout) or a
pool of N spawned worker processes; the driver stays the only writer of the store either way.

With `evaluation.timeout_s`, an evaluation's clock starts when its worker begins it, not when the driver
hands it over: each worker reports the start on a queue once its process is up and its task is built, so a
slow process start (a loaded machine, a pool restarted after a timeout) does not count against the
evaluation. The start and setup have their own, generous limit (`SETUP_LIMIT_S`).

A pool whose processes all die before they are ready (an import that fails in a fresh process; a script that
calls `nasfw.search` at its top level, which every spawned worker imports again) would be restarted for ever,
each of its evaluations lost and proposed again. After `DEAD_START_LIMIT` such pools in a row the run stops with
an error that says why; a worker that dies during an evaluation (out of memory, a crash) is still survived."""
from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
import itertools
import multiprocessing as mp
import time
from typing import Any

from nasfw.evaluation import SETUP_LIMIT_S, EvaluatorSpec, evaluate, prepare, timeout_error
from nasfw.searchers.base import FAILED, LOST, Result
from nasfw.space import Arch

Done = tuple[Arch, Result, float, float, str]  # arch, result, started, duration, worker
DEAD_START_LIMIT = 3  # pools in a row whose workers all died before they were ready

_STARTS: Any = None  # in a worker process: the queue it reports the start of each evaluation on


def _init_worker(starts: Any = None, ready: Any = None) -> None:
    global _STARTS
    _STARTS = starts
    _exit_with_parent()
    if ready is not None:  # this process got through its start (the driver tells dead starts from crashes by it)
        with ready.get_lock():
            ready.value += 1
    try:  # two busy processes on two cores: one thread each (see the project's facts on threads)
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _exit_with_parent(every_s: float = 2.0) -> None:
    """A worker ends when the driver is gone. A driver killed outright (SIGKILL, the out-of-memory killer) takes
    no worker with it, and the pool's queues give its workers no end of input: they waited, each holding its task
    (a dataset, a trained supernet), for ever. An orphan is handed to another parent, which this thread notices."""
    import os
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, name="nasfw-exit-with-parent", daemon=True).start()


def _evaluate_in_worker(spec: EvaluatorSpec, arch: Arch, token: int):
    prepare(spec)
    if _STARTS is not None:
        _STARTS.put((token, time.time()))
    return evaluate(spec, arch)


@dataclass
class _Running:
    arch: Arch
    token: int
    submitted: float
    started: float | None = None  # when the worker began it (reported on the queue)


def check_main_importable(why: str) -> None:
    """Spawned workers import the caller's main script again, by its path. A script read from standard input
    (`python - <<EOF`) has the path '<stdin>', which no worker can open: every one would die at its start, and
    the run would stop only after DEAD_START_LIMIT pools with a hint about the main guard that does not apply."""
    import os
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return  # a notebook or `python -c` (no file: workers skip it), or `python -m` (imported by name)
    if not os.path.isabs(path) and mp.process.ORIGINAL_DIR is not None:
        path = os.path.join(mp.process.ORIGINAL_DIR, path)
    if not os.path.isfile(path):
        from nasfw.errors import WorkerError

        raise WorkerError(f"{why} evaluates in worker processes, which import the calling script by its path, and "
                          f"{getattr(main, '__file__')!r} is not a file (a script read from standard input?); save "
                          "the script to a file and run that, or evaluate in this process (workers: 1, no "
                          "evaluation.timeout_s)")


class LocalBackend:
    def __init__(self, spec: EvaluatorSpec, workers: int = 1, timeout_s: float | None = None):
        self.spec, self.workers, self.timeout_s = spec, workers, timeout_s or None
        self.setup_limit_s = max(SETUP_LIMIT_S, self.timeout_s or 0.0)
        self.inline = workers == 1 and self.timeout_s is None
        self.pool: cf.ProcessPoolExecutor | None = None
        self.starts: Any = None
        self.ready_workers: Any = None  # how many processes of the current pool got through their start
        self.dead_starts = 0  # pools in a row that broke with no process ready
        self.running: dict[cf.Future, _Running] = {}
        self.ready: list[Done] = []
        self._tokens = itertools.count()

    def _pool(self) -> cf.ProcessPoolExecutor:
        if self.pool is None:
            ctx = mp.get_context("spawn")
            self.starts = ctx.SimpleQueue() if self.timeout_s else None  # a new pool, a new queue
            self.ready_workers = ctx.Value("i", 0)
            self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                               initargs=(self.starts, self.ready_workers))
        return self.pool

    def free_slots(self) -> int:
        return self.workers - len(self.running) - len(self.ready) if not self.inline else 1 - len(self.ready)

    def submit(self, arch: Arch) -> None:
        if self.inline:
            result, started, duration, worker = evaluate(self.spec, arch)
            self.ready.append((arch, result, started, duration, worker))
            return
        token = next(self._tokens)
        try:
            fut = self._pool().submit(_evaluate_in_worker, self.spec, arch, token)
        except BrokenProcessPool:  # a worker died since the last wait(): collect that pool's outcomes first
            self._note_break()
            self._harvest_broken()
            fut = self._pool().submit(_evaluate_in_worker, self.spec, arch, token)
        self.running[fut] = _Running(arch, token, time.time())

    def _harvest_broken(self) -> None:
        """Every evaluation of a broken pool: its result if it finished, otherwise lost with it."""
        now = time.time()
        for fut, run in self.running.items():
            if fut.done() and fut.exception() is None:
                self.ready.append((run.arch, *fut.result()))
            else:
                err = fut.exception() if fut.done() else None
                msg = f"{type(err).__name__}: {err}" if err else "the process pool broke"
                self.ready.append((run.arch, Result(LOST, {}, f"worker died: {msg}"), run.submitted,
                                   now - run.submitted, "lost"))
        self.running = {}
        self.close()

    def busy(self) -> bool:
        return bool(self.running or self.ready)

    def wait(self, poll_s: float = 1.0) -> list[Done]:
        """Finished evaluations (blocks until at least one finishes or a timeout fires)."""
        if self.ready:
            out, self.ready = self.ready, []
            return out
        if not self.running:
            return []
        timeout = poll_s if self.timeout_s else None
        done, _ = cf.wait(list(self.running), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[Done] = []
        broken = False
        for fut in done:
            run = self.running.pop(fut)
            try:
                result, st, duration, worker = fut.result()
                out.append((run.arch, result, st, duration, worker))
            except Exception as e:  # a worker process that died (killed, out of memory)
                out.append((run.arch, Result(LOST, {}, f"worker died: {type(e).__name__}: {e}"), run.submitted,
                            time.time() - run.submitted, "lost"))
                broken = True
        if broken:
            self._note_break()
            self._restart()
        if self.timeout_s:
            out += self._time_out()
        return out

    def _note_break(self) -> None:
        """Count a broken pool none of whose processes got ready; stop the run after DEAD_START_LIMIT in a row."""
        dead = self.ready_workers is not None and self.ready_workers.value == 0
        self.dead_starts = self.dead_starts + 1 if dead else 0
        if self.dead_starts >= DEAD_START_LIMIT:
            from nasfw.errors import WorkerError

            self.close()
            raise WorkerError(
                f"worker processes exit before they are ready ({self.dead_starts} process pools in a row); every "
                "finished evaluation is kept. If a script of yours calls nasfw.search at its top level, put the "
                "call under `if __name__ == \"__main__\":` (each worker process imports the script); otherwise "
                "run with workers: 1 to see the error in this process")

    def _note_starts(self) -> None:
        by_token = {run.token: run for run in self.running.values()}
        while self.starts is not None and not self.starts.empty():
            token, t = self.starts.get()
            if token in by_token:
                by_token[token].started = t

    def _time_out(self) -> list[Done]:
        """Fail what has run past the limit (or never began within the setup limit), then restart the pool."""
        self._note_starts()
        now, out = time.time(), []
        for f, run in list(self.running.items()):
            if run.started is not None and now - run.started > self.timeout_s:
                why = timeout_error(self.timeout_s)
            elif run.started is None and now - run.submitted > self.setup_limit_s:
                why = timeout_error(self.setup_limit_s, began=False)
            else:
                continue
            del self.running[f]
            st = run.started if run.started is not None else run.submitted
            out.append((run.arch, Result(FAILED, {}, why), st, now - st, "timeout"))
        if out:
            self._restart()  # the only way to stop a hung evaluation is to end its process
        return out

    def _restart(self) -> None:
        """Kill the pool and resubmit what was still running on it."""
        if self.pool is None:
            return
        pending = [run.arch for run in self.running.values()]
        self.close()
        self.running = {}
        for arch in pending:
            self.submit(arch)

    def close(self) -> None:
        if self.pool is not None:
            for p in list(getattr(self.pool, "_processes", {}).values()):
                p.kill()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def make_backend(name: str, spec: EvaluatorSpec, workers: int, timeout_s: float | None) -> LocalBackend:
    from nasfw.errors import ConfigError

    if name == "local":
        return LocalBackend(spec, workers, timeout_s)
    raise ConfigError(f"backend {name!r} has no process pool; allowed here: 'local' ('ray' runs through Ray Tune)")
