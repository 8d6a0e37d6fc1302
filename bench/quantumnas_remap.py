"""Does re-choosing the mapping for the trained weights pay? Takes finished QuantumNAS runs and does what
finalize's `remap` option does (plugins/quantumnas/remap.py): the run's searched circuit, with the weights
finalize trained, re-scored on the search's best layouts (the search's own, the fixed one, then the best
evaluations' distinct layouts, `--candidates` in all) with the run's fitness on the validation inputs, read
with `--shots` measurements (`--exact`: the exact expectations, as before finalize read them so); the best
is then evaluated on the test inputs with qiskit-aer (8192 shots, the device noise model), as finalize's rows
are. The searched and the pruned circuit are both re-placed. Prints, per run and as paired differences with a
95% interval over the runs of each device, the re-chosen layout against the search's layout and the fixed one
(the run's own aer rows for those two).

Runs finished without `remap` give the same trained weights as runs with it (re-mapping comes after training,
every seed the same), so this measures on old runs what the option changes in new ones.

    python bench/quantumnas_remap.py runs/bench-claims-cal/lagos-seed? --jobs 2
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quantumnas_seeds import verdict  # noqa: E402


def measure(run: Path, n_candidates: int, shots: int, exact: bool = False) -> dict:
    import torch

    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas import remap as qr
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.finalize import campaign_objective, load_searched

    torch.set_num_threads(1)
    task, arch, searched = load_searched(run)
    report = json.loads((run / "quantumnas.json").read_text())
    search_layout = report.get("search_layout") or arch["layout"]
    pruned = task.supercircuit.extract(arch)
    pruned.load_state_dict(torch.load(run / "export" / "searched_pruned.pt"))
    layouts = qr.candidates(run, search_layout, task.n_wires, n_candidates)
    chosen, _ = qr.remap(task, searched, layouts, campaign_objective(run), shots=None if exact else shots)
    d = task.data

    def aer(module) -> float:
        tq, inputs = qc.transpile(module, task.device, chosen, task.optimization_level, seed=task.seed)
        z = qc.aer_expval(tq, inputs, d.test.x.numpy(), task.device, shots=shots, seed=task.seed)
        return qt.score(torch.as_tensor(z), d.test.y, d.n_classes)[1]

    rows = {r["name"]: r["aer_accuracy"] for r in report["rows"]}
    search_row = rows.get("searched, search's mapping", rows["searched"])
    return {"run": run.name, "device": task.device, "search_layout": list(search_layout), "layout": chosen,
            "candidates": len(layouts), "search": search_row, "fixed": rows["searched, fixed mapping"],
            "remapped": aer(searched), "pruned_remapped": aer(pruned),
            # the run's pruned row, where it sits on the search's layout (runs finalized with remap moved it)
            "pruned_search": rows["searched + pruned"] if report.get("layout", search_layout) == search_layout
            else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--candidates", type=int, default=40, help="layouts re-scored per run (finalize's remap)")
    ap.add_argument("--shots", type=int, default=8192)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--exact", action="store_true",
                    help="choose by exact expectations instead of the outputs as --shots measurements read them")
    a = ap.parse_args()
    n = len(a.runs)
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(measure, a.runs, [a.candidates] * n, [a.shots] * n, [a.exact] * n))
    print("qiskit-aer accuracy on each run's test inputs\n")
    print("| run | search's layout | re-chosen | search's | fixed | re-chosen acc | pruned, re-chosen |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['search_layout']} | {r['layout']} | {r['search']:.3f} | {r['fixed']:.3f} | "
              f"{r['remapped']:.3f} | {r['pruned_remapped']:.3f} |")
    print("\npaired differences in accuracy points (95% interval over the runs)\n")
    print("| device | runs | re-chosen - search's | re-chosen - fixed | search's - fixed "
          "| pruned: re-chosen - search's |")
    print("|---|---|---|---|---|---|")
    for dev in dict.fromkeys(r["device"] for r in rows):
        rs = [r for r in rows if r["device"] == dev]
        cells = []
        for a_, b_ in (("remapped", "search"), ("remapped", "fixed"), ("search", "fixed"),
                       ("pruned_remapped", "pruned_search")):
            diffs = [100 * (r[a_] - r[b_]) for r in rs if r[b_] is not None]
            if not diffs:
                cells.append("-")
                continue
            m, half, v = verdict(diffs)
            cells.append(f"{m:+.1f} [{m - half:+.1f}, {m + half:+.1f}] {v}")
        print(f"| {dev} | {len(rs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
