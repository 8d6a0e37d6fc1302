"""QuantumNAS VQE: Hamiltonians from pyscf + openfermion against the shipped FCI energies, joint Pauli-string
expectations, noisy energies equal to qiskit-aer's, and a small campaign (UCCSD: test_quantumnas_uccsd.py)."""
import json
import re

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("pyscf")
pytest.importorskip("openfermion")
pytest.importorskip("qiskit_aer")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas.deployed import ExportedAnsatz  # noqa: E402
from nasfw.plugins.quantumnas.molecules import build  # noqa: E402
from nasfw.plugins.quantumnas.vqe import VQETask  # noqa: E402


def fci_from_shared(shared_data, name):
    import openfermion as of

    files = sorted((shared_data / "molecules").glob(f"{name}*.hdf5"))
    if not files:
        pytest.skip(f"no {name} molecule file in ../shared/data/molecules")
    m = of.MolecularData(filename=str(files[0]).removesuffix(".hdf5"))
    m.load()
    return m.fci_energy


def test_h2_hamiltonian_matches_the_reference_fci(shared_data):
    h = build("h2")
    assert h.n_qubits == 4 and h.n_electrons == 2
    assert h.exact == pytest.approx(-1.1372701747, abs=1e-8)
    assert h.exact == pytest.approx(fci_from_shared(shared_data, "H2"), abs=1e-8)
    assert h.hf == pytest.approx(-1.1166843871, abs=1e-6)


def test_full_space_lih_matches_the_reference_fci(shared_data):
    """12 qubits, no active space: the exact energy is the 4-electron ground state, FCI in the shipped file."""
    lih = build({"geometry": [["Li", [0, 0, 0]], ["H", [0, 0, 1.45]]], "basis": "sto-3g"})
    assert lih.n_qubits == 12 and lih.n_electrons == 4
    assert lih.exact == pytest.approx(fci_from_shared(shared_data, "H1-Li1"), abs=1e-7)


@pytest.mark.parametrize("name", ["h2", "lih", "h2o", "ch4", "beh2"])
def test_preset_exact_energies_equal_pyscf_casci(name):
    """Exact diagonalisation of the qubit Hamiltonian in the molecule's electron count against pyscf's own
    CASCI over the same frozen core and active orbitals."""
    from pyscf import gto, mcscf, scf

    from nasfw.plugins.quantumnas.molecules import PRESETS

    h = build(name)
    spec = PRESETS[name]
    mol = gto.M(atom=[(a, tuple(x)) for a, x in spec["geometry"]], basis=spec["basis"], verbose=0)
    mf = scf.RHF(mol).run()
    act = spec.get("active", {}).get("active", list(range(mf.mo_coeff.shape[1])))
    cas = mcscf.CASCI(mf, len(act), h.n_electrons)
    cas.verbose = 0
    assert h.n_qubits == 2 * len(act)
    assert h.exact == pytest.approx(cas.kernel(cas.sort_mo(act, base=0))[0], abs=1e-8)
    assert h.exact < h.hf


def test_a_molecule_too_large_for_the_noisy_evaluator_is_a_clear_error():
    lih10 = {"geometry": [["Li", [0, 0, 0]], ["H", [0, 0, 1.45]]], "basis": "sto-3g",
             "active": {"occupied": [0], "active": [1, 2, 3, 4, 5]}}
    with pytest.raises(ConfigError, match=r"needs 10 qubits .*; noise: density .* stops at 8"):
        VQETask(lih10, device="guadalupe")
    assert VQETask(lih10, n_blocks=1, device="guadalupe", noise="none").n_wires == 10


@pytest.mark.parametrize("noise, holds", [("none", 16), ("density", 8)])
def test_a_molecule_past_what_vqe_holds_is_refused_before_its_hamiltonian(noise, holds):
    """N2 in STO-3G without an active space is 20 qubits: building its dense Hamiltonian was killed for memory
    (past 24 GB) before any message. Such a molecule is refused naming the limit, with an active space of its own
    orbitals that the task then accepts (at 16 qubits, 8 orbitals: in seconds, with the sparse Hamiltonian)."""
    n2 = {"geometry": "N 0 0 0; N 0 0 1.1"}
    with pytest.raises(ConfigError, match=rf"task_options.molecule needs 20 qubits .*stops at {holds}\b") as e:
        VQETask(n2, device="torino", noise=noise)
    active = yaml.safe_load(re.search(r"e.g. active: (\{.*\})$", str(e.value)).group(1))
    assert 2 * len(active["active"]) <= holds
    task = VQETask({**n2, "active": active}, n_blocks=1, device="guadalupe", noise=noise)
    assert task.n_wires == 2 * len(active["active"]) and task.h.exact < task.h.hf


def test_exact_energies_from_sparse_sectors_equal_openfermions():
    """The exact energy is cut from the sparse Hamiltonian by occupation (openfermion's own functions peaked at
    5.9 GB for 16 qubits): the same ground states at the electron count and in each Sz sector."""
    import openfermion as of
    from qiskit.quantum_info import SparsePauliOp

    from nasfw.plugins.quantumnas.molecules import _lowest, _sector

    lih = {"geometry": "Li 0 0 0; H 0 0 1.45", "active": {"occupied": [0], "active": [1, 2, 3, 4]}}
    for spec, two_sz in (("h2o", (0, 2)), ({"geometry": O2, "spin": 2, "active": O2_PI}, (0, 2)), (lih, (0, 2))):
        h = build(spec)
        m = h.matrix(sparse=True)
        # openfermion's order: qubit 0 is the least significant bit, so its operator comes from reversed labels
        ref = SparsePauliOp.from_list([(s[::-1], c) for c, s in h.terms] + [("I" * h.n_qubits, h.constant)])
        ofm = ref.to_matrix(sparse=True)
        assert h.exact == pytest.approx(float(of.jw_get_ground_state_at_particle_number(ofm, h.n_electrons)[0]),
                                        abs=1e-9)
        for sz in two_sz:
            theirs = of.jw_sz_restrict_operator(ofm, sz / 2, n_electrons=h.n_electrons, n_qubits=h.n_qubits)
            ours = _lowest(m, _sector(h.n_qubits, h.n_electrons, sz))
            assert ours == pytest.approx(float(np.linalg.eigvalsh(theirs.toarray())[0]), abs=1e-9), (spec, sz)


def test_energies_are_exact_to_double_precision_despite_a_large_constant():
    """H2O's constant is -73 Ha; its ground state, held in single precision as every simulated state is, must
    give the exact energy and never less (the variational bound)."""
    t = VQETask("h2o", n_blocks=1, device="jakarta", noise="none")
    w, v = np.linalg.eigh(t.h.matrix())
    n_el = np.array([bin(i).count("1") for i in range(2 ** t.n_wires)])
    ground = min((k for k in range(len(w)) if n_el[np.argmax(abs(v[:, k]))] == t.h.n_electrons), key=lambda k: w[k])
    psi = torch.tensor(v[:, ground], dtype=torch.complex64)
    e = float(t._expect(psi))
    assert t.h.exact - 1e-9 <= e < t.h.exact + 1e-8
    rho = torch.outer(psi, psi.conj())
    assert t._expect_rho(rho, t.hmat) == pytest.approx(e, abs=1e-9)


def test_energy_is_the_sum_of_joint_pauli_expectations():
    t = VQETask("h2", n_blocks=2, noise="none")
    sub = t.supercircuit.extract(t.supercircuit.largest())
    with torch.no_grad():
        e = float(t.energy(sub.gates()))
        s = t._start()
        for gate, wires, angles in sub.gates():
            from nasfw.search_spaces import quantum_sim as qs

            s = qs.apply(s, gate, wires, tuple(angles) if angles is not None else ())
    psi = s.reshape(-1).numpy().astype(complex)
    from qiskit.quantum_info import SparsePauliOp, Statevector

    # qiskit: the state in little-endian order and each Pauli string as one joint operator
    n = t.n_wires
    sv = Statevector(psi.reshape((2,) * n).transpose(list(range(n))[::-1]).reshape(-1))
    ref = t.h.constant + sum(c * sv.expectation_value(SparsePauliOp(s[::-1])).real for c, s in t.h.terms)
    assert e == pytest.approx(ref, abs=1e-5)
    z_only = [(c, s) for c, s in t.h.terms if set(s) <= {"I", "Z"}]
    assert len(z_only) < len(t.h.terms)  # X/Y strings are there, so a product of single-qubit <Z> cannot do


def test_h2_vqe_noise_free_within_chemical_accuracy_and_noisy_energy_equals_aer():
    t = VQETask("h2", n_blocks=2, device="quito")
    sub = t.supercircuit.extract(t.supercircuit.largest())
    sub.reinitialise(0)
    history = t.fit(sub, steps=300)
    assert history[-1] - t.h.exact < 1.6e-3
    tq = t.transpile(sub, [4, 3, 1, 0])
    noisy = t.noisy_energy(tq)
    assert noisy == pytest.approx(t.aer_energy(tq), abs=1e-5)
    assert noisy > history[-1] + 0.01  # the device noise costs energy


def _sector_ground(h, n_alpha, n_beta):
    """The lowest eigenvalue of the dense Hamiltonian over the basis states with n_alpha electrons on the even
    (alpha) and n_beta on the odd (beta) spin-orbitals; qubit 0 is the most significant bit of h.matrix()."""
    idx = []
    for i in range(2 ** h.n_qubits):
        bits = [(i >> (h.n_qubits - 1 - q)) & 1 for q in range(h.n_qubits)]
        if sum(bits[0::2]) == n_alpha and sum(bits[1::2]) == n_beta:
            idx.append(i)
    m = h.matrix()
    return float(np.linalg.eigvalsh(m[np.ix_(idx, idx)])[0])


def _energy_of_bits(h, bits):
    i = int("".join(map(str, bits)), 2)
    return float(np.real(h.matrix()[i, i]))


O2 = "O 0 0 0; O 0 0 1.21"
O2_PI = {"occupied": [0, 1, 2, 3, 4, 5, 6], "active": [7, 8, 9]}  # the antibonding pi* pair and the sigma* above


@pytest.mark.parametrize("molecule, bits", [
    ({"geometry": "H 0 0 0; H 0 0 0.74"}, [1, 1, 0, 0]),
    ({"geometry": "H 0 0 0; H 0 0 0.9; H 0 0 1.8", "spin": 1}, [1, 1, 1, 0, 0, 0]),
    ({"geometry": O2, "spin": 2, "active": O2_PI}, [1, 0, 1, 0, 0, 0]),  # triplet O2: both pi* electrons alpha
    ({"geometry": O2, "spin": 0, "active": O2_PI}, [1, 1, 0, 0, 0, 0]),
])
def test_spin_sets_the_reference_state(molecule, bits):
    """`spin: 2` started the circuits from the closed-shell determinant, whose energy is not the (RO)HF energy the
    report gave. Now the Hartree-Fock bits hold (n + spin) / 2 alpha electrons and their energy is pyscf's; the
    exact reference is the ground state, which lies in the Sz = spin / 2 sector (checked on the dense matrix)."""
    from nasfw.plugins.quantumnas.molecules import hartree_fock_bits

    h = build(molecule)
    spin = molecule.get("spin", 0)
    assert hartree_fock_bits(h) == bits
    assert _energy_of_bits(h, bits) == pytest.approx(h.hf, abs=1e-8)
    n_alpha = (h.n_electrons + spin) // 2
    assert h.exact == pytest.approx(_sector_ground(h, n_alpha, h.n_electrons - n_alpha), abs=1e-8)
    assert h.exact <= h.hf + 1e-10
    if molecule["geometry"] == O2:  # O2's ground state is the triplet: both spins give it; the triplet's HF is lower
        assert h.exact == pytest.approx(-147.632275, abs=1e-5)
        assert (h.hf < -147.63) == (spin == 2)


@pytest.mark.parametrize("molecule, needle", [
    ({"geometry": "H 0 0 0; H 0 0 0.74", "spin": 2},
     ("spin = 2: its lowest state (-0.530773 Ha) lies above the ground state at 2 electrons (-1.137284 Ha, spin 0); "
      "the searched circuits do not conserve spin and would find the ground state, so give spin: 0")),
    ({"geometry": "H 0 0 0; H 0 0 0.9; H 0 0 1.8", "spin": 3}, "(-1.569980 Ha, spin 1)"),
    ({"geometry": "H 0 0 0; H 0 0 1; H 0 0 2; H 0 0 3", "spin": 4}, "(-2.166387 Ha, spin 0)"),
])
def test_a_spin_above_the_ground_state_is_refused(molecule, needle):
    """The searched circuits minimise over every spin: H2 given `spin: 2` reported its triplet as exact and the
    circuits 600 mHa below it. Refused, naming the ground state's spin."""
    with pytest.raises(ConfigError) as e:
        build(molecule)
    assert needle in str(e.value)


def test_pyscf_text_geometry_is_the_same_molecule():
    text = build({"geometry": "H 0 0 0; H 0 0 0.7414", "basis": "sto-3g"})
    assert text.exact == pytest.approx(build("h2").exact, abs=1e-10) and text.n_qubits == 4


def test_vqe_campaign_end_to_end(tmp_path, run_cli):
    cfg = tmp_path / "vqe.yaml"
    cfg.write_text(json.dumps({
        "name": "vqe-tiny", "plugin": "quantumnas", "space": "supercircuit",
        "space_options": {"circuit": "u3cu3", "n_wires": 4, "n_blocks": 2, "device": "manila"},
        "task": "quantumnas-vqe",
        "task_options": {"molecule": "h2", "circuit": "u3cu3", "n_blocks": 2, "device": "manila"},
        "objectives": [{"metric": "energy", "direction": "min"}],
        "searcher": {"name": "random"}, "budget": {"evaluations": 6}, "workers": 1,
        "phases": {"supernet": {"epochs": 3, "steps_per_epoch": 2},
                   "finalize": {"export": ["json"], "task": {"steps": 40, "restarts": 1}}}}))
    out = tmp_path / "run"
    r = run_cli("search", "--config", str(cfg), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "vqe.json").read_text())
    assert [row["name"] for row in report["rows"]] == ["searched", "human design", "UCCSD"]
    assert report["exact"] == pytest.approx(-1.1372701747, abs=1e-8)
    assert np.isfinite([row["aer_noisy_energy"] for row in report["rows"]]).all()
    # its rows drawn (energy above the exact one, noise-free and under the noise) and shown in the run's report
    assert (out / "vqe.png").stat().st_size > 5000 and (out / "report" / "vqe.png").is_file()
    # the trained searched ansatz is in the run folder; its OpenQASM 2, run as qiskit reads it, gives the row's
    # noise-free energy with the exported Hamiltonian
    meta = json.loads((out / "export" / "searched.layout.json").read_text())
    assert meta["initial_layout"] == report["rows"][0]["layout"]
    assert meta["count_ops"].get("cx", 0) == report["rows"][0]["two_qubit_gates"]
    assert _energy_of_exported(out / "export" / "searched.qasm2", meta) == pytest.approx(
        report["rows"][0]["noise_free_energy"], abs=1e-5)
    assert (out / "export" / "searched.qasm3").read_text().startswith("OPENQASM 3")
    # read back from its QASM 3 and layout files alone: the row's energies, noise-free and on aer under the noise
    ansatz = ExportedAnsatz.load(out)
    assert ansatz.energy(noise=False) == pytest.approx(report["rows"][0]["noise_free_energy"], abs=1e-5)
    assert ansatz.energy() == pytest.approx(report["rows"][0]["aer_noisy_energy"], abs=1e-6)
    # `nasfw export` writes the candidate with its inherited weights, and names a format it cannot write
    r = run_cli("export", str(out), "--format", "qasm", "--format", "json", "--out", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr
    best = json.loads((tmp_path / "x" / "best.circuit.json").read_text())
    meta = json.loads((tmp_path / "x" / "best.inherited.layout.json").read_text())
    assert _energy_of_exported(tmp_path / "x" / "best.inherited.qasm2", meta) == pytest.approx(
        best["noise_free_energy"], abs=1e-5)
    assert ExportedAnsatz.load(tmp_path / "x", "best.inherited").energy(noise=False) == pytest.approx(
        best["noise_free_energy"], abs=1e-5)
    r = run_cli("export", str(out), "--format", "onnx")
    assert r.returncode == 2 and "--format: 'onnx' is not a format this task writes" in r.stderr


def _energy_of_exported(qasm2_path, meta) -> float:
    """<H> of an exported circuit, read back by qiskit: each logical qubit's Pauli placed on the physical qubit
    measured into its clbit."""
    from qiskit import qasm2
    from qiskit.quantum_info import SparsePauliOp, Statevector

    circ = qasm2.load(str(qasm2_path), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)  # sx, as qiskit dumps it
    measured = {circ.find_bit(i.clbits[0]).index: circ.find_bit(i.qubits[0]).index
                for i in circ.data if i.operation.name == "measure"}
    circ.remove_final_measurements()
    n = circ.num_qubits
    terms = []
    for string, c in meta["hamiltonian"]["terms"]:
        label = ["I"] * n
        for i, ch in enumerate(string):
            label[n - 1 - measured[i]] = ch  # qiskit labels: qubit 0 rightmost
        terms.append(("".join(label), c))
    op = SparsePauliOp.from_list(terms)
    return meta["hamiltonian"]["constant"] + float(Statevector(circ).expectation_value(op).real)


@pytest.mark.slow  # end to end: with the slow tests, to keep the fast suite short
def test_switching_the_default_campaign_to_vqe_searches_for_the_energy(tmp_path, run_cli):
    """`plugin: quantumnas` with `task: quantumnas-vqe` and no objectives: the VQE task's own objective, not the
    QML default's calibrated_loss, which the VQE task does not report (the run stopped at its first evaluation)."""
    import yaml

    switch = {"plugin": "quantumnas", "task": "quantumnas-vqe",
              "space_options": {"circuit": "u3cu3", "n_wires": 4, "n_blocks": 2, "device": "quito"},
              "task_options": {"molecule": "h2", "circuit": "u3cu3", "n_blocks": 2, "device": "quito"}}

    def resolved(campaign):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(json.dumps(campaign))
        r = run_cli("search", "--config", str(cfg), "--dry-run", "--out", str(tmp_path / "run"))
        assert r.returncode == 0, r.stderr
        return yaml.safe_load(r.stdout[r.stdout.index("\nname:") + 1:])

    assert resolved(switch)["objectives"] == [{"metric": "energy", "direction": "min"}]
    # objectives the user writes win
    mine = [{"metric": "noise_free_energy", "direction": "min"}]
    assert resolved({**switch, "objectives": mine})["objectives"] == mine
    # the default task itself keeps the default campaign's objectives
    qml = resolved({"plugin": "quantumnas", "task": "quantumnas-qml"})
    assert qml["objectives"] == [{"metric": "calibrated_loss", "direction": "min"}]


def test_progressive_supercircuit_training_starts_with_the_most_blocks(tmp_path):
    """`sampling: progressive` is QuantumNAS's progressive block sampling for the VQE SuperCircuit too: the first
    third of training samples only the largest third of block counts, the last third all of them (a VQE run took
    the name without its stages before, and sampled uniformly from the start)."""
    t = VQETask("h2", n_blocks=6, noise="none")
    blocks: list[int] = []
    activate = t.supercircuit.activate
    t.supercircuit.activate = lambda arch: (blocks.append(arch["n_blocks"]), activate(arch))[1]
    t.train_supernet(tmp_path, epochs=3, steps_per_epoch=8, warmup_epochs=0, sampling="progressive",
                     progress=False)
    assert len(blocks) == 24  # one SubCircuit per step
    assert set(blocks[:8]) <= {4, 5, 6}  # epoch 1 of 3: the largest third (uniform: 1/2**8 to pass)
    assert min(blocks[16:]) < 4  # by the last third, smaller ones too


def test_vqe_finalize_shows_its_progress_and_counts_rows_kept_from_before(tmp_path, capsys):
    """VQE's finalize trains two ansatzes from `restarts` + 1 starts and evaluates three rows on aer; on 12 qubits
    (N2 in a 6-orbital active space) that took minutes after the search's bar with nothing on the screen."""
    task = VQETask("h2", n_blocks=1, device="manila")
    arch = task.supercircuit.space.sample(np.random.default_rng(0))
    task.finalize(arch, tmp_path, steps=5, restarts=2, progress=True)
    err = capsys.readouterr().err
    assert "finalize:" in err and "9/9" in err and "train human design" in err and "UCCSD" in err
    task.finalize(arch, tmp_path, steps=5, restarts=2, progress=True)  # every row kept: the bar still ends full
    assert "9/9" in capsys.readouterr().err


def test_a_row_routed_past_the_density_matrix_has_no_noisy_energies_and_says_why():
    """With `noise: none` a 12-wire molecule may compile onto more qubits than a density matrix holds (15 for N2 on
    Guadalupe); finalize raised TooManyQubits there, after minutes of training, and lost the run's last step."""
    import qiskit

    from nasfw.hardware import quantum_noise

    t = VQETask("h2", n_blocks=1, device="guadalupe")
    ghz = qiskit.QuantumCircuit(14, 14)
    ghz.h(0)
    for q in range(13):
        ghz.cx(q, q + 1)
    ghz.measure(range(14), range(14))
    tq = qiskit.transpile(ghz, quantum_noise.backend("guadalupe"), optimization_level=1, seed_transpiler=0)
    energies = t._noisy_energies(tq)
    assert energies["torch_noisy_energy"] is None and energies["aer_noisy_energy"] is None
    assert "density-matrix evaluator stops at 12" in energies["noisy_not_evaluated"]


def test_an_error_at_the_exact_energy_reads_zero_not_minus_zero():
    from nasfw.plugins.quantumnas.vqe import _mha

    assert _mha(-1e-10) == "0.000" and _mha(1e-10) == "0.000" and _mha(-0.0004) == "0.000"
    assert _mha(-0.0006) == "-0.001" and _mha(20.586) == "20.586"


def test_a_trained_ansatz_ends_no_higher_than_hartree_fock():
    """From random angles alone (the paper's from-scratch training), N2's searched 2-block circuit in 4 active
    orbitals ended 285 mHa above exact, 279 above Hartree-Fock, best of 3; the zero-angle start is the
    Hartree-Fock state itself, so the trained row never ends above it."""
    mol = {"geometry": "N 0 0 0; N 0 0 1.1", "active": {"occupied": [0, 1, 2, 3, 4, 5], "active": [6, 7, 8, 9]}}
    task = VQETask(mol, n_blocks=4, device="guadalupe", noise="density")
    arch = {"n_blocks": 2, "b0.0.u3": 8, "b0.1.cu3": 1, "b1.0.u3": 6, "b1.1.cu3": 6}
    m = task._trained(arch, steps=300, lr=5e-2, restarts=3)
    with torch.no_grad():
        e = float(task.energy(m.gates()))
    assert task.h.exact - 1e-9 < e <= task.h.hf + 1e-6, (e, task.h.hf)


def test_where_no_start_gets_below_hartree_fock_the_row_keeps_zero_angles():
    """H2O's one-block U3+CU3 circuit on 6 qubits reaches Hartree-Fock from every start; one random start ends
    0.7 uHa below it with angles up to 3.2 rad, which compiled is a deep circuit for the same energy. The row is
    the zero-angle one: deployed, every gate is the identity."""
    task = VQETask("h2o", n_blocks=4, device="jakarta")
    arch = {k: v for k, v in task.supercircuit.largest().items() if k == "n_blocks" or k.startswith("b0.")}
    m = task._trained({**arch, "n_blocks": 1}, steps=300, lr=5e-2, restarts=3)
    assert not [g for g in m.gates(drop_identities=True) if g[2] is not None]


def test_the_energys_gradient_equals_autograd_through_the_dense_matrix():
    """The energy's backward pass uses 2 H psi from the forward pass (autograd through the sparse product
    transposed the matrix every step: 1.4 s at 16 qubits); the same gradient as autograd through a dense H."""
    t = VQETask("h2o", n_blocks=1, device="jakarta")
    g = torch.Generator().manual_seed(0)
    psi = torch.randn(2 ** t.n_wires, dtype=torch.complex128, generator=g).requires_grad_(True)
    t._expect(psi).backward()
    ours, psi.grad = psi.grad.clone(), None
    dense = torch.tensor(t.h.matrix(constant=False), dtype=torch.complex128)
    (t.h.constant + (psi.conj() @ (dense @ psi)).real / (psi.conj() @ psi).real).backward()
    assert torch.allclose(ours, psi.grad, atol=1e-12)


def test_vqe_supercircuit_training_shows_its_epochs(tmp_path, capsys):
    """VQE's weight-sharing phase printed nothing (1.5 minutes at 12 qubits, more at 16) before the search's bar."""
    task = VQETask("h2", n_blocks=1, device="manila")
    task.train_supernet(tmp_path, epochs=3, steps_per_epoch=2, warmup_epochs=0)
    err = capsys.readouterr().err
    assert "supercircuit" in err and "3/3" in err and "energy=-" in err
    task.train_supernet(tmp_path / "quiet", epochs=1, steps_per_epoch=2, progress=False)
    assert "supercircuit" not in capsys.readouterr().err

