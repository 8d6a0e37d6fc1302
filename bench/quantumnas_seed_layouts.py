"""Does seeding the mapping search pay, or drawing its layouts along the coupling map? The MNIST-10 campaign (10
qubits on the 16-qubit Guadalupe, proxy fitness, 100 evaluations) searched from the same trained SuperCircuit
from a random start (the paper's), with `task_options.seed_layouts`, and with `space_options.layout_sampling:
connected`, for several campaign seeds: prints, per seed and on average, the best proxy found, its estimated
fidelity, its two-qubit gates after routing on its own layout beside the same circuit on the trivial and on
SABRE's layout (what the mapping search is up against), and how many of the search's 10 best kept a seeded
layout.

    python bench/quantumnas_seed_layouts.py --seeds 3 --seed-layouts trivial=2,sabre=6 --starts random,seeded,connected

The searches run in this process through the engine's own pieces (the campaign's searcher, the evaluation
pipeline, the task's evaluate), one evaluation at a time, as a one-worker campaign runs them.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from nasfw.api import fill_task_defaults
from nasfw.campaign import load_yaml, merge, parse
from nasfw.evaluation import Pipeline
from nasfw.plugins.quantumnas import compile as qc
from nasfw.registry import get_registry
from nasfw.runner import build
from nasfw.searchers.base import OK, Result

STARTS = ("random", "seeded", "connected")
CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "quantumnas-mnist10-guadalupe.yaml"


def search(comps, budget: int, seeds: list[dict]) -> list[tuple[dict, dict]]:
    comps.searcher.seed_initial(seeds)
    pipe = Pipeline(comps.space, comps.searcher, [], [])
    out = []
    while len(out) < budget:
        arch = pipe.next()
        if arch is None:
            break
        res = pipe.complete(arch, Result(OK, comps.task.evaluate(arch)))
        out.append((arch, res.metrics))
    return out


def two_qubit_gates(task, arch: dict, layout: list[int] | None, method: str | None = None) -> int:
    tq, _ = qc.transpile(task.supercircuit.extract(arch), task.device, layout, task.optimization_level, method,
                         seed=task.seed)
    return int(qc.stats(tq, task.device)["two_qubit_gates"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-layouts", default="trivial=2,sabre=6", help="kind=count,...")
    ap.add_argument("--epochs", type=int, default=None, help="SuperCircuit epochs (default: the campaign's 30)")
    ap.add_argument("--starts", default="random,seeded,connected", help="of random, seeded, connected")
    ap.add_argument("--device", default=None, help="another fake device than the campaign's Guadalupe")
    a = ap.parse_args()
    starts = a.starts.split(",")
    if any(s not in STARTS for s in starts):
        ap.error(f"--starts {a.starts!r}: each must be one of {', '.join(STARTS)}")
    seed_layouts = {k: int(v) for k, v in (kv.split("=") for kv in a.seed_layouts.split(","))}
    reg = get_registry(())
    user = load_yaml(CONFIG)
    raw = merge(reg.campaign(user["plugin"]), user)
    if a.device:
        raw = merge(raw, {"task_options": {"device": a.device}})
    raw = fill_task_defaults(raw, reg)  # the space's options, from the task's, as `nasfw search` resolves them
    rows = []
    for seed in range(a.seeds):
        campaign = parse({**raw, "seed": seed})
        supernet = dict(campaign.phases["supernet"])
        if a.epochs is not None:
            supernet["epochs"] = a.epochs
        torch.set_num_threads(2)
        plain = build(campaign, reg)
        with tempfile.TemporaryDirectory() as tmp:
            plain.task.train_supernet(tmp, progress=False, **supernet)
        state = plain.task.shared_state()
        runs = {"random": ("random start", plain, [])}  # the other starts, built only when asked for
        for kind, overrides in (("seeded", {"task_options": {"seed_layouts": seed_layouts}}),
                                ("connected", {"space_options": {"layout_sampling": "connected"}})):
            if kind in starts:
                comps = build(parse(merge({**raw, "seed": seed}, overrides)), reg)
                comps.task.use_shared_state(state)
                runs[kind] = (kind, comps, comps.task.initial_archs(comps.space, np.random.default_rng(seed)))
        seed_layouts_set = {tuple(p["layout"]) for p in runs.get("seeded", ("", None, []))[2]}
        for name, comps, seeds in (runs[s] for s in starts):
            evals = search(comps, campaign.budget_evaluations, seeds)
            ranked = sorted(evals, key=lambda e: -e[1]["proxy"])
            arch, best = ranked[0]
            kept = sum(tuple(a["layout"]) in seed_layouts_set for a, _ in ranked[:10])
            trivial = two_qubit_gates(comps.task, arch, list(range(comps.task.n_wires)))
            sabre = two_qubit_gates(comps.task, arch, None, "sabre")
            rows.append((seed, name, best["proxy"], best["fidelity"], best["two_qubit_gates"],
                         best["noise_free_accuracy"], kept, trivial, sabre))
            print(f"seed {seed} {name}: best proxy {best['proxy']:.3f}", flush=True)
    print(f"\nMNIST-10 on {raw['task_options']['device']}, {campaign.budget_evaluations} evaluations, "
          f"seed_layouts {seed_layouts}")
    print("| seed | start | best proxy | est. fidelity | noise-free acc. (val.) | 2-qubit gates: its layout | "
          "trivial | SABRE | seeded layouts in top 10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[5]:.3f} | {r[4]:.0f} | {r[7]} | {r[8]} | {r[6]} |")
    for name in sorted({r[1] for r in rows}, key=[r[1] for r in rows].index):
        sel = [r for r in rows if r[1] == name]
        print(f"mean, {name}: proxy {statistics.mean(r[2] for r in sel):.3f}, fidelity "
              f"{statistics.mean(r[3] for r in sel):.3f}, 2-qubit gates on its layout "
              f"{statistics.mean(r[4] for r in sel):.1f} against {statistics.mean(r[8] for r in sel):.1f} on SABRE's "
              f"and {statistics.mean(r[7] for r in sel):.1f} on the trivial one")


if __name__ == "__main__":
    main()
