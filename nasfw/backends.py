"""Where expensive evaluations run. The local backend uses the driver itself (one worker, no timeout) or a
pool of N spawned worker processes; the driver stays the only writer of the store either way."""
from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import multiprocessing as mp
import time

from nasfw.evaluation import EvaluatorSpec, evaluate
from nasfw.searchers.base import FAILED, LOST, Result
from nasfw.space import Arch

Done = tuple[Arch, Result, float, float, str]  # arch, result, started, duration, worker


def _init_worker() -> None:
    try:  # two busy processes on two cores: one thread each (see the project's facts on threads)
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


class LocalBackend:
    def __init__(self, spec: EvaluatorSpec, workers: int = 1, timeout_s: float | None = None):
        self.spec, self.workers, self.timeout_s = spec, workers, timeout_s or None
        self.inline = workers == 1 and self.timeout_s is None
        self.pool: cf.ProcessPoolExecutor | None = None
        self.running: dict[cf.Future, tuple[Arch, float]] = {}
        self.ready: list[Done] = []

    def _pool(self) -> cf.ProcessPoolExecutor:
        if self.pool is None:
            self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                               initializer=_init_worker)
        return self.pool

    def free_slots(self) -> int:
        return self.workers - len(self.running) - len(self.ready) if not self.inline else 1 - len(self.ready)

    def submit(self, arch: Arch) -> None:
        if self.inline:
            result, started, duration, worker = evaluate(self.spec, arch)
            self.ready.append((arch, result, started, duration, worker))
            return
        try:
            fut = self._pool().submit(evaluate, self.spec, arch)
        except BrokenProcessPool:  # a worker died since the last wait(): collect that pool's outcomes first
            self._harvest_broken()
            fut = self._pool().submit(evaluate, self.spec, arch)
        self.running[fut] = (arch, time.time())

    def _harvest_broken(self) -> None:
        """Every evaluation of a broken pool: its result if it finished, otherwise lost with it."""
        now = time.time()
        for fut, (arch, started) in self.running.items():
            if fut.done() and fut.exception() is None:
                self.ready.append((arch, *fut.result()))
            else:
                err = fut.exception() if fut.done() else None
                msg = f"{type(err).__name__}: {err}" if err else "the process pool broke"
                self.ready.append((arch, Result(LOST, {}, f"worker died: {msg}"), started, now - started, "lost"))
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
            arch, started = self.running.pop(fut)
            try:
                result, st, duration, worker = fut.result()
                out.append((arch, result, st, duration, worker))
            except Exception as e:  # a worker process that died (killed, out of memory)
                out.append((arch, Result(LOST, {}, f"worker died: {type(e).__name__}: {e}"), started,
                            time.time() - started, "lost"))
                broken = True
        if broken:
            self._restart()
        if self.timeout_s:
            now = time.time()
            late = [f for f, (_, st) in self.running.items() if now - st > self.timeout_s]
            if late:
                for f in late:
                    arch, st = self.running.pop(f)
                    out.append((arch, Result(FAILED, {}, f"timeout: still running after {self.timeout_s:g} s"),
                                st, now - st, "timeout"))
                self._restart()  # the only way to stop a hung evaluation is to end its process
        return out

    def _restart(self) -> None:
        """Kill the pool and resubmit what was still running on it."""
        if self.pool is None:
            return
        pending = [(a, st) for a, st in self.running.values()]
        for p in list(getattr(self.pool, "_processes", {}).values()):
            p.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None
        self.running = {}
        for arch, _ in pending:
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
