"""TinyNAS's two claims on the default data, measured in one run for a 64 kB SRAM / 256 kB Flash device
(STM32F401, TinyEngine memory):

1. evolution beats random search at equal evaluations: both constraint-aware (a candidate that does not fit
   is redrawn before it is evaluated), both scoring with the same trained supernet (inherited weights, BN
   recalibrated, validation accuracy), several seeds; mean and spread of the best found, and that best's test
   accuracy;
2. the searched network beats a scaled-down MobileNetV2 that fits the same limits: both trained from scratch
   with the same recipe (and the searched one also fine-tuned from its inherited weights).

Stage 1's choice of width and resolution for this device is printed first.

    python bench/tinynas_search.py --evaluations 300 --seeds 3 --epochs 10 --scratch-epochs 15
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from pathlib import Path

DEVICE, MEMORY = "stm32f401", "tinyengine"
_TASK = None


def _task_kwargs(a) -> dict:
    return {"dataset": a.dataset, "width_mult": a.width, "resolutions": a.resolutions, "device": DEVICE,
            "memory": MEMORY, "seed": 0}


def _init(kwargs: dict, run: str) -> None:
    global _TASK
    import torch

    from nasfw.plugins.tinynas.task import TinyNASTask

    torch.set_num_threads(1)
    _TASK = TinyNASTask(**kwargs)
    _TASK.load_supernet(Path(run))


def _evaluate(arch: dict) -> float:
    return _TASK.evaluate(arch)["accuracy"]


def search(name: str, seed: int, n: int, space, fits, pool, cache: dict, batch: int) -> tuple[float, dict, list]:
    """Best validation accuracy and arch after `n` evaluations of searcher `name` (evaluations cached across
    searchers and seeds: the fitness is deterministic)."""
    from nasfw.cost import Constraint, Objective
    from nasfw.registry import get_registry
    from nasfw.searchers.base import OK, Result, make_searcher

    settings = {"population_size": 20, "parent_ratio": 0.2, "mutation_ratio": 0.5, "mutate_prob": 0.1,
                "n_children": 20} if name == "ofa-evolution" else {}
    s = make_searcher(get_registry().searcher_class(name), space, settings, objectives=[Objective("accuracy")],
                      constraints=[Constraint("peak_sram_kb", max=64), Constraint("flash_kb", max=256)], seed=seed)
    s.feasible = fits
    best, curve, done = (-1.0, None), [], 0
    while done < n:
        archs = [s.ask() for _ in range(min(batch, n - done))]
        keys = [space.key(a) for a in archs]
        todo = {k: a for k, a in zip(keys, archs) if k not in cache}
        for k, acc in zip(todo, pool.map(_evaluate, list(todo.values()))):
            cache[k] = acc
        for k, a in zip(keys, archs):
            s.tell(a, Result(OK, {"accuracy": cache[k]}))
            if cache[k] > best[0]:
                best = (cache[k], a)
            curve.append(best[0])
        done += len(archs)
    return best[0], best[1], curve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--resolutions", default="48,56,64")
    ap.add_argument("--evaluations", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10, help="supernet epochs")
    ap.add_argument("--finetune-epochs", type=int, default=5)
    ap.add_argument("--scratch-epochs", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-tinynas")
    a = ap.parse_args()
    a.resolutions = [int(r) for r in a.resolutions.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from nasfw.plugins.tinynas import MCUArchCost
    from nasfw.plugins.tinynas.stage1 import optimise_space
    from nasfw.plugins.tinynas.task import TinyNASTask, score

    s1 = optimise_space(DEVICE, MEMORY, width_mults=(0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
                        resolutions=(32, 40, 48, 56, 64, 80), samples=500, n_classes=10, plot=out / "stage1_cdf.png")
    print(f"stage 1 for {DEVICE} (64 kB / 256 kB, {MEMORY}): width {s1['best']['width']}, resolution "
          f"{s1['best']['resolution']} ({s1['best']['fit']:.0%} of the space fits, mean "
          f"{s1['best']['mean_macs_m']:.2f} MMACs)")
    task = TinyNASTask(**_task_kwargs(a))
    t = time.time()
    if not (out / "supernet.pt").exists():
        task.train_supernet(out, epochs=a.epochs, lr=1e-2, sampling="progressive", n_subnets=4, largest_epochs=1)
    task.load_supernet(out)
    print(f"supernet: {a.epochs} epochs, {time.time() - t:.0f} s")
    cost = MCUArchCost(DEVICE, memory=MEMORY)
    fits = lambda arch: bool((m := cost.evaluate(arch))["sram_fits"] and m["flash_fits"])  # noqa: E731
    cache: dict = {}
    results: dict = {"evaluations": a.evaluations, "seeds": a.seeds, "stage1": s1["best"], "runs": []}
    t = time.time()
    with mp.get_context("spawn").Pool(a.workers, _init, (_task_kwargs(a), str(out))) as pool:
        for name in ("ofa-evolution", "random"):
            for seed in range(a.seeds):
                best, arch, curve = search(name, seed, a.evaluations, task.space, fits, pool, cache, 20)
                test = score(task.subnet(arch), task.data.test, arch["resolution"])[1]
                results["runs"].append({"searcher": name, "seed": seed, "best_valid": best, "test": test,
                                        "arch": arch, "curve": curve})
                print(f"{name:>14} seed {seed}: best valid {best:.2f}%, its test accuracy {test:.2f}%")
    print(f"search: {len(cache)} distinct subnets evaluated, {time.time() - t:.0f} s")
    summary = {}
    for name in ("ofa-evolution", "random"):
        v = [r["best_valid"] for r in results["runs"] if r["searcher"] == name]
        te = [r["test"] for r in results["runs"] if r["searcher"] == name]
        summary[name] = {"valid_mean": statistics.mean(v), "valid_std": statistics.pstdev(v),
                         "test_mean": statistics.mean(te), "test_std": statistics.pstdev(te)}
        print(f"{name:>14}: best valid {summary[name]['valid_mean']:.2f} +- {summary[name]['valid_std']:.2f}, "
              f"test {summary[name]['test_mean']:.2f} +- {summary[name]['test_std']:.2f} (mean over {a.seeds} seeds)")
    results["summary"] = summary
    evo = max((r for r in results["runs"] if r["searcher"] == "ofa-evolution"), key=lambda r: r["best_valid"])
    report = task.finalize(evo["arch"], out, finetune_epochs=a.finetune_epochs, scratch_epochs=a.scratch_epochs)
    results["final"] = report["rows"]
    print((out / "tinynas" / "tinynas.md").read_text())
    (out / "bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
