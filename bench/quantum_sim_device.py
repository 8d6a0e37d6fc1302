"""The state-vector simulator on a CUDA device against one CPU thread, same circuits, same inputs: U3+CU3 blocks
after the encoder, forward + backward, with the largest difference in <Z>. nasfw trains on CPU (the QuantumNAS
campaigns need no GPU); this measures what the simulator itself would gain where a GPU is at hand, and checks
that it runs there unchanged.

    python bench/quantum_sim_device.py            # needs torch with CUDA

It imports the simulator from an installed nasfw or, on a machine with torch alone, from this checkout
(quantum_sim.py needs nothing but torch).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

try:
    from nasfw.search_spaces import quantum_sim as qs
except ImportError:  # a bare checkout on a GPU machine: the module needs torch only
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from search_spaces import quantum_sim as qs  # type: ignore[no-redef]

CASES = [(4, 8, 256), (10, 4, 64), (10, 4, 1024), (12, 4, 256)]  # qubits, blocks, batch


def circuit(n: int, blocks: int, g: torch.Generator) -> list:
    gates = []
    for _ in range(blocks):
        gates += [("u3", (q,), (torch.rand(3, generator=g) * 2 - 1) * math.pi) for q in range(n)]
        gates += [("cu3", (q, (q + 1) % n), (torch.rand(3, generator=g) * 2 - 1) * math.pi) for q in range(n)]
    return gates


def time_on(dev: str, n: int, batch: int, gates: list, x: torch.Tensor, repeats: int = 20):
    w = [a.clone().to(dev).requires_grad_() for _, _, a in gates]
    gs = [(name, wires, wi) for (name, wires, _), wi in zip(gates, w)]
    enc = [(("ry", "rz", "rx")[(f // n) % 3], f % n, (x[:, f].to(dev),)) for f in range(x.shape[1])]

    def step() -> torch.Tensor:
        z = qs.expval_z(qs.run(qs.product_state(n, enc, batch, dev), gs))
        z.sum().backward()
        return z

    def sync() -> None:
        if dev != "cpu":
            torch.cuda.synchronize()

    z = step()
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        for wi in w:
            wi.grad = None
        z = step()
    sync()
    return z.detach().cpu(), (time.perf_counter() - t0) / repeats


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark compares the simulator on a GPU with one CPU thread")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}; forward + backward, U3+CU3 blocks")
    print("| qubits | blocks | batch | CPU, 1 thread (ms) | CUDA (ms) | speed-up | largest |<Z>| difference |")
    print("|---|---|---|---|---|---|---|")
    for n, blocks, batch in CASES:
        g = torch.Generator().manual_seed(0)
        gates = circuit(n, blocks, g)
        x = torch.rand(batch, 4 * n, generator=g) * math.pi
        zc, tc = time_on("cpu", n, batch, gates, x)
        zg, tg = time_on("cuda", n, batch, gates, x)
        print(f"| {n} | {blocks} | {batch} | {tc * 1e3:.1f} | {tg * 1e3:.1f} | {tc / tg:.2f}x | "
              f"{float((zc - zg).abs().max()):.1e} |")


if __name__ == "__main__":
    main()
