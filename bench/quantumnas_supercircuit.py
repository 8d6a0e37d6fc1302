"""Does the SuperCircuit rank SubCircuits? QuantumNAS rests on it: a SubCircuit scored with weights inherited from
the SuperCircuit should rank as it would after being trained on its own. This trains `--samples` random
SubCircuits from scratch once (the finalize recipe: Adam 5e-2, 100 epochs), then trains the SuperCircuit with each
sampling strategy and several sampling seeds (same data, same initial weights) and prints the Spearman rank
correlation between inherited and from-scratch accuracy (noise-free, and under the device noise with the torch
density-matrix evaluator), beside the parameter count's own correlation as the floor a proxy has to beat.

    python bench/quantumnas_supercircuit.py --device quito --samples 30 --seeds 3 \\
        --samplings uniform,restricted,progressive --out runs/bench-supercircuit
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from nasfw.plugins.quantumnas import train as qt
from nasfw.plugins.quantumnas.task import QuantumNASTask


def scratch_results(task: QuantumNASTask, archs: list[dict], epochs: int, cache: Path) -> list[dict]:
    if cache.exists():
        rows = json.loads(cache.read_text())
        if len(rows) == len(archs):
            return rows
    d, rows = task.data, []
    for i, a in enumerate(archs):
        sub = task.supercircuit.extract(a)
        sub.reinitialise(0)
        qt.train(sub, d.train, d.n_classes, epochs, lr=5e-2, seed=0)
        noisy, _ = task.noisy_score(sub, a["layout"], d.test)
        rows.append({"params": int(sub.theta.numel()), "noise_free": qt.evaluate(sub, d.test, d.n_classes)[1],
                     "noisy": noisy["accuracy"]})
        print(f"  scratch {i + 1}/{len(archs)}: {rows[-1]}", flush=True)
    cache.write_text(json.dumps(rows))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="quito")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3, help="SuperCircuit sampling seeds per strategy")
    ap.add_argument("--samplings", default="uniform,restricted,progressive")
    ap.add_argument("--epochs", type=int, default=100, help="SuperCircuit epochs (batches of 32, Adam 5e-2)")
    ap.add_argument("--scratch-epochs", type=int, default=100)
    ap.add_argument("--out", default="runs/bench-supercircuit")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def new_task() -> QuantumNASTask:
        return QuantumNASTask(device=a.device, n_blocks=8, n_valid=300, n_test=300, seed=0)

    task = new_task()
    rng = np.random.default_rng(100)
    archs = [task.supercircuit.space.sample(rng) for _ in range(a.samples)]
    t0 = time.time()
    scratch = scratch_results(task, archs, a.scratch_epochs, out / f"scratch-{a.device}-{a.samples}.json")
    print(f"{a.samples} SubCircuits trained from scratch ({time.time() - t0:.0f} s)")
    nf = [r["noise_free"] for r in scratch]
    noisy = [r["noisy"] for r in scratch]
    params = [r["params"] for r in scratch]
    print(f"\nparameter count vs from-scratch accuracy: Spearman {spearmanr(params, nf)[0]:.2f} (noise-free), "
          f"{spearmanr(params, noisy)[0]:.2f} (noisy)")
    print("\n| sampling | seed | SuperCircuit s | mean inherited acc | Spearman noise-free | Spearman noisy |\n"
          "|---|---|---|---|---|---|")
    summary: dict[str, list[tuple[float, float]]] = {}
    for sampling in a.samplings.split(","):
        for seed in range(a.seeds):
            t = new_task()
            t.seed = seed  # the sampler's and the batches' seed; data split and initial weights stay those of seed 0
            t0 = time.time()
            t.train_supernet(out / f"sc-{sampling}-{seed}", epochs=a.epochs, lr=5e-2, batch_size=32,
                             sampling=sampling, warmup_epochs=5, progress=False)
            secs = time.time() - t0
            d = t.data
            inherited = [qt.evaluate(t.supercircuit.extract(x), d.valid, d.n_classes)[1] for x in archs]
            rho = (spearmanr(inherited, nf)[0], spearmanr(inherited, noisy)[0])
            summary.setdefault(sampling, []).append(rho)
            print(f"| {sampling} | {seed} | {secs:.0f} | {statistics.mean(inherited):.3f} | {rho[0]:.2f} | "
                  f"{rho[1]:.2f} |", flush=True)
    print("\n| sampling | Spearman noise-free, mean over seeds | Spearman noisy, mean |\n|---|---|---|")
    for sampling, rhos in summary.items():
        print(f"| {sampling} | {statistics.mean(r[0] for r in rhos):.2f} | {statistics.mean(r[1] for r in rhos):.2f} |")


if __name__ == "__main__":
    main()
