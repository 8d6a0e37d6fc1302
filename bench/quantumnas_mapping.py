"""How much can a qubit mapping gain on a device? Takes finished QuantumNAS runs, places each run's searched
circuit (its trained weights) on every layout of its device (all of them up to `--max-layouts`, a random sample
beyond, always with the fixed, SABRE's and the searched one) and scores it on the run's test inputs with the torch
density-matrix evaluator, which equals qiskit-aer's noisy expectations within shot noise
(tests/test_quantum_density.py). Prints, per run and averaged, the fixed mapping's accuracy and what the best
layout, the median layout, SABRE's layout and the searched one gain over it: the headroom a mapping search has.

    python bench/quantumnas_mapping.py runs/bench-claims-cal/quito-seed* --jobs 2
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def measure(run: Path, max_layouts: int) -> dict:
    import torch

    from nasfw.hardware import quantum_noise
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.finalize import load_searched

    torch.set_num_threads(1)
    task, arch, module = load_searched(run)
    d, dev = task.data, task.device

    def accuracy(layout, method=None) -> tuple[float, tuple[int, ...]]:
        tq, inputs = qc.transpile(module, dev, layout, task.optimization_level, method, seed=task.seed)
        z = qc.program(tq, inputs, dev).expval_z(d.test.x)
        return qt.score(z, d.test.y, d.n_classes)[1], tuple(qc.initial_layout(tq))

    fixed = tuple(range(task.n_wires))
    searched = tuple(arch["layout"])
    every = list(itertools.permutations(range(quantum_noise.backend(dev).num_qubits), task.n_wires))
    layouts = every if len(every) <= max_layouts else random.Random(0).sample(every, max_layouts)
    layouts = list(dict.fromkeys([fixed, searched] + layouts))
    acc = {lay: accuracy(list(lay))[0] for lay in layouts}
    sabre, sabre_layout = accuracy(None, "sabre")
    best = max(acc, key=acc.get)
    rank = sum(a > acc[searched] for a in acc.values()) + 1
    return {"run": run.name, "device": dev, "layouts": len(acc), "sampled": len(every) > max_layouts,
            "fixed": acc[fixed], "searched": acc[searched], "sabre": sabre, "median": statistics.median(acc.values()),
            "best": acc[best], "best_layout": list(best), "searched_layout": list(searched),
            "sabre_layout": list(sabre_layout), "searched_rank": rank}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--max-layouts", type=int, default=120, help="all layouts up to this many, a sample beyond")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the per-run figures here")
    a = ap.parse_args()
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(measure, a.runs, [a.max_layouts] * len(a.runs)))
    print("accuracy on the run's test inputs (torch density matrix); gains over the fixed mapping in points\n")
    print("| run | layouts | fixed | best - fixed | median - fixed | SABRE - fixed | searched - fixed "
          "| searched rank |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = f"{r['layouts']}{' (sample)' if r['sampled'] else ''}"
        print(f"| {r['run']} | {n} | {r['fixed']:.3f} | " + " | ".join(
            f"{100 * (r[k] - r['fixed']):+.1f}" for k in ("best", "median", "sabre", "searched"))
              + f" | {r['searched_rank']} of {r['layouts']} |")
    print("\n| device | runs | best - fixed | median - fixed | SABRE - fixed | searched - fixed |\n"
          "|---|---|---|---|---|---|")
    for dev in dict.fromkeys(r["device"] for r in rows):
        rs = [r for r in rows if r["device"] == dev]
        print(f"| {dev} | {len(rs)} | " + " | ".join(
            f"{statistics.mean(100 * (r[k] - r['fixed']) for r in rs):+.1f}"
            for k in ("best", "median", "sabre", "searched")) + " |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
