"""Resuming an ordered run by retracing it: the searcher asks again from its seed and is answered from the store.

A checkpoint holds the searcher's state at one moment; the candidates it had asked for since were lost with the
process, so a resumed run told the later results to a searcher that had not asked for them and went its own
way: a run killed at 15 of 40 evaluations and resumed ended on other architectures than the uninterrupted run.
Recording results in the order they were asked for (`local_loop.run_local`) makes the searcher's whole history
a function of the seed and the results. So a resumed ordered run starts the searcher afresh and runs the same
loop, with `ReplayBackend` answering every candidate the store already holds without evaluating it and sending
the first one it does not hold (those in flight when the run stopped) to the workers: the run then goes on as
if it had never stopped, and one resumed with a larger budget as if it had been started with it.

The run has to have been recorded in order (`evaluation.in_order`: the local backend's default, on Ray when set)
by the same number of workers in every session (store meta `ordered_workers`); otherwise, or when the retracing
meets a candidate the store does not hold while stored results were never asked for again (a searcher that is not
repeatable, other code), the stored results left are told to the searcher as the checkpoint replay does, and the
run goes on from there. On Ray the adapter answers from the store itself (`ray_backend.NasfwTuneSearcher`)."""
from __future__ import annotations

from collections import defaultdict, deque

from nasfw.searchers.base import Result
from nasfw.space import Arch
from nasfw.store import Evaluation, Store

ORDERED_WORKERS = "ordered_workers"  # store meta: the worker count every session recorded in order with, or None


class Replayed(str):
    """A worker name that marks a result answered from the store: the driver tells it and does not store it."""


def can_retrace(store: Store, ordered: bool, workers: int) -> bool:
    """Whether this session can retrace the stored run, and note what this session records with. A run
    recorded as results came once (`evaluation.in_order: false`, Ray's default) or with another number of
    workers is resumed from its checkpoint from then on."""
    before = store.get_meta(ORDERED_WORKERS, "unset")
    fresh = store.count(phase="search") == 0
    now = workers if ordered else None
    store.set_meta(ORDERED_WORKERS, now if (fresh or before == now) else None)
    return not fresh and now is not None and before == now


class StoredResults:
    """The stored search rows by architecture key, oldest first, each handed out once."""

    def __init__(self, store: Store):
        self.rows: dict[str, deque[Evaluation]] = defaultdict(deque)
        for e in store.evaluations():
            self.rows[e.arch_key].append(e)
        self.left = sum(len(q) for q in self.rows.values())
        self.waiting = 0  # answered by the backend, not yet recorded by the driver

    def take(self, key: str) -> Evaluation | None:
        q = self.rows.get(key)
        if not q:
            return None
        self.left -= 1
        return q.popleft()

    def answer(self, arch: Arch, key: str) -> tuple | None:
        """The stored result for `arch` as a backend hands one back (arch, result, started, duration, worker), or
        None when the store holds none; it counts as waiting until the driver records it."""
        e = self.take(key)
        if e is None:
            return None
        self.waiting += 1
        return arch, Result(e.status, e.metrics, e.error), e.started, e.duration_s, Replayed(e.worker)

    def leftovers(self) -> list[Evaluation]:
        """What the retracing never asked for, in stored order; none are handed out after this."""
        out = sorted((e for q in self.rows.values() for e in q), key=lambda e: e.id)
        self.rows.clear()
        self.left = 0
        return out

    @property
    def done(self) -> bool:
        """Every stored row handed out and recorded: the searcher's state is the interrupted run's and more."""
        return self.left == 0 and self.waiting == 0


class ReplayBackend:
    """The run's backend, with stored candidates answered at once instead of evaluated."""

    def __init__(self, backend, stored: StoredResults, key):
        self.backend, self.stored, self.key = backend, stored, key
        self.workers = backend.workers
        self.ready: list[tuple] = []

    def free_slots(self) -> int:
        return self.backend.free_slots()

    def submit(self, arch: Arch) -> None:
        done = self.stored.answer(arch, self.key(arch))
        if done is None:
            self.backend.submit(arch)
            return
        self.ready.append(done)

    def busy(self) -> bool:
        return bool(self.ready) or self.backend.busy()

    def wait(self) -> list[tuple]:
        if self.ready:
            out, self.ready = self.ready, []
            return out
        return self.backend.wait()

    def close(self) -> None:
        self.backend.close()
