"""A VQE run keeps one Hamiltonian: the one its SuperCircuit was trained on, in the driver, in every worker and
after a resume. pyscf rotates the orbitals of a degenerate set (N2's pi pairs) differently in each process, and
with them every coefficient of the qubit Hamiltonian; weights trained on one are wrong for another. The build
fixes that gauge (the last two tests); the run keeps its copy regardless."""
import dataclasses
import json

import pytest
import torch

pytest.importorskip("pyscf")
pytest.importorskip("openfermion")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas.molecules import HAMILTONIAN_FILE  # noqa: E402
from nasfw.plugins.quantumnas.vqe import VQETask  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def _rotated(t: VQETask):
    """The same molecule in orbitals of another sign: the excitation terms change sign, the spectrum stays."""
    terms = [(-c if ("X" in s or "Y" in s) else c, s) for c, s in t.h.terms]
    return dataclasses.replace(t.h, terms=terms)


def _energy(t: VQETask) -> float:
    """The whole SuperCircuit's energy with its weights."""
    with torch.no_grad():
        return float(t.energy(t.supercircuit.extract(t.supercircuit.largest()).gates()))


def test_a_worker_scores_on_the_drivers_hamiltonian():
    driver, worker = VQETask("h2", n_blocks=1), VQETask("h2", n_blocks=1)
    driver._use_hamiltonian(_rotated(driver))
    with torch.no_grad():
        for p in driver.supercircuit.parameters():
            p.uniform_(-1, 1)
    worker.use_shared_state(driver.shared_state())
    assert worker.h == driver.h
    assert _energy(worker) == pytest.approx(_energy(driver), abs=1e-12)


def test_a_resumed_run_reads_the_hamiltonian_it_trained_on(tmp_path):
    first = VQETask("h2", n_blocks=1)
    first._use_hamiltonian(_rotated(first))
    first.train_supernet(tmp_path, epochs=2, steps_per_epoch=2, progress=False)
    assert (tmp_path / HAMILTONIAN_FILE).exists()
    resumed = VQETask("h2", n_blocks=1)
    resumed.load_supernet(tmp_path)
    assert resumed.h == first.h and _energy(resumed) == pytest.approx(_energy(first), abs=1e-12)


def test_a_hamiltonian_file_of_another_molecule_is_refused(tmp_path):
    VQETask("h2", n_blocks=1).train_supernet(tmp_path, epochs=1, steps_per_epoch=1, progress=False)
    with pytest.raises(ConfigError, match="belongs to another molecule"):
        VQETask("lih", n_blocks=1).load_supernet(tmp_path)


N2_SIX = {"geometry": "N 0 0 0; N 0 0 1.1", "active": {"occupied": [0, 1, 2, 3], "active": [4, 5, 6, 7, 8, 9]}}


@pytest.mark.slow  # end to end: with the slow tests, to keep the fast suite short
def test_workers_energies_are_the_drivers_on_n2(tmp_path, run_cli):
    """N2 in 6 active orbitals (12 qubits), two workers: each evaluation's stored energy equals the energy the
    driver computes for it from the run folder's SuperCircuit and Hamiltonian."""
    import sqlite3

    out = tmp_path / "run"
    p = run_cli("search", "--config", ROOT / "experiments" / "quantumnas-vqe-h2.yaml", "--budget", "4",
                "--workers", "2", "--set", "task_options.device=guadalupe", "--set", "task_options.noise=none",
                "--set", "task_options.n_blocks=1", "--set", f"task_options.molecule={json.dumps(N2_SIX)}",
                "--set", "phases.supernet={epochs: 2, steps_per_epoch: 2}", "--set", "phases.finalize.task=false",
                "--out", out, "--no-progress", timeout=600)
    assert p.returncode == 0, p.stderr
    t = VQETask(N2_SIX, n_blocks=1, device="guadalupe", noise="none")
    t.load_supernet(out)
    rows = list(sqlite3.connect(out / "nasfw.sqlite").execute(
        "select arch, metrics from evaluations where status = 'ok'"))
    assert len(rows) == 4
    for arch, metrics in rows:
        sub = t.supercircuit.extract(json.loads(arch))
        with torch.no_grad():
            mine = float(t.energy(sub.gates()))
        assert json.loads(metrics)["noise_free_energy"] == pytest.approx(mine, abs=1e-9)


def _n2_terms_in_a_new_process() -> dict[str, float]:
    import subprocess
    import sys

    code = ("import json; from nasfw.plugins.quantumnas.molecules import build; "
            f"print(json.dumps(build({N2_SIX!r}).terms))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return {s: c for c, s in json.loads(p.stdout)}


def test_every_process_builds_n2s_hamiltonian_alike():
    """pyscf hands each process another basis of N2's degenerate pi pairs; before the gauge was fixed two builds
    differed by up to 0.07 Ha in a coefficient (four changed sign), so one seed trained on another molecule's
    coefficients each run."""
    a, b = _n2_terms_in_a_new_process(), _n2_terms_in_a_new_process()
    assert a.keys() == b.keys()
    assert max(abs(a[k] - b[k]) for k in a) < 1e-9


def test_the_orbital_gauge_ignores_the_rotation_pyscf_chose():
    """Any rotation within a degenerate set (and any sign of any orbital) comes out as the same orbitals; the
    basis stays orthonormal and the non-degenerate orbitals stay what they were, up to sign."""
    import numpy as np

    from nasfw.plugins.quantumnas.molecules import canonical_orbitals, hartree_fock, molecule_spec

    mol, mf = hartree_fock(molecule_spec({"geometry": N2_SIX["geometry"]}))
    c, e, occ = mf.mo_coeff, mf.mo_energy, mf.mo_occ
    ref = canonical_orbitals(c, e, occ)
    rng = np.random.default_rng(0)
    turned = c * rng.choice([-1.0, 1.0], size=c.shape[1])
    for i, j in ((4, 6), (7, 9)):  # the occupied and the virtual pi pairs
        assert abs(e[i] - e[j - 1]) < 1e-6 and abs(e[j] - e[i]) > 1e-3
        q, _ = np.linalg.qr(rng.normal(size=(j - i, j - i)))
        turned[:, i:j] = turned[:, i:j] @ q
    assert np.abs(canonical_orbitals(turned, e, occ) - ref).max() < 1e-10
    assert np.abs(ref.T @ mol.intor("int1e_ovlp") @ ref - np.eye(c.shape[1])).max() < 1e-10
    alone = [k for k in range(c.shape[1]) if k not in (4, 5, 7, 8)]
    assert np.abs(np.abs(ref[:, alone]) - np.abs(c[:, alone])).max() < 1e-12
