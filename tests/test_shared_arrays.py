"""Large arrays of a task's shared state reach local workers as one memory-mapped file (nasfw/shared_arrays.py):
each worker loaded its own copy of them from the pickle before."""
import pickle

import numpy as np
import torch

from nasfw.shared_arrays import MIN_BYTES, MappedArray, externalise, internalise, remove_files


def test_large_arrays_go_to_files_and_come_back_mapped(tmp_path):
    big = np.random.default_rng(0).random(MIN_BYTES // 8 + 1)
    tensor = torch.arange(MIN_BYTES // 4, dtype=torch.float32).reshape(-1, 4)
    small = np.ones(10)
    bf16 = torch.zeros(MIN_BYTES, dtype=torch.bfloat16)  # no numpy dtype for it: pickled as it is
    state = {"weights": {"w": torch.ones(3), "b": bf16}, "data": [big, (tensor, small)], "n": 3}
    out = externalise(state, tmp_path)
    assert isinstance(out["data"][0], MappedArray) and isinstance(out["data"][1][0], MappedArray)
    assert out["data"][1][1] is small and out["weights"]["w"] is state["weights"]["w"] and out["n"] == 3
    assert out["weights"]["b"] is bf16
    assert len(pickle.dumps({**out, "weights": {}})) < 10_000  # the pickle holds names, not data
    back = internalise(pickle.loads(pickle.dumps(out)))
    assert isinstance(back["data"][0], np.memmap) and not back["data"][0].flags.writeable
    assert np.array_equal(back["data"][0], big)
    assert isinstance(back["data"][1], tuple) and torch.equal(back["data"][1][0], tensor)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared_state.0.npy", "shared_state.1.npy"]
    externalise({"x": big}, tmp_path)  # a new state replaces the files of the last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared_state.0.npy"]
    remove_files(tmp_path)
    assert not list(tmp_path.iterdir())


def test_local_workers_read_the_shared_arrays_from_one_mapped_file(tmp_path):
    from nasfw.results import RunView
    from tests.test_campaign import BASE, run

    raw = {**BASE, "workers": 2, "budget": 6, "task_options": {"shared_mb": 0.1, "shared_array_mb": 20.0},
           "phases": {"supernet": {"epochs": 2}}}
    run(raw, tmp_path)
    view = RunView.open(tmp_path / "run")
    expected = float(np.arange(20 * 2**20 // 4, dtype=np.float32)[:: 2**16].sum())
    assert len(view.ok) == 6  # all in the pool's worker processes (two workers: none in the driver)
    assert all(e.metrics["images_mapped"] == 1.0 and e.metrics["images_sum"] == expected for e in view.ok)
    assert not list((tmp_path / "run").glob("shared_state.*.npy"))  # gone with the workers


def test_ray_trials_read_the_arrays_from_the_object_store_without_a_copy(tmp_path):
    """On Ray the arrays go into the object store as plain numpy arrays, which a node's trials read in place
    (read-only); a TinyNAS task there scores on them as the campaign's task does. In a fresh process: Ray once
    started stays with the process."""
    import subprocess
    import sys
    import textwrap

    import pytest

    pytest.importorskip("ray")
    code = textwrap.dedent(f"""
        import pickle
        import ray
        from nasfw.plugins.tinynas.task import TinyNASTask
        from nasfw.shared_arrays import externalise, internalise
        kw = dict(dataset="digits", resolutions=[64], width_mult=0.25, n_valid=100, n_test=100)
        task = TinyNASTask(**kw)
        state = externalise(task.shared_state(), {str(tmp_path)!r})
        arch = task.space.sample(0)
        expected = task.evaluate(arch)
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
        ref = ray.put(internalise(pickle.loads(pickle.dumps(state)), numpy=True))

        @ray.remote
        def trial(shared):
            worker = TinyNASTask(**kw)
            worker.use_shared_state(shared)
            x = shared["images"]["x"]
            return type(x).__name__, x.flags.writeable, worker.evaluate(arch) == expected
        print(ray.get(trial.remote(ref)))
        ray.shutdown()
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == "('ndarray', False, True)", p.stdout
