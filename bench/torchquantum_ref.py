"""torchquantum 0.1.8's side of bench/quantum_sim.py, run by the interpreter of the torchquantum benchmark
environment (bench/envs/torchquantum.sh), never imported by nasfw.

Reads the inputs and weights bench/quantum_sim.py drew (an .npz), builds the same model from torchquantum's own
parts (GeneralEncoder with the 4x4_ryzxy list, U3CU3Layer0, MeasureAll(PauliZ)), loads the weights into it,
times forward + backward at the given batch on one thread and writes <Z> and the time back (an .npz), so
both the speed and the agreement of the two simulators come out of the same run.

    python bench/torchquantum_ref.py IN.npz OUT.npz --repeats 5
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torchquantum as tq


class Model(tq.QuantumModule):
    def __init__(self, n_wires: int, n_blocks: int) -> None:
        super().__init__()
        self.n_wires = n_wires
        self.encoder = tq.GeneralEncoder(tq.encoder_op_list_name_dict["4x4_ryzxy"])
        self.q_layer = tq.U3CU3Layer0({"n_wires": n_wires, "n_blocks": n_blocks})
        self.measure = tq.MeasureAll(tq.PauliZ)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qdev = tq.QuantumDevice(n_wires=self.n_wires, bsz=x.shape[0], device=x.device)
        self.encoder(qdev, x)
        self.q_layer(qdev)
        return self.measure(qdev)


def load_weights(model: Model, w_u3: np.ndarray, w_cu3: np.ndarray) -> None:
    """Layer 2b holds block b's U3 on each wire, layer 2b+1 its CU3 on ring pair i = (i, i+1 mod n)."""
    layers = model.q_layer.layers_all
    with torch.no_grad():
        for b in range(w_u3.shape[0]):
            for q, op in enumerate(layers[2 * b].ops_all):
                op.params.copy_(torch.as_tensor(w_u3[b, q]).reshape(op.params.shape))
            for i, op in enumerate(layers[2 * b + 1].ops_all):
                op.params.copy_(torch.as_tensor(w_cu3[b, i]).reshape(op.params.shape))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    d = np.load(a.inp)
    x = torch.as_tensor(d["x"], dtype=torch.float32)
    model = Model(int(d["n_wires"]), int(d["w_u3"].shape[0]))
    load_weights(model, d["w_u3"], d["w_cu3"])
    model(x).sum().backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.repeats):
        model.zero_grad()
        z = model(x)
        z.sum().backward()
    seconds = (time.perf_counter() - t0) / a.repeats
    np.savez(a.out, z=z.detach().numpy().astype(np.float64), seconds=seconds,
             version=np.array(getattr(tq, "__version__", "unknown")))


if __name__ == "__main__":
    main()
