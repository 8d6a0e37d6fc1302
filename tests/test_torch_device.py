"""`torch_device`: training on a GPU where one is, a clear refusal where none is, the same training either way."""
import pytest
import torch

from nasfw.errors import ConfigError
from nasfw.torch_device import on_device, resolve

HAS_CUDA = torch.cuda.is_available()


def test_resolve_names_the_field_the_value_and_what_is_allowed():
    assert resolve("cpu", "f") == torch.device("cpu")
    assert resolve(None, "f") == torch.device("cpu")
    assert resolve("auto", "f") == torch.device("cuda" if HAS_CUDA else "cpu")
    with pytest.raises(ConfigError, match=r"task_options.torch_device = 'gpu' is not a torch device; allowed: cpu, "
                                          r"cuda, cuda:N or auto"):
        resolve("gpu", "task_options.torch_device")
    with pytest.raises(ConfigError, match=r"f = 3; allowed: cpu, cuda"):
        resolve(3, "f")
    with pytest.raises(ConfigError, match=r"f = 'meta'; allowed: cpu, cuda"):
        resolve("meta", "f")
    with pytest.raises(ConfigError, match=r"f = 'cuda:7', but torch sees" if HAS_CUDA and torch.cuda.device_count() < 8
                       else r"f = 'cuda:7'"):
        resolve("cuda:7", "f")


@pytest.mark.skipif(HAS_CUDA, reason="the refusal is for a torch without a CUDA device")
def test_cuda_without_a_gpu_is_refused_before_any_work(run_cli, tmp_path):
    with pytest.raises(ConfigError, match=r"f = 'cuda', but this torch .* sees no CUDA device; use cpu"):
        resolve("cuda", "f")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_options: {torch_device: cuda}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "quantumnas", "--dry-run")
    assert p.returncode == 2
    assert "task_options.torch_device = 'cuda', but this torch" in p.stderr and "Traceback" not in p.stderr


def test_on_device_leaves_the_module_on_cpu_also_after_an_error():
    m = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="boom"):
        with on_device(m, torch.device("cuda" if HAS_CUDA else "cpu")):
            assert m.weight.device.type == ("cuda" if HAS_CUDA else "cpu")
            raise RuntimeError("boom")
    assert m.weight.device.type == "cpu"


@pytest.mark.skipif(not HAS_CUDA, reason="needs torch with a CUDA device (run where one is lent)")
def test_quantumnas_trains_on_cuda_as_on_cpu(tmp_path):
    """The SuperCircuit phase and a from-scratch SubCircuit training give the same losses on both devices
    (float rounding apart), and leave the weights on CPU for the search and finalize."""
    pytest.importorskip("qiskit_ibm_runtime")
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    out = {}
    for dev in ("cpu", "cuda"):
        task = QuantumNASTask(dataset="digits", classes=[0, 1, 2, 3], n_blocks=2, device="quito", n_valid=50,
                              n_test=50, torch_device=dev)
        hist = task.train_supernet(tmp_path / dev, epochs=2, batch_size=64, progress=False)
        assert all(p.device.type == "cpu" for p in task.supercircuit.parameters())
        sub = task.supercircuit.extract(task.supercircuit.largest())
        sub.reinitialise(0)
        scratch = qt.train(sub, task.data.train, 4, 2, lr=5e-2, device=task.torch_device)
        assert sub.theta.device.type == "cpu"
        out[dev] = (hist, scratch, task.evaluate(dict(task.supercircuit.largest(), layout=[0, 1, 2, 3])))
    for a, b in zip(out["cpu"][0] + out["cpu"][1], out["cuda"][0] + out["cuda"][1]):
        assert a == pytest.approx(b, abs=1e-4)
    assert out["cpu"][2]["noise_free_accuracy"] == pytest.approx(out["cuda"][2]["noise_free_accuracy"], abs=0.021)


@pytest.mark.skipif(not HAS_CUDA, reason="needs torch with a CUDA device (run where one is lent)")
def test_noisy_trajectories_on_cuda_agree_with_cpu():
    """Other random numbers on the GPU, the same statistics: every <Z> within 5 combined standard errors."""
    pytest.importorskip("qiskit_ibm_runtime")
    import numpy as np
    import qiskit

    from nasfw.hardware.quantum_noise import backend, channels
    from nasfw.search_spaces.quantum_trajectories import TrajectoryProgram
    from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit

    sc = SuperCircuit("u3cu3", 6, 2, 16, n_features=16, seed=0)
    arch = sc.space.sample(1)
    qc = to_qiskit(sc.extract(arch))
    tq = qiskit.transpile(qc, backend("guadalupe"), optimization_level=2, initial_layout=arch["layout"],
                          seed_transpiler=0)
    g, ro = channels("guadalupe")
    prog = TrajectoryProgram.from_qiskit(tq, g, ro, sorted(qc.parameters, key=lambda p: p.index))
    x = np.random.default_rng(0).uniform(0, np.pi, (6, 16))
    zc, ec = prog.expval_z(x, trajectories=256, sem=True)
    zg, eg = prog.expval_z(x, trajectories=256, sem=True, device="cuda")
    assert zg.device.type == "cpu"
    assert float(((zc - zg).abs() / (ec ** 2 + eg ** 2).sqrt().clamp_min(1e-6)).max()) < 5


def test_an_evaluation_worker_without_that_gpu_evaluates_on_cpu():
    """Workers rebuild the task from the driver's options but never train: on a node without the driver's GPU
    (here cuda:7, which no machine this runs on has) they evaluate on CPU instead of failing every evaluation,
    while the same options still refuse to build a task that would train."""
    pytest.importorskip("qiskit_ibm_runtime")
    from nasfw.evaluation import EvaluatorSpec, _components, evaluate
    from nasfw.plugins.quantumnas.task import QuantumNASTask
    from nasfw.searchers.base import OK

    opts = dict(dataset="digits", classes=[0, 1, 2, 3], n_blocks=2, device="quito", n_valid=50, n_test=50)
    with pytest.raises(ConfigError, match=r"task_options.torch_device = 'cuda:7'"):
        QuantumNASTask(**opts, torch_device="cuda:7")
    with pytest.raises(ConfigError, match=r"task_options.torch_device = 'gpu' is not a torch device"):
        _components(EvaluatorSpec("quantumnas-qml", dict(opts, torch_device="gpu"), ()))  # also in workers
    arch = dict(QuantumNASTask(**opts).supercircuit.largest(), layout=[0, 1, 2, 3])
    result, _, _, _ = evaluate(EvaluatorSpec("quantumnas-qml", dict(opts, torch_device="cuda:7"), ()), arch)
    assert result.status == OK, result.error
    assert 0.0 <= result.metrics["noise_free_accuracy"] <= 1.0


def test_the_memory_a_cpu_training_can_have():
    """What QuantumNAS's training-memory check compares with: this machine's memory, within a container's limit."""
    import os

    import torch

    from nasfw.torch_device import memory_bytes

    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < memory_bytes(torch.device("cpu")) <= physical
