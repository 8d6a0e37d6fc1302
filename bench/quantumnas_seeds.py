"""QuantumNAS's comparison table over several seeds, and the paper's claims read against their uncertainty.

Runs the MNIST-4 experiment of each device (experiments/quantumnas-mnist4-DEVICE.yaml) once per seed (the seed
drives the data split, the SuperCircuit's initialisation and the searchers), then prints

- each row's qiskit-aer accuracy as mean +- standard deviation over the seeds;
- each claim of the paper as a paired difference (the two rows of one run share the test inputs, the data and
  the SuperCircuit), with its mean over seeds, a 95% confidence interval (Student t) and a verdict: `holds`
  when the interval lies above zero, `reversed` when below, `not resolved` otherwise; beside it the test inputs
  only one of the two rows classifies right, pooled over the seeds, with their exact McNemar p (the verdict
  counts the seeds' spread, the pooled test only the inputs', and is the more optimistic of the two).

A run's 300 held-out test images alone give about +-2.7 points; `--test-data` points at a larger test set with
the same classes (MNIST's official test set as idx files, for example) so that differences of a few points can
be resolved. `--random-circuits K` trains K random circuits at the searched parameter count per run and compares
with their mean (one random circuit says little about random circuits). `--noise-scale K` runs every row on the
device with its calibrated errors K times as large (how the claims depend on the noise's strength). `--classes 3,6`
runs the same experiments on those digits instead (MNIST-2, logits [Z0+Z1, Z2+Z3]). `--retrain-spread none`
retrains the search's best circuits by rank instead of the best of each block count first (finalize's
`retrain_spread`, default `blocks`).

Two options compare finalize settings without searching again. `--search-from FOLDER` starts each run from a copy
of the same device and seed in FOLDER (another bench's `--out`): the search is replayed from its store and
finalize's stored steps are reused, so only what the changed finalize options touch is computed (phases are not
part of a campaign's identity; any other difference stops the resume with the field named). `--against FOLDER`
adds, per row, the paired difference between this folder's runs and FOLDER's runs of the same seeds (with the test
inputs pooled over the seeds where both runs of every seed keep their per-input results).

    python bench/quantumnas_seeds.py --devices quito,lima --seeds 5 --test-data ../shared/data/mnist_t10k \\
        --n-test 1000 --random-circuits 3 --jobs 2 --out runs/bench-quantumnas-claims
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import yaml

from nasfw.plugins.quantumnas.paired import decode_correct, pooled_difference

ROOT = Path(__file__).resolve().parents[1]
RANDOM = "random circuit"
# (claim, row a, row b): the claim holds when a's accuracy exceeds b's
CLAIMS = [
    ("searched + pruned beats noise-unaware search", "searched + pruned", "noise-unaware search"),
    ("noise-unaware search beats the human design", "noise-unaware search", "human design"),
    ("noise-unaware search beats random circuits", "noise-unaware search", RANDOM),
    ("searched + pruned beats the human design", "searched + pruned", "human design"),
    ("searched + pruned beats random circuits (same params)", "searched + pruned", RANDOM),
    ("searched mapping beats a fixed mapping", "searched", "searched, fixed mapping"),
    ("searched mapping beats SABRE's layout", "searched", "searched, SABRE layout"),
    ("re-choosing the mapping for the trained weights pays", "searched", "searched, search's mapping"),
    ("choosing among the search's best after training pays", "searched", "searched, search's winner"),
    ("pruning adds accuracy", "searched + pruned", "searched"),
]
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}


def run_one(device: str, seed: int, a: argparse.Namespace) -> Path:
    out = Path(a.out) / f"{device}-seed{seed}"
    if (out / "quantumnas.json").exists():
        return out
    cfg = yaml.safe_load((ROOT / "experiments" / f"quantumnas-mnist4-{device}.yaml").read_text())
    cfg["seed"] = seed
    task = {**cfg.get("task_options", {}), "seed": seed}
    if a.test_data:
        task.update(test_dataset=str(Path(a.test_data).resolve()), n_test=a.n_test)
    if a.fitness_shots:
        task["shots"] = a.fitness_shots
    if a.classes:  # and the run named for its task, not for the MNIST-4 experiment it started from
        task["classes"] = a.classes
        cfg["name"] = cfg["name"].replace("mnist4", f"mnist{len(a.classes)}")
        cfg["description"] = cfg.get("description", "").replace("MNIST-4", f"MNIST-{len(a.classes)} {a.classes}")
    if a.noise_scale != 1:  # the device with its calibrated errors scaled, for search, baselines and aer alike
        task["noise_scale"] = a.noise_scale
    cfg["task_options"] = task
    if a.objective:
        metric, _, direction = a.objective.partition(":")
        cfg["objectives"] = [{"metric": metric, "direction": direction or "min"}]
    if a.random_circuits > 1:  # phases merge all the way down: the rest of the finalize phase stays the default's
        cfg.setdefault("phases", {}).setdefault("finalize", {}).setdefault("task", {})["random_circuits"] = \
            a.random_circuits
    if a.retrain_spread:
        cfg.setdefault("phases", {}).setdefault("finalize", {}).setdefault("task", {})["retrain_spread"] = \
            a.retrain_spread
    Path(a.out).mkdir(parents=True, exist_ok=True)
    cfg_path = Path(a.out) / f"{device}-seed{seed}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    source = Path(a.search_from) / out.name if a.search_from else None
    if source is not None and not out.exists():
        if not (source / "campaign.yaml").exists():
            raise SystemExit(f"--search-from {a.search_from}: no run {out.name} there to start from")
        # the finished run's report would end this run at once: everything else (store, trained SuperCircuit,
        # finalize's stored steps) is what the copy is for
        shutil.copytree(source, out, ignore=shutil.ignore_patterns("quantumnas.json", "*.lock"))
    cmd = [sys.executable, "-m", "nasfw.cli", "search", "--config", str(cfg_path), "--out", str(out),
           "--no-progress"] + (["--budget", a.budget] if a.budget else [])
    if out.exists():
        cmd.append("--resume")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def finished_report(run: Path) -> dict:
    """A finished run's quantumnas.json, parsed once while the file stays as it was: every claim and every row
    reads the same runs (not to be mutated)."""
    path = run / "quantumnas.json"
    return _parsed(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=None)
def _parsed(path: Path, mtime_ns: int) -> dict:
    return json.loads(path.read_text())


def accuracies(run: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Row name -> aer accuracy and parameter count; random circuits folded into their mean."""
    acc: dict[str, list[float]] = {}
    params: dict[str, list[int]] = {}
    for r in finished_report(run)["rows"]:
        name = RANDOM if r["name"].startswith(RANDOM) else r["name"]
        acc.setdefault(name, []).append(r["aer_accuracy"])
        params.setdefault(name, []).append(r["params"])
    return ({k: statistics.mean(v) for k, v in acc.items()}, {k: statistics.mean(v) for k, v in params.items()})


def correctness(run: Path) -> dict[str, object]:
    """Row name -> the test inputs aer classified right, for the rows that keep them (not the random circuits'
    mean, nor reports written before rows kept them)."""
    return {r["name"]: decode_correct(r["aer_correct"])
            for r in finished_report(run)["rows"] if "aer_correct" in r}


def pooled(runs: list[Path], a: str, b: str) -> str:
    """Row a against row b, the discordant test inputs pooled over the runs (exact McNemar; '-' where a run lacks
    either row's per-input results)."""
    rows = [correctness(r) for r in runs]
    if not all(a in c and b in c for c in rows):
        return "-"
    d = pooled_difference([(c[a], c[b]) for c in rows])
    return f"{d['only_this']}:{d['only_reference']}, p = {d['p_value']:.2g}"


def verdict(diffs: list[float]) -> tuple[float, float, str]:
    """Mean, half-width of the 95% interval, verdict."""
    m = statistics.mean(diffs)
    if len(diffs) < 2:
        return m, math.inf, "not resolved"
    half = T95.get(len(diffs) - 1, 1.96) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return m, half, "holds" if m - half > 0 else "reversed" if m + half < 0 else "not resolved"


def report(device: str, runs: list[Path], task: str = "MNIST-4") -> str:
    per_run = [accuracies(r) for r in runs]
    n = len(runs)
    lines = [f"\n{device}: {task}, qiskit-aer accuracy over {n} seeds (mean +- sd; per seed)",
             "| circuit | params (mean) | aer accuracy | per seed |", "|---|---|---|---|"]
    # runs finished by other versions may lack a row (the search's-mapping row came with `remap`): each row and
    # claim is read over the runs that have it, and says so when that is not all of them
    names = list(dict.fromkeys(name for acc, _ in per_run for name in acc))
    for name in names:
        have = [(acc, params) for acc, params in per_run if name in acc]
        accs = [acc[name] for acc, _ in have]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        p = statistics.mean(params[name] for _, params in have)
        label = name if len(have) == n else f"{name} ({len(have)} of {n} runs)"
        lines.append(f"| {label} | {p:.0f} | {statistics.mean(accs):.3f} +- {sd:.3f} | "
                     + ", ".join(f"{acc[name]:.3f}" if name in acc else "-" for acc, _ in per_run) + " |")
    lines += [(f"\n{device}: the claims as paired differences in accuracy points (95% interval over {n} seeds; "
               "pooled: the test inputs only a / only b classifies right, over all seeds, and their McNemar p)"),
              "| claim | difference | 95% interval | per seed | verdict | pooled inputs |", "|---|---|---|---|---|---|"]
    for claim, a, b in CLAIMS:
        diffs = [100 * (acc[a] - acc[b]) for acc, _ in per_run if a in acc and b in acc]
        if not diffs:
            continue
        m, half, v = verdict(diffs)
        label = claim if len(diffs) == n else f"{claim} ({len(diffs)} of {n} runs)"
        lines.append(f"| {label} | {m:+.1f} | [{m - half:+.1f}, {m + half:+.1f}] | "
                     + ", ".join(f"{d:+.1f}" for d in diffs) + f" | {v} | {pooled(runs, a, b)} |")
    return "\n".join(lines)


def pooled_against(pairs: list[tuple[Path, Path]], name: str) -> str:
    """One row here against the same row there, the discordant test inputs pooled over the seeds ('-' unless every
    pair of runs keeps that row's per-input results and scored the same test inputs)."""
    rows = []
    for here, there in pairs:
        reports = [finished_report(r) for r in (here, there)]
        if reports[0].get("test_inputs") is None or reports[0].get("test_inputs") != reports[1].get("test_inputs"):
            return "-"
        h, t = correctness(here), correctness(there)
        if name not in h or name not in t:
            return "-"
        rows.append((h[name], t[name]))
    if not rows:
        return "-"
    d = pooled_difference(rows)
    return f"{d['only_this']}:{d['only_reference']}, p = {d['p_value']:.2g}"


def report_against(device: str, runs: list[Path], others: list[Path], label: str) -> str:
    """Each row here against the same row of `label`'s run of the same seed, as paired differences."""
    folders = [(r, o) for r, o in zip(runs, others) if (o / "quantumnas.json").exists()]
    pairs = [(accuracies(r)[0], accuracies(o)[0]) for r, o in folders]
    lines = [(f"\n{device}: each row here minus the same row in {label}, accuracy points ({len(pairs)} paired "
              "seeds; pooled: the test inputs only here / only there classified right, over the seeds, and their "
              "McNemar p)"),
             "| circuit | here | there | difference | 95% interval | per seed | verdict | pooled inputs |",
             "|---|---|---|---|---|---|---|---|"]
    names = list(dict.fromkeys(name for here, _ in pairs for name in here))
    for name in names:
        both = [(h[name], t[name]) for h, t in pairs if name in h and name in t]
        if not both:
            continue
        diffs = [100 * (h - t) for h, t in both]
        m, half, v = verdict(diffs)
        lines.append(f"| {name} | {statistics.mean(h for h, _ in both):.3f} | {statistics.mean(t for _, t in both):.3f}"
                     f" | {m:+.1f} | [{m - half:+.1f}, {m + half:+.1f}] | " + ", ".join(f"{d:+.1f}" for d in diffs)
                     + f" | {v} | {pooled_against(folders, name)} |")
    return "\n".join(lines)


def _classes(text: str) -> list[int]:
    try:
        classes = [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--classes {text!r}: digits separated by commas, e.g. 3,6") from None
    if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise argparse.ArgumentTypeError(f"--classes {text!r}: two or more distinct digits 0-9, e.g. 3,6")
    return classes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="quito,lima")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="runs/bench-quantumnas")
    ap.add_argument("--budget", default=None, help="a budget preset or number for every run")
    ap.add_argument("--test-data", default=None, help="a dataset used as the test split (e.g. MNIST idx files)")
    ap.add_argument("--n-test", type=int, default=1000, help="test samples drawn from --test-data")
    ap.add_argument("--random-circuits", type=int, default=1, help="random circuits per run")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time")
    ap.add_argument("--objective", default=None, help="the search's fitness, METRIC:min|max (e.g. loss:min)")
    ap.add_argument("--fitness-shots", type=int, default=None,
                    help="read the search's noisy fitness with this many shots (task_options.shots)")
    ap.add_argument("--noise-scale", type=float, default=1.0,
                    help="every calibrated error of the device times this (task_options.noise_scale)")
    ap.add_argument("--retrain-spread", choices=["none", "blocks"], default=None,
                    help="phases.finalize.task.retrain_spread for every run (default blocks: one circuit per "
                         "block count first; none: by rank)")
    ap.add_argument("--classes", type=_classes, default=None,
                    help="digits to classify instead of the experiments' 0-3, e.g. 3,6 (MNIST-2)")
    ap.add_argument("--search-from", default=None,
                    help="start each run from a copy of the same device and seed in this folder (another --out): "
                         "the search is reused, finalize computes only what changed")
    ap.add_argument("--against", default=None,
                    help="also print each row's paired difference against the runs of the same seeds in this folder")
    a = ap.parse_args()
    for flag, folder in (("--search-from", a.search_from), ("--against", a.against)):
        if folder and not Path(folder).is_dir():
            ap.error(f"{flag} {folder!r}: no such folder (another run of this bench's --out)")
    devices = a.devices.split(",")
    jobs = [(d, s) for d in devices for s in range(a.seeds)]
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        done = list(pool.map(lambda j: run_one(j[0], j[1], a), jobs))
    scaled = "" if a.noise_scale == 1 else f", errors x{a.noise_scale:g}"
    task = f"MNIST-{len(a.classes)} ({', '.join(map(str, a.classes))})" if a.classes else "MNIST-4"
    runs = {d: [p for (dd, _), p in zip(jobs, done) if dd == d] for d in devices}
    text = "\n".join(report(d + scaled, runs[d], task) for d in devices)
    if a.against:
        text += "\n" + "\n".join(report_against(d + scaled, runs[d], [Path(a.against) / p.name for p in runs[d]],
                                                 a.against) for d in devices)
    print(text)
    (Path(a.out) / "claims.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
