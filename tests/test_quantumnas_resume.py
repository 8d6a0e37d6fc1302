"""An interrupted QuantumNAS finalize loses nothing it finished: trained circuits and aer rows come back."""
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from nasfw.plugins.quantumnas import compile as qc  # noqa: E402
from nasfw.plugins.quantumnas import train as qt  # noqa: E402
from nasfw.plugins.quantumnas.finalize import finalize  # noqa: E402
from nasfw.plugins.quantumnas.task import QuantumNASTask  # noqa: E402

OPTIONS = dict(scratch_epochs=2, prune_steps=2, prune_epochs=1, shots=256, baselines=["human", "fixed-mapping"],
               search_population=4, search_generations=1, progress=False)


def tiny_task() -> tuple[QuantumNASTask, dict]:
    task = QuantumNASTask(dataset="digits", classes=[0, 1], circuit="zz_ry", n_wires=4, n_blocks=2, device="belem",
                          n_valid=40, n_test=30)
    arch = task.supercircuit.space.sample(np.random.default_rng(3))
    return task, arch


class Counting:
    """Wraps a real function, counting calls; raises KeyboardInterrupt at call `interrupt_at` (1-based)."""

    def __init__(self, fn, interrupt_at: int | None = None):
        self.fn, self.calls, self.interrupt_at = fn, 0, interrupt_at

    def __call__(self, *a, **k):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return self.fn(*a, **k)


def method(counter: Counting):
    """The counter as a method: Python binds functions, not callable objects, to instances."""
    def m(self, *a, **k):
        return counter(self, *a, **k)
    return m


def rows(run_dir):
    return json.loads((run_dir / "quantumnas.json").read_text())["rows"]


def test_finalize_resumes_with_what_it_had_finished(tmp_path, monkeypatch):
    task, arch = tiny_task()
    finalize(task, arch, tmp_path / "whole", **OPTIONS)

    run = tmp_path / "run"
    real_aer, real_train = qc.aer_expval, qt.train
    # rows in order: searched, searched + pruned, human design, fixed mapping; stop at the human design's aer run
    monkeypatch.setattr(qc, "aer_expval", Counting(real_aer, interrupt_at=3))
    with pytest.raises(KeyboardInterrupt):
        finalize(task, arch, run, **OPTIONS)
    assert not (run / "quantumnas.json").exists()

    aer, train = Counting(real_aer), Counting(real_train)
    monkeypatch.setattr(qc, "aer_expval", aer)
    monkeypatch.setattr(qt, "train", train)
    finalize(task, arch, run, **OPTIONS)
    # the searched, pruned and human circuits were trained before the interrupt, two rows were evaluated
    assert train.calls == 0 and aer.calls == 2
    assert rows(run) == rows(tmp_path / "whole")

    aer.calls = train.calls = 0
    finalize(task, arch, run, **OPTIONS)
    assert train.calls == 0 and aer.calls == 0
    assert rows(run) == rows(tmp_path / "whole")


def test_a_changed_option_is_computed_afresh(tmp_path, monkeypatch):
    task, arch = tiny_task()
    options = {**OPTIONS, "baselines": []}
    finalize(task, arch, tmp_path, **options)
    aer, train = Counting(qc.aer_expval), Counting(qt.train)
    monkeypatch.setattr(qc, "aer_expval", aer)
    monkeypatch.setattr(qt, "train", train)
    finalize(task, arch, tmp_path, **{**options, "shots": 512})
    assert train.calls == 0 and aer.calls == 2  # same circuits, read with other shots
    report = json.loads((tmp_path / "quantumnas.json").read_text())
    assert report["shots"] == 512
    train.calls = aer.calls = 0
    finalize(task, arch, tmp_path, **{**options, "scratch_epochs": 3})
    assert train.calls == 1 + 2 and aer.calls == 2  # retrained (1), pruned again (2 rounds), both rows again


def test_vqe_finalize_keeps_its_finished_rows(tmp_path, monkeypatch):
    from nasfw.plugins.quantumnas.vqe import VQETask

    task = VQETask("h2", n_blocks=1, device="quito")
    arch = task.supercircuit.space.sample(np.random.default_rng(0))
    options = {"steps": 20, "restarts": 2}
    task.finalize(arch, tmp_path / "whole", **options)
    whole = json.loads((tmp_path / "whole" / "vqe.json").read_text())

    real_aer, real_fit = VQETask.aer_energy, VQETask.fit
    monkeypatch.setattr(VQETask, "aer_energy", method(Counting(real_aer, interrupt_at=2)))  # the human design's row
    with pytest.raises(KeyboardInterrupt):
        task.finalize(arch, tmp_path / "run", **options)
    aer, fit = Counting(real_aer), Counting(real_fit)
    monkeypatch.setattr(VQETask, "aer_energy", method(aer))
    monkeypatch.setattr(VQETask, "fit", method(fit))
    task.finalize(arch, tmp_path / "run", **options)
    # the searched row was kept, and the human design's trained ansatz: only its aer row and UCCSD's run again
    assert fit.calls == 0 and aer.calls == 2
    again = json.loads((tmp_path / "run" / "vqe.json").read_text())
    assert again["rows"] == whole["rows"] and again["exact"] == whole["exact"]
    assert [Path(f).name for f in again["files"]] == [Path(f).name for f in whole["files"]]


def test_vqe_finalize_keeps_its_rows_for_a_task_built_again(tmp_path, monkeypatch):
    """A resume builds the task again, and pyscf and openfermion's eigensolver return the Hamiltonian and the exact
    energy with other last bits on every build: finalize's store, keyed by them, kept nothing across a resume (a
    12-qubit N2 run trained its ansatzes for six minutes again)."""
    from nasfw.plugins.quantumnas.vqe import VQETask

    options = {"steps": 20, "restarts": 2}
    first = VQETask("lih", n_blocks=1, device="quito")
    arch = first.supercircuit.space.sample(np.random.default_rng(0))
    first.finalize(arch, tmp_path, **options)
    again = VQETask("lih", n_blocks=1, device="quito")
    aer, fit = Counting(VQETask.aer_energy), Counting(VQETask.fit)
    monkeypatch.setattr(VQETask, "aer_energy", method(aer))
    monkeypatch.setattr(VQETask, "fit", method(fit))
    again.finalize(arch, tmp_path, **options)
    assert fit.calls == 0 and aer.calls == 0
