"""What resuming by retracing costs (nasfw/replay.py), side by side with resuming from the searcher's checkpoint
(how every resume worked before, and still how an unordered run resumes), and whether each ends on the same
evaluations as the run that was never stopped.

Each searcher runs three times from one seed with two worker processes: `--n` evaluations straight through; and
`--n / 2` evaluations, then resumed to `--n`, once retracing and once from the checkpoint (the same folder copied,
its `ordered_workers` note cleared). The figure is the resumed session's wall time: retracing asks the searcher
again for every stored candidate, which costs what the driver spent on them the first time.

    python bench/resume_retrace.py                  # about 2 minutes on 2 cores
    python bench/resume_retrace.py --n 1000 --searchers bayes
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

PLUGINS = str(Path(__file__).resolve().parent / "plugins")


def run(out: Path, searcher: str, n: int, seconds: float, resume: bool = False) -> tuple[float, list]:
    """(wall seconds of this session, the stored (candidate, metrics) in the store's order)."""
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.runner import run_campaign
    from nasfw.store import Store

    c = parse({"space": "flat", "task": "spin", "task_options": {"seconds": seconds}, "objectives": ["score"],
               "budget": n, "out": str(out), "workers": 2, "searcher": searcher,
               "evaluation": {"checkpoint_every_s": 1.0}})
    t0 = time.perf_counter()
    run_campaign(c, Registry([PLUGINS]), resume=resume, progress=False, plugins_dirs=(PLUGINS,))
    wall = time.perf_counter() - t0
    store = Store(out, create=False)
    rows = [(e.arch_key, e.metrics) for e in store.evaluations()]
    store.close()
    return wall, rows


def main() -> None:
    from nasfw.replay import ORDERED_WORKERS
    from nasfw.store import Store

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="evaluations of the whole run")
    ap.add_argument("--spin", type=float, default=0.01, help="CPU seconds of an evaluation")
    ap.add_argument("--searchers", default="evolution,bayes,reinforce")
    a = ap.parse_args()
    print(f"two worker processes, {a.n} evaluations of {a.spin:g} s; stopped at {a.n // 2}, resumed to {a.n}")
    print(f"{'searcher':12s} {'resumed by':14s} {'resume wall s':>14s} {'same evaluations as unstopped':>30s}")
    with tempfile.TemporaryDirectory() as d:
        for searcher in a.searchers.split(","):
            _, whole = run(Path(d) / f"{searcher}-whole", searcher, a.n, a.spin)
            half = Path(d) / f"{searcher}-retrace"
            run(half, searcher, a.n // 2, a.spin)
            ckpt = Path(d) / f"{searcher}-checkpoint"
            shutil.copytree(half, ckpt)
            store = Store(ckpt)
            store.set_meta(ORDERED_WORKERS, None)
            store.close()
            walls = {}
            for how, folder in (("retracing", half), ("checkpoint", ckpt)):
                walls[how], rows = run(folder, searcher, a.n, a.spin, resume=True)
                assert len(rows) == len(whole), (how, len(rows))
                print(f"{searcher:12s} {how:14s} {walls[how]:14.2f} {'yes' if rows == whole else 'no':>30s}")
            print(f"{'':12s} ratio retracing / checkpoint: {walls['retracing'] / walls['checkpoint']:.2f}")


if __name__ == "__main__":
    main()
