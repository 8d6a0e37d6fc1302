"""Choosing the final circuit among the search's best after training them from scratch.

The search ranks SubCircuits by their weights inherited from the SuperCircuit, and on a small training set those
rank circuits only weakly: over 30 SubCircuits of MNIST-4 the inherited accuracy ranked them as training them
from scratch did with Spearman 0.4-0.5 (bench/quantumnas_supercircuit.py). The search's winner is then one
draw from its top few, and which one it is moves the final accuracy by several points from seed to seed
(docs/results-quantumnas.md). Training a circuit from scratch costs seconds here (100 epochs of a 3-block
4-qubit circuit: about 8 s on one core), so finalize can afford to train the `retrain` best distinct
SubCircuits of the run and keep the one the campaign's own fitness prefers on the validation inputs, with its
final weights: the noisy metric, read with the deployment's shots, for the noise-adaptive search; the
noise-free metric for the noise-unaware baseline, which gets the same treatment so that the two stay a
comparison of noise-awareness and not of effort. Each candidate is scored on a few layouts (its own, the fixed
one, the search's best: see `remap.candidates`) so that a layout chosen for the inherited weights does not sink
a good circuit; the winner is then re-mapped as usual.

This is the usual last step of weight-sharing NAS (train the top-k, keep the best on validation); the paper
deploys the search's winner directly, and the `paper` budget preset keeps that (`retrain: 1`).

An evolution's best few are often near-copies of one circuit (on Lima, four or five of the top 5 shared a block
count in 6 of 10 seeds), so training them corrects little of the inherited weights' bias against larger
circuits. `spread="blocks"` takes the best circuit of each block count first, then fills up by rank, so that
retraining chooses between sizes. finalize's default (`retrain_spread`): measured paired, seed by seed, against
taking them by rank, it gained 1.8 points on Lima and 1.1 on Lagos and did not cost on Quito, whose noise
punishes size (+0.3; docs/results-quantumnas.md, "Retraining across sizes").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from nasfw.cost import Objective


SPREADS = ("none", "blocks")


def distinct_circuits(task, archs: Iterable[dict], limit: int, spread: str = "none") -> list[dict]:
    """The first `limit` archs that are different circuits (two archs whose active gates are the same are one
    circuit: inactive blocks' choices and the layout do not count), in the order given; with `spread="blocks"`
    the first of each block count come before the rest, each group in the order given."""
    if spread not in SPREADS:
        raise ValueError(f"spread = {spread!r}; allowed: {list(SPREADS)}")
    out: dict[tuple, dict] = {}
    for a in archs:
        out.setdefault(tuple(task.supercircuit.ops(a)), a)
    circuits = list(out.values())
    if spread == "blocks":
        firsts: dict[Any, dict] = {}
        for a in circuits:
            firsts.setdefault(a.get("n_blocks"), a)
        ids = {id(a) for a in firsts.values()}
        circuits = list(firsts.values()) + [a for a in circuits if id(a) not in ids]
    return circuits[:limit]


def run_candidates(run_dir: Path, task, winner: dict, limit: int, spread: str = "none") -> list[dict]:
    """The search's winner first, then the distinct circuits of the run's best evaluations (each with the layout
    of its best evaluation), spread over block counts where `spread="blocks"`."""
    from nasfw.results import RunView

    return distinct_circuits(task, [winner] + [e.arch for e in RunView.open(run_dir).top(20 * limit)], limit,
                             spread)


def choose(candidates: list[dict], train: Callable[[dict], Any], score: Callable[[Any, dict], dict[str, Any]],
           objective: Objective, progress: Callable[[], None] | None = None
           ) -> tuple[int, list[Any], list[dict[str, Any]]]:
    """Train each candidate (`train(arch) -> module`), score it (`score(module, arch) -> metrics`, which may
    also return the `layout` it found best) and return the index of the best by `objective` (the first of
    equals: the search's winner wins ties), the trained modules and every candidate's scores."""
    modules, scored = [], []
    for a in candidates:
        m = train(a)
        modules.append(m)
        scored.append({"arch": a, "params": int((m.mask > 0).sum()), **score(m, a)})
        if progress is not None:
            progress()
    sign = 1.0 if objective.direction == "min" else -1.0
    best = min(range(len(scored)), key=lambda i: (sign * scored[i][objective.metric], i))
    return best, modules, scored
