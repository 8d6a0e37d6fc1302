"""The local pool's workers: the limit on a worker's start, and the note for more workers than CPUs."""
from nasfw.registry import Registry
from tests.conftest import PLUGIN_DIR


def test_a_worker_that_never_begins_is_timed_out_by_the_setup_limit(monkeypatch):
    """The evaluation's clock starts when the worker begins it; a task whose construction hangs is caught by
    the separate setup limit (lowered here from 600 s), with a reason that says which limit it was."""
    import time

    from nasfw import backends
    from nasfw.evaluation import EvaluatorSpec

    monkeypatch.setattr(backends, "SETUP_LIMIT_S", 1.0)
    spec = EvaluatorSpec("toy", {"setup_sleep": 3600}, (), (str(PLUGIN_DIR),))
    backend = backends.LocalBackend(spec, workers=1, timeout_s=0.5)
    arch = Registry([PLUGIN_DIR]).space("toy").sample(__import__("numpy").random.default_rng(0))
    try:
        backend.submit(arch)
        deadline, results = time.time() + 120, []
        while not results and time.time() < deadline:
            results += backend.wait(poll_s=0.2)
        assert [r[1].status for r in results] == ["failed"]
        assert results[0][1].error == "timeout: the worker did not begin it within 1 s (process start and task setup)"
    finally:
        backend.close()


def test_more_local_workers_than_cpus_get_a_note():
    from nasfw.runner import workers_note

    assert workers_note(2, 2) is None and workers_note(1, None) is None
    assert workers_note(500, 2).startswith("workers: 500 on a machine of 2 CPUs: each worker is a process")
