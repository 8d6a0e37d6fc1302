"""Backend overhead and scaling, measured side by side in one run:

1. per-evaluation overhead of the Ray backend (a Ray Tune trial per evaluation) against the local backend
   (in the driver, and two worker processes), on a zero-cost objective;
2. throughput of a CPU-bound objective (0.2 s of pure-Python CPU time) with 1 and 2 workers, local and Ray.

Both are steady-state figures read from each run's own store (start-up of Ray or of worker processes is not
counted; it is a few seconds for Ray, about 1.4 s for two spawned workers).

    python bench/ray_overhead.py --n 40 --out docs/bench_ray.md
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


PLUGINS = str(Path(__file__).resolve().parent / "plugins")


def run(backend: str, workers: int, n: int, seconds: float, plugins_dir: str) -> float:
    """Steady-state evaluations per second: (n - 1) over the time between the first and the last finished
    evaluation, read from the run's own store, so start-up (Ray, worker processes) is not counted."""
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.results import RunView
    from nasfw.runner import run_campaign

    reg = Registry([plugins_dir])
    with tempfile.TemporaryDirectory() as d:
        c = parse({"space": "flat", "task": "spin", "task_options": {"seconds": seconds}, "objectives": ["score"],
                   "searcher": "random", "budget": n, "out": d + "/run", "backend": backend, "workers": workers})
        s = run_campaign(c, reg, progress=False, plugins_dirs=(plugins_dir,))
        finished = sorted(e.finished for e in RunView.open(d + "/run").evaluations)
    assert s["evaluations"] == s["ok"] == n, s
    return (n - 1) / max(finished[-1] - finished[0], 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="evaluations per measurement")
    ap.add_argument("--spin", type=float, default=0.2, help="CPU seconds of the CPU-bound objective")
    ap.add_argument("--out")
    a = ap.parse_args()
    folder = PLUGINS
    lines = [("| measurement | local, 1 worker (the driver) | local, 2 worker processes | ray, 1 trial at a time |"
             " ray, 2 concurrent trials |"), "|---|---|---|---|---|"]
    keys = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))
    zero = {k: 1e3 / run(*k, a.n, 0.0, folder) for k in keys}
    lines.append("| zero-cost objective, ms per evaluation (steady state) | " +
                 " | ".join(f"{zero[k]:.2f}" for k in keys) + " |")
    thr = {k: run(*k, a.n, a.spin, folder) for k in keys}
    lines.append(f"| {a.spin:g} s CPU-bound objective, evaluations per s (steady state) | " +
                 " | ".join(f"{thr[k]:.2f}" for k in keys) + " |")
    ratio = zero[('ray', 1)] / max(zero[('local', 1)], 1e-6)
    lines += ["", (f"Ray's per-evaluation overhead is {ratio:.0f}x the local "
                  f"backend's in the driver ({zero[('ray', 1)]:.1f} ms against {zero[('local', 1)]:.2f} ms); 2 workers "
                  f"over 1 on the CPU-bound objective: local {thr[('local', 2)] / thr[('local', 1)]:.2f}x, "
                  f"ray {thr[('ray', 2)] / thr[('ray', 1)]:.2f}x (ideal 2x on 2 cores; the driver shares them)")]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
