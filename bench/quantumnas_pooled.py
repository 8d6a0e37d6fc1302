"""Rows of QuantumNAS runs compared across runs, paired on each run's test inputs and pooled over the runs.

One run's table already compares every row with its searched circuit on 100-1,000 test inputs; at 10 qubits (or
for differences of a point) one run resolves little, and the runs of several seeds, or of two campaign files
on the same seed, must be read together. Each argument names one row in a list of runs, `[LABEL=]ROW@RUNS`, RUNS
being run folders separated by commas (a `*`/`?` pattern expands, sorted). Every argument must name as many runs;
they pair by position (the first runs of each argument, then the second, ...), and each pair must have scored the
same test inputs (the report's `test_inputs` fingerprint: same seed, data and split options), which is refused
otherwise. Each argument after the first is compared with the first, or every pair with `--all-pairs`.

Per comparison: the difference in accuracy points run by run, their mean with a 95% Student t interval over the
runs, and the exact McNemar test on the discordant inputs pooled over the runs (plugins/quantumnas/paired.py).

    python bench/quantumnas_pooled.py 'proxy=searched@runs/m10-s?-proxy' \\
        'noise-unaware=noise-unaware search@runs/m10-s?-proxy' 'noisy fitness=searched@runs/m10-s?-traj'

Reports written before the rows kept their per-input correctness lack `aer_correct`; resuming the run with its
quantumnas.json moved away (`nasfw search --config RUN/campaign.yaml --out RUN --resume`) rewrites the report
from the stored aer outputs without evaluating them again.
"""
from __future__ import annotations

import argparse
import glob
import json
from itertools import combinations
from pathlib import Path

from nasfw.plugins.quantumnas.paired import decode_correct, pooled_difference

REPORT = "quantumnas.json"


class Refused(SystemExit):
    pass


def parse_spec(text: str) -> tuple[str, str, list[Path]]:
    """'[LABEL=]ROW@RUN,RUN,...' -> (label, row, runs)."""
    if "@" not in text:
        raise Refused(f"argument {text!r}: expected [LABEL=]ROW@RUN[,RUN...], e.g. 'proxy=searched@runs/a,runs/b'")
    head, _, runs_text = text.rpartition("@")
    label, eq, row = head.partition("=")
    if not eq:
        label, row = head, head
    runs: list[Path] = []
    for part in filter(None, (p.strip() for p in runs_text.split(","))):
        found = sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
        if not found:
            raise Refused(f"argument {text!r}: {part!r} matches no folder")
        runs += [Path(f) for f in found]
    if not row.strip() or not runs:
        raise Refused(f"argument {text!r}: a row name and at least one run folder are needed")
    return label.strip(), row.strip(), runs


def load_row(run: Path, row: str) -> tuple[str, object, float]:
    """The run's test-input fingerprint, the row's per-input correctness and its aer accuracy."""
    path = run / REPORT
    if not path.exists():
        raise Refused(f"{run}: no {REPORT} (not a finished QuantumNAS QML run)")
    report = json.loads(path.read_text())
    rows = {r["name"]: r for r in report.get("rows", [])}
    if row not in rows:
        raise Refused(f"{run}: no row {row!r}; its rows: {', '.join(rows)}")
    if "aer_correct" not in rows[row] or "test_inputs" not in report:
        raise Refused(f"{run}: its report predates per-input correctness (aer_correct); move {REPORT} away and resume "
                      "the run to rewrite it from the stored aer outputs")
    return report["test_inputs"], decode_correct(rows[row]["aer_correct"]), rows[row]["aer_accuracy"]


def compare(specs: list[tuple[str, str, list[Path]]], all_pairs: bool = False) -> str:
    counts = {len(runs) for _, _, runs in specs}
    if len(counts) != 1:
        raise Refused("every argument must name as many runs (they pair by position): "
                      + ", ".join(f"{label}: {len(runs)}" for label, _, runs in specs))
    loaded = [[load_row(run, row) for run in runs] for _, row, runs in specs]
    n = counts.pop()
    for i in range(n):
        prints = {loaded[k][i][0] for k in range(len(specs))}
        if len(prints) != 1:
            raise Refused(f"run {i + 1} of each argument scored different test inputs ("
                          + ", ".join(str(runs[i]) for _, _, runs in specs)
                          + "): pair runs of the same seed and data")
    lines = [f"{n} runs a row; accuracy on aer, mean over the runs:", "",
             "| row | runs | aer accuracy (mean) |", "|---|---|---|"]
    for (label, row, runs), rows in zip(specs, loaded):
        acc = sum(r[2] for r in rows) / n
        lines.append(f"| {label} ({row}) | {', '.join(str(r) for r in runs)} | {acc:.3f} |")
    lines += ["", "| comparison | per run (points) | mean [95% interval over runs] | pooled inputs, McNemar p |",
              "|---|---|---|---|"]
    pairs = combinations(range(len(specs)), 2) if all_pairs else ((0, k) for k in range(1, len(specs)))
    for a, b in pairs:
        d = pooled_difference([(loaded[b][i][1], loaded[a][i][1]) for i in range(n)])
        interval = "" if d["half_width"] == float("inf") else \
            f" [{d['mean'] - d['half_width']:+.1f}, {d['mean'] + d['half_width']:+.1f}]"
        lines.append(f"| {specs[b][0]} minus {specs[a][0]} | " + ", ".join(f"{x:+.1f}" for x in d["per_run"])
                     + f" | {d['mean']:+.1f}{interval} | {d['only_this']}:{d['only_reference']}, p = "
                     f"{d['p_value']:.2g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="+", metavar="[LABEL=]ROW@RUNS", help="a row in runs separated by commas")
    ap.add_argument("--all-pairs", action="store_true", help="compare every pair, not each with the first")
    a = ap.parse_args(argv)
    if len(a.specs) < 2:
        ap.error("give at least two rows to compare")
    print(compare([parse_spec(s) for s in a.specs], a.all_pairs))


if __name__ == "__main__":
    main()
