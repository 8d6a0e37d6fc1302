"""The noisy density-matrix evaluation of wider circuits: nasfw's evaluator read in the Heisenberg picture (the
default, search_spaces/quantum_observables.py), the same program stepping a density matrix per input (its
fallback), and qiskit-aer's density-matrix method with the device noise model (8192 shots), side by side on
U3+CU3 SubCircuits of 4 to 8 wires compiled to a 16-qubit fake device. One thread for every simulator.

    python bench/quantum_density_wide.py --wires 4,6,8 --inputs 100      # about 3 minutes on 2 cores
    python bench/quantum_density_wide.py --wires 4 --mnist10 6           # and six MNIST-10 candidates, 5 minutes

With --mnist10 N it also scores N sampled candidates of the MNIST-10 task (10 wires on the device, connected
layouts, 300 validation inputs) with the task's whole evaluation, once with the density matrix and once with 4
torch trajectories per input, and times both.

The Heisenberg time includes building the program and carrying the observables back (once per circuit), so
it is what one candidate of a search costs. A step that takes under half a second is timed five times and the
median printed: one timing of a 10-30 ms step varied 2x from run to run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _timed(fn):
    """fn's result and its time: the median of five runs where one run is under half a second."""
    t = time.perf_counter()
    out = fn()
    times = [time.perf_counter() - t]
    while times[0] < 0.5 and len(times) < 5:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="guadalupe")
    ap.add_argument("--wires", default="4,6,8")
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mnist10", type=int, default=0, help="also time N MNIST-10 candidates: density vs trajectories")
    args = ap.parse_args()
    torch.set_num_threads(1)

    import qiskit

    from nasfw.hardware.quantum_noise import backend
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.search_spaces.quantum_observables import plan
    from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit

    print(f"U3+CU3, {args.blocks} blocks, on {args.device}; {args.inputs} inputs of 36 features; 1 thread")
    print("| wires | qubits touched | depth | Heisenberg (s) | stepped (s) | aer 8192 shots (s) | over stepped | "
          "over aer | largest <Z> difference: stepped | aer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for wires in (int(w) for w in args.wires.split(",")):
        sc = SuperCircuit("u3cu3", wires, args.blocks, backend(args.device).num_qubits, n_features=36, seed=args.seed)
        arch = sc.space.sample(args.seed)
        logical = to_qiskit(sc.extract(arch))
        tq = qiskit.transpile(logical, backend(args.device), optimization_level=2, initial_layout=arch["layout"],
                              seed_transpiler=0)
        inputs = sorted(logical.parameters, key=lambda p: p.index)
        x = np.random.default_rng(args.seed).uniform(0, np.pi, (args.inputs, 36))
        qc.program(tq, inputs, args.device)  # the device's noise channels are cached per device: warm them
        z, t_h = _timed(lambda: qc.program(tq, inputs, args.device).expval_z(x))
        prog = qc.program(tq, inputs, args.device)
        if plan(prog.steps, prog.n_qubits) is None:
            raise SystemExit(f"{wires} wires: an input enters after a two-qubit gate; nothing to compare")
        z_step, t_s = _timed(lambda: qc.program(tq, inputs, args.device).stepped_expval_z(x))
        qc.aer_expval(tq, inputs, x[:1], args.device, shots=64, threads=1)  # warm aer's noise model
        z_aer, t_a = _timed(lambda: qc.aer_expval(tq, inputs, x, args.device, shots=8192, seed=args.seed, threads=1))
        d_step = float((z - z_step).abs().max())
        sigma = np.sqrt(np.clip(1 - z.numpy() ** 2, 1e-4, None) / 8192)
        d_aer = float(np.abs(z.numpy() - z_aer).max())
        worst = max(worst, float((np.abs(z.numpy() - z_aer) / sigma).max()))
        print(f"| {wires} | {prog.n_qubits} | {tq.depth()} | {t_h:.3f} | {t_s:.2f} | {t_a:.2f} | {t_s / t_h:.1f}x | "
              f"{t_a / t_h:.1f}x | {d_step:.1e} | {d_aer:.3f} |")
    print(f"largest |<Z> - aer| in aer's standard errors: {worst:.1f}")
    if args.mnist10:
        mnist10(args.device, args.mnist10)


def mnist10(device: str, n: int) -> None:
    """The MNIST-10 task's noisy fitness per candidate: density matrix (Heisenberg read-out) against torch
    trajectories. The task refuses `noise: density` past 8 wires; the bench builds it with trajectories and
    switches its evaluator, to measure what lifting that refusal would cost."""
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas import supercircuit
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    kw = dict(dataset="mnist", classes=list(range(10)), circuit="u3cu3", n_wires=10, n_blocks=4, device=device,
              n_valid=300, n_test=100, noise="trajectories")
    dens, traj = QuantumNASTask(**kw), QuantumNASTask(**kw, trajectories=4)
    dens.noise = "density"
    space = supercircuit("u3cu3", 10, 4, device, "connected")
    print(f"\nMNIST-10 candidates on {device} (10 wires, connected layouts, 300 validation inputs), 1 thread")
    print("| candidate | blocks | 2-qubit gates | qubits touched | density (s) | trajectories x4 (s) | "
          "calibrated loss: density | trajectories |\n|---|---|---|---|---|---|---|---|")
    for i in range(n):
        arch = space.sample(i)
        t = time.perf_counter()
        md = dens.evaluate(arch)
        t_d = time.perf_counter() - t
        t = time.perf_counter()
        mt = traj.evaluate(arch)
        t_t = time.perf_counter() - t
        tq, _ = qc.transpile(dens.supercircuit.extract(arch), device, arch["layout"], seed=dens.seed)
        touched = len(qc.touched_qubits(tq))
        print(f"| {i} | {arch['n_blocks']} | {mt['two_qubit_gates']:.0f} | {touched} | {t_d:.1f} | {t_t:.1f} | "
              f"{md['calibrated_loss']:.4f} | {mt['calibrated_loss']:.4f} |")


if __name__ == "__main__":
    main()
