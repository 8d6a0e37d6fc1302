"""QuantumNAS training on a GPU (`task_options.torch_device`) against CPU threads, on the MNIST-10 campaign's
task (10 qubits, U3+CU3, 4 blocks, 36 features, Guadalupe): the SuperCircuit phase (restricted sampling,
batch 64, Adam 5e-2, as experiments/quantumnas-mnist10-guadalupe.yaml) and finalize's from-scratch training of
the largest SubCircuit, each run once per device from the same initial weights and batches. Besides the time it
prints the loss history's largest difference and each trained module's validation accuracy, so a device that
computes something else shows up beside its speed.

    python bench/quantumnas_train_device.py --epochs 3 --scratch-epochs 5 --threads 2   # needs torch with CUDA

Without CUDA it times the CPU alone and says so (the project never needs a GPU).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from nasfw.plugins.quantumnas import train as qt
from nasfw.plugins.quantumnas.task import QuantumNASTask

MNIST10 = dict(dataset="mnist", classes=list(range(10)), circuit="u3cu3", n_wires=10, n_blocks=4,
               device="guadalupe", noise="proxy", n_valid=300, n_test=100)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def run_on(dev: str, epochs: int, scratch_epochs: int, batch: int) -> dict:
    task = QuantumNASTask(**MNIST10, torch_device=dev)
    d = task.data
    sync(task.torch_device)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        history = task.train_supernet(tmp, epochs=epochs, lr=5e-2, warmup_epochs=min(2, epochs), batch_size=batch,
                                      progress=False)
    sync(task.torch_device)
    t_super = time.perf_counter() - t0
    largest = task.supercircuit.largest()
    inherited = qt.evaluate(task.supercircuit.extract(largest), d.valid, d.n_classes)[1]
    sub = task.supercircuit.extract(largest)
    sub.reinitialise(0)
    t0 = time.perf_counter()
    qt.train(sub, d.train, d.n_classes, scratch_epochs, lr=5e-2, seed=0, device=task.torch_device)
    sync(task.torch_device)
    t_scratch = time.perf_counter() - t0
    return {"history": history, "t_super": t_super, "t_scratch": t_scratch, "inherited": inherited,
            "scratch": qt.evaluate(sub, d.valid, d.n_classes)[1], "train": len(d.train)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="SuperCircuit epochs (the campaign trains 30)")
    ap.add_argument("--scratch-epochs", type=int, default=5, help="from-scratch epochs (the campaign trains 20)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the reference (CI machines have 2)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cpu = run_on("cpu", a.epochs, a.scratch_epochs, a.batch)
    print(f"torch {torch.__version__}; MNIST-10 task, {cpu['train']} training images, batch {a.batch}; "
          f"CPU with {a.threads} thread(s)")
    if not torch.cuda.is_available():
        print(f"no CUDA device: CPU only. SuperCircuit {a.epochs} epochs {cpu['t_super']:.1f} s, "
              f"scratch {a.scratch_epochs} epochs {cpu['t_scratch']:.1f} s")
        return
    gpu = run_on("cuda", a.epochs, a.scratch_epochs, a.batch)
    diff = max(abs(x - y) for x, y in zip(cpu["history"], gpu["history"]))
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    print("| step | CPU (s) | CUDA (s) | speed-up | val. acc. CPU | val. acc. CUDA |")
    print("|---|---|---|---|---|---|")
    print(f"| SuperCircuit, {a.epochs} epochs | {cpu['t_super']:.1f} | {gpu['t_super']:.1f} | "
          f"{cpu['t_super'] / gpu['t_super']:.1f}x | {cpu['inherited']:.3f} | {gpu['inherited']:.3f} |")
    print(f"| largest SubCircuit from scratch, {a.scratch_epochs} epochs | {cpu['t_scratch']:.1f} | "
          f"{gpu['t_scratch']:.1f} | {cpu['t_scratch'] / gpu['t_scratch']:.1f}x | {cpu['scratch']:.3f} | "
          f"{gpu['scratch']:.3f} |")
    print(f"largest difference of the per-epoch SuperCircuit loss, CPU against CUDA: {diff:.1e}")


if __name__ == "__main__":
    main()
