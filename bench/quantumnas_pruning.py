"""Does pruning add accuracy under a device's noise? Takes finished QuantumNAS runs (the folders
bench/quantumnas_seeds.py leaves, or any `nasfw search --plugin quantumnas` run), prunes each searched circuit's
trained angles to several sparsities with the run's own fine-tuning recipe, and evaluates every version with
qiskit-aer on the run's test inputs under the run's device noise. Prints accuracy, two-qubit gates and the
paired gain over the unpruned circuit, per run and averaged.

Pruning fine-tunes as it goes (4 rounds of `--epochs`), so a gain over the unpruned circuit could be the extra
training rather than the removed angles. The control row, "ft", runs the same rounds with nothing pruned; each
sparsity's gain over it is what the pruning itself adds.

    python bench/quantumnas_pruning.py runs/bench-claims/quito-seed* --sparsities 0.1,0.3,0.5
    python bench/quantumnas_pruning.py RUNS --sparsities 0.1,0.3 --granularities angle,gate   # whole gates too
"""
from __future__ import annotations

import argparse
import copy
import statistics
from pathlib import Path

import torch

from nasfw.plugins.quantumnas import compile as qc
from nasfw.plugins.quantumnas import train as qt
from nasfw.plugins.quantumnas.finalize import load_searched


def measure(run: Path, sparsities: list[float], epochs: int, lr: float, batch_size: int, shots: int,
            granularities: list[str]) -> list[dict]:
    task, arch, trained = load_searched(run)
    d = task.data
    rows = []
    # None: as trained; 0.0: the fine-tune-only control
    variants = [(None, "angle"), (0.0, "angle")] + [(s, g) for g in granularities for s in sparsities]
    for final, granularity in variants:
        m = copy.deepcopy(trained)
        if final is not None:
            qt.prune(m, d.train, d.n_classes, final=final, initial=min(0.05, final), steps=4,
                     epochs_per_step=epochs, lr=lr, batch_size=batch_size, seed=task.seed, granularity=granularity)
        tq, inputs = qc.transpile(m, task.device, arch.get("layout"), task.optimization_level, seed=task.seed)
        z = qc.aer_expval(tq, inputs, d.test.x.numpy(), task.device, shots=shots, seed=task.seed)
        rows.append({"sparsity": final, "granularity": granularity,
                     "aer_accuracy": qt.score(torch.as_tensor(z), d.test.y, d.n_classes)[1],
                     "noise_free_accuracy": qt.evaluate(m, d.test, d.n_classes)[1],
                     **{k: v for k, v in qc.stats(tq, task.device).items() if k in ("two_qubit_gates", "gates")}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--sparsities", default="0.1,0.3,0.5")
    ap.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs per pruning round")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--shots", type=int, default=8192)
    ap.add_argument("--granularities", default="angle", help="angle (the paper's), gate (whole gates), or both: "
                    "angle,gate")
    a = ap.parse_args()
    torch.set_num_threads(1)
    sparsities = [float(s) for s in a.sparsities.split(",")]
    granularities = a.granularities.split(",")
    keys = [(0.0, "angle")] + [(s, g) for g in granularities for s in sparsities]
    gains: dict[tuple, list[float]] = {k: [] for k in keys}
    over_ft: dict[tuple, list[float]] = {k: [] for k in keys[1:]}
    twoq: dict[tuple, list[float]] = {k: [] for k in keys}
    print("| run | sparsity | 2q gates | gates | noise-free acc | aer acc | gain (points) | gain over ft |\n"
          "|---|---|---|---|---|---|---|---|")
    for run in a.runs:
        rows = measure(run, sparsities, a.epochs, a.lr, a.batch_size, a.shots, granularities)
        base, ft = rows[0]["aer_accuracy"], rows[1]["aer_accuracy"]
        for r in rows:
            gain = 100 * (r["aer_accuracy"] - base)
            s = r["sparsity"]
            key = (s, r["granularity"])
            if s is not None:
                gains[key].append(gain)
                twoq[key].append(r["two_qubit_gates"] - rows[0]["two_qubit_gates"])
            if s:
                over_ft[key].append(100 * (r["aer_accuracy"] - ft))
            name = "-" if s is None else "ft" if s == 0 else f"{s:.2f} {r['granularity']}"
            print(f"| {run.name} | {name} | {int(r['two_qubit_gates'])} | {int(r['gates'])} | "
                  f"{r['noise_free_accuracy']:.3f} | {r['aer_accuracy']:.3f} | {gain:+.1f} | "
                  f"{'' if not s else format(100 * (r['aer_accuracy'] - ft), '+.1f')} |", flush=True)
    print("\n| sparsity | 2q gates removed (mean) | mean gain over unpruned (points) | sd | mean gain over ft | sd "
          "| runs |\n|---|---|---|---|---|---|---|")
    for (s, granularity), g in gains.items():
        o = over_ft.get((s, granularity), [])
        cells = [f"{statistics.mean(x):+.1f} | {statistics.stdev(x) if len(x) > 1 else 0.0:.1f}" if x else "- | -"
                 for x in (g, o)]
        removed = -statistics.mean(twoq[(s, granularity)]) if g else 0.0
        name = "ft" if s == 0 else f"{s:.2f} {granularity}"
        print(f"| {name} | {removed:.1f} | {cells[0]} | {cells[1]} | {len(g)} |")


if __name__ == "__main__":
    main()
