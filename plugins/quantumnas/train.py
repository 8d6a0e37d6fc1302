"""Training a SubCircuit (from scratch or fine-tuning) and iterative magnitude pruning of its rotation angles.

Pruning follows QuantumNAS: the angles closest to zero (modulo 4 pi, see `wrapped`) are fixed at zero, the
sparsity rising on a cubic schedule (Zhu & Gupta) from `initial` to `final` over `steps` rounds, with a short fine-tune
(Adam, lr 2e-3) after each round. A gate whose angles are all pruned, or all below 1e-3, is the identity
and is removed when the circuit is deployed (`SubCircuit.gates(drop_identities=True)`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from nasfw.epoch_checkpoint import EpochCheckpoint
from nasfw.supernet.train import lr_factor
from nasfw.torch_device import on_device
from nasfw.plugins.quantumnas.compile import logits
from nasfw.plugins.quantumnas.data import Split, batches
from nasfw.search_spaces import quantum_sim as qs


def supercircuit_sampling(sampling: str, n_blocks: int, options: dict | None = None) -> dict:
    """The sampler options of SuperCircuit training. `progressive` is QuantumNAS's restricted sampling with
    progressive blocks: the largest third of the block counts first, all of them by the last third of training,
    consecutive SubCircuits differing in at most two layers."""
    opts = dict(options or {})
    if sampling == "progressive" and "stages" not in opts:
        counts = [list(range(max(1, n_blocks - (n_blocks * (i + 1)) // 3), n_blocks + 1)) for i in range(3)]
        opts["stages"] = [(i / 3, {"n_blocks": counts[i]}) for i in range(3)]
        opts.setdefault("max_changes", 2)
    return opts


def nll(z: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    return F.nll_loss(F.log_softmax(logits(z, n_classes), 1), y)


def score(z: torch.Tensor, y: torch.Tensor, n_classes: int) -> tuple[float, float]:
    """(loss, accuracy) of <Z> readouts against labels."""
    z = torch.as_tensor(z, dtype=torch.float32)
    loss = float(nll(z, y, n_classes))
    acc = float(correct(z, y, n_classes).float().mean())
    return loss, acc


def correct(z: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Per input, whether the <Z> readouts classify it right (what two circuits are compared on, paired)."""
    return logits(torch.as_tensor(z, dtype=torch.float32), n_classes).argmax(1) == y


def calibrated_loss(z: torch.Tensor, y: torch.Tensor, n_classes: int) -> float:
    """The loss after the best single temperature: min over T of NLL(softmax(T * logits)). Depolarising noise
    shrinks every <Z> towards 0, which raises the plain loss of a deeper circuit even where its argmax, and so
    its accuracy, survives; one scalar T undoes a uniform shrinkage without changing any argmax, so this loss
    ranks what noise really destroys, and stays a smooth fitness where accuracy over a few hundred inputs is
    coarse. T is searched over a log grid (0.1 to 1000, 121 points), ample for ranking candidates."""
    lg = logits(torch.as_tensor(z, dtype=torch.float32), n_classes)
    temps = torch.logspace(-1, 3, 121)
    nll_t = -F.log_softmax(temps[:, None, None] * lg[None], -1).gather(
        -1, y[None, :, None].expand(len(temps), -1, 1)).mean((1, 2))
    return float(nll_t.min()) + 0.0  # + 0.0: a perfect fit reads 0, not -0 (log_softmax of 1 is -0.0)


@torch.no_grad()
def noise_free_metrics(module: torch.nn.Module, split: Split, n_classes: int) -> dict[str, float]:
    """`noise_free_loss`, `noise_free_accuracy` and `noise_free_calibrated_loss` of one forward pass."""
    z = module(split.x)
    loss, acc = score(z, split.y, n_classes)
    return {"noise_free_loss": loss, "noise_free_accuracy": acc,
            "noise_free_calibrated_loss": calibrated_loss(z, split.y, n_classes)}


UNTRAINED_LOSS_RATIO = 0.97  # a sampled validation loss above this share of ln(classes) learnt nothing
HEALTH_FILE = "supercircuit.json"  # in the run folder: what `supercircuit_health` measured after the supernet phase


@torch.no_grad()
def supercircuit_health(supercircuit, split: Split, n_classes: int, history: list[float], samples: int = 16,
                        seed: int = 0) -> dict:
    """Whether weight sharing trained: the noise-free validation loss and accuracy of `samples` sampled
    SubCircuits with inherited weights (what the search reads, less the noise) against guessing (loss ln of the
    class count, accuracy 1 / classes), beside the last epoch's training loss and the largest SubCircuit's
    accuracy. In some of the paper's spaces it does not train: at the quick default on MNIST-4, U3+CU3's sampled
    SubCircuits reached validation loss 1.12-1.14 (guessing: 1.39), ZZ+RY 1.24, RXYZ 1.26-1.28, while ZX+XX,
    RXYZ+U1+CU3 and IBMQ-basis stayed at 1.37-1.41 with 23-31% accuracy (chance 25%). 400 epochs instead of 100
    trained ZX+XX (training loss 1.22, 55%) but not IBMQ-basis (1.38). A search can still find SubCircuits whose
    inherited scores stand out (IBMQ-basis on Torino: 48% for its best), but what a circuit learns once trained is
    then barely read, which a user should hear before reading the search's ranking."""
    rng = np.random.default_rng(seed)
    scores = [noise_free_metrics(supercircuit.extract(supercircuit.space.sample(rng)), split, n_classes)
              for _ in range(samples)]
    loss = float(np.mean([m["noise_free_loss"] for m in scores]))
    largest = noise_free_metrics(supercircuit.extract(supercircuit.largest()), split, n_classes)
    return {"circuit": supercircuit.circuit, "sampled_loss": loss, "guess_loss": math.log(n_classes),
            "sampled_accuracy": float(np.mean([m["noise_free_accuracy"] for m in scores])),
            "chance_accuracy": 1.0 / n_classes, "largest_accuracy": largest["noise_free_accuracy"],
            "final_training_loss": float(history[-1]) if history else None, "samples": samples,
            "learned": loss < UNTRAINED_LOSS_RATIO * math.log(n_classes)}


def untrained_note(health: dict) -> str:
    return (f"the SuperCircuit did not train: with its weights, {health['samples']} sampled SubCircuits score "
            f"validation loss {health['sampled_loss']:.2f} (guessing: {health['guess_loss']:.2f}) and "
            f"{health['sampled_accuracy']:.0%} accuracy (chance {health['chance_accuracy']:.0%}) noise-free, so the "
            f"search's ranking in the {health['circuit']!r} space says little of what a circuit learns once "
            "trained; more training (phases.supernet.epochs) may help, and finalize's training of the search's best "
            "from scratch (phases.finalize.task.retrain) makes the final choice")


@torch.no_grad()
def evaluate(module: torch.nn.Module, split: Split, n_classes: int) -> tuple[float, float]:
    return score(module(split.x), split.y, n_classes)


def train(module: torch.nn.Module, split: Split, n_classes: int, epochs: int, lr: float = 5e-3,
          weight_decay: float = 1e-4, batch_size: int = 256, warmup_epochs: float = 1, seed: int = 0,
          on_step: Callable[[], None] | None = None, device: torch.device | str = "cpu",
          checkpoint: Path | None = None) -> list[float]:
    """Adam with warm-up then cosine decay; returns the mean loss per epoch. Trains on `device` (the module
    and the training split go there for the call) and leaves the module on CPU. With `checkpoint` the training
    keeps its state at epoch ends (`nasfw.epoch_checkpoint`) and an interrupted one continues from there."""
    if not [p for p in module.parameters() if p.requires_grad] or epochs <= 0:
        return []
    with on_device(module, torch.device(device)):
        return _train(module, split_on(split, device), n_classes, epochs, lr, weight_decay, batch_size,
                      warmup_epochs, seed, on_step, checkpoint)


def split_on(split: Split, device: torch.device | str) -> Split:
    """The split's tensors on `device` (the same object where they are there already)."""
    device = torch.device(device)
    if split.x.device == device:
        return split
    return Split(split.x.to(device), split.y.to(device))


def _train(module: torch.nn.Module, split: Split, n_classes: int, epochs: int, lr: float, weight_decay: float,
           batch_size: int, warmup_epochs: float, seed: int, on_step: Callable[[], None] | None,
           checkpoint: Path | None = None) -> list[float]:
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    n_batches = max(1, math.ceil(len(split) / batch_size))
    ckpt = EpochCheckpoint(checkpoint, repr((epochs, lr, weight_decay, batch_size, warmup_epochs, seed, len(split))))
    state = {"circuit": module, "optimizer": opt}
    kept = ckpt.restore(state, [rng])
    history, start = (list(kept["history"]), kept["epoch"]) if kept else ([], 0)
    for epoch in range(start, epochs):
        total = 0.0
        for i, (x, y) in enumerate(batches(split, batch_size, rng)):
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor(epoch + i / n_batches, warmup_epochs, epochs)
            opt.zero_grad()
            loss = nll(module(x), y, n_classes)
            loss.backward()
            opt.step()
            if hasattr(module, "mask"):
                with torch.no_grad():
                    module.theta.mul_(module.mask)
            total += float(loss.detach())
            if on_step:
                on_step()
        history.append(total / n_batches)
        if epoch + 1 < epochs:
            ckpt.save(epoch + 1, state, [rng], history=history)
    ckpt.finish()
    return history


def wrapped(theta: torch.Tensor) -> torch.Tensor:
    """Angles folded into [-2 pi, 2 pi). The period is 4 pi, not 2 pi: RX(t + 2 pi) = -RX(t) is only a global
    phase on its own, but inside a controlled gate (CU3, CRX) the sign becomes a relative phase."""
    return torch.remainder(theta + 2 * math.pi, 4 * math.pi) - 2 * math.pi


def gate_slices(module) -> list[slice]:
    """Each trainable gate's angles in `module.theta`, in circuit order."""
    ends = [*module.offsets[1:], module.theta.numel()]
    return [slice(a, b) for a, b in zip(module.offsets, ends)]


def gate_distances(module) -> torch.Tensor:
    """How far each trainable gate is from the identity: the Frobenius norm of its matrix minus the identity
    (for a controlled gate, of the target's). Pruning a gate replaces it by the identity, so this is what removing
    it changes, which the norm of its angles is not: U3(0, phi, -phi) is the identity for any phi."""
    ops = [op for op in module.op_list if op.slot]
    with torch.no_grad():
        mats = qs.gate_matrices([(op.gate, module.theta[s]) for op, s in zip(ops, gate_slices(module))])
    if not mats:
        return torch.zeros(0)
    return torch.stack([torch.linalg.matrix_norm(m[0] - torch.eye(m.shape[-1], dtype=m.dtype, device=m.device))
                        for m in mats])


def _prune_mask(module, k: int, granularity: str) -> None:
    """Zero the mask of the `k` least important angles (granularity `angle`), or of whole gates, nearest the
    identity first, until at least `k` angles are pruned (`gate`: a gate goes as a unit and, for a CU3, its two
    CNOTs go with it)."""
    pruned = module.mask == 0
    if granularity == "angle":
        mag = module.theta.abs() + pruned * -1.0  # already pruned stay pruned (smallest)
        module.mask.fill_(1.0)
        if k:
            module.mask[torch.argsort(mag)[:k]] = 0.0
        return
    slices = gate_slices(module)
    score = gate_distances(module) - 1e9 * torch.tensor([float(pruned[s].all()) for s in slices])
    module.mask.fill_(1.0)
    taken = 0
    for g in torch.argsort(score).tolist():
        if taken >= k:
            break
        module.mask[slices[g]] = 0.0
        taken += slices[g].stop - slices[g].start


def prune(module, split: Split, n_classes: int, final: float = 0.1, initial: float = 0.05, steps: int = 4,
          epochs_per_step: int = 1, lr: float = 2e-3, seed: int = 0, batch_size: int = 256,
          on_step: Callable[[], None] | None = None, device: torch.device | str = "cpu",
          granularity: str = "angle") -> list[float]:
    """Iterative magnitude pruning of `module.theta` (a SubCircuit), in place; returns the sparsity per round.
    `granularity` `angle` is the paper's; `gate` prunes whole gates (see `_prune_mask`)."""
    if not 0 <= initial <= final < 1:
        raise ValueError(f"pruning sparsity must satisfy 0 <= initial ({initial}) <= final ({final}) < 1")
    if granularity not in ("angle", "gate"):
        raise ValueError(f"pruning granularity {granularity!r}; allowed: 'angle', 'gate'")
    n = module.theta.numel()
    history = []
    for s in range(1, steps + 1):
        target = final + (initial - final) * (1 - s / steps) ** 3
        k = int(round(target * n))
        with torch.no_grad():
            module.theta.copy_(wrapped(module.theta))
            _prune_mask(module, k, granularity)
            module.theta.mul_(module.mask)
        train(module, split, n_classes, epochs_per_step, lr=lr, warmup_epochs=0, seed=seed + s,
              batch_size=batch_size, on_step=on_step, device=device)
        history.append(float(1 - module.mask.mean()))
    return history

