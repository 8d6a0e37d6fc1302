"""`task_options.noise_scale`: the QuantumNAS and VQE tasks on a device whose calibrated errors are scaled, the
same scaled device for the search's torch evaluator, the fidelity estimate and qiskit-aer."""
import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas import compile as qc  # noqa: E402
from nasfw.plugins.quantumnas.task import QuantumNASTask  # noqa: E402


def test_a_noisier_device_scores_the_same_circuit_worse():
    kw = dict(dataset="digits", n_blocks=2, n_valid=60, n_test=20, device="lima")
    plain, loud = QuantumNASTask(**kw), QuantumNASTask(**kw, noise_scale=4)
    assert plain.device == "lima" and loud.device == "lima@x4"
    arch = {**plain.supercircuit.largest(), "layout": [0, 1, 2, 3]}
    a, b = plain.evaluate(arch), loud.evaluate(arch)
    assert a["noise_free_loss"] == b["noise_free_loss"]  # same weights, same data: only the noise differs
    assert a["two_qubit_gates"] == b["two_qubit_gates"]  # the same compiled circuit
    assert b["fidelity"] < a["fidelity"] ** 3  # four times every error: the success estimate falls faster
    # noise shrinks the outputs towards the uniform guess, whose loss is ln 4; more noise, closer to it
    assert abs(b["loss"] - np.log(4)) < abs(a["loss"] - np.log(4)) < abs(a["noise_free_loss"] - np.log(4))


def test_aer_sees_the_scaled_noise_the_torch_evaluator_sees():
    """The deployment check runs on aer with the scaled device: its <Z> agree with the torch density matrix
    within 8,192 shots' noise, and both shrink against the unscaled device."""
    task = QuantumNASTask(dataset="digits", n_blocks=2, n_valid=20, n_test=8, device="lima", noise_scale=3)
    module = task.supercircuit.extract({**task.supercircuit.largest(), "layout": [0, 1, 2, 3]})
    tq, inputs = qc.transpile(module, task.device, [0, 1, 2, 3])
    x = task.data.test.x[:4]
    ours = qc.noisy_expval_z(tq, inputs, task.device, x, "density").numpy()
    aer = qc.aer_expval(tq, inputs, x.numpy(), task.device, shots=8192, seed=1)
    assert np.abs(ours - aer).max() < 5 / np.sqrt(8192)
    quiet = qc.noisy_expval_z(tq, inputs, "lima", x, "density").numpy()
    assert np.abs(ours).mean() < np.abs(quiet).mean()


def test_bad_noise_scales_name_the_field():
    for bad in (0, -2, "x4", True):
        with pytest.raises(ConfigError, match=r"task_options\.noise_scale = .* is not allowed; allowed: a number > 0 "
                                              r"and <= 100"):
            QuantumNASTask(dataset="digits", n_blocks=1, noise_scale=bad)
    from nasfw.plugins.quantumnas import CompiledCircuit

    with pytest.raises(ConfigError, match=r"hardware_options\.noise_scale = 0"):
        CompiledCircuit(noise_scale=0)
    assert CompiledCircuit(device="lima", n_blocks=1, noise_scale=2).device == "lima@x2"


def test_vqe_takes_the_noise_scale():
    from nasfw.plugins.quantumnas.vqe import VQETask

    assert VQETask(device="quito", n_blocks=1, noise_scale=0.5).device == "quito@x0.5"
    with pytest.raises(ConfigError, match="task_options.noise_scale"):
        VQETask(device="quito", n_blocks=1, noise_scale=-1)


def test_a_scaled_device_named_as_the_report_names_it(cli_in_process):
    """`lima@x4` is how a run's report names Lima at four times its errors; typed back as the device, the dry run
    refused it for naming two devices (space 'lima@x4', task 'lima'), though the search could read it."""
    assert QuantumNASTask(dataset="digits", n_blocks=2, n_valid=20, n_test=8, device="Lima@x4").device == "lima@x4"
    p = cli_in_process("search", "--plugin", "quantumnas", "--set", "task_options.device=lima@x4", "--dry-run")
    assert p.returncode == 0, p.stderr
    for sets, needle in [(["task_options.device=lima@x2", "task_options.noise_scale=3"],
                          ("task_options.device = 'lima@x2' carries a noise scale and task_options.noise_scale = 3 "
                           "another; give it once")),
                         (["task_options.device=lima@x0"],
                          "task_options.device = 'lima@x0'; the noise scale after '@x' must be a number in (0, 100]")]:
        p = cli_in_process("search", "--plugin", "quantumnas", *[a for s in sets for a in ("--set", s)], "--dry-run")
        assert p.returncode == 2 and needle in p.stderr, p.stderr
