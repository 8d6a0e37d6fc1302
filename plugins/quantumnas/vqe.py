"""The QuantumNAS VQE task: a SuperCircuit as the ansatz, started from the Hartree-Fock state, trained to
minimise <H>; candidates (SubCircuit, mapping) scored by their energy with inherited weights under the
device's noise.

Energies are exact expectations: <H> = constant + sum_P c_P <P>, each <P> the joint expectation of the whole
Pauli string (Tr(rho P) for the noisy density matrix), not a product of single-qubit expectations. Under
noise the gates carry the device's depolarising and relaxation errors; readout error is left out (it needs a
measurement basis per Pauli group; shot-based estimation is not modelled), and the qiskit-aer reference is
computed the same way (`save_density_matrix`, then Tr(rho H))."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch

from nasfw.errors import ConfigError
from nasfw.hardware import quantum_noise
from nasfw.hardware.quantum_noise import NoiseScale
from nasfw.option_types import Note, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from nasfw.plugins.quantumnas import compile as qc
from nasfw.plugins.quantumnas.molecules import (HAMILTONIAN_FILE, MAX_QUBITS, SIZE_LIMIT, Hamiltonian, build,
                                                hartree_fock_bits, load_hamiltonian, molecule_spec, qubit_count,
                                                save_hamiltonian, too_large)
from nasfw.plugins.quantumnas.train import supercircuit_sampling
from nasfw.search_spaces import quantum_sim as qs
from nasfw.search_spaces.quantum_density import TooManyQubits
from nasfw.search_spaces.circuit_options import BlockCount, CircuitName, DeviceName, OptimizationLevel
from nasfw.search_spaces.supercircuit import SuperCircuit, space_def
from nasfw.space_cover import check_within
from nasfw.supernet.sampling import SamplerName
from nasfw.supernet.train import TRAINING_CHECKPOINT, TrainConfig, train_supernet
from nasfw.registry import checks_options


MoleculeSpec = Annotated[str | dict, Note("a preset (h2, lih, h2o, ch4, beh2) or a mapping: geometry (pyscf's atom "
                                          "text, [[symbol, [x, y, z]], ...] or an .xyz file), basis, charge, spin, "
                                          "active")]
DENSITY_QUBITS = 8  # the molecule's qubits under noise: density (routing adds ancillas to the matrix)


@checks_options("task 'quantumnas-vqe'")
class VQETask:
    export_formats = ("qasm", "json")
    # what a campaign switched to this task searches for when it names no objectives
    default_objectives = ({"metric": "energy", "direction": "min"},)

    def __init__(self, molecule: MoleculeSpec = "h2", circuit: CircuitName = "u3cu3",
                 n_blocks: BlockCount | None = None, device: DeviceName = "quito",
                 noise: Literal["density", "none"] = "density", optimization_level: OptimizationLevel = 2,
                 seed: int = 0, noise_scale: NoiseScale = 1.0):
        space_def(circuit, "task_options")
        if noise not in ("density", "none"):
            raise ConfigError(f"task_options.noise = {noise!r}; allowed: density, none")
        if optimization_level not in (0, 1, 2, 3) or isinstance(optimization_level, bool):
            raise ConfigError(f"task_options.optimization_level = {optimization_level!r}; allowed: 0, 1, 2, 3 "
                              "(qiskit.transpile's levels)")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"task_options.seed = {seed!r}; it must be an integer >= 0")
        self.device = quantum_noise.device_key(device, noise_scale)
        self.noise, self.seed, self.level = noise, seed, optimization_level
        qubits = quantum_noise.backend(self.device).num_qubits
        needed = qubit_count(molecule)  # checked before the Hamiltonian is built: that grows as 4^n
        if noise == "density" and needed > DENSITY_QUBITS:
            raise too_large(molecule, needed, DENSITY_QUBITS, "noise: density holds a density matrix of the qubits "
                            f"plus routing ancillas and stops at {DENSITY_QUBITS} (noise: none: {MAX_QUBITS})")
        if needed > MAX_QUBITS:
            raise too_large(molecule, needed, MAX_QUBITS, SIZE_LIMIT)
        if needed > qubits:
            raise ConfigError(f"task_options.molecule needs {needed} qubits; {self.device!r} has {qubits}; "
                              f"a larger task_options.device: {quantum_noise.devices_with(needed)}")
        self.h = build(molecule)
        self.molecule = molecule_spec(molecule)
        self.n_wires = self.h.n_qubits
        self.supercircuit = SuperCircuit(circuit, self.n_wires, n_blocks, qubits, n_features=0, seed=seed,
                                         field="task_options")
        self._use_hamiltonian(self.h)
        self.hf = hartree_fock_bits(self.h)
        self.trained = False

    def _use_hamiltonian(self, h: Hamiltonian) -> None:
        """SuperCircuit weights are only good for the Hamiltonian's coefficients they were trained on, not for
        another basis of the same molecule's orbitals (its spectrum stays, the coefficients move). `build` fixes
        the gauge of degenerate orbitals, which pyscf rotates differently in each process (N2's pi pairs), but
        the Hamiltonian trained on is still kept in the run folder before training, read back on resume
        (`_keep_hamiltonian`: a run started before the gauge was fixed, another machine's linear algebra), and
        sent to the workers with the weights (`shared_state`)."""
        self.h = h
        # H without its constant, in double precision, sparse; energies are Rayleigh quotients (see `_expect`)
        self.hmat = _sparse_tensor(h.matrix(constant=False, sparse=True))

    def _keep_hamiltonian(self, run_dir: Path) -> None:
        path = Path(run_dir) / HAMILTONIAN_FILE
        if path.exists():
            self._use_hamiltonian(load_hamiltonian(path, self.h))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_hamiltonian(self.h, path)

    # -- energies ---------------------------------------------------------------------------------------------
    def _start(self) -> torch.Tensor:
        s = qs.zero_state(self.n_wires)
        for q, bit in enumerate(self.hf):
            if bit:
                s = qs.apply(s, "x", (q,))
        return s

    def energy(self, gates) -> torch.Tensor:
        """Noise-free <H> of the Hartree-Fock state followed by `gates` (differentiable)."""
        return self._expect(qs.run(self._start(), gates).reshape(-1))

    def _expect(self, psi: torch.Tensor) -> torch.Tensor:
        """constant + <psi|H'|psi> / <psi|psi> in double precision. The states are single precision: their norm
        is off by about 1e-7, which times the constant (-73 Ha for H2O) would move the energy by 0.01 mHa, below
        the exact energy for the best circuits."""
        psi = psi.to(torch.complex128)
        return self.h.constant + hermitian_form(psi, self.hmat) / (psi.conj() @ psi).real

    def _supernet_energy(self, sc: SuperCircuit) -> torch.Tensor:
        return self.energy([(op.gate, op.wires, sc.weight(op) if op.slot else None) for op in sc.ops()])

    def circuit(self, module):
        """qiskit circuit: X on the occupied spin-orbitals, then the SubCircuit; measured for the layout."""
        import qiskit

        body = qc.to_qiskit(module)
        prep = qiskit.QuantumCircuit(self.n_wires, self.n_wires)
        for q, bit in enumerate(self.hf):
            if bit:
                prep.x(q)
        return prep.compose(body)

    def transpile(self, module, layout, layout_method: str | None = None):
        import qiskit

        kw: dict[str, Any] = {"optimization_level": self.level, "seed_transpiler": self.seed}
        if layout is not None:
            kw["initial_layout"] = list(layout)
        elif layout_method:
            kw["layout_method"] = layout_method
        return qiskit.transpile(self.circuit(module), quantum_noise.backend(self.device), **kw)

    def _local_h(self, prog) -> torch.Tensor:
        """H over the program's local qubits: logical qubit i is the one measured into clbit i; routing
        ancillas carry identities."""
        from nasfw.plugins.quantumnas.molecules import Hamiltonian

        terms = []
        for c, string in self.h.terms:
            local = ["I"] * prog.n_qubits
            for i, ch in enumerate(string):
                local[prog.measured[i]] = ch
            terms.append((c, "".join(local)))
        h = Hamiltonian(terms, self.h.constant, prog.n_qubits, 0.0, 0.0, 0)
        return torch.tensor(h.matrix(constant=False), dtype=torch.complex128)

    def _expect_rho(self, rho: torch.Tensor, h: torch.Tensor) -> float:
        """constant + Tr(rho H') / Tr(rho), in double precision (as `_expect`)."""
        rho = rho.to(torch.complex128)
        return self.h.constant + float(torch.trace(rho @ h).real / torch.trace(rho).real)

    def noisy_energy(self, tq) -> float:
        prog = qc.program(tq, [], self.device)
        rho = prog.density(np.zeros((1, 0)))[0]
        return self._expect_rho(rho, self._local_h(prog))

    def aer_energy(self, tq) -> float:
        from qiskit_aer import AerSimulator

        prog = qc.program(tq, [], self.device)
        circ = tq.copy()
        circ.remove_final_measurements()
        circ.save_density_matrix(qubits=prog.physical)
        sim = AerSimulator(method="density_matrix", noise_model=quantum_noise.noise_model(self.device))
        rho = np.asarray(sim.run(circ).result().data(0)["density_matrix"])
        n = prog.n_qubits
        perm = list(range(n))[::-1]  # aer: first listed qubit least significant
        rho = rho.reshape((2,) * 2 * n).transpose(perm + [n + p for p in perm]).reshape(2 ** n, 2 ** n)
        return self._expect_rho(torch.from_numpy(rho), self._local_h(prog))

    # -- engine protocol --------------------------------------------------------------------------------------
    def train_supernet(self, run_dir: Path, epochs: PositiveInt = 200, steps_per_epoch: PositiveInt = 5,
                       lr: PositiveFloat = 5e-2, weight_decay: NonNegativeFloat = 0.0,
                       warmup_epochs: NonNegativeInt = 5, sampling: SamplerName = "restricted",
                       progress: bool = True) -> list[float]:
        """Weight sharing on the noise-free energy, one sampled SubCircuit per step. A bar counts the epochs with
        the last one's mean energy: at 12 qubits this phase took 1.5 minutes with nothing on the screen."""
        from nasfw.progress import progress_bar, start_at

        self._keep_hamiltonian(run_dir)
        cfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, warmup_epochs=warmup_epochs,
                          sampling=sampling, seed=self.seed,
                          sampling_options=supercircuit_sampling(sampling, self.supercircuit.n_blocks))
        bar = progress_bar(epochs, "supercircuit", progress)

        def on_epoch(epoch: int, energy: float) -> None:
            bar.set_postfix_str(f"energy={energy:.6f}", refresh=False)
            bar.update(1)
        history = train_supernet(self.supercircuit, lambda: [None] * steps_per_epoch,
                                 lambda m, _b: self._supernet_energy(m), cfg, on_epoch,
                                 checkpoint=Path(run_dir) / TRAINING_CHECKPOINT,
                                 checkpoint_key=f"steps_per_epoch {steps_per_epoch}",
                                 on_resume=lambda done: start_at(bar, done))
        bar.close()
        self.trained = True
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        torch.save(self.supercircuit.state_dict(), Path(run_dir) / "supercircuit.pt")
        return history

    def load_supernet(self, run_dir: Path) -> None:
        p = Path(run_dir) / "supercircuit.pt"
        if p.exists():
            if (Path(run_dir) / HAMILTONIAN_FILE).exists():
                self._keep_hamiltonian(run_dir)
            self.supercircuit.load_state_dict(torch.load(p))
            self.trained = True

    def shared_state(self) -> dict:
        return {"weights": {k: v.detach().clone() for k, v in self.supercircuit.state_dict().items()},
                "hamiltonian": self.h}

    def use_shared_state(self, state: dict) -> None:
        self.supercircuit.load_state_dict(state["weights"])
        if state.get("hamiltonian") not in (None, self.h):
            self._use_hamiltonian(state["hamiltonian"])

    def check_space(self, space) -> None:
        """The searched space must be this task's SuperCircuit: the molecule's qubits, on this device."""
        check_within(space, self.supercircuit.space, "quantumnas-vqe", f"circuit, n_blocks and device (and "
                     f"space_options.n_wires to the molecule's {self.n_wires} qubits)", optional=("layout",))

    @classmethod
    def campaign_defaults(cls, task_options: dict) -> dict:
        """The SuperCircuit space on the molecule's qubits (two per active orbital), on the task's device."""
        from nasfw.plugins.quantumnas import space_from_task
        from nasfw.registry import with_defaults

        molecule = with_defaults(cls, task_options)["molecule"]
        return space_from_task(cls, task_options, n_wires=qubit_count(molecule))

    def check_campaign(self, campaign) -> None:
        from nasfw.plugins.quantumnas import check_circuit_hardware

        quantum_noise.check_space_device(self.device, campaign.space_options)
        check_circuit_hardware(self, campaign)

    def evaluate(self, arch: dict) -> dict[str, float]:
        torch.set_num_threads(1)
        sub = self.supercircuit.extract(arch)
        with torch.no_grad():
            e0 = float(self.energy(sub.gates()))
        out = {"noise_free_energy": e0, "params": float(sub.theta.numel()), "energy": e0}
        if self.noise == "density":
            tq = self.transpile(sub, arch.get("layout"))
            out.update(qc.stats(tq, self.device))
            out["energy"] = self.noisy_energy(tq)
        return out

    def fit(self, module, steps: int = 300, lr: float = 5e-2) -> list[float]:
        """Train a SubCircuit's own angles on the noise-free energy (Adam, cosine decay)."""
        opt = torch.optim.Adam([module.theta], lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        history = []
        for _ in range(steps):
            opt.zero_grad()
            e = self.energy(module.gates())
            e.backward()
            opt.step()
            sched.step()
            history.append(float(e.detach()))
        return history

    def _uccsd_row(self, steps: int, lr: float) -> dict[str, Any]:
        import qiskit

        from nasfw.plugins.quantumnas.uccsd import UCCSD

        ucc = UCCSD(self.n_wires, self.h.n_electrons, self.hf)
        h = _sparse_tensor(ucc.restrict(self.h.matrix(constant=False, sparse=True)), torch.float64)

        def energy() -> torch.Tensor:  # in the sector UCCSD keeps: 3,136 of 65,536 amplitudes for N2 at 16 qubits
            psi = ucc.state()
            return self.h.constant + hermitian_form(psi, h) / (psi @ psi)

        opt = torch.optim.Adam([ucc.theta], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            e = energy()
            e.backward()
            opt.step()
        with torch.no_grad():
            e0 = float(energy())
        tq = qiskit.transpile(ucc.qiskit_circuit(), quantum_noise.backend(self.device),
                              optimization_level=self.level, initial_layout=list(range(self.n_wires)),
                              seed_transpiler=self.seed)
        return {"name": "UCCSD", "params": ucc.n_params, "noise_free_energy": e0,
                "error_mha": 1000 * (e0 - self.h.exact), **self._noisy_energies(tq), **qc.stats(tq, self.device),
                "layout": qc.initial_layout(tq)}

    def _trained(self, a: dict, steps: int, lr: float, restarts: int, on_restart=lambda: None):
        """An ansatz trained from scratch: the best of `restarts` random initialisations and one with every angle
        at zero. Random angles alone, as the paper trains, can end far above the reference: N2 in 4 active
        orbitals (8 qubits), the searched 63-angle circuit ended 285 and 555 mHa above exact, 279 above
        Hartree-Fock. At zero angles a circuit of rotations (and CZ) is the identity, so that start is the
        Hartree-Fock state and bounds the row by its energy; in the spaces with fixed H, X or SX gates it is just
        one more start. It goes first and a random start replaces it only 1 uHa lower: where training reaches
        no lower than Hartree-Fock, the row is the circuit whose angles stay at zero (compiled, only the X gates
        that prepare the reference are left), not one that a float's last bits put a hair below it."""
        best = None
        for r in range(restarts + 1):
            m = self.supercircuit.extract(a)
            if r == 0:
                m.reinitialise(scale=0.0)
            else:
                m.reinitialise(self.seed + r - 1)
            h = self.fit(m, steps, lr)
            if best is None or h[-1] < best[0] - 1e-6:
                best = (h[-1], m)
            on_restart()
        return best[1]

    def _row(self, name: str, m, layout: list[int] | None) -> dict[str, Any]:
        """A trained ansatz's energies noise-free, under the noise in torch and on qiskit-aer."""
        with torch.no_grad():
            e0 = float(self.energy(m.gates()))
        tq = self.transpile(m, layout)
        return {"name": name, "params": int(m.theta.numel()), "noise_free_energy": e0,
                "error_mha": 1000 * (e0 - self.h.exact), **self._noisy_energies(tq), **qc.stats(tq, self.device),
                "layout": qc.initial_layout(tq)}

    def _noisy_energies(self, tq) -> dict[str, Any]:
        """The row's energies under the device noise, torch's and aer's, both from the density matrix of the qubits
        the compiled circuit touches. A molecule searched with `noise: none` may route past what that matrix holds
        (N2 in 6 active orbitals, 12 wires, touched 15 qubits on Guadalupe: 16 GB for aer): its rows then have no
        noisy energies, and say why, rather than ending the run after its training."""
        try:
            return {"torch_noisy_energy": self.noisy_energy(tq), "aer_noisy_energy": self.aer_energy(tq)}
        except TooManyQubits as e:
            return {"torch_noisy_energy": None, "aer_noisy_energy": None, "noisy_not_evaluated": str(e)}

    def check_finalize(self, steps: PositiveInt = 300, lr: PositiveFloat = 5e-2, restarts: PositiveInt = 3,
                       **_: Any) -> None:
        """Before the search, the values finalize takes (checked again there)."""
        if steps < 1 or restarts < 1 or not lr > 0:
            raise ConfigError(f"phases.finalize.task: steps = {steps} (>= 1), restarts = {restarts} (>= 1), "
                              f"lr = {lr} (> 0)")

    def finalize(self, arch: dict, run_dir: Path, steps: PositiveInt = 300, lr: PositiveFloat = 5e-2,
                 restarts: PositiveInt = 3, uccsd: bool = True, progress: bool = True) -> dict[str, Any]:
        """Train the winner from scratch (best of `restarts` random initialisations and the zero-angle one) and the
        whole SuperCircuit (the human design) the same way, and the UCCSD baseline; energies noise-free, under noise
        in torch, and on qiskit-aer. A bar counts each start and each row: on 12 qubits the human design alone
        trains for minutes."""
        from nasfw.finalize_store import FinalizeStore, weights_digest
        from nasfw.progress import progress_bar

        self.check_finalize(steps=steps, lr=lr, restarts=restarts)
        starts = restarts + 1  # the random restarts and the zero-angle start
        bar = progress_bar(2 * (starts + 1) + int(uccsd), "finalize", progress)

        def reach(n: int, what: str | None = None) -> None:  # rows kept from an interrupted run are counted too
            bar.update(max(0, n - bar.n))
            if what:
                bar.set_postfix_str(what)

        # each finished row is kept in run_dir/finalize: `--resume` after an interrupt redoes only the others
        # keyed by the molecule as given, not by the Hamiltonian built from it: pyscf and openfermion's eigensolver
        # return it, and the exact energy, with other last bits on every build (H2's exact energy: -1.1372701746609022
        # and ...9033 in one process), so a digest of those kept nothing across a resume
        store = FinalizeStore(run_dir, self.molecule, self.hf, self.device, self.level, self.seed,
                              self.supercircuit.circuit, self.supercircuit.n_blocks)
        rows, files = [], []
        for i, (name, a, layout) in enumerate((("searched", arch, arch.get("layout")),
                                               ("human design", self.supercircuit.largest(),
                                                list(range(self.n_wires))))):
            circuit = {k: v for k, v in a.items() if k != "layout"}
            reach(i * (starts + 1), f"train {name}")
            m = store.module("vqe-trained", (circuit, steps, lr, restarts, "zero start"),
                             lambda a=a: self.supercircuit.extract(a),
                             lambda a=a: self._trained(a, steps, lr, restarts, on_restart=lambda: bar.update(1)))
            reach(i * (starts + 1) + starts, f"aer: {name}")
            rows.append(store.record("vqe-row", (name, weights_digest(m), layout),
                                     lambda name=name, m=m, layout=layout: self._row(name, m, layout)))
            if name == "searched":
                files += self.export_circuit(m, layout, Path(run_dir) / "export", "searched")
                torch.save(m.state_dict(), Path(run_dir) / "export" / "searched.pt")
        reach(2 * (starts + 1), "UCCSD" if uccsd else None)
        if uccsd:
            rows.append(store.record("vqe-row", ("UCCSD", steps, lr, "by excitation"),
                                     lambda: self._uccsd_row(steps, lr)))
            bar.update(1)
        bar.close()
        report = {"exact": self.h.exact, "hartree_fock": self.h.hf, "device": self.device, "rows": rows,
                  "files": [str(f) for f in files]}
        (Path(run_dir) / "vqe.json").write_text(json.dumps(report, indent=2))
        lines = [f"# VQE on {self.device}: exact {self.h.exact:.6f} Ha, Hartree-Fock {self.h.hf:.6f} Ha\n",
                 "| ansatz | params | noise-free (Ha) | error (mHa) | torch noisy (Ha) | aer noisy (Ha) | depth |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['params']} | {r['noise_free_energy']:.6f} | {_mha(r['error_mha'])} | "
                  f"{_energy(r['torch_noisy_energy'])} | {_energy(r['aer_noisy_energy'])} | {int(r['depth'])} |"
                  for r in rows]
        lines += [f"\n{r['name']}: no noisy energies, {r['noisy_not_evaluated']}" for r in rows
                  if r.get("noisy_not_evaluated")]
        (Path(run_dir) / "vqe.md").write_text("\n".join(lines) + "\n")
        from nasfw.plugins.quantumnas.result_plots import plot_vqe

        return {"table": str(Path(run_dir) / "vqe.md"), "figures": [str(plot_vqe(report, Path(run_dir) / "vqe.png"))],
                "error_mha": {r["name"]: round(r["error_mha"], 4) for r in rows}}

    # -- export ---------------------------------------------------------------------------------------------
    def export_circuit(self, module, layout: list[int] | None, out_dir: Path, name: str) -> list[Path]:
        """The compiled state-preparation circuit (Hartree-Fock X gates, then the ansatz, every angle bound) as
        OpenQASM 3 and 2, and beside it the layout, the transpile statistics and the qubit Hamiltonian, so that
        the energy can be estimated on the device (or any estimator) without nasfw."""
        from qiskit import qasm2, qasm3

        tq = self.transpile(module, layout)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / f"{name}.qasm3", out_dir / f"{name}.qasm2", out_dir / f"{name}.layout.json"]
        paths[0].write_text(qasm3.dumps(tq))
        paths[1].write_text(qasm2.dumps(tq))
        meta = {"device": self.device, "initial_layout": qc.initial_layout(tq), "transpiled": qc.stats(tq, self.device),
                "count_ops": {k: int(v) for k, v in tq.count_ops().items()},
                "hamiltonian": {"constant": self.h.constant, "n_qubits": self.h.n_qubits,
                                "pauli_order": "character i acts on logical qubit i, measured into clbit i (qubit 0 "
                                               "first: reversed, a string is a qiskit SparsePauliOp label)",
                                "terms": [[string, float(c)] for c, string in self.h.terms]},
                "exact_energy": self.h.exact, "hartree_fock_energy": self.h.hf}
        paths[2].write_text(json.dumps(meta, indent=2))
        return paths

    def export(self, arch: dict, out_dir: Path, fmt: str) -> list[Path]:
        """The candidate with the weights it inherits from the SuperCircuit (`nasfw export`; finalize exports
        the one it trained from scratch)."""
        if fmt not in self.export_formats:
            raise ConfigError(f"export format {fmt!r}: the quantumnas-vqe task exports {list(self.export_formats)}")
        sub = self.supercircuit.extract(arch)
        out_dir = Path(out_dir)
        if fmt == "qasm":
            return self.export_circuit(sub, arch.get("layout"), out_dir, "best.inherited")
        out_dir.mkdir(parents=True, exist_ok=True)
        p = out_dir / "best.circuit.json"
        with torch.no_grad():
            energy = float(self.energy(sub.gates()))
        p.write_text(json.dumps({"arch": arch, "circuit": self.supercircuit.circuit, "n_wires": self.n_wires,
                                 "hartree_fock_bits": [int(b) for b in self.hf], "noise_free_energy": energy,
                                 "gates": [[g, list(w), a.tolist() if a is not None else []]
                                           for g, w, a in sub.gates(drop_identities=True)]}, indent=2))
        return [p]


class _HermitianForm(torch.autograd.Function):
    """<psi|H|psi> for a Hermitian H, whose gradient in psi is 2 H psi (torch's conjugate convention), kept from
    the forward pass. Autograd through a sparse CSR product transposes the matrix on every backward pass: at 16
    qubits (N2, 14 M entries) 1.39 s a step against 38 ms with the gradient kept."""

    @staticmethod
    def forward(ctx, psi: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        hpsi = h @ psi
        ctx.save_for_backward(hpsi)
        return (psi.conj() @ hpsi).real

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (hpsi,) = ctx.saved_tensors
        return 2 * grad * hpsi, None


def hermitian_form(psi: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Re <psi|H|psi>, differentiable in psi, for a Hermitian `h` (dense or sparse)."""
    return _HermitianForm.apply(psi, h)


def _sparse_tensor(m, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """A scipy CSR matrix as torch's, complex128 (UCCSD's real sector block: float64): at 12 qubits N2's
    Hamiltonian holds 1.7% of its entries (7 MB against 270 MB dense), and the energy's forward and backward pass
    takes 0.6 ms against 141 ms with the dense matrix (bench/vqe_hamiltonian.py)."""
    import warnings

    m = m.tocsr()
    with warnings.catch_warnings():  # torch calls its CSR support beta on every build, in every worker
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                       torch.from_numpy(m.indices.astype(np.int64)),
                                       torch.from_numpy(m.data).to(dtype), size=m.shape,
                                       check_invariants=True)  # checked once, here


def _energy(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _mha(error: float) -> str:
    """An error in mHa to 3 decimals; UCCSD reaches the exact energy to about 1e-10 mHa, either side, which read
    as -0.000, as if below the ground state."""
    text = f"{error:.3f}"
    return "0.000" if text == "-0.000" else text
