"""Running evaluations as Ray Tune trials, on a local Ray instance or an existing cluster.

nasfw's searcher stays on the driver and drives Tune through a `ray.tune.search.Searcher` adapter: Tune
pulls a candidate with `suggest`, runs it as a trial wherever the cluster has room, and hands the result to
`on_trial_complete`, which records it through the same `SearchDriver` as the local backend. The evaluator
recipe is put in the object store once (`tune.with_parameters`), not shipped with every trial.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

from nasfw.campaign import Campaign
from nasfw.driver import SearchDriver
from nasfw.errors import ConfigError, NasfwError
from nasfw.evaluation import SETUP_LIMIT_S, EvaluatorSpec, evaluate, prepare, timeout_error
from nasfw.provenance import process_code
from nasfw.replay import StoredResults
from nasfw.searchers.base import FAILED, LOST, Result

CONNECT_TIMEOUT_S = 3.0


def _ray():
    # nasfw shows its own progress bar: Tune's tables stay quiet
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError("backend 'ray' needs Ray Tune: pip install 'nasfw[ray]'") from None
    return ray, tune


def resources(campaign: Campaign) -> dict[str, float]:
    r = campaign.resources
    return {"cpu": float(r.get("cpus", 1)), "gpu": float(r.get("gpus", 0))}


LOOPBACK = ("127.0.0.1", "localhost", "::1")
INIT_TIMEOUT_S = 60.0


def keep_loopback(campaign: Campaign) -> None:
    """Ray swaps 127.0.0.1 for the machine's outward address (and listens on every interface) unless told
    not to; a local instance or a cluster on loopback must stay on loopback."""
    host = (campaign.address or "127.0.0.1").rpartition(":")[0] or "127.0.0.1"
    if host.strip("[]") in LOOPBACK:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


def check_ray(campaign: Campaign) -> None:
    """Fail in seconds, before any work, on what would otherwise fail deep inside Ray or hang."""
    keep_loopback(campaign)
    _ray()
    res = resources(campaign)
    if campaign.address:
        host, _, port = campaign.address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"campaign.address = {campaign.address!r} is not allowed; allowed: HOST:PORT")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
                pass
        except OSError as e:
            raise ConfigError(f"cannot reach the Ray cluster at {campaign.address} within {CONNECT_TIMEOUT_S:g} s "
                              f"({e.strerror or e}); is `ray start --head` running there?") from None
    else:
        cpus = os.cpu_count() or 1
        if res["cpu"] > cpus:
            raise ConfigError(f"campaign.resources.cpus = {res['cpu']:g} per trial is more than this machine's "
                              f"{cpus} CPUs; allowed: at most {cpus} without --address")
        if res["gpu"] > 0 and not _local_gpus():
            raise ConfigError(f"campaign.resources.gpus = {res['gpu']:g} but this machine has no GPU; "
                              "allowed: 0 without --address")


def _local_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


def plan(campaign: Campaign) -> str:
    res = resources(campaign)
    where = f"the Ray cluster at {campaign.address}" if campaign.address else "a local Ray instance (127.0.0.1)"
    return (f"backend ray: {where}; up to {campaign.workers} concurrent trials, each {res['cpu']:g} CPU / "
            f"{res['gpu']:g} GPU; budget {campaign.budget_evaluations} evaluations; store {campaign.out}/nasfw.sqlite")


def _evaluate_with_timeout(spec: EvaluatorSpec, arch: dict, timeout_s: float):
    """A hung evaluation can only be stopped by ending its process: with a timeout, the trial evaluates in a
    child process that is killed when the time is up (that costs a process start per trial). The clock starts
    once the child is up and has built the task, so that start does not count against the evaluation. The
    child is not connected to Ray: shared state reaches it as a file the trial writes from the object store."""
    import concurrent.futures as cf
    import multiprocessing as mp

    shared_file = None
    if spec.shared_ref is not None:
        import tempfile

        import ray

        with tempfile.NamedTemporaryFile("wb", prefix="nasfw-shared-", suffix=".pkl", delete=False) as f:
            pickle.dump(ray.get(spec.shared_ref), f, protocol=pickle.HIGHEST_PROTOCOL)
        shared_file = f.name
        spec = dataclasses.replace(spec, shared_path=shared_file, shared_ref=None)
    pool = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    setup_limit = max(SETUP_LIMIT_S, timeout_s)
    try:
        started = time.time()
        try:
            pool.submit(prepare, spec).result(timeout=setup_limit)
        except cf.TimeoutError:
            return (Result(FAILED, {}, timeout_error(setup_limit, began=False)), started, time.time() - started,
                    "timeout")
        started = time.time()
        try:
            return pool.submit(evaluate, spec, arch).result(timeout=timeout_s)
        except cf.TimeoutError:
            return Result(FAILED, {}, timeout_error(timeout_s)), started, time.time() - started, "timeout"
    finally:
        for p in list(getattr(pool, "_processes", {}).values()):
            p.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        if shared_file is not None:
            os.unlink(shared_file)


def _trial(config: dict, spec: EvaluatorSpec, metric: str, timeout_s: float | None = None) -> dict:
    """One Tune trial: the same evaluation the local backend runs, results flattened for Tune."""
    if timeout_s:
        result, started, duration, worker = _evaluate_with_timeout(spec, config["arch"], timeout_s)
    else:
        result, started, duration, worker = evaluate(spec, config["arch"])
    return {"nasfw_status": result.status, "nasfw_metrics": json.dumps(result.metrics),
            "nasfw_error": result.error or "", "nasfw_started": started, "nasfw_duration": duration,
            "nasfw_worker": worker, "nasfw_score": float(result.metrics.get(metric, 0.0)),
            "nasfw_code": process_code()}


_TRIAL: type | None = None


def trial_class() -> type:
    """The Tune trainable, defined on first use so that importing nasfw never imports Ray.

    A class, not a function: Tune runs a function trainable in a thread of its own, a new one per trial, and
    some libraries do not survive that. qiskit 2.6 is one: imported first in a thread that then ends while its
    objects live on (the plugin's caches keep them), the next thread that builds a circuit crashes the process
    (SIGSEGV), and with actor reuse that was every other trial of a QuantumNAS campaign, recorded as lost. A
    class trainable's `step` runs in the actor's main thread, where a local worker runs its evaluations too."""
    global _TRIAL
    if _TRIAL is not None:
        return _TRIAL
    from ray import tune

    class NasfwTrial(tune.Trainable):
        """One nasfw evaluation per trial; the actor is reused for the next one (`reset_config`)."""

        def setup(self, config: dict, spec: EvaluatorSpec | None = None, metric: str = "",
                  timeout_s: float | None = None, workdir: str = "") -> None:
            self.arch, self.spec, self.metric, self.timeout_s = config["arch"], spec, metric, timeout_s
            # Tune starts a trial in a folder of its own; relative paths in task options (a user's table or
            # dataset) mean the driver's working folder, as on the local backend, wherever that folder exists
            if workdir and os.path.isdir(workdir):
                os.chdir(workdir)

        def step(self) -> dict:
            out = _trial({"arch": self.arch}, self.spec, self.metric, self.timeout_s)
            out["done"] = True
            return out

        def reset_config(self, new_config: dict) -> bool:
            self.arch = new_config["arch"]
            return True

        def save_checkpoint(self, checkpoint_dir: str) -> None:
            return None  # nothing to keep: the result is the trial, and nasfw resumes from its own store

        def load_checkpoint(self, checkpoint: Any) -> None:
            return None

    _TRIAL = NasfwTrial
    return _TRIAL


_ADAPTER: type | None = None


def adapter_class() -> type:
    """Defined on first use so that importing nasfw never imports Ray."""
    global _ADAPTER
    if _ADAPTER is not None:
        return _ADAPTER
    from ray.tune.search import Searcher as TuneSearcher

    class NasfwTuneSearcher(TuneSearcher):
        """nasfw's pipeline + searcher as a Ray Tune search algorithm. Tune pickles its search algorithm
        for its own experiment state; the driver (store, searcher) stays out of that pickle: nasfw resumes
        from its store, not from Tune's files.

        With `evaluation.in_order: true` it records as the local loop does (`local_loop.run_local`): results in
        the order they were asked for, and the k-th candidate asked for right after the (k - workers)-th result
        is recorded, so that Tune's timing (which trial ends first, when it calls `suggest`) never reaches the
        searcher; a candidate the store already holds (a resumed run retracing itself, `replay.py`) is answered
        from it without a trial."""

        def __init__(self, driver: SearchDriver, workers: int = 1, in_order: bool = False,
                     stored: StoredResults | None = None):
            super().__init__(metric="nasfw_score", mode="max")
            self.driver, self.workers, self.in_order, self.stored = driver, workers, in_order, stored
            self.live: dict[str, tuple[Any, float]] = {}
            self.stopped: NasfwError | None = None  # a user's error met while recording, raised after fit()
            self.asked: deque[str] = deque()  # in order: candidates asked for, oldest first, until recorded
            self.ready: deque = deque()  # in order: asked for, not yet handed to a trial
            self.finished: dict[str, tuple] = {}  # in order: results waiting for an older one

        def __getstate__(self) -> dict:
            state = dict(self.__dict__)
            state["driver"] = state["stored"] = None
            return state

        def suggest(self, trial_id: str):
            d = self.driver
            if self.in_order:
                if self.stopped is None:
                    self._advance()
                    if self.ready:
                        return self._start(trial_id, self.ready.popleft())
                busy = self.live or (self.asked and self.stopped is None)
                return None if busy else TuneSearcher.FINISHED
            if self.stopped is not None:
                return TuneSearcher.FINISHED if not self.live else None
            if not d.want_more():
                return TuneSearcher.FINISHED if d.finished() and not self.live else None
            arch = d.next_arch()
            if arch is None:
                return TuneSearcher.FINISHED if not self.live else None
            return self._start(trial_id, arch)

        def _start(self, trial_id: str, arch) -> dict:
            self.live[trial_id] = (arch, time.time())
            return {"arch": arch}

        def _top_up(self) -> None:
            d = self.driver
            while self.stopped is None and len(self.asked) < self.workers and d.want_more():
                arch = d.next_arch()
                if arch is None:
                    return
                key = d.pipeline.space.key(arch)
                self.asked.append(key)
                done = self.stored.answer(arch, key) if self.stored is not None else None
                if done is None:
                    self.ready.append(arch)
                    continue
                self.finished[key] = (*done, None)  # no worker code to check

        def _advance(self) -> None:
            """Record what is next in order, asking for one candidate after each record."""
            self._top_up()
            while self.asked and self.asked[0] in self.finished and self.stopped is None:
                self._record(*self.finished.pop(self.asked.popleft()))
                self._top_up()

        def _record(self, arch, res: Result, started: float, duration: float, worker: str,
                    code: str | None) -> None:
            try:  # recorded before any check can raise; Tune would wrap an exception raised here in its own
                self.driver.record(arch, res, started, duration, worker)
                self.driver.check_worker_code(worker, code)
            except NasfwError as e:
                self.stopped = self.stopped or e

        def flush(self) -> None:
            """Results still waiting for an older one when the run stops: recorded, nothing evaluated is lost."""
            waiting, self.finished = list(self.finished.values()), {}
            for done in waiting:
                self._record(*done)

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            if trial_id not in self.live:
                return
            arch, started = self.live.pop(trial_id)
            if error or not result or "nasfw_status" not in result:
                done = (arch, Result(LOST, {}, "ray trial failed (worker or node lost)"), started,
                        time.time() - started, "ray", None)
            else:
                done = (arch, Result(result["nasfw_status"], json.loads(result["nasfw_metrics"]),
                                     result["nasfw_error"] or None),
                        result["nasfw_started"], result["nasfw_duration"], result["nasfw_worker"],
                        result.get("nasfw_code"))
            if not self.in_order:
                self._record(*done)
                return
            self.finished[self.driver.pipeline.space.key(arch)] = done
            self._advance()

        def save(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "wb") as f:
                pickle.dump(self.driver.searcher.state_dict(), f)

        def restore(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "rb") as f:
                self.driver.searcher.load_state_dict(pickle.load(f))

    _ADAPTER = NasfwTuneSearcher
    return _ADAPTER


def _init(ray, campaign: Campaign) -> None:
    """ray.init, bounded: a cluster that accepts the connection but never answers (another Ray version,
    a token mismatch) must not hang the campaign."""
    import threading

    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if not campaign.address:  # a fresh local instance, never whatever cluster happens to run on this machine
        try:
            ray.init(address="local", num_cpus=max(int(campaign.workers * resources(campaign)["cpu"]), 1),
                     _node_ip_address="127.0.0.1", **kw)
        except Exception as e:
            raise ConfigError(f"Ray could not start a local instance: {type(e).__name__}: {e}") from None
        return
    kw["address"] = campaign.address
    error: list[BaseException] = []

    def target() -> None:
        try:
            ray.init(**kw)
        except BaseException as e:  # reported below, in the driver's thread
            error.append(e)
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(INIT_TIMEOUT_S)
    where = campaign.address
    if t.is_alive():
        raise ConfigError(f"Ray did not connect to {where} within {INIT_TIMEOUT_S:g} s (check the Ray version and, "
                          "with token authentication, that this machine has the cluster's token)")
    if error:
        raise ConfigError(f"Ray could not start or join {where}: {type(error[0]).__name__}: {error[0]}") from None


def run_on_ray(driver: SearchDriver, spec: EvaluatorSpec, campaign: Campaign, in_order: bool = False,
               stored: StoredResults | None = None) -> None:
    keep_loopback(campaign)
    ray, tune = _ray()
    started_here = False
    if not ray.is_initialized():
        import signal
        import threading

        ours = signal.getsignal(signal.SIGTERM)  # the run's (runner.sigterm_as_interrupt)
        _init(ray, campaign)
        started_here = True
        if callable(ours) and threading.current_thread() is threading.main_thread():
            # Ray's core puts its own SIGTERM handler in place, which ended the driver with a crash report and
            # status 1; the run's unwinds it as an interrupt, and the `finally` below shuts Ray down
            signal.signal(signal.SIGTERM, ours)
    try:
        if spec.shared_path is not None:  # into the object store once, for every node of the cluster
            from nasfw.shared_arrays import internalise

            with open(spec.shared_path, "rb") as f:  # the arrays themselves, as numpy (shared by a node's trials)
                ref = ray.put(internalise(pickle.load(f), numpy=True))
            spec = dataclasses.replace(spec, shared_path=None, shared_ref=ref)
        trainable = tune.with_resources(
            tune.with_parameters(trial_class(), spec=spec, metric=campaign.objectives[0].metric,
                                 timeout_s=campaign.evaluation.get("timeout_s"), workdir=os.getcwd()),
            resources(campaign))
        retries = int(campaign.evaluation.get("retries", 0))
        adapter = adapter_class()(driver, campaign.workers, in_order, stored)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=adapter, num_samples=-1,
                                        max_concurrent_trials=campaign.workers, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(Path(campaign.out).resolve() / "ray"), name="tune",
                                      verbose=0, failure_config=tune.FailureConfig(max_failures=retries)))
        try:
            tuner.fit()
        finally:
            adapter.flush()
        if adapter.stopped is not None:
            raise adapter.stopped
    finally:
        if started_here:
            ray.shutdown()
