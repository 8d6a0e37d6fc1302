"""QuantumNAS's comparison table over several seeds: runs the MNIST-4 experiment of each device
(experiments/quantumnas-mnist4-DEVICE.yaml) once per seed and prints each row's qiskit-aer accuracy as mean
and standard deviation, so that differences can be read against seed-to-seed spread (one run's 300 test
inputs alone give about +-2.7 points).

    python bench/quantumnas_seeds.py --devices quito,lima --seeds 3 --out runs/bench-quantumnas
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", default="quito,lima")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="runs/bench-quantumnas")
    ap.add_argument("--budget", default=None, help="a budget preset or number for every run")
    a = ap.parse_args()
    for device in a.devices.split(","):
        rows: dict[str, list[float]] = {}
        params: dict[str, list[int]] = {}
        for seed in range(a.seeds):
            out = Path(a.out) / f"{device}-seed{seed}"
            if not (out / "quantumnas.json").exists():
                # the seed drives the searcher, the data split and the SuperCircuit's initialisation
                cfg = yaml.safe_load((ROOT / "experiments" / f"quantumnas-mnist4-{device}.yaml").read_text())
                cfg["seed"] = seed
                cfg["task_options"] = {**cfg.get("task_options", {}), "seed": seed}
                Path(a.out).mkdir(parents=True, exist_ok=True)
                cfg_path = Path(a.out) / f"{device}-seed{seed}.yaml"
                cfg_path.write_text(yaml.safe_dump(cfg))
                cmd = [sys.executable, "-m", "nasfw.cli", "search", "--config", str(cfg_path), "--out", str(out),
                       "--no-progress"] + (["--budget", a.budget] if a.budget else [])
                if out.exists():
                    cmd.append("--resume")
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            for r in json.loads((out / "quantumnas.json").read_text())["rows"]:
                rows.setdefault(r["name"], []).append(r["aer_accuracy"])
                params.setdefault(r["name"], []).append(r["params"])
        print(f"\n{device}: MNIST-4, qiskit-aer accuracy over {a.seeds} seeds (mean +- sd; per seed)")
        print("| circuit | params (mean) | aer accuracy | per seed |\n|---|---|---|---|")
        for name, accs in rows.items():
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            print(f"| {name} | {statistics.mean(params[name]):.0f} | {statistics.mean(accs):.3f} +- {sd:.3f} | "
                  + ", ".join(f"{x:.3f}" for x in accs) + " |")


if __name__ == "__main__":
    main()
