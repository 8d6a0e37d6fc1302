"""What recording results in the order they were asked for costs, side by side with recording them as the
workers finish (`evaluation.in_order: false`, how the local backend worked before): throughput with two worker
processes on a CPU-bound objective of even and of uneven cost, and whether two runs with the same seed evaluate
the same candidates in the same order. Steady-state figures from each run's own store.

    python bench/ordered_results.py                 # about 1 minute on 2 cores
    python bench/ordered_results.py --backend ray   # two concurrent Ray Tune trials on a local Ray instance
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

PLUGINS = str(Path(__file__).resolve().parent / "plugins")


def run(in_order: bool, n: int, seconds: float, spread: float, backend: str = "local") -> tuple[float, list[str]]:
    """(evaluations per second between the first and the last finished, the candidates in the store's order)."""
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.results import RunView
    from nasfw.runner import run_campaign

    with tempfile.TemporaryDirectory() as d:
        c = parse({"space": "flat", "task": "spin", "task_options": {"seconds": seconds, "spread": spread},
                   "objectives": ["score"], "budget": n, "out": d + "/run", "workers": 2,
                   "searcher": {"name": "evolution", "settings": {"population_size": 8, "sample_size": 3}},
                   "evaluation": {"in_order": in_order}, "backend": backend})
        s = run_campaign(c, Registry([PLUGINS]), progress=False, plugins_dirs=(PLUGINS,))
        evaluations = RunView.open(d + "/run").evaluations
        finished = sorted(e.finished for e in evaluations)
        order = [e.arch_key for e in evaluations]
    assert s["evaluations"] == s["ok"] == n, s
    return (n - 1) / max(finished[-1] - finished[0], 1e-9), order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="evaluations per run")
    ap.add_argument("--spin", type=float, default=0.2, help="mean CPU seconds of an evaluation")
    ap.add_argument("--spread", type=float, default=0.9, help="uneven cost: seconds x (1 +- spread)")
    ap.add_argument("--backend", choices=("local", "ray"), default="local")
    a = ap.parse_args()
    workers = "two worker processes" if a.backend == "local" else "two concurrent Ray Tune trials"
    print(f"{workers}, evolution (population 8), {a.n} evaluations per run, 2 runs each")
    print(f"{'objective':34s} {'recorded':22s} {'evaluations/s':>14s} {'two runs the same':>18s}")
    for label, spread in ((f"{a.spin:g} s each", 0.0), (f"{a.spin:g} s +- {100 * a.spread:.0f}%", a.spread)):
        rates = {}
        for in_order in (True, False):
            (r1, o1), (r2, o2) = (run(in_order, a.n, a.spin, spread, a.backend) for _ in range(2))
            rates[in_order] = (r1 + r2) / 2
            name = "as asked (nasfw)" if in_order else "as workers finish"
            print(f"{label:34s} {name:22s} {rates[in_order]:14.2f} {'yes' if o1 == o2 else 'no':>18s}")
        print(f"{'':34s} ratio as asked / as finished: {rates[True] / rates[False]:.2f}")


if __name__ == "__main__":
    main()
