"""What each local worker holds for TinyNAS's images: its own copy (loaded from the dataset, as every worker did
before) against the campaign's copy mapped from the shared state's file (nasfw/shared_arrays.py), side by side.

    python bench/tinynas_worker_memory.py --resolution 176 --workers 2      # about a minute

Each worker is a spawned process that builds its task as the engine does and reads every image once. Memory per
worker from /proc/self/smaps_rollup: private (what no other process shares) and PSS (shared pages divided among
the processes that map them), in GB, after the images were read, minus the same figures before.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import pickle
import tempfile
from pathlib import Path


def _rollup() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")[0], line.split()[1]
        out[name] = int(value) * 1024 / 1e9
    return out


def _private(r: dict[str, float]) -> float:
    return r["Private_Clean"] + r["Private_Dirty"]


def _worker(mode: str, kw: dict, shared: str, ready, go, out) -> None:
    from nasfw.plugins.tinynas.task import TinyNASTask
    from nasfw.shared_arrays import internalise

    task = TinyNASTask(**kw)
    before = _rollup()
    if mode == "mapped":
        with open(shared, "rb") as f:
            task.use_shared_state(internalise(pickle.load(f)))
    total = sum(float(s.x.sum()) for s in (task.data.train, task.data.valid, task.data.test))  # every image read
    ready.put(1)
    go.wait()  # all workers hold their images now: PSS divides the shared pages among them
    after = _rollup()
    out.put((mode, _private(after) - _private(before), after["Pss"] - before["Pss"], total))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--resolution", type=int, default=176)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from nasfw.plugins.tinynas.data import held_bytes
    from nasfw.plugins.tinynas.task import TinyNASTask
    from nasfw.shared_arrays import externalise, remove_files

    kw = dict(dataset=args.dataset, resolutions=[args.resolution], width_mult=0.25)
    campaign = TinyNASTask(**kw)
    folder = Path(tempfile.mkdtemp(prefix="nasfw-bench-"))
    shared = folder / "shared_state.pkl"
    with open(shared, "wb") as f:
        pickle.dump(externalise(campaign.shared_state(), folder), f)
    print(f"{args.dataset} at {args.resolution}: {held_bytes(args.dataset, args.resolution) / 1e9:.2f} GB of images; "
          f"{args.workers} workers")
    print("| workers' images | private per worker (GB) | PSS per worker (GB) | all workers, PSS (GB) |")
    print("|---|---|---|---|")
    ctx = mp.get_context("spawn")
    sums = set()
    results = {}
    for mode in ("own copy", "mapped"):
        ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(mode, kw, str(shared), ready, go, out)) for _ in range(args.workers)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get()
        go.set()
        got = [out.get() for _ in procs]
        for p in procs:
            p.join()
        private = sum(g[1] for g in got) / len(got)
        pss = sum(g[2] for g in got)
        sums |= {round(g[3], 2) for g in got}
        results[mode] = pss
        print(f"| {mode} | {private:.2f} | {pss / len(got):.2f} | {pss:.2f} |")
    print(f"the workers' images, PSS: {results['own copy'] / max(results['mapped'], 1e-9):.1f}x less mapped; "
          f"every worker read the same images: {len(sums) == 1}")
    remove_files(folder)
    shared.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
