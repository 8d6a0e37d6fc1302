"""Backend overhead and scaling, measured side by side in one run:

1. per-evaluation overhead of the Ray backend (a Ray Tune trial per evaluation) against the local backend
   (in the driver, and one worker process), on a zero-cost objective;
2. throughput of a CPU-bound objective (about 0.2 s of pure-Python work) with 1 and 2 worker processes,
   local and Ray.

    python bench/ray_overhead.py --n 40 --out docs/bench_ray.md
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


PLUGINS = str(Path(__file__).resolve().parent / "plugins")


def run(backend: str, workers: int, n: int, seconds: float, plugins_dir: str) -> float:
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.runner import run_campaign

    reg = Registry([plugins_dir])
    with tempfile.TemporaryDirectory() as d:
        c = parse({"space": "flat", "task": "spin", "task_options": {"seconds": seconds}, "objectives": ["score"],
                   "searcher": "random", "budget": n, "out": d + "/run", "backend": backend, "workers": workers})
        t0 = time.perf_counter()
        s = run_campaign(c, reg, progress=False, plugins_dirs=(plugins_dir,))
        dt = time.perf_counter() - t0
    assert s["evaluations"] == n, s
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="evaluations per measurement")
    ap.add_argument("--spin", type=float, default=0.2, help="CPU seconds of the CPU-bound objective")
    ap.add_argument("--out")
    a = ap.parse_args()
    folder = PLUGINS
    lines = ["| measurement | local, 1 worker (the driver) | local, 2 worker processes | ray, 1 trial at a time |"
             " ray, 2 concurrent trials |", "|---|---|---|---|---|"]
    # marginal cost per evaluation (the slope between a short and a long run) and the fixed start-up cost
    # (Ray starting, worker processes spawning), reported apart
    short = max(a.n // 4, 1)
    zero, start = {}, {}
    for key in (("local", 1), ("local", 2), ("ray", 1), ("ray", 2)):
        t_short, t_long = run(*key, short, 0.0, folder), run(*key, a.n, 0.0, folder)
        zero[key] = max(t_long - t_short, 0.0) / (a.n - short) * 1e3
        start[key] = max(t_short - zero[key] * short / 1e3, 0.0)
    lines.append(f"| zero-cost objective, ms per evaluation (marginal) | {zero[('local', 1)]:.2f} | "
                 f"{zero[('local', 2)]:.2f} | {zero[('ray', 1)]:.1f} | {zero[('ray', 2)]:.1f} |")
    lines.append(f"| start-up, s | {start[('local', 1)]:.2f} | {start[('local', 2)]:.2f} | "
                 f"{start[('ray', 1)]:.1f} | {start[('ray', 2)]:.1f} |")
    # throughput once running: the start-up measured above is taken out
    thr = {key: a.n / max(run(*key, a.n, a.spin, folder) - start[key], 1e-9) for key in zero}
    lines.append(f"| {a.spin:g} s CPU-bound objective, evaluations per s (after start-up) | "
                 f"{thr[('local', 1)]:.2f} | {thr[('local', 2)]:.2f} | {thr[('ray', 1)]:.2f} | {thr[('ray', 2)]:.2f} |")
    lines += ["", f"Ray per-trial overhead relative to the local backend in the driver: "
                  f"{zero[('ray', 1)] / max(zero[('local', 1)], 1e-3):.0f}x; speed-up of 2 over 1 worker on the "
                  f"CPU-bound objective: local {thr[('local', 2)] / thr[('local', 1)]:.2f}x, "
                  f"ray {thr[('ray', 2)] / thr[('ray', 1)]:.2f}x"]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
