"""Re-choosing the qubit mapping for the weights the circuit ends with.

The search scores each (SubCircuit, mapping) with weights inherited from the SuperCircuit, then the winner is
trained from scratch. The mapping was therefore chosen for other weights, and the two can disagree: a readout
error that shrinks one qubit's <Z> more than another's can offset a flaw of the inherited weights (lower their
noisy loss) and then only hurt the retrained circuit, which has no such flaw. Measured on the Lagos fake device
(readout errors 1.7% to 46% by qubit): one of 8 seeds put its circuit on qubits with 35/26/17% readout error
and lost 18 points against the fixed mapping (docs/results-quantumnas.md).

So after training, the circuit is re-scored on a few layouts with the search's own fitness on the validation
inputs (never the test inputs), its outputs read with the deployment's shots, and keeps the best: the search's
layout first (it wins ties), the fixed layout 0..n-1, then the distinct layouts of the run's best evaluations.
Those layouts are the ones the noise-adaptive search already found good, so the re-scoring stays the paper's
noise-adaptive mapping, only with the final weights. The paper itself deploys the search's layout; the `paper`
budget preset turns this off (`remap: 0`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nasfw.cost import Objective

# what a layout changes, by the task's noise mode: the compiled circuit's figures, and under `density` the noisy
# validation scores
COMPILED = ("fidelity", "depth", "gates", "two_qubit_gates")
BY_NOISE = {"density": ("loss", "accuracy", "calibrated_loss") + COMPILED, "proxy": COMPILED}
BY_NOISE["trajectories"] = BY_NOISE["density"]


def candidates(run_dir: Path, searched: list[int], n_wires: int, limit: int) -> list[tuple[int, ...]]:
    """The search's layout, the fixed one, then the layouts of the run's best evaluations, distinct, `limit` at
    most."""
    from nasfw.results import RunView

    out = dict.fromkeys([tuple(searched), tuple(range(n_wires))])  # an ordered set
    for e in RunView.open(run_dir).top(20 * limit):
        if len(out) >= limit:
            break
        if e.arch.get("layout") is not None:
            out[tuple(e.arch["layout"])] = None
    return [list(t) for t in out][:limit]


def score_metric(objective: Objective, noise: str) -> Objective:
    """What the layouts are compared by: the search's own metric where a layout changes it, otherwise the noisy
    figure the task's noise mode has (a noise-free metric cannot tell layouts apart)."""
    if objective.metric == "proxy":  # noise-free accuracy x fidelity: the accuracy is the same on every layout
        return Objective("fidelity", "max")
    if objective.metric in BY_NOISE.get(noise, ()):
        return objective
    return Objective("calibrated_loss", "min") if noise in ("density", "trajectories") else Objective("fidelity", "max")


def remap(task, module, layouts: list[list[int]], objective: Objective, shots: int | None = None
          ) -> tuple[list[int], list[dict[str, Any]]]:
    """The best of `layouts` for `module`'s weights on the validation inputs (the first of equals), and every
    layout's validation metrics; with `shots`, the outputs as that many measurements read them (finalize passes
    its own shots: the calibrated loss of exact expectations would welcome a layout that shrinks <Z> to the
    size of the shot noise)."""
    obj = score_metric(objective, task.noise)
    scored = []
    for layout in layouts:
        metrics, _ = task.noisy_score(module, layout, task.data.valid, shots=shots)
        scored.append({"layout": layout, **{k: float(v) for k, v in metrics.items()}})
    sign = 1.0 if obj.direction == "min" else -1.0
    best = min(scored, key=lambda r: sign * r[obj.metric])
    return list(best["layout"]), scored
