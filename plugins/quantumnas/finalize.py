"""QuantumNAS's last steps and its baselines, in one run folder.

The searched SubCircuit is trained from scratch, then pruned; both are compiled with the searched mapping
and evaluated on the test inputs with qiskit-aer (`AerSimulator(method="density_matrix")`,
`NoiseModel.from_backend`, 8192 shots) after `qiskit.transpile` at optimisation level 2. Baselines, each
trained from scratch and evaluated the same way:

- human: the whole SuperCircuit (every gate of every block), mapping 0..n-1;
- random: random SubCircuits with the parameter count closest to the searched one, mapping 0..n-1
  (`random_circuits` of them, each its own row: one random circuit says little about random circuits);
- noise-unaware: the same evolution with the campaign's fitness measured noise-free (`noise_free_<metric>`;
  noise-free loss where the campaign's metric has no noise-free twin), mapping 0..n-1;
- fixed-mapping: the searched circuit (weights as trained) on qubits 0..n-1;
- sabre: the searched circuit placed by qiskit's SABRE layout instead of the searched mapping.

With `retrain` > 1 (the default campaign) the run's `retrain` best distinct circuits are trained from scratch
and the one the campaign's fitness prefers on the validation inputs becomes the searched circuit (`retrain.py`
says why); the noise-unaware search chooses among its own best the same way, by its noise-free fitness. The row
"searched, search's winner" keeps the search's own winner. With `remap` > 0 (the default campaign) the trained
circuit then re-chooses its layout among the search's best ones for its final weights (`remap.py`); the searched
and pruned rows use that layout and the row "searched, search's mapping" keeps the layout the search chose.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, get_args

import numpy as np
import torch

from nasfw.cost import Objective
from nasfw.errors import ConfigError
from nasfw.option_types import Bounds, Fraction, NonNegativeInt, PositiveFloat, PositiveInt
from nasfw.plugins.quantumnas import compile as qc
from nasfw.plugins.quantumnas import train as qt
from nasfw.plugins.quantumnas.paired import describe, encode_correct, inputs_fingerprint, paired_difference
from nasfw.finalize_store import FinalizeStore, weights_digest
from nasfw.searchers.base import Result, make_searcher
from nasfw.searchers.evolution import OFAEvolution
from nasfw.space import Space

BaselineName = Literal["human", "random", "noise-unaware", "fixed-mapping", "sabre"]
BASELINES: tuple[str, ...] = get_args(BaselineName)


def _without_layout(space: Space) -> Space:
    return Space([d for d in space.decisions if d.name != "layout"], name=space.name + "-nomap")


NOISE_FREE = {"loss": ("noise_free_loss", "min"), "accuracy": ("noise_free_accuracy", "max"),
              "calibrated_loss": ("noise_free_calibrated_loss", "min"),
              # the proxy is noise-free accuracy x estimated success probability: without the noise, the accuracy
              "proxy": ("noise_free_accuracy", "max")}


def campaign_objective(run_dir: Path) -> Objective:
    """The run's first objective as its campaign.yaml states it (the noisy loss where there is none)."""
    import yaml

    path = Path(run_dir) / "campaign.yaml"
    objectives = (yaml.safe_load(path.read_text()) or {}).get("objectives") if path.exists() else None
    if not objectives:
        return Objective("loss", "min")
    return Objective(objectives[0].get("metric", "loss"), objectives[0].get("direction", "min"))


def unaware_objective(run_dir: Path) -> Objective:
    """The campaign's first objective measured without noise: the noise-unaware twin of the search."""
    name, direction = NOISE_FREE.get(campaign_objective(run_dir).metric, NOISE_FREE["loss"])
    return Objective(name, direction)


def noise_unaware_search(task, population: int, generations: int, mutate_prob: float, seed: int,
                         objective: Objective | None = None) -> list[dict]:
    """Evolution over the SubCircuit alone, scored noise-free with inherited weights: every arch it scored, best
    first."""
    objective = objective or Objective("noise_free_loss", "min")
    space = _without_layout(task.supercircuit.space)
    searcher = make_searcher(OFAEvolution, space, {"population_size": population, "parent_ratio": 0.25,
                                                   "mutation_ratio": 0.5, "mutate_prob": mutate_prob},
                             objectives=[objective], seed=seed)
    d = task.data
    sign = 1.0 if objective.direction == "min" else -1.0
    seen: dict[str, tuple[float, dict]] = {}  # insertion order: the first of equals ranks first
    for _ in range(population * generations):
        arch = searcher.ask()
        key = space.key(arch)
        if key not in seen:
            seen[key] = (qt.noise_free_metrics(task.supercircuit.extract(arch), d.valid, d.n_classes)[objective.metric],
                         arch)
        searcher.tell(arch, Result(metrics={objective.metric: seen[key][0]}))
    return [a for _, a in sorted(seen.values(), key=lambda t: sign * t[0])]


def _closest_params(task, target: int, rng: np.random.Generator, tries: int = 500) -> dict:
    space = _without_layout(task.supercircuit.space)
    best = None
    for _ in range(tries):
        a = space.sample(rng)
        gap = abs(task.supercircuit.n_params(a) - target)
        if best is None or gap < best[0]:
            best = (gap, a)
        if gap == 0:
            break
    return best[1]


def check_finalize_options(baselines: Sequence[str] = BASELINES, random_circuits: int = 1, remap: int = 0,
                           retrain: int = 1, retrain_layouts: int = 4, torch_trajectories: int = 0,
                           prune_final: float = 0.1, **_: Any) -> None:
    """The values finalize takes, checked by the engine before the search (the task's `check_finalize`) as well
    as by finalize itself: a misspelt baseline failed only after the search and the SuperCircuit training."""
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ConfigError(f"phases.finalize.task.baselines: {unknown}; allowed: {list(BASELINES)}")
    if not isinstance(random_circuits, int) or random_circuits < 1:
        raise ConfigError(f"phases.finalize.task.random_circuits = {random_circuits!r}; it must be an integer >= 1")
    if not isinstance(remap, int) or isinstance(remap, bool) or remap < 0:
        raise ConfigError(f"phases.finalize.task.remap = {remap!r}; it must be an integer >= 0 (0 keeps the "
                          "search's layout)")
    for field, value in (("retrain", retrain), ("retrain_layouts", retrain_layouts)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"phases.finalize.task.{field} = {value!r}; it must be an integer >= 1 (retrain 1 "
                              "keeps the search's winner)")
    if not isinstance(torch_trajectories, int) or isinstance(torch_trajectories, bool) or torch_trajectories < 0 \
            or torch_trajectories == 1:
        raise ConfigError(f"phases.finalize.task.torch_trajectories = {torch_trajectories!r}; it must be 0 (none) or "
                          "an integer >= 2")
    if not 0 <= prune_final < 1:
        raise ConfigError(f"phases.finalize.task.prune_final = {prune_final}; it must be in [0, 1)")


def finalize(task, arch: dict, run_dir: Path, scratch_epochs: PositiveInt = 20, lr: PositiveFloat = 5e-3,
             prune_final: Fraction = 0.1, prune_initial: Fraction = 0.05, prune_steps: PositiveInt = 4,
             prune_epochs: NonNegativeInt = 2, prune_lr: PositiveFloat = 2e-3, prune_batch_size: PositiveInt = 32,
             prune_granularity: Literal["angle", "gate"] = "angle", baselines: Sequence[BaselineName] = BASELINES,
             shots: PositiveInt = 8192,
             search_population: Annotated[int, Bounds(low=2)] = 20, search_generations: PositiveInt | None = None,
             mutate_prob: Fraction = 0.4, random_circuits: PositiveInt = 1, remap: NonNegativeInt = 0,
             retrain: PositiveInt = 1, retrain_layouts: PositiveInt = 4,
             retrain_spread: Literal["none", "blocks"] = "blocks", torch_trajectories: NonNegativeInt = 0,
             progress: bool = True) -> dict[str, Any]:
    """`retrain`: how many of the search's best distinct circuits are trained from scratch to choose the final
    one (1: the search's winner alone), each scored on `retrain_layouts` layouts; `retrain_spread: blocks` (the
    default) takes the best circuit of each block count first (for the noise-unaware baseline too), so that the
    choice is between sizes and not between near-copies; `none` takes them by rank.
    `remap`: how many of the search's best layouts the trained circuit is re-scored on (0: keep the search's).
    `search_generations` of the noise-unaware baseline: by default as many evaluations as the run made.
    `torch_trajectories`: where the task scores without a torch noisy simulation (`noise: proxy`, e.g. 10 qubits),
    each row's torch column from that many noise trajectories per test input (0: none), beside aer.
    The pruning fine-tune takes batches of `prune_batch_size` (32): on a small training set batches of 256 give
    a handful of steps a round, too few to recover from removing angles (measured: 50% sparsity left 27%
    accuracy where batches of 32 kept 63%, Lima, docs/results-quantumnas.md).
    `prune_granularity`: `angle`, the paper's, prunes single angles; `gate` whole gates, so that a pruned CU3
    takes its two CNOTs with it (on Quito that lost 7 points at 10%: docs/results-quantumnas.md)."""
    check_finalize_options(baselines=baselines, random_circuits=random_circuits, remap=remap, retrain=retrain,
                           retrain_layouts=retrain_layouts, torch_trajectories=torch_trajectories,
                           prune_final=prune_final)
    if search_generations is None:
        from nasfw.results import RunView

        n_eval = RunView.open(run_dir).summary()["evaluations"]
        search_generations = max(1, -(-n_eval // search_population))
    torch.set_num_threads(1)
    d, n_classes, seed = task.data, task.data.n_classes, task.seed
    trivial = list(range(task.n_wires))
    layout = task.check_layout(arch) or trivial
    remapping = bool(remap) and task.noise != "none" and "layout" in arch
    from nasfw.progress import progress_bar

    # steps: train, evaluate, prune, evaluate, then per baseline prepare + evaluate; with `retrain`, one per
    # candidate trained and two for the search's winner's row
    n_rows = len(baselines) + (random_circuits - 1 if "random" in baselines else 0)
    unaware_retrain = retrain if "noise-unaware" in baselines else 0
    steps = 4 + 2 * n_rows + remapping + (retrain + 2 if retrain > 1 else 0) + unaware_retrain
    bar = progress_bar(steps, "finalize", progress)

    # every circuit trained and every aer evaluation is kept in run_dir/finalize as it finishes: an interrupted
    # finalize, run again (`--resume`), picks up the finished ones (checkpoint.py)
    store = FinalizeStore(run_dir, task.device, task.optimization_level, seed, task.circuit, task.n_wires,
                          task.n_blocks, d.train.x, d.train.y, d.valid.x, d.valid.y, d.test.x, d.test.y)

    def scratch(a: dict):
        key = ({k: v for k, v in a.items() if k != "layout"}, scratch_epochs, lr)

        def build():
            m = task.supercircuit.extract(a)
            m.reinitialise(seed)
            qt.train(m, d.train, n_classes, scratch_epochs, lr=lr, seed=seed, device=task.torch_device,
                     checkpoint=store.checkpoint("scratch", key))
            return m
        return store.module("scratch", key, lambda: task.supercircuit.extract(a), build)

    rows: list[dict[str, Any]] = []
    mapped = any(dec.name == "layout" for dec in task.supercircuit.space.decisions)

    def row(name: str, module, a: dict, lay: list[int] | None, layout_method: str | None = None) -> dict:
        bar.set_postfix_str(f"aer: {name}")
        tq, inputs = qc.transpile(module, task.device, lay, task.optimization_level, layout_method, seed=seed)
        # the task's torch evaluator beside aer (density matrix up to 8 qubits, or trajectories); the density
        # matrix's outcomes are sampled with aer's shots, so that the two columns differ by the simulator alone (a
        # circuit whose <Z> has shrunk to the shot noise reads right from exact expectations and not from shots),
        # and its exact reading is kept beside it
        z_exact = None
        if task.noise == "density":
            prog = qc.program(tq, inputs, task.device)
            z_torch, z_exact = prog.expval_z(d.test.x, shots=shots, seed=seed), prog.expval_z(d.test.x)
        elif task.noise == "trajectories":
            z_torch = qc.noisy_expval_z(tq, inputs, task.device, d.test.x, task.noise, task.trajectories, seed=seed)
        elif torch_trajectories:
            z_torch = store.value("torch-trajectories",
                                  (weights_digest(module), lay, layout_method, torch_trajectories),
                                  lambda: qc.noisy_expval_z(tq, inputs, task.device, d.test.x, "trajectories",
                                                            torch_trajectories, seed=seed).numpy())
            z_torch = torch.as_tensor(z_torch)
        else:
            z_torch = None
        z_aer = store.value("aer", (weights_digest(module), lay, layout_method, shots),
                            lambda: qc.aer_expval(tq, inputs, d.test.x.numpy(), task.device, shots=shots, seed=seed))
        nf_loss, nf_acc = qt.evaluate(module, d.test, n_classes)
        aer_loss, aer_acc = qt.score(torch.as_tensor(z_aer), d.test.y, n_classes)
        placed = qc.initial_layout(tq)
        r = {"name": name, "params": int((module.mask > 0).sum()), "layout": placed,
             "noise_free_accuracy": nf_acc,
             "torch_noisy_accuracy": qt.score(z_torch, d.test.y, n_classes)[1] if z_torch is not None else None,
             "torch_noisy_exact_accuracy": qt.score(z_exact, d.test.y, n_classes)[1] if z_exact is not None else None,
             "torch_noisy_mean_abs_z": float(z_exact.abs().mean()) if z_exact is not None else None,
             "aer_accuracy": aer_acc, "aer_loss": aer_loss,
             # the arch as evaluated: with the layout the row ran on (fixed, SABRE's, ...), not the one it came with
             **qc.stats(tq, task.device), "arch": {**a, "layout": placed} if mapped else a,
             # the test inputs aer classifies right (a row copied for another name keeps them): rows compare paired
             "_aer_correct": qt.correct(torch.as_tensor(z_aer), d.test.y, n_classes).numpy()}
        rows.append(r)
        bar.update(1)
        return r

    from nasfw.plugins.quantumnas import remap as qr
    from nasfw.plugins.quantumnas import retrain as qrt

    campaign = campaign_objective(run_dir)

    def remapped(module, a: dict, limit: int) -> tuple[list[int], list[dict]]:
        """The best layout for `module`'s weights among `limit` of the search's (its own first)."""
        own = task.check_layout(a) or trivial
        if task.noise == "none":
            return own, []
        layouts = qr.candidates(run_dir, own, task.n_wires, limit) if "layout" in a else [own]
        return qr.remap(task, module, layouts, campaign, shots=shots)

    # what the trained candidates are compared by: the campaign's noisy metric (the proxy recomputed with the trained
    # weights' noise-free accuracy), its noise-free twin where the task runs without noise
    retrain_objective = unaware_objective(run_dir) if task.noise == "none" else (
        campaign if campaign.metric == "proxy" else qr.score_metric(campaign, task.noise))

    def noisy_fitness(module, a: dict) -> dict[str, Any]:
        lay, scored = remapped(module, a, retrain_layouts)
        metrics = {"layout": lay, **qt.noise_free_metrics(module, d.valid, n_classes)}
        metrics.update(next((r for r in scored if r["layout"] == lay), {}))
        if "fidelity" in metrics:
            metrics["proxy"] = metrics["noise_free_accuracy"] * metrics["fidelity"]
        return metrics

    retrain_scores: list[dict] = []
    winner, winner_module = arch, None
    bar.set_postfix_str("train from scratch")
    if retrain > 1:
        cands = qrt.run_candidates(run_dir, task, arch, retrain, retrain_spread)
        pick, modules, retrain_scores = qrt.choose(cands, scratch, noisy_fitness, retrain_objective,
                                                   progress=lambda: bar.update(1))
        arch, searched, winner_module = cands[pick], modules[pick], modules[0]
        layout = task.check_layout(arch) or trivial
    else:
        searched = scratch(arch)
    bar.update(1)
    search_layout, remap_scores = layout, []
    if remapping:
        bar.set_postfix_str("re-map")
        layout, remap_scores = remapped(searched, arch, remap)
        arch = {**arch, "layout": layout}
    first = row("searched", searched, arch, layout)
    if remap_scores:  # the layout the search chose, beside the one re-chosen for the trained weights
        if search_layout == layout:
            rows.append({**first, "name": "searched, search's mapping", "arch": {**arch, "layout": search_layout}})
            bar.update(1)
        else:
            row("searched, search's mapping", searched, {**arch, "layout": search_layout}, search_layout)
    if winner_module is not None:  # the search's own winner, trained and re-mapped the same way
        if winner_module is searched:
            rows.append({**first, "name": "searched, search's winner"})
            bar.update(2)
        else:
            bar.set_postfix_str("re-map the search's winner")
            w_layout = remapped(winner_module, winner, remap)[0] if remapping else (task.check_layout(winner)
                                                                                   or trivial)
            bar.update(1)
            row("searched, search's winner", winner_module, {**winner, "layout": w_layout}, w_layout)
    bar.set_postfix_str("prune")
    prune_key = (weights_digest(searched), prune_final, prune_initial, prune_steps, prune_epochs, prune_lr,
                 prune_batch_size) + ((prune_granularity,) if prune_granularity != "angle" else ())

    def prune():
        m = copy.deepcopy(searched)
        s = qt.prune(m, d.train, n_classes, final=prune_final, initial=prune_initial, steps=prune_steps,
                     epochs_per_step=prune_epochs, lr=prune_lr, batch_size=prune_batch_size, seed=seed,
                     device=task.torch_device, granularity=prune_granularity)
        store.value("sparsity", prune_key, lambda: s)  # kept before the weights: a kept circuit has its sparsity
        return m
    pruned = store.module("pruned", prune_key, lambda: copy.deepcopy(searched), prune)
    sparsity = [float(v) for v in store.value("sparsity", prune_key, lambda: [])]
    bar.update(1)
    row("searched + pruned", pruned, arch, layout)
    for b in baselines:
        bar.set_postfix_str(f"baseline {b}")
        if b == "human":
            a = task.supercircuit.largest()
            row("human design", scratch(a), a, trivial)
        elif b == "random":
            rng = np.random.default_rng(seed)
            for i in range(random_circuits):
                a = _closest_params(task, int(searched.theta.numel()), rng)
                row("random circuit" + (f" {i + 1}" if random_circuits > 1 else ""), scratch(a), a, trivial)
                if i < random_circuits - 1:
                    bar.update(1)
        elif b == "noise-unaware":
            objective = unaware_objective(run_dir)
            ranked = noise_unaware_search(task, search_population, search_generations, mutate_prob, seed, objective)
            cands = qrt.distinct_circuits(task, ranked, retrain, retrain_spread)
            pick, modules, _ = qrt.choose(
                cands, scratch, lambda m, a: qt.noise_free_metrics(m, d.valid, n_classes), objective,
                progress=lambda: bar.update(1))
            row("noise-unaware search", modules[pick], cands[pick], trivial)
        elif b == "fixed-mapping":
            row("searched, fixed mapping", searched, arch, trivial)
        elif b == "sabre":
            row("searched, SABRE layout", searched, arch, None, layout_method="sabre")
        bar.update(1)
    bar.close()
    correct = [r.pop("_aer_correct") for r in rows]
    for r, c in zip(rows[1:], correct[1:]):  # every row against the searched circuit, input by input (paired.py)
        r["aer_vs_searched"] = paired_difference(c, correct[0])
    for r, c in zip(rows, correct):  # kept, so that runs sharing their test inputs compare paired (paired.py)
        r["aer_correct"] = encode_correct(c)
    files, classifier = [], task.classifier()  # once: a user's .npz is read for its intensity scale
    for name, module in (("searched", searched), ("searched_pruned", pruned)):
        tq, _ = qc.transpile(module, task.device, layout, task.optimization_level, seed=seed)
        files += [str(p) for p in qc.export_qasm(module, tq, run_dir / "export", name, task.device, classifier)]
        torch.save(module.state_dict(), run_dir / "export" / f"{name}.pt")
    torch_evaluator = (f"density matrix, {shots} shots sampled" if task.noise == "density" else
                       f"{task.trajectories} trajectories per input" if task.noise == "trajectories" else
                       f"{torch_trajectories} trajectories per input" if torch_trajectories else None)
    report = {"device": task.device, "dataset": d.source, "classes": task.classes, "test_samples": len(d.test),
              "test_inputs": inputs_fingerprint(d.test.x, d.test.y),
              "shots": shots, "torch_evaluator": torch_evaluator, "pruning_sparsity": sparsity,
              "search_layout": search_layout, "layout": layout,
              "remap": remap_scores, "retrain": retrain_scores, "rows": rows, "files": files,
              "supercircuit": _health(run_dir)}
    (run_dir / "quantumnas.json").write_text(json.dumps(report, indent=2, default=str))
    (run_dir / "quantumnas.md").write_text(table(report))
    from nasfw.plugins.quantumnas.result_plots import plot_qml

    return {"table": str(run_dir / "quantumnas.md"), "figures": [str(plot_qml(report, run_dir / "quantumnas.png"))],
            "aer_accuracy": {r["name"]: round(r["aer_accuracy"], 4) for r in rows}}


def load_searched(run_dir: Path):
    """A finished run read back: its task (from the run's campaign.yaml), the searched arch (with its layout) and
    the searched circuit with the weights finalize trained, for benches that re-evaluate finished runs."""
    import yaml

    from nasfw.plugins.quantumnas.task import QuantumNASTask

    run_dir = Path(run_dir)
    campaign = yaml.safe_load((run_dir / "campaign.yaml").read_text())
    task = QuantumNASTask(**{"seed": campaign.get("seed", 0), **campaign["task_options"]})  # as the run built it
    arch = json.loads((run_dir / "quantumnas.json").read_text())["rows"][0]["arch"]
    module = task.supercircuit.extract(arch)
    module.load_state_dict(torch.load(run_dir / "export" / "searched.pt"))
    return task, arch, module


def _health(run_dir: Path) -> dict | None:
    """What the supernet phase measured of the SuperCircuit (`train.supercircuit_health`), if it ran."""
    path = Path(run_dir) / qt.HEALTH_FILE
    return json.loads(path.read_text()) if path.exists() else None


def table(report: dict) -> str:
    head = (f"# QuantumNAS on {report['device']}\n\n{report['dataset']}, classes {report['classes']}, "
            f"{report['test_samples']} test inputs, qiskit-aer with the device noise model (density matrix up to 10 "
            "active qubits, noisy state-vector trajectories beyond), "
            f"{report['shots']} shots; torch noisy: {report.get('torch_evaluator') or 'not run'}.\n\n"
            "aer vs searched: the row's aer accuracy minus the searched circuit's, in points, paired on the test "
            "inputs (n:m = inputs only this row / only the searched circuit classifies right; exact McNemar "
            "p-value).\n\n" + _untrained(report) +
            "| circuit | params | layout | depth | 2q gates | est. fidelity | noise-free acc | torch noisy acc "
            "| aer acc | aer vs searched |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| {r['name']} | {r['params']} | {r['layout']} | {int(r['depth'])} | {int(r['two_qubit_gates'])} | "
             f"{r['fidelity']:.3f} | {r['noise_free_accuracy']:.3f} | "
             f"{'-' if r['torch_noisy_accuracy'] is None else format(r['torch_noisy_accuracy'], '.3f')} | "
             f"{r['aer_accuracy']:.3f} | {describe(r.get('aer_vs_searched'))} |" for r in report["rows"]]
    return head + "\n".join(lines) + "\n" + _shot_limited(report)


# exact minus sampled accuracy: a healthy circuit's two readings differ by about a point (the default run's searched
# circuit: 1.1 on average over 20 shot seeds, their sd 0.9)
SHOT_LIMITED_POINTS = 3.0


def _shot_limited(report: dict) -> str:
    """The rows whose exact expectations classify clearly more than their shots do: outputs shrunk by the noise
    to the size of the shot noise, which a reader of the table would otherwise take for a simulator's error."""
    limited = [r for r in report["rows"] if r.get("torch_noisy_exact_accuracy") is not None
               and 100 * (r["torch_noisy_exact_accuracy"] - r["torch_noisy_accuracy"]) >= SHOT_LIMITED_POINTS]
    if not limited:
        return ""
    rows = ", ".join(f"{r['name']} {r['torch_noisy_exact_accuracy']:.3f} (mean |<Z>| {r['torch_noisy_mean_abs_z']:.3f})"
                     for r in limited)
    return (f"\nRead from exact expectations (no shot noise), the torch density matrix classifies more on: {rows}. "
            f"The noise has shrunk these outputs to the size of the noise of {report['shots']} shots, which is what "
            "aer and the torch column both read.\n")


def _untrained(report: dict) -> str:
    health = report.get("supercircuit")
    if not health or health.get("learned", True):
        return ""
    return f"Note: {qt.untrained_note(health)}.\n\n"
