"""The search driver: the one place that asks, records and checkpoints, whichever backend evaluates.

The local backend pushes candidates to worker processes from a loop; the Ray backend lets Ray Tune pull
them through a `ray.tune.search.Searcher` adapter. Both call the same `next_arch` / `record`, so the store,
the progress bar, budgets and checkpoints behave the same and a run's results do not depend on the backend.
"""
from __future__ import annotations

import math
import sys
import time

from nasfw.campaign import Campaign
from nasfw.cost import nearest_misses, scalarize, total_violation
from nasfw.evaluation import Pipeline
from nasfw.number_format import LEAST, digits_apart
from nasfw.progress import progress_bar
from nasfw.replay import Replayed, StoredResults
from nasfw.searchers.base import FAILED, INFEASIBLE, LOST, OK, Result
from nasfw.space import Arch
from nasfw.store import Store


# a search whose first this many evaluations (in this session) all failed stops: the task, a cost model or an
# option is broken for every candidate, and the rest of the budget would fail the same way (`evaluation.fail_fast`)
FAIL_FAST = 10


def _progress(total: int | None, initial: int, enabled: bool):
    return progress_bar(total, "search", enabled, leave=True, initial=initial, unit="eval")


class SearchDriver:
    def __init__(self, campaign: Campaign, pipeline: Pipeline, store: Store, progress: bool,
                 replay: StoredResults | None = None):
        self.campaign, self.pipeline, self.store = campaign, pipeline, store
        self.searcher = pipeline.searcher
        self.replay = replay  # retracing a resumed ordered run: the stored rows are counted as they are met again
        stored = store.count(OK) + store.count(FAILED)
        self.n_done = 0 if replay is not None else stored
        self.budget = campaign.budget_evaluations
        self.wall = campaign.budget_wall_time_s
        self.elapsed_before = float(store.phase_seconds().get("search", 0.0))
        self.t0 = time.time()
        self.every = float(campaign.evaluation.get("checkpoint_every_s", 30.0))
        self.last_ckpt = time.time()
        self.exhausted = False
        self.fail_fast = int(campaign.evaluation.get("fail_fast", FAIL_FAST))
        self.any_ok = store.count(OK) > 0
        self.n_failed, self.failed_now = store.count(FAILED), 0
        self.stop_reason: str | None = None
        self.environment = (store.get_meta("environment") or [None])[-1]  # this session's (the runner's record)
        self.workers_seen: set[str] = set()
        self.best = self._best_stored()
        self.best_digits = LEAST
        self.bar = _progress(self.budget, stored, progress)
        self._show_best()

    def _best_stored(self) -> float | None:
        best = None
        for e in self.store.evaluations():
            if e.status == OK:
                best = self._better(best, e.metrics)
        return best

    def _better(self, best: float | None, metrics: dict) -> float | None:
        if total_violation(self.campaign.constraints, metrics) > 0:
            return best  # the bar shows the best that meets the constraints
        v = scalarize(self.campaign.objectives, self.campaign.constraints, metrics)
        return v if v != -math.inf and (best is None or v > best) else best

    def _show_best(self) -> None:
        """The bar's note: the best so far, once any failed how many (a bar that ran to the end of a budget of
        failures said nothing of them), and with `budget.wall_time_s` the time left of it."""
        parts = []
        if self.best is not None:
            o = self.campaign.objectives[0]
            parts.append(f"best {o.metric}={o.sign * self.best:.{self.best_digits}g}")
        if self.n_failed:
            parts.append(f"{self.n_failed} failed")
        if self.wall is not None:  # tqdm's ETA is for the evaluations (none without a count): the clock's own
            from tqdm import tqdm

            left = self.wall - self.elapsed_before - (time.time() - self.t0)
            parts.append(f"{tqdm.format_interval(max(left, 0.0))} of the time budget left")
        if parts:
            self.bar.set_postfix_str(", ".join(parts), refresh=False)

    def out_of_time(self) -> bool:
        return self.wall is not None and self.elapsed_before + time.time() - self.t0 >= self.wall

    def finished(self) -> bool:
        """Whether the search is over once the evaluations in flight are in."""
        return (self.exhausted or self.stop_reason is not None or self.out_of_time()
                or (self.budget is not None and self.n_done >= self.budget))

    def want_more(self) -> bool:
        """Whether another evaluation may start (in-flight ones count against the budget)."""
        if self.exhausted or self.stop_reason is not None or self.out_of_time():
            return False
        return self.budget is None or self.n_done + len(self.pipeline.in_flight) < self.budget

    def next_arch(self) -> Arch | None:
        """The next candidate for a worker. One a cheap cost model could not cost is recorded here as a failed
        evaluation (it counts against the budget and `fail_fast` as any failure does) and never sent out."""
        while True:
            arch = self.pipeline.next()
            if arch is None:
                self.exhausted = True
                return None
            error = self.pipeline.cheap_error(arch)
            if error is None:
                return arch
            self.record(arch, Result(FAILED, {}, error), time.time(), 0.0, "driver")
            if not self.want_more():
                return None

    def record(self, arch: Arch, result: Result, started: float, duration: float, worker: str) -> None:
        key = self.pipeline.space.key(arch)
        if self._replayed(key, worker):  # stored before: told, counted against the budget, not stored again
            result = self.pipeline.complete(arch, result)
            self.n_done += result.status != LOST
            return
        result = self.pipeline.complete(arch, result)
        self.store.add(key, arch, result.metrics, result.status, result.error, duration, worker, started,
                       started + duration)
        if result.status == LOST:
            return  # recorded; the budget is for evaluations that ran
        self.n_done += 1
        if result.status == OK:
            self._check_metrics(result.metrics)
            best = self._better(self.best, result.metrics)
            if self.best is not None and best != self.best:  # enough digits that the improvement shows
                self.best_digits = max(self.best_digits, digits_apart([self.best, best]))
            self.best = best
            self.any_ok = True
        elif result.status == FAILED:
            self.n_failed += 1
            self.failed_now += 1
            if not self.any_ok and self.fail_fast and self.failed_now >= self.fail_fast and self.stop_reason is None:
                self.stop_reason = (f"the first {self.failed_now} evaluations of this session all failed, so the "
                                    "rest of the budget most likely would too (evaluation.fail_fast: "
                                    f"{self.fail_fast}; 0 spends the whole budget whatever fails)")
        self.bar.update(1)
        self._show_best()
        self.maybe_checkpoint()

    def _replayed(self, key: str, worker: str) -> bool:
        """Whether a result is one the store already holds. A candidate a cheap model could not cost is recorded
        in the driver, so retracing meets its stored row here rather than in the backend. A result evaluated now
        while stored ones were never asked for again means the retracing went another way: those are told to
        the searcher now, as a checkpoint's replay would, and the run goes on from there."""
        if self.replay is None:
            return False
        if isinstance(worker, Replayed):
            self.replay.waiting -= 1
            return True
        if worker == "driver" and self.replay.take(key) is not None:
            return True
        if self.replay.left:
            self._give_up_retracing()
        return False

    def _give_up_retracing(self) -> None:
        rows = self.replay.leftovers()
        self.bar.write(f"note: the resumed run did not retrace the stored one ({len(rows)} stored evaluations were "
                       "not proposed again: a searcher that does not repeat itself, or other code); they are told "
                       "to the searcher as they are", file=sys.stderr)
        for e in rows:
            res = Result(e.status, e.metrics, e.error)
            if e.status != LOST:
                self.pipeline.cache[e.arch_key] = res
            self.n_done += e.status in (OK, FAILED)
            self.searcher.tell(e.arch, res if e.status != LOST else Result(FAILED, {}, e.error))

    def check_worker_code(self, worker: str, code: str | None) -> None:
        """A Ray worker whose code differs from the driver's (a node installed with another torch or an older
        nasfw) is noted once per difference, kept in the store (meta `worker_code`: the differences, each with
        the workers that had it) and said on the terminal: its evaluations may not compare with the others."""
        if code is None or worker in self.workers_seen:
            return
        self.workers_seen.add(worker)
        from nasfw.provenance import worker_changes

        diff = "; ".join(worker_changes(self.environment, code))
        if not diff:
            return
        known = self.store.get_meta("worker_code") or {}
        known.setdefault(diff, []).append(worker)
        self.store.set_meta("worker_code", known)
        if len(known[diff]) == 1:
            self.bar.write(f"note: worker {worker} runs other code than this driver ({diff}); its evaluations may "
                           "not compare with the others (`nasfw show` lists every such worker)", file=sys.stderr)

    def _check_metrics(self, metrics: dict) -> None:
        """An objective the task does not report would rank every candidate as -inf and the whole budget would
        be spent on a random search; a constraint on a metric nothing reports would never be applied. The first
        evaluation (already stored) stops the run with the metrics that were there."""
        fields = [(f"objectives[{i}]", o.metric) for i, o in enumerate(self.campaign.objectives)]
        fields += [(f"constraints[{i}]", c.metric) for i, c in enumerate(self.campaign.constraints)]
        for field, metric in fields:
            if metric not in metrics:
                import difflib

                from nasfw.errors import ConfigError

                close = difflib.get_close_matches(metric, sorted(metrics), n=2, cutoff=0.5)
                hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
                raise ConfigError(f"{field}.metric = {metric!r}: neither the task nor a cost model reported such a "
                                  f"metric{hint}; reported: {', '.join(sorted(metrics))}")

    def maybe_checkpoint(self, force: bool = False) -> None:
        if self.replay is not None and not self.replay.done:
            return  # the searcher has not seen every stored row yet: a checkpoint now would skip some on resume
        if force or time.time() - self.last_ckpt >= self.every:
            try:
                self.store.save_checkpoint(self.searcher.state_dict(), self.store.last_id())
            except Exception:  # state that became unpicklable during the search: name the searcher's attributes
                self.searcher.check_state()
                raise
            self.last_ckpt = time.time()

    def close(self) -> None:
        self.bar.close()
        self.store.add_phase_seconds("search", time.time() - self.t0)

    def finish(self) -> None:
        self.maybe_checkpoint(force=True)
        self.store.set_meta("search_done", True)
        if self.stop_reason is not None:
            self.store.set_meta("stopped", self.stop_reason)
        elif self.exhausted:
            reason = self.pipeline.stop_reason or ("the searcher proposed only already-evaluated or infeasible "
                                                   f"architectures {self.pipeline.max_duplicates} times in a row")
            size = self.pipeline.space_size
            if not self.pipeline.stop_reason and size < float("inf"):  # a searcher that filters out infeasible
                # archs itself leaves them out of the count; the share taken says the space is nearly done
                reason += f" ({len(self.pipeline.cache):,} of the space's {size:,.0f} architectures taken)"
            skipped = [e.metrics for e in self.store.evaluations() if e.status == INFEASIBLE]
            misses = nearest_misses(self.campaign.constraints, skipped)
            if misses:  # a bound nothing in the space meets reads as one, with the nearest value seen
                reason += f"; the {len(skipped)} skipped as infeasible broke {'; '.join(misses)}"
            self.store.set_meta("stopped", reason)
        elif self.store.get_meta("stopped"):  # an earlier session's reason no longer holds (a resumed run that went
            self.store.set_meta("stopped", None)  # on to its budget after the cause was fixed)
