"""Everything between a searcher and the expensive evaluation, written once for every searcher and backend:
deduplication, the cheap-constraint filter, failure capture (exceptions, NaN) and retries.

`EvaluatorSpec` is a small picklable recipe: a worker process (or a Ray trial) rebuilds the task and
cost models from it through the registry, so no model or dataset crosses a process boundary.
"""
from __future__ import annotations

import math
import numbers
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping

from nasfw.cost import Constraint, total_violation
from nasfw.searchers.base import FAILED, INFEASIBLE, LOST, OK, Result, Searcher
from nasfw.space import Arch, Space


@dataclass(frozen=True)
class EvaluatorSpec:
    task: str
    task_options: dict
    hardware: tuple  # ((name, options), ...) of the cost models that are not cheap
    plugins_dirs: tuple = ()
    retries: int = 0
    # state shared by every evaluation (a trained supernet's weights): a file in the run folder for local
    # workers, an object-store reference on Ray; loaded once per worker process, never sent per evaluation
    shared_path: str | None = None
    shared_ref: Any = None

    def key(self) -> str:
        """What the built task depends on. The shared state's file is named by its path and its version (size and
        modification time): a run folder deleted and run again from the same Python session writes new supernet
        weights to the same path, and the task kept from the first run scored the second with the old weights."""
        from nasfw.provenance import file_version

        ref = None if self.shared_ref is None else self.shared_ref.hex()
        shared = None if self.shared_path is None else (self.shared_path, file_version(self.shared_path))
        return repr((self.task, sorted(self.task_options.items()), self.hardware, self.plugins_dirs, shared, ref))


_CACHE: dict[str, Any] = {}  # oldest first
CACHE_SIZE = 4  # a process evaluates for one campaign at a time; a few kept for a session that alternates


def _components(spec: EvaluatorSpec):
    """Build (and keep, per process) the task and expensive cost models a spec names.

    Names and options alone do not identify them in the process that gave `nasfw.search` its own objects: a
    notebook cell that redefines `evaluate` (or a second lambda, all named '<lambda>') registers another
    function under the same name, and the cache kept evaluating the first. So an entry also remembers the
    registered objects it was built from and is rebuilt when they are not the ones registered now."""
    from nasfw.registry import get_registry

    k = spec.key()
    reg = get_registry(spec.plugins_dirs)
    made_from = (_registered(reg, "tasks", spec.task),
                 *(_registered(reg, "cost_models", n) for n, _ in spec.hardware))
    hit = _CACHE.get(k)
    if hit is None or any(a is not b for a, b in zip(hit[2], made_from)):
        from nasfw.torch_device import evaluation_only

        with evaluation_only():  # this task only evaluates: no GPU needed here even if the driver trains on one
            task = reg.task(spec.task, **spec.task_options)
        shared = _load_shared(spec)
        if shared is not None:
            task.use_shared_state(shared)
        models = [reg.cost_model(n, **o) for n, o in spec.hardware]
        _CACHE[k] = (task, models, made_from)  # holding them keeps their ids from being reused
        while len(_CACHE) > CACHE_SIZE:  # a long session's earlier runs: each held its task (data, weights)
            _CACHE.pop(next(iter(_CACHE)))
    return _CACHE[k][:2]


def _registered(reg: Any, kind: str, name: str) -> Any:
    entry = reg.entries[kind].get(name)
    return None if entry is None else entry.obj


# how long a worker may take to start and build its task before an evaluation's own time limit begins
SETUP_LIMIT_S = 600.0


def timeout_error(limit_s: float, began: bool = True) -> str:
    """The reason a timed-out evaluation is recorded with, naming the limit that ran out (same on every backend)."""
    if began:
        return f"timeout: still running after {limit_s:g} s"
    return f"timeout: the worker did not begin it within {limit_s:g} s (process start and task setup)"


def prepare(spec: EvaluatorSpec) -> None:
    """Build a spec's components ahead of the first evaluation, so that `evaluation.timeout_s` bounds the
    evaluation itself and not the process start, imports and task construction (seconds on a loaded machine,
    and paid by every Ray trial). A failure here is left for `evaluate` to record, with its retries."""
    try:
        _components(spec)
    except Exception:
        pass


def _load_shared(spec: EvaluatorSpec) -> Any:
    if spec.shared_ref is not None:
        import ray

        return ray.get(spec.shared_ref)
    if spec.shared_path is not None:
        import pickle

        from nasfw.shared_arrays import internalise

        with open(spec.shared_path, "rb") as f:
            return internalise(pickle.load(f))
    return None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def evaluate(spec: EvaluatorSpec, arch: Arch) -> tuple[Result, float, float, str]:
    """Run one expensive evaluation; never raises. Returns (result, started, duration_s, worker)."""
    started = time.time()
    attempts = 1 + max(0, spec.retries)
    result = Result(FAILED, {}, "not run")
    for _ in range(attempts):
        try:
            task, models = _components(spec)
            metrics = _mapping(task.evaluate(arch), f"task {spec.task!r}")
            for m in models:
                metrics.update(_mapping(m.evaluate(arch), f"cost model {getattr(m, 'name', type(m).__name__)!r}"))
            values, bad = as_numbers(metrics)  # (not `numbers`: the module this file reads the number types from)
            if bad:
                result = Result(FAILED, values, f"metric {bad!r} is NaN or not a number: {metrics[bad]!r}")
                continue
            result = Result(OK, values)
            break
        except Exception as e:  # the evaluation's failure is data, not a crash
            tb = traceback.extract_tb(e.__traceback__)
            where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb and \
                not isinstance(e, NotMetrics) else ""  # NotMetrics names its source; the line would be ours
            result = Result(FAILED, {}, f"{type(e).__name__}: {e}{where}")
    return result, started, time.time() - started, worker_name()


class NotMetrics(TypeError):
    """An evaluate() that returned something other than {metric: value}: named as such, where dict() of a list
    said "cannot convert dictionary update sequence element #0 to a sequence" and of None "'NoneType' object is
    not iterable"."""


def _mapping(out: Any, who: str) -> dict:
    if not isinstance(out, Mapping):
        raise NotMetrics(f"evaluate of {who} returned {_short(out)}, not a mapping of metrics {{name: number}}")
    return dict(out)


def _short(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}" if value is not None else "None"


def as_numbers(metrics: dict) -> tuple[dict[str, float], str | None]:
    """The metrics as floats, and the first that is NaN or no number (None when all are numbers).

    A task's own code returns what its libraries give: numpy's float32 and int64 (an accuracy from
    `(pred == y).mean()` on float32 arrays) and torch's one-element tensors (`(pred == y).float().mean()`).
    Each holds one number and is taken as it; a run that refused them failed every evaluation with "is NaN or
    not a number: tensor(0.9100)". A longer array, text or None is still refused.
    """
    out: dict[str, float] = {}
    bad = None
    for k, v in metrics.items():
        x = _number(v)
        if x is None or math.isnan(x):
            bad = bad or k
        else:
            out[k] = x
    return out, bad


def _number(v: Any) -> float | None:
    if isinstance(v, numbers.Real):  # int, float, bool and numpy's scalars
        return float(v)
    count = v.numel() if hasattr(v, "numel") else getattr(v, "size", None)  # torch's method, numpy's attribute
    if count == 1 and hasattr(v, "item") and not isinstance(v, (str, bytes)):
        item = v.item()
        return float(item) if isinstance(item, numbers.Real) else None
    return None


def _cost(model: Any, arch: Arch) -> tuple[str | None, dict[str, float]]:
    """(None, metrics) or (why the model could not cost the arch, {}), in the words an evaluation's failure has."""
    name = f"cost model {getattr(model, 'name', type(model).__name__)!r}"
    try:
        out = model.evaluate(arch)
    except Exception as e:  # noqa: BLE001 - the arch's failure, recorded as an evaluation's is
        tb = traceback.extract_tb(e.__traceback__)
        where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
        return f"{name}: {type(e).__name__}: {e}{where}", {}
    if not isinstance(out, Mapping):
        got = type(out).__name__ if out is not None else "None"
        return f"{name}: evaluate returned {got}, not a mapping of metrics", {}
    values, bad = as_numbers(dict(out))
    if bad:
        return f"{name}: metric {bad!r} is NaN or not a number: {out[bad]!r}", {}
    return None, values


@dataclass
class Pipeline:
    """The driver-side middleware. `next()` hands back the next architecture that needs a real evaluation;
    duplicates and cheaply-infeasible candidates are answered to the searcher on the spot."""

    space: Space
    searcher: Searcher
    cheap_models: list = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    max_duplicates: int = 1000
    escape_after: int = 5  # consecutive duplicates before the pipeline proposes an unseen neighbour itself
    cache: dict[str, Result] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)  # key -> asks waiting on that evaluation
    n_duplicates: int = 0
    on_infeasible: Any = None  # callback(arch, key, metrics) to record an infeasible candidate
    # proposals in a row that each drew the searcher's max_feasible_tries candidates without one meeting the
    # cheap constraints: a bound the space cannot meet, reported after seconds instead of max_duplicates of them
    max_fruitless: int = 20
    stop_reason: str | None = None
    _cheap: dict[str, dict] = field(default_factory=dict)
    _cheap_errors: dict[str, str] = field(default_factory=dict)
    _size: float | None = None  # the space's architecture count (inf for a continuous decision), counted once

    def cheap_metrics(self, arch: Arch) -> dict[str, float]:
        """The cheap models' metrics ({} where one could not cost the arch: `cheap_error` says why)."""
        return self._costed(self.space.key(arch), arch)

    def _costed(self, key: str, arch: Arch) -> dict[str, float]:
        if key not in self._cheap:
            m: dict[str, float] = {}
            for model in self.cheap_models:
                error, out = _cost(model, arch)
                if error is not None:
                    self._cheap_errors[key] = error
                    m = {}
                    break
                m.update(out)
            self._cheap[key] = m
        return self._cheap[key]

    def cheap_error(self, arch: Arch) -> str | None:
        """Why a cheap model could not cost `arch` (it raised, or gave a metric that is not a number): the driver
        records the arch as a failed evaluation without sending it to a worker. A model that raised for some
        architectures stopped the whole run with a traceback from the driver."""
        if not self.cheap_models:
            return None
        key = self.space.key(arch)
        self._costed(key, arch)
        return self._cheap_errors.get(key)

    def feasible(self, arch: Arch) -> bool:
        if not self.constraints:
            return True
        key = self.space.key(arch)
        metrics = self._costed(key, arch)
        # an arch no model could cost is let through, to be recorded as failed with the model's reason
        return key in self._cheap_errors or total_violation(self.constraints, metrics) == 0

    def _escape(self, arch: Arch) -> Arch | None:
        """An unseen, feasible neighbour of a duplicate. A converged searcher (an RL controller that has
        settled, a model-based sampler) keeps proposing what it already knows; the budget is for new
        architectures, so the pipeline mutates away and tells the searcher the result like any other."""
        rng = self.searcher.rng
        cand = arch
        for _ in range(200):
            cand = self.space.mutate(cand, rng)
            key = self.space.key(cand)
            if key not in self.cache and key not in self.in_flight and self.feasible(cand):
                return cand
        return None

    @property
    def space_size(self) -> float:
        if self._size is None:
            self._size = self.space.size()
        return self._size

    def space_done(self) -> bool:
        """Whether every architecture of a finite space is evaluated, ruled out or in flight (NAS-Bench-201's
        15,625 cells, a budget above that): then no draw can find a new one, and the run says why it ended."""
        if len(self.cache) + len(self.in_flight) < self.space_size:
            return False
        ruled_out = " or ruled out by the cheap constraints" if self.constraints else ""
        self.stop_reason = f"every architecture of the space ({self.space_size:,.0f}) has been evaluated{ruled_out}"
        return True

    def next(self) -> Arch | None:
        """The next candidate to evaluate, or None when the searcher only repeats itself."""
        if self.space_done():
            return None
        consecutive = 0
        fruitless_before = getattr(self.searcher, "n_fruitless", 0)
        while consecutive <= self.max_duplicates:
            arch = self.searcher.ask()
            key = self.space.key(arch)
            if consecutive >= self.escape_after and (key in self.cache or key in self.in_flight):
                if key in self.cache:
                    self.searcher.tell(arch, self.cache[key])
                else:
                    self.in_flight[key] += 1
                esc = self._escape(arch)
                if esc is not None:
                    self.in_flight[self.space.key(esc)] = 1
                    return esc
                consecutive += 1
                continue
            if key in self.cache:
                self.n_duplicates += 1
                consecutive += 1
                self.searcher.tell(arch, self.cache[key])
                continue
            if key in self.in_flight:
                self.n_duplicates += 1
                consecutive += 1
                self.in_flight[key] += 1
                continue
            if self.constraints and not self.feasible(arch):
                res = Result(INFEASIBLE, dict(self.cheap_metrics(arch)), "violates a cheap constraint")
                self.cache[key] = res
                if self.on_infeasible:
                    self.on_infeasible(arch, key, res)
                self.searcher.tell(arch, res)
                consecutive += 1
                if getattr(self.searcher, "n_fruitless", 0) - fruitless_before >= self.max_fruitless:
                    self.stop_reason = (f"{self.max_fruitless} proposals in a row drew "
                                        f"{self.searcher.max_feasible_tries} architectures each and none met the "
                                        "cheap constraints")
                    return None
                continue
            self.in_flight[key] = 1
            return arch
        return None

    def complete(self, arch: Arch, result: Result) -> Result:
        """Merge the cheap metrics, cache, and tell the searcher (once per ask that waited on it). A cost model has
        the last word on the metrics it gives, over the task's, as the expensive ones have in `evaluate`: the value
        stored is the value the cheap constraints were judged on."""
        key = self.space.key(arch)
        if self.cheap_models and result.status == OK:
            result = Result(result.status, {**result.metrics, **self.cheap_metrics(arch)}, result.error)
        told = result
        if result.status == LOST:  # not the architecture's fault: not cached, so it may be proposed again
            told = Result(FAILED, {}, result.error)
        else:
            self.cache[key] = result
        for _ in range(self.in_flight.pop(key, 1)):
            self.searcher.tell(arch, told)
        return result
