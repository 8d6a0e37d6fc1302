"""Noisy evaluation past the density matrix: nasfw's torch trajectories against qiskit-aer's noisy state-vector
trajectories, side by side, on a 10-qubit U3+CU3 SubCircuit compiled to a 16-qubit fake device.

    python bench/quantum_trajectories.py --inputs 8 --shots 256 --trajectories 32     # about 2 minutes
    python bench/quantum_trajectories.py --inputs 4 --torch-device cuda --device-inputs 300   # with a GPU
    python bench/quantum_trajectories.py --inputs 4 --blocks 4 --fitness 6   # and six MNIST-10 candidates' fitness

Both simulate the same transpiled circuit under the device's calibrated noise. aer draws one trajectory per shot
and reads one bit string from it; nasfw reads each trajectory's exact <Z> and applies the readout error to it,
so a trajectory carries more information than a shot. The figure that matters is therefore the time to reach
the same precision: each side's standard error of <Z> is measured (aer: sqrt((1 - z^2) / shots); nasfw: the
spread over its trajectories), and nasfw's time is scaled by the trajectories it would need for aer's error
(time grows with their number). Agreement: |z_nasfw - z_aer| over the combined standard error, for every
input and qubit. nasfw's program is also timed with one sampled step per gate (`fold=False`), as it ran before
neighbouring channels were folded together.

With --fitness N it also times the noisy fitness of a search, the MNIST-10 task's whole evaluation of N sampled
candidates (10 wires on the device, uniform layouts as in experiments/quantumnas-mnist10-guadalupe-trajectories
.yaml, 300 validation inputs, 4 trajectories each), with folded steps and with one step per gate.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def circuit(device: str, n_wires: int, blocks: int, seed: int):
    import qiskit

    from nasfw.hardware.quantum_noise import backend
    from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit

    sc = SuperCircuit("u3cu3", n_wires, blocks, backend(device).num_qubits, n_features=36, seed=seed)
    arch = sc.space.sample(seed)
    sub = sc.extract(arch)
    qc = to_qiskit(sub)
    tq = qiskit.transpile(qc, backend(device), optimization_level=2, initial_layout=arch["layout"],
                          seed_transpiler=0)
    return tq, sorted(qc.parameters, key=lambda p: p.index), arch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="guadalupe")
    ap.add_argument("--wires", type=int, default=10)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--shots", type=int, default=256)
    ap.add_argument("--trajectories", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="threads for both simulators")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="nasfw's timings: the best of this many runs")
    ap.add_argument("--fitness", type=int, default=0, help="also time N MNIST-10 candidates' noisy fitness")
    ap.add_argument("--torch-device", default=None, help="also time nasfw's trajectories there (e.g. cuda)")
    ap.add_argument("--device-inputs", type=int, default=None,
                    help="inputs timed on --torch-device (default --inputs; the first --inputs are compared with aer)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from nasfw.hardware.quantum_noise import channels
    from nasfw.plugins.quantumnas.compile import aer_expval, stats
    from nasfw.search_spaces.quantum_density import DensityProgram
    from nasfw.search_spaces.quantum_trajectories import MAX_QUBITS, TrajectoryProgram

    tq, inputs, arch = circuit(args.device, args.wires, args.blocks, args.seed)
    g, ro = channels(args.device)
    dens = DensityProgram.from_qiskit(tq, g, ro, inputs, max_qubits=MAX_QUBITS)
    prog, unfolded = TrajectoryProgram(dens), TrajectoryProgram(dens, fold=False)
    s = stats(tq, args.device)
    print(f"{args.wires}-qubit U3+CU3, {args.blocks} blocks, layout {arch['layout']} on {args.device}: "
          f"{prog.n_qubits} qubits touched, depth {s['depth']:.0f}, {s['two_qubit_gates']:.0f} CNOTs; "
          f"{args.inputs} inputs, {args.threads} thread(s); {len(prog.ops)} sampled steps "
          f"({len(unfolded.ops)} unfolded, one per gate)")
    x = np.random.default_rng(args.seed).uniform(0, np.pi, (args.inputs, 36))

    t = time.perf_counter()
    z_aer = aer_expval(tq, inputs, x, args.device, args.shots, threads=args.threads)  # trajectories past 10 qubits
    t_aer = time.perf_counter() - t
    t_ours, t_unfolded = float("inf"), float("inf")
    for _ in range(args.repeat):  # interleaved, so that a slow spell of a shared machine hits both
        t = time.perf_counter()
        unfolded.expval_z(x, trajectories=args.trajectories, seed=args.seed)
        t_unfolded = min(t_unfolded, time.perf_counter() - t)
        t = time.perf_counter()
        z, sem = prog.expval_z(x, trajectories=args.trajectories, seed=args.seed, sem=True)
        t_ours = min(t_ours, time.perf_counter() - t)
    z, sem = z.numpy(), sem.numpy()
    err_aer = np.sqrt(np.clip(1 - z_aer ** 2, 0, 1) / args.shots)
    # trajectories nasfw needs for aer's standard error, and the time they take
    need = args.trajectories * float(np.mean(sem ** 2) / np.mean(err_aer ** 2))
    t_equal = t_ours * need / args.trajectories
    dev = np.abs(z - z_aer) / np.sqrt(sem ** 2 + err_aer ** 2)
    print("| simulator | samples per input | time (s) | s per input | std. error of <Z> |")
    print("|---|---|---|---|---|")
    print(f"| qiskit-aer statevector, noisy | {args.shots} shots | {t_aer:.2f} | {t_aer / args.inputs:.3f} | "
          f"{np.sqrt(np.mean(err_aer ** 2)):.4f} |")
    print(f"| nasfw trajectories, one step per gate | {args.trajectories} trajectories | {t_unfolded:.2f} | "
          f"{t_unfolded / args.inputs:.3f} | |")
    print(f"| nasfw trajectories | {args.trajectories} trajectories | {t_ours:.2f} | {t_ours / args.inputs:.3f} | "
          f"{np.sqrt(np.mean(sem ** 2)):.4f} |")
    print(f"| nasfw at aer's error | {need:.1f} trajectories | {t_equal:.2f} | {t_equal / args.inputs:.3f} | "
          f"{np.sqrt(np.mean(err_aer ** 2)):.4f} |")
    if args.torch_device:
        prog.expval_z(x[:1], trajectories=args.trajectories, device=args.torch_device)  # warm-up, operators moved
        if torch.device(args.torch_device).type == "cuda":
            torch.cuda.synchronize()
        n_dev = max(args.device_inputs or args.inputs, args.inputs)
        xd = np.concatenate([x, np.random.default_rng(args.seed + 1).uniform(0, np.pi, (n_dev - args.inputs, 36))])
        t = time.perf_counter()
        zg, semg = prog.expval_z(xd, trajectories=args.trajectories, seed=args.seed, sem=True,
                                 device=args.torch_device)
        t_dev = (time.perf_counter() - t) / n_dev  # per input; the result is back on CPU: synchronised
        zg, semg = zg[:args.inputs].numpy(), semg[:args.inputs].numpy()
        print(f"| nasfw trajectories on {args.torch_device} ({n_dev} inputs) | {args.trajectories} trajectories | "
              f"{t_dev * n_dev:.2f} | {t_dev:.4f} | {float(np.sqrt(np.mean(semg ** 2))):.4f} |")
        devg = np.abs(zg - z_aer) / np.sqrt(semg ** 2 + err_aer ** 2)
        print(f"{args.torch_device}: per input {t_ours / args.inputs / t_dev:.0f}x faster than nasfw on "
              f"{args.threads} CPU thread(s), {t_aer / args.inputs / t_dev:.0f}x than aer at the samples given; "
              f"agreement with aer: mean {devg.mean():.2f}, max {devg.max():.2f} combined errors")
    print(f"speed-up at equal precision: {t_aer / t_equal:.1f}x; at the samples given: {t_aer / t_ours:.1f}x; "
          f"folded steps against one per gate: {t_unfolded / t_ours:.1f}x")
    print(f"agreement: |z_nasfw - z_aer| / combined error: mean {dev.mean():.2f}, max {dev.max():.2f} over "
          f"{dev.size} values; mean |<Z>| {np.abs(z_aer).mean():.3f}")
    if args.fitness:
        fitness(args.device, args.fitness)


def fitness(device: str, n: int) -> None:
    """The search's noisy fitness per candidate (transpile, program, 300 x 4 trajectories, loss), with the
    program's steps folded and one per gate; the two calibrated losses differ by their sampling only."""
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas import supercircuit
    from nasfw.plugins.quantumnas.task import QuantumNASTask
    from nasfw.search_spaces.quantum_trajectories import TrajectoryProgram

    task = QuantumNASTask(dataset="mnist", classes=list(range(10)), circuit="u3cu3", n_wires=10, n_blocks=4,
                          device=device, n_valid=300, n_test=100, noise="trajectories", trajectories=4)
    space = supercircuit("u3cu3", 10, 4, device, "uniform")
    folded = qc.trajectory_program
    gates, readout = qc.quantum_noise.channels(device)
    one_per_gate = lambda tq, inputs, dev: TrajectoryProgram.from_qiskit(tq, gates, readout, inputs, fold=False)  # noqa: E731
    print(f"\nMNIST-10 candidates' noisy fitness on {device} (10 wires, uniform layouts, 300 validation inputs x 4 "
          "trajectories), 1 thread")
    print("| candidate | blocks | 2-qubit gates | qubits touched | one step per gate (s) | folded (s) | ratio | "
          "calibrated loss: one per gate | folded |\n|---|---|---|---|---|---|---|---|---|")
    total = [0.0, 0.0]
    for i in range(n):
        arch = space.sample(i)
        times, losses = [], []
        for build in (one_per_gate, folded):
            qc.trajectory_program = build
            t = time.perf_counter()
            m = task.evaluate(arch)
            times.append(time.perf_counter() - t)
            losses.append(m["calibrated_loss"])
        qc.trajectory_program = folded
        total = [total[0] + times[0], total[1] + times[1]]
        tq, _ = qc.transpile(task.supercircuit.extract(arch), device, arch["layout"], seed=task.seed)
        print(f"| {i} | {arch['n_blocks']} | {m['two_qubit_gates']:.0f} | {len(qc.touched_qubits(tq))} | "
              f"{times[0]:.1f} | {times[1]:.1f} | {times[0] / times[1]:.1f}x | {losses[0]:.4f} | {losses[1]:.4f} |")
    print(f"mean per candidate: {total[0] / n:.1f} s one step per gate, {total[1] / n:.1f} s folded "
          f"({total[0] / total[1]:.1f}x)")


if __name__ == "__main__":
    main()
