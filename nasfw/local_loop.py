"""The local backend's loop: ask the searcher, evaluate in the driver or worker processes, record.

It lives apart from the Ray backend because Ray Tune pulls candidates through its own Searcher adapter
(`ray_backend.py`); both record through `SearchDriver`."""
from __future__ import annotations

from collections import deque

from nasfw.driver import SearchDriver


def run_local(driver: SearchDriver, backend, in_order: bool = True) -> None:
    """Ask, evaluate, record. Results are recorded (stored and told to the searcher) in the order their candidates
    were asked for, and the k-th candidate is asked for right after the (k - workers)-th result is recorded: the
    searcher then sees the same sequence whichever worker finishes first, and a seeded run repeats itself (taking
    results as they came, two runs of quantumnas-vqe-h2 ended on circuits of 12 and 30 angles). The price: a
    worker whose evaluation finished before an older one waits for it (`evaluation.in_order: false` records
    results as they come instead). Finished results still waiting are recorded when the run stops (Ctrl-C, an
    error), so nothing evaluated is lost."""
    key = driver.pipeline.space.key
    asked: deque[str] = deque()  # candidates out, oldest first, until recorded
    finished: dict[str, tuple] = {}

    def ask() -> None:
        while driver.want_more() and backend.free_slots() > 0 and (len(asked) < backend.workers or not in_order):
            arch = driver.next_arch()
            if arch is None:
                break
            backend.submit(arch)
            asked.append(key(arch))

    try:
        ask()
        while backend.busy():
            for done in backend.wait():
                k = key(done[0])
                if in_order and k in asked:
                    finished[k] = done
                    continue
                if k in asked:
                    asked.remove(k)
                driver.record(*done)
            while asked and asked[0] in finished:
                driver.record(*finished.pop(asked.popleft()))
                ask()
            ask()
            driver.maybe_checkpoint()
    finally:
        try:
            for done in finished.values():
                driver.record(*done)
        finally:
            backend.close()
