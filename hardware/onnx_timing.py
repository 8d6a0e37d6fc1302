"""Latency of an ONNX model on this machine with onnxruntime: warm-up runs, then the median of timed runs
(the median: a background process on a 2-core machine shows up as outliers, not as a shift)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def session(model: str | Path | bytes, threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def time_session(sess, inputs: dict[str, np.ndarray], warmup: int = 10, repeats: int = 50) -> tuple[float, float]:
    """(median, std) milliseconds of `sess.run` on `inputs`."""
    for _ in range(warmup):
        sess.run(None, inputs)
    times = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        sess.run(None, inputs)
        times[i] = time.perf_counter() - t
    return float(np.median(times) * 1e3), float(times.std() * 1e3)


def time_onnx(model: str | Path | bytes, shape: tuple[int, ...], threads: int = 1, warmup: int = 10,
              repeats: int = 50, seed: int = 0) -> tuple[float, float]:
    sess = session(model, threads)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return time_session(sess, {sess.get_inputs()[0].name: x}, warmup, repeats)
