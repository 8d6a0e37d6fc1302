"""qiskit-aer's final evaluation, the two ways of giving it the test inputs, side by side in one process: one
circuit per input bound in Python (what nasfw did until 2026-12-06), and aer binding the inputs itself
(`compile.aer_run`: runtime parameter binding, one block of inputs per thread as parallel experiments). Both are
timed in turn, `--repeats` times each, on a U3+CU3 SubCircuit (largest of `--blocks` blocks, trivial layout)
compiled to the device, with the MNIST-4 test inputs; the counts of the two are compared input by input.

    python bench/quantum_aer_binding.py                      # Quito, 8 blocks, 300 inputs, 2 threads and 1
    python bench/quantum_aer_binding.py --blocks 2 --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def bound_in_python(tq, inputs, x, device: str, shots: int, seed: int, threads: int):
    from qiskit_aer import AerSimulator

    from nasfw.hardware import quantum_noise

    sim = AerSimulator(method="density_matrix", noise_model=quantum_noise.noise_model(device), seed_simulator=seed,
                       max_parallel_threads=threads, max_parallel_experiments=threads)
    bound = [tq.assign_parameters({p: float(v) for p, v in zip(inputs, row)}) for row in np.asarray(x)]
    return sim.run(bound, shots=shots).result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="quito")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--inputs", type=int, default=300)
    ap.add_argument("--shots", type=int, default=8192)
    ap.add_argument("--threads", default="2,1", help="thread counts to time, comma-separated (0: every core)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(device=a.device, n_blocks=a.blocks, n_valid=40, n_test=a.inputs)
    arch = {**task.supercircuit.largest(), "layout": list(range(task.supercircuit.n_wires))}
    tq, inputs = qc.transpile(task.supercircuit.extract(arch), a.device, arch["layout"])
    x = task.data.test.x.numpy()
    print(f"{a.device}, {a.blocks} U3+CU3 blocks (depth {tq.depth()}), {len(x)} MNIST-4 test inputs, {a.shots} shots")
    print("| threads | bound in Python: s | bound by aer: s | speed-up | counts identical |")
    print("|---|---|---|---|---|")
    for threads in (int(t) for t in a.threads.split(",")):
        old, new = [], []
        for _ in range(a.repeats):  # in turn, so that a slower minute of the machine hits both
            t0 = time.perf_counter()
            ref = bound_in_python(tq, inputs, x, a.device, a.shots, 0, threads)
            old.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = qc.aer_run(tq, inputs, x, a.device, a.shots, 0, threads)
            new.append(time.perf_counter() - t0)
        same = sum(ref.get_counts(i) == res.get_counts(i) for i in range(len(x)))
        o, n = statistics.median(old), statistics.median(new)
        print(f"| {threads or 'all'} | {o:.2f} | {n:.2f} | {o / n:.1f}x | {same} of {len(x)} |")


if __name__ == "__main__":
    main()
