"""NAAS's comparisons, measured in one run under Eyeriss v1's resources, reward = geometric-mean EDP over
MobileNetV2, SqueezeNet and MNasNet (each layer's mapping searched by the inner loop):

- full NAAS (importance encoding, CMA-ES) against Eyeriss v1 with row-stationary mappings;
- sizing-only (Eyeriss's connectivity and row-stationary mapping, only PE count, shape and buffers
  searched) against full NAAS;
- importance encoding against index encoding of the parallel dimensions;
- CMA-ES against random search at equal evaluations;
each over several seeds; then the best accelerator's report with larger mapping budgets and ZigZag's verdict.

    python bench/naas_search.py --evaluations 150 --seeds 2
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from pathlib import Path

_TASK = None
CONFIGS = {  # name: (space encoding, task mapping, searcher, sampler)
    "NAAS (importance, CMA-ES)": ("importance", "search", "bayes", "cmaes"),
    "NAAS, index encoding (CMA-ES)": ("index", "search", "bayes", "cmaes"),
    "sizing only (row-stationary, CMA-ES)": ("importance", "row-stationary", "bayes", "cmaes"),
    "NAAS (importance), random search": ("importance", "search", "random", None),
}


def _init(mapping: str) -> None:
    global _TASK
    from nasfw.plugins.naas.task import NAASTask

    _TASK = NAASTask(mapping=mapping)


def _evaluate(arch: dict):
    try:
        return _TASK.evaluate(arch)
    except ValueError as e:  # no valid mapping: a failed evaluation
        return str(e)


def run(name: str, seed: int, n: int, pool, cache: dict) -> dict:
    from nasfw.cost import Objective
    from nasfw.registry import get_registry
    from nasfw.searchers.base import FAILED, OK, Result, make_searcher
    from nasfw.search_spaces.accelerator import accelerator_space

    encoding, _, searcher, sampler = CONFIGS[name]
    space = accelerator_space(encoding)
    settings = {"sampler": sampler, "n_startup_trials": 10} if sampler else {}
    s = make_searcher(get_registry().searcher_class(searcher), space, settings,
                      objectives=[Objective("edp_geomean", "min")], seed=seed)
    best, done = None, 0
    while done < n:
        archs = [s.ask() for _ in range(min(8, n - done))]
        keys = [space.key(a) for a in archs]
        todo = {k: a for k, a in zip(keys, archs) if k not in cache}
        for k, res in zip(todo, pool.map(_evaluate, list(todo.values()))):
            cache[k] = res
        for k, a in zip(keys, archs):
            res = cache[k]
            s.tell(a, Result(OK, res) if isinstance(res, dict) else Result(FAILED, {}, res))
            if isinstance(res, dict) and (best is None or res["edp_geomean"] < best[1]["edp_geomean"]):
                best = (a, res)
        done += len(archs)
    return {"config": name, "seed": seed, "arch": best[0], "metrics": best[1]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evaluations", type=int, default=150)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-naas")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from nasfw.plugins.naas.task import NAASTask

    results = []
    t0 = time.time()
    for name, (_, mapping, _, _) in CONFIGS.items():
        cache: dict = {}
        with mp.get_context("spawn").Pool(a.workers, _init, (mapping,)) as pool:
            for seed in range(a.seeds):
                r = run(name, seed, a.evaluations, pool, cache)
                m = r["metrics"]
                print(f"{name:>38} seed {seed}: EDP geomean {m['edp_geomean']:.4g}, vs Eyeriss: speed-up "
                      f"{m['speedup_geomean']:.2f}x, energy saving {m['energy_saving_geomean']:.2f}x, EDP gain "
                      f"{m['edp_gain_geomean']:.2f}x", flush=True)
                results.append(r)
    print(f"searches: {time.time() - t0:.0f} s, {a.evaluations} evaluations each")
    print("\n| configuration | EDP gain over Eyeriss (geomean of networks; mean +- std over seeds) | speed-up | "
          "energy saving |\n|---|---|---|---|")
    for name in CONFIGS:
        rs = [r["metrics"] for r in results if r["config"] == name]
        f = lambda k: f"{statistics.mean(m[k] for m in rs):.2f} +- {statistics.pstdev([m[k] for m in rs]):.2f}"  # noqa
        print(f"| {name} | {f('edp_gain_geomean')} | {f('speedup_geomean')} | {f('energy_saving_geomean')} |")
    (out / "bench.json").write_text(json.dumps({"runs": results}, indent=2, default=str))
    best = min((r for r in results if r["config"] == "NAAS (importance, CMA-ES)"),
               key=lambda r: r["metrics"]["edp_geomean"])
    report = NAASTask().finalize(best["arch"], out, n_random=512, rounds=4, zigzag=True)
    print((out / "naas" / "naas.md").read_text())
    (out / "bench.json").write_text(json.dumps({"runs": results, "final": report}, indent=2, default=str))


if __name__ == "__main__":
    main()
