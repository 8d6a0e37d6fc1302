"""bench/quantumnas_pooled.py: rows of several runs compared paired, run by run, and pooled; refusals name the run."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from nasfw.plugins.quantumnas.paired import encode_correct, pooled_difference  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "quantumnas_pooled.py"


def _run_folder(path: Path, fingerprint: str, rows: dict[str, np.ndarray], legacy: bool = False) -> Path:
    path.mkdir(parents=True)
    report = {"test_samples": 50, "rows": [{"name": k, "aer_accuracy": float(v.mean()),
                                            **({} if legacy else {"aer_correct": encode_correct(v)})}
                                           for k, v in rows.items()]}
    if not legacy:
        report["test_inputs"] = fingerprint
    (path / "quantumnas.json").write_text(json.dumps(report))
    return path


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_files(tmp_path):
    """Two campaign files run on seeds 0-2: the 'proxy' runs hold the searched row and the noise-unaware search, the
    'traj' runs their searched row, each seed on its own test inputs."""
    rng = np.random.default_rng(0)
    rows = {}
    for s in range(3):
        proxy, unaware, traj = (rng.random(50) < p for p in (0.3, 0.4, 0.45))
        _run_folder(tmp_path / f"s{s}-proxy", f"seed{s}", {"searched": proxy, "noise-unaware search": unaware})
        _run_folder(tmp_path / f"s{s}-traj", f"seed{s}", {"searched": traj})
        rows[s] = (proxy, unaware, traj)
    return tmp_path, rows


def test_rows_of_two_files_compare_paired_and_pooled(two_files):
    root, rows = two_files
    r = _bench(f"proxy=searched@{root}/s?-proxy", f"noise-unaware=noise-unaware search@{root}/s?-proxy",
               f"traj=searched@{root}/s0-traj,{root}/s1-traj,{root}/s2-traj")
    assert r.returncode == 0, r.stderr
    for label, k in (("noise-unaware", 1), ("traj", 2)):
        d = pooled_difference([(rows[s][k], rows[s][0]) for s in range(3)])
        line = next(x for x in r.stdout.splitlines() if x.startswith(f"| {label} minus proxy |"))
        assert ", ".join(f"{x:+.1f}" for x in d["per_run"]) in line
        assert f"{d['mean']:+.1f} [{d['mean'] - d['half_width']:+.1f}, {d['mean'] + d['half_width']:+.1f}]" in line
        assert f"{d['only_this']}:{d['only_reference']}, p = {d['p_value']:.2g}" in line
    assert "traj minus noise-unaware" not in r.stdout
    pairs = _bench(f"proxy=searched@{root}/s?-proxy", f"u=noise-unaware search@{root}/s?-proxy",
                   f"traj=searched@{root}/s?-traj", "--all-pairs")
    assert pairs.returncode == 0 and "| traj minus u |" in pairs.stdout


def test_runs_on_other_inputs_missing_rows_and_old_reports_are_refused(two_files, tmp_path):
    root, _ = two_files
    shuffled = _bench(f"searched@{root}/s0-proxy,{root}/s1-proxy", f"t=searched@{root}/s1-traj,{root}/s0-traj")
    assert shuffled.returncode != 0 and "different test inputs" in shuffled.stderr and "s1-traj" in shuffled.stderr
    missing = _bench(f"searched@{root}/s0-proxy", f"h=human design@{root}/s0-traj")
    assert missing.returncode != 0 and "no row 'human design'" in missing.stderr
    assert "its rows: searched" in missing.stderr
    uneven = _bench(f"searched@{root}/s?-proxy", f"t=searched@{root}/s0-traj")
    assert uneven.returncode != 0 and "as many runs" in uneven.stderr
    old = _run_folder(tmp_path / "old", "", {"searched": np.ones(50, bool)}, legacy=True)
    legacy = _bench(f"searched@{root}/s0-proxy", f"o=searched@{old}")
    assert legacy.returncode != 0 and "predates per-input correctness" in legacy.stderr and "resume" in legacy.stderr
    bad = _bench("searched", f"o=searched@{old}")
    assert bad.returncode != 0 and "[LABEL=]ROW@RUN" in bad.stderr
    nothing = _bench(f"searched@{root}/nope*", f"o=searched@{old}")
    assert nothing.returncode != 0 and "matches no folder" in nothing.stderr


def test_the_seeds_bench_claims_carry_the_pooled_inputs(tmp_path):
    """bench/quantumnas_seeds.py's claim table: beside the interval over seeds, the discordant inputs pooled over
    the seeds; '-' for the random circuits' mean, which has no per-input results of its own."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quantumnas_seeds", SCRIPT.parent / "quantumnas_seeds.py")
    seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeds)
    rng = np.random.default_rng(1)
    runs, pairs = [], []
    for s in range(3):
        searched, pruned, human, rand = (rng.random(40) < p for p in (0.7, 0.72, 0.5, 0.6))
        run = _run_folder(tmp_path / f"quito-seed{s}", f"seed{s}", {"searched": searched, "searched + pruned": pruned,
                                                                       "human design": human, "random circuit 1": rand})
        report = json.loads((run / "quantumnas.json").read_text())
        for r in report["rows"]:
            r["params"] = 10
        (run / "quantumnas.json").write_text(json.dumps(report))
        runs.append(run)
        pairs.append((pruned, searched))
    text = seeds.report("quito", runs)
    d = pooled_difference(pairs)
    line = next(x for x in text.splitlines() if x.startswith("| pruning adds accuracy |"))
    assert line.endswith(f"| {d['only_this']}:{d['only_reference']}, p = {d['p_value']:.2g} |")
    line = next(x for x in text.splitlines() if x.startswith("| searched + pruned beats random circuits"))
    assert line.endswith("| - |")


def test_the_seeds_bench_against_another_folder_pools_the_same_inputs(tmp_path):
    """`--against`: each row here minus the same row there, seed by seed; pooled only where both runs of a seed
    scored the same test inputs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quantumnas_seeds", SCRIPT.parent / "quantumnas_seeds.py")
    seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeds)
    rng = np.random.default_rng(2)
    here, there, pairs = [], [], []
    for s in range(3):
        a, b = rng.random(40) < 0.7, rng.random(40) < 0.6
        for folder, rows, out in (("new", a, here), ("old", b, there)):
            run = _run_folder(tmp_path / folder / f"quito-seed{s}", f"seed{s}", {"searched": rows})
            report = json.loads((run / "quantumnas.json").read_text())
            report["rows"][0]["params"] = 10
            (run / "quantumnas.json").write_text(json.dumps(report))
            out.append(run)
        pairs.append((a, b))
    d = pooled_difference(pairs)
    line = next(x for x in seeds.report_against("quito", here, there, "old").splitlines() if x.startswith("| searched"))
    assert line.endswith(f"| {d['only_this']}:{d['only_reference']}, p = {d['p_value']:.2g} |")
    report = json.loads((there[1] / "quantumnas.json").read_text())
    (there[1] / "quantumnas.json").write_text(json.dumps({**report, "test_inputs": "other"}))
    line = next(x for x in seeds.report_against("quito", here, there, "old").splitlines() if x.startswith("| searched"))
    assert line.endswith("| - |")
