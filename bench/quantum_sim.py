"""Training throughput of nasfw's torch state-vector simulator against qiskit-aer's statevector, same run:
4 qubits, the 4x4_ryzxy encoder (16 features), 8 U3+CU3 blocks (U3 on every qubit, CU3 on the ring),
<Z> per qubit, batch 256. nasfw does forward + backward; aer does the forward only (it has no gradients),
one bound circuit per sample, all submitted in one run; aer's time includes building, transpiling (level 0)
and reading <Z> from each saved statevector, which is what a user of aer for training would pay.

    python bench/quantum_sim.py --repeats 5 --noisy --device quito

With --noisy it also times the noisy evaluation of one trained candidate (torch density matrix vs qiskit-aer
at 8192 shots) and compares the accuracies the two give.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nasfw.search_spaces import quantum_sim as qs

N, BLOCKS, BATCH = 4, 8, 256
ENCODER = ("ry", "rz", "rx", "ry")  # 4x4_ryzxy: feature 4*l + q drives gate l on qubit q
RING = [(q, (q + 1) % N) for q in range(N)]


def torch_forward(x: torch.Tensor, w_u3: torch.Tensor, w_cu3: torch.Tensor) -> torch.Tensor:
    s = qs.zero_state(N, batch=x.shape[0])
    for layer, gate in enumerate(ENCODER):
        for q in range(N):
            s = qs.apply(s, gate, (q,), (x[:, layer * N + q],))
    for b in range(BLOCKS):
        for q in range(N):
            s = qs.apply(s, "u3", (q,), tuple(w_u3[b, q]))
        for i, (c, t) in enumerate(RING):
            s = qs.apply(s, "cu3", (c, t), tuple(w_cu3[b, i]))
    return qs.expval_z(s)


def aer_forward(x: np.ndarray, w_u3: np.ndarray, w_cu3: np.ndarray) -> np.ndarray:
    import qiskit
    from qiskit.quantum_info import Pauli
    from qiskit_aer import AerSimulator

    circuits = []
    for row in x:
        qc = qiskit.QuantumCircuit(N)
        for layer, gate in enumerate(ENCODER):
            for q in range(N):
                getattr(qc, gate)(float(row[layer * N + q]), q)
        for b in range(BLOCKS):
            for q in range(N):
                qc.u(*map(float, w_u3[b, q]), q)
            for i, (c, t) in enumerate(RING):
                qc.cu(*map(float, w_cu3[b, i]), 0.0, c, t)
        qc.save_statevector()
        circuits.append(qc)
    sim = AerSimulator(method="statevector")
    result = sim.run(qiskit.transpile(circuits, sim, optimization_level=0)).result()
    out = np.empty((len(x), N))
    for i in range(len(x)):
        sv = result.get_statevector(i)
        for q in range(N):
            out[i, q] = sv.expectation_value(Pauli("".join("Z" if k == q else "I" for k in reversed(range(N))))).real
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--noisy", action="store_true", help="also time the noisy evaluation of one candidate")
    ap.add_argument("--device", default="quito")
    ap.add_argument("--inputs", type=int, default=300, help="test inputs for the noisy evaluation")
    ap.add_argument("--epochs", type=int, default=60, help="training epochs of the evaluated circuit")
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, 16, generator=g) * np.pi
    w_u3 = (torch.rand(BLOCKS, N, 3, generator=g) * 2 * np.pi).requires_grad_()
    w_cu3 = (torch.rand(BLOCKS, N, 3, generator=g) * 2 * np.pi).requires_grad_()
    torch_forward(x, w_u3, w_cu3).sum().backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.repeats):
        w_u3.grad = w_cu3.grad = None
        ours = torch_forward(x, w_u3, w_cu3)
        ours.sum().backward()
    t_torch = (time.perf_counter() - t0) / a.repeats
    t0 = time.perf_counter()
    ref = aer_forward(x.numpy(), w_u3.detach().numpy(), w_cu3.detach().numpy())
    t_aer = time.perf_counter() - t0
    err = float(np.abs(ours.detach().numpy() - ref).max())
    print(f"4 qubits, {BLOCKS} U3+CU3 blocks, batch {BATCH}, 1 thread")
    print("| simulator | samples/s | batch time (s) |\n|---|---|---|")
    print(f"| nasfw torch, forward + backward | {BATCH / t_torch:,.0f} | {t_torch:.3f} |")
    print(f"| qiskit-aer statevector, forward only | {BATCH / t_aer:,.0f} | {t_aer:.3f} |")
    print(f"speed-up {t_aer / t_torch:.1f}x; largest |<Z>| difference {err:.1e}")
    if a.noisy:
        noisy(a.device, a.inputs, a.epochs)


def noisy(device: str, n_inputs: int, epochs: int) -> None:
    """Noisy evaluation of one candidate: trained U3+CU3 MNIST-4 circuits (2 and 8 blocks) compiled to `device`
    (level 2, mapping 0..3), scored on `n_inputs` test inputs by the torch density-matrix evaluator and by
    qiskit-aer (density matrix, NoiseModel.from_backend, 8192 shots): time and accuracy of each. aer is run
    twice with different seeds: the gap between its own two runs is the shot-noise floor of the comparison."""
    from nasfw.plugins.quantumnas import compile as qc
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.data import load_qml
    from nasfw.search_spaces.supercircuit import SuperCircuit

    d = load_qml("mnist", [0, 1, 2, 3], 16, n_valid=300, n_test=n_inputs)
    print(f"\nnoisy evaluation of one candidate on {device}: {n_inputs} MNIST-4 test inputs, 1 thread")
    print("| circuit | depth | torch exact: s | aer 8192 shots: s | speed-up | acc torch exact | acc torch 8192 "
          "shots | acc aer (seed 0) | acc aer (seed 1) | noise-free acc |\n|---|---|---|---|---|---|---|---|---|---|")
    for blocks in (2, BLOCKS):
        sc = SuperCircuit("u3cu3", 4, blocks)
        sub = sc.extract(sc.largest())
        qt.train(sub, d.train, 4, epochs, lr=5e-2)
        tq, inputs = qc.transpile(sub, device, [0, 1, 2, 3])
        qc.program(tq, inputs, device)  # warm the device's noise channels (cached per device)
        t0 = time.perf_counter()
        prog = qc.program(tq, inputs, device)
        z_torch = prog.expval_z(d.test.x)
        t_torch = time.perf_counter() - t0
        z_shots = prog.expval_z(d.test.x, shots=8192, seed=3)
        qc.aer_expval(tq, inputs, d.test.x[:2].numpy(), device)  # warm aer and its noise model
        t0 = time.perf_counter()
        z_aer = qc.aer_expval(tq, inputs, d.test.x.numpy(), device, shots=8192, seed=0)
        t_aer = time.perf_counter() - t0
        z_aer1 = qc.aer_expval(tq, inputs, d.test.x.numpy(), device, shots=8192, seed=1)
        acc = [qt.score(torch.as_tensor(z), d.test.y, 4)[1] for z in (z_torch, z_shots, z_aer, z_aer1)]
        nf = qt.evaluate(sub, d.test, 4)[1]
        print(f"| {blocks} blocks | {tq.depth()} | {t_torch:.2f} | {t_aer:.2f} | {t_aer / t_torch:.1f}x | "
              + " | ".join(f"{a:.3f}" for a in acc) + f" | {nf:.3f} |")


if __name__ == "__main__":
    main()
