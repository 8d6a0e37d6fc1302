"""Training throughput of nasfw's torch state-vector simulator against qiskit-aer's statevector, same run:
4 qubits, the 4x4_ryzxy encoder (16 features), 8 U3+CU3 blocks (U3 on every qubit, CU3 on the ring),
<Z> per qubit, batch 256. nasfw is timed on the path training takes (a SubCircuit: gate matrices built per gate
name, the weight-only unitary applied in one product, see search_spaces/quantum_sim.py) and, for comparison, gate
by gate with `qs.apply`. nasfw does forward + backward; aer does the forward only (it has no gradients),
one bound circuit per sample, all submitted in one run; aer's time includes building, transpiling (level 0)
and reading <Z> from each saved statevector, which is what a user of aer for training would pay.

torchquantum 0.1.8 cannot be installed beside nasfw's qiskit; where its benchmark environment has been built
(`bash bench/envs/torchquantum.sh`), the same inputs and weights go to bench/torchquantum_ref.py under that
environment's interpreter, which times torchquantum's forward + backward and returns its <Z>.

    bash bench/envs/torchquantum.sh          # once, about a minute
    python bench/quantum_sim.py --repeats 5 --noisy --device quito

With --noisy it also times the noisy evaluation of one trained candidate (torch density matrix vs qiskit-aer
at 8192 shots) and compares the accuracies the two give.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nasfw.search_spaces import quantum_sim as qs

N, BLOCKS, BATCH = 4, 8, 256
ENCODER = ("ry", "rz", "rx", "ry")  # 4x4_ryzxy: feature 4*l + q drives gate l on qubit q
RING = [(q, (q + 1) % N) for q in range(N)]
TQ_PYTHON = Path(__file__).resolve().parent.parent / ".bench-envs" / "torchquantum" / "bin" / "python"


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


def subcircuit(w_u3: torch.Tensor, w_cu3: torch.Tensor):
    """The full 8-block U3+CU3 SubCircuit with the bench's weights: its angles run block by block, the U3 of
    each qubit and then the CU3 of each ring pair, three angles a gate."""
    from nasfw.search_spaces.supercircuit import SuperCircuit

    sc = SuperCircuit("u3cu3", N, BLOCKS, n_features=16)
    sub = sc.extract(sc.largest())
    with torch.no_grad():
        sub.theta.copy_(torch.cat([torch.cat([w_u3[b].reshape(-1), w_cu3[b].reshape(-1)]) for b in range(BLOCKS)]))
    return sub


def time_fb(fn, params, repeats: int) -> tuple[torch.Tensor, float]:
    """Seconds per forward + backward (after one warm-up) and the last output."""
    fn().sum().backward()
    t0 = time.perf_counter()
    for _ in range(repeats):
        for p in params:
            p.grad = None
        out = fn()
        out.sum().backward()
    return out, (time.perf_counter() - t0) / repeats


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


def torchquantum_forward(python: Path, x: np.ndarray, w_u3: np.ndarray, w_cu3: np.ndarray,
                         repeats: int) -> dict | None:
    """Time torchquantum on the same inputs and weights in its own environment; None where it is not built."""
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, x=x, w_u3=w_u3, w_cu3=w_cu3, n_wires=N)
        script = Path(__file__).resolve().parent / "torchquantum_ref.py"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        run = subprocess.run([str(python), str(script), str(inp), str(out), "--repeats", str(repeats)],
                             capture_output=True, text=True, env=env)
        if run.returncode != 0:
            raise RuntimeError(f"torchquantum reference failed ({python}):\n{run.stderr[-2000:]}")
        d = np.load(out)
        return {"z": d["z"], "seconds": float(d["seconds"]), "version": str(d["version"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--noisy", action="store_true", help="also time the noisy evaluation of one candidate")
    ap.add_argument("--device", default="quito")
    ap.add_argument("--inputs", type=int, default=300, help="test inputs for the noisy evaluation")
    ap.add_argument("--epochs", type=int, default=60, help="training epochs of the evaluated circuit")
    ap.add_argument("--torchquantum", type=Path, default=TQ_PYTHON,
                    help="python of the torchquantum benchmark environment (bench/envs/torchquantum.sh)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, 16, generator=g) * np.pi
    w_u3 = (torch.rand(BLOCKS, N, 3, generator=g) * 2 * np.pi).requires_grad_()
    w_cu3 = (torch.rand(BLOCKS, N, 3, generator=g) * 2 * np.pi).requires_grad_()
    sub = subcircuit(w_u3.detach(), w_cu3.detach())
    ours, t_torch = time_fb(lambda: sub(x), [sub.theta], a.repeats)
    by_gate, t_gate = time_fb(lambda: torch_forward(x, w_u3, w_cu3), [w_u3, w_cu3], a.repeats)
    t0 = time.perf_counter()
    ref = aer_forward(x.numpy(), w_u3.detach().numpy(), w_cu3.detach().numpy())
    t_aer = time.perf_counter() - t0
    err = max(float(np.abs(z.detach().numpy() - ref).max()) for z in (ours, by_gate))
    tq = torchquantum_forward(a.torchquantum, x.numpy(), w_u3.detach().numpy(), w_cu3.detach().numpy(),
                              a.repeats)
    print(f"4 qubits, {BLOCKS} U3+CU3 blocks, batch {BATCH}, 1 thread")
    print("| simulator | samples/s | batch time (s) |\n|---|---|---|")
    print(f"| nasfw SubCircuit (training path), forward + backward | {BATCH / t_torch:,.0f} | {t_torch:.4f} |")
    print(f"| nasfw gate by gate (qs.apply), forward + backward | {BATCH / t_gate:,.0f} | {t_gate:.4f} |")
    if tq is not None:
        print(f"| torchquantum {tq['version']}, forward + backward | {BATCH / tq['seconds']:,.0f} | "
              f"{tq['seconds']:.4f} |")
    print(f"| qiskit-aer statevector, forward only | {BATCH / t_aer:,.0f} | {t_aer:.3f} |")
    print(f"speed-up over aer {t_aer / t_torch:.1f}x; largest |<Z>| difference {err:.1e}")
    bad = err > 1e-4
    if tq is None:
        print(f"torchquantum: not run ({a.torchquantum} missing; build it with bash bench/envs/torchquantum.sh)")
    else:
        tq_err = float(np.abs(ours.detach().numpy() - tq["z"]).max())
        print(f"speed-up over torchquantum {tq['seconds'] / t_torch:.2f}x; largest |<Z>| difference {tq_err:.1e}")
        bad = bad or tq_err > 1e-4
    if bad:
        sys.exit("the simulators disagree by more than 1e-4 in <Z>")
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
    print("| circuit | depth | torch exact: s | torch stepped: s | aer 8192 shots: s | speed-up over aer | over "
          "stepped | acc torch exact | acc torch 8192 shots | acc aer (seed 0) | acc aer (seed 1) | noise-free acc |"
          "\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    step_err = 0.0
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
        t0 = time.perf_counter()  # the same program stepping a density matrix per input (its fallback path)
        z_step = prog.stepped_expval_z(d.test.x)
        t_step = time.perf_counter() - t0
        step_err = max(step_err, float((z_step - z_torch).abs().max()))
        z_shots = prog.expval_z(d.test.x, shots=8192, seed=3)
        qc.aer_expval(tq, inputs, d.test.x[:2].numpy(), device, threads=1)  # warm aer and its noise model
        t0 = time.perf_counter()
        z_aer = qc.aer_expval(tq, inputs, d.test.x.numpy(), device, shots=8192, seed=0, threads=1)
        t_aer = time.perf_counter() - t0
        z_aer1 = qc.aer_expval(tq, inputs, d.test.x.numpy(), device, shots=8192, seed=1, threads=1)
        acc = [qt.score(torch.as_tensor(z), d.test.y, 4)[1] for z in (z_torch, z_shots, z_aer, z_aer1)]
        nf = qt.evaluate(sub, d.test, 4)[1]
        print(f"| {blocks} blocks | {tq.depth()} | {t_torch:.3f} | {t_step:.3f} | {t_aer:.2f} | "
              f"{t_aer / t_torch:.1f}x | {t_step / t_torch:.1f}x | "
              + " | ".join(f"{a:.3f}" for a in acc) + f" | {nf:.3f} |")
    print(f"torch exact (observables carried back through the fixed part) against stepped density matrices: "
          f"largest |<Z>| difference {step_err:.1e}")


if __name__ == "__main__":
    main()
