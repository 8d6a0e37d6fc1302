"""NAAS's report for the winning accelerator: its mappings searched again with a larger inner budget, each
network's energy, cycles and EDP beside the baseline's (Eyeriss v1, row-stationary), speed-up and energy
saving, and (`zigzag: true`) both re-evaluated layer by layer with ZigZag, mapping for mapping, so our model's
verdict can be checked by an independent one. Writes naas.json and naas.md."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from nasfw.option_types import NonNegativeInt, PositiveInt
from nasfw.plugins.naas.mapper import fixed_layer


def _geo(xs) -> float:
    xs = list(xs)
    return float(math.exp(sum(math.log(x) for x in xs) / len(xs)))


def _zigzag(pairs, acc) -> dict[str, float]:
    from nasfw.hardware import zigzag_ref

    e = c = 0.0
    for layer, res in pairs:
        z = zigzag_ref.evaluate(layer, res.mapping, acc)
        e, c = e + z["energy"], c + z["cycles"]
    return {"energy": e, "cycles": c, "edp": e * c}


def finalize(task, arch: dict[str, Any], run_dir: Path, n_random: PositiveInt = 512, rounds: NonNegativeInt = 4,
             zigzag: bool = True, progress: bool = True) -> dict[str, Any]:
    acc, par = task.accelerator(arch)
    ours = task.network_costs(arch, n_random, rounds, keep_layers=True)
    rows = []
    for name, layers in task.layers.items():
        base_pairs = [(layer, fixed_layer(layer, task.baseline, task.baseline_dataflow)) for layer in layers]
        base_e = sum(r.energy_pj for _, r in base_pairs)
        base_c = sum(r.cycles for _, r in base_pairs)
        o = ours[name]
        row = {"network": name, "baseline_energy_uj": base_e / 1e6, "baseline_cycles": base_c,
               "baseline_edp": base_e * base_c, "naas_energy_uj": o["energy_pj"] / 1e6, "naas_cycles": o["cycles"],
               "naas_edp": o["edp"], "speedup": base_c / o["cycles"], "energy_saving": base_e / o["energy_pj"],
               "edp_gain": base_e * base_c / o["edp"]}
        if zigzag:
            zb, zn = _zigzag(base_pairs, task.baseline), _zigzag(o["layers"], acc)
            row.update({"zigzag_baseline_edp": zb["edp"], "zigzag_naas_edp": zn["edp"],
                        "zigzag_speedup": zb["cycles"] / zn["cycles"],
                        "zigzag_energy_saving": zb["energy"] / zn["energy"],
                        "zigzag_edp_gain": zb["edp"] / zn["edp"]})
        rows.append(row)
    report = {"arch": arch, "accelerator": {"array": list(acc.array), "parallel": par, "n_pes": acc.n_pes,
                                            "rf_bytes": acc.rf_words * acc.word_bytes, "glb_bytes": acc.glb_bytes},
              "baseline": task.baseline.name, "baseline_dataflow": task.baseline_dataflow, "mapping": task.mapping,
              "rows": rows,
              "geomean": {k: _geo(r[k] for r in rows) for k in rows[0] if k.endswith(("speedup", "saving", "gain"))}}
    out = run_dir / "naas"
    out.mkdir(parents=True, exist_ok=True)
    (out / "naas.json").write_text(json.dumps(report, indent=2))
    (out / "naas.md").write_text(markdown(report))
    return {**report, "table": str(out / "naas.md")}  # the table report.md and `nasfw show` carry


def markdown(report: dict[str, Any]) -> str:
    a = report["accelerator"]
    zz = "zigzag_edp_gain" in report["rows"][0]
    lines = [f"# NAAS against {report['baseline']} ({report['baseline_dataflow']})", "",
             (f"Searched accelerator: {' x '.join(map(str, a['array']))} PEs unrolling {', '.join(a['parallel'])}; "
              f"{a['rf_bytes']} B register file per PE; {a['glb_bytes'] / 1024:.1f} kB global buffer "
              f"(mappings: {report['mapping']})."), "",
             "| network | baseline EDP | NAAS EDP | speed-up | energy saving | EDP gain |" +
             (" EDP gain (ZigZag) |" if zz else ""),
             "|---|---|---|---|---|---|" + ("---|" if zz else "")]
    for r in report["rows"]:
        lines.append(f"| {r['network']} | {r['baseline_edp']:.3g} | {r['naas_edp']:.3g} | {r['speedup']:.2f}x | "
                     f"{r['energy_saving']:.2f}x | {r['edp_gain']:.2f}x |" +
                     (f" {r['zigzag_edp_gain']:.2f}x |" if zz else ""))
    g = report["geomean"]
    lines.append(f"| geometric mean | | | {g['speedup']:.2f}x | {g['energy_saving']:.2f}x | {g['edp_gain']:.2f}x |" +
                 (f" {g['zigzag_edp_gain']:.2f}x |" if zz else ""))
    return "\n".join(lines) + "\n"
