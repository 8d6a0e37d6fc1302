"""Values no run can use are refused when the campaign is built, in one line: a mistyped count that would fill the
machine's memory (the process killed, or a MemoryError from deep inside), and YAML's .nan and .inf where a number
is asked for (a NaN learning rate passed every range check, since no comparison with NaN holds)."""
import pytest


@pytest.mark.parametrize("plugin, setting, needle", [
    ("quantumnas", "task_options.n_blocks=100000000",
     "task_options.n_blocks = 100000000 is not allowed; allowed: an integer from 1 to 100 or null"),
    ("quantumnas", "space_options.n_blocks=101",
     "space_options.n_blocks = 101 is not allowed; allowed: an integer from 1 to 100"),
    ("tinynas", "task_options.resolutions=100000",
     "task_options.resolutions = 100000 is not allowed; allowed: an integer from 16 to 1024 or a list"),
    ("tinynas", "space_options.resolutions=[64, 2048]", "space_options.resolutions = [64, 2048] is not allowed"),
    ("quantumnas", "task_options.n_features=100000000", "task_options.n_features = 100000000"),
    ("quantumnas", "phases.supernet.lr=.nan", "phases.supernet.lr = nan is not allowed; allowed: a number > 0"),
    ("quantumnas", "phases.finalize.task.lr=.inf",
     "phases.finalize.task.lr = inf is not allowed; allowed: a number > 0"),
    ("tinynas", "phases.supernet.weight_decay=.nan",
     "phases.supernet.weight_decay = nan is not allowed; allowed: a number >= 0"),
    ("tinynas", "task_options.sram_kb=.nan", "task_options.sram_kb = nan is not allowed"),
    # the campaign's own numbers: a NaN bound passed `min > max` and every comparison, constraining nothing
    ("nasbench201", "constraints=[{metric: params_m, max: .nan}]",
     "campaign.constraints[0].max = nan is not allowed; allowed: a number"),
    ("nasbench201", "evaluation.timeout_s=.nan", "campaign.evaluation.timeout_s = nan is not allowed"),
    ("nasbench201", "budget.wall_time_s=.inf", "campaign.budget.wall_time_s = inf is not allowed"),
])
def test_values_no_run_can_use_are_refused_in_one_line(cli_in_process, tmp_path, plugin, setting, needle):
    p = cli_in_process("search", "--plugin", plugin, "--set", setting, "--dry-run")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and needle in p.stderr, p.stderr
    assert not (tmp_path / "runs").exists()


def test_the_largest_block_count_still_builds():
    pytest.importorskip("qiskit_ibm_runtime")
    from nasfw.search_spaces.supercircuit import supercircuit_space

    space = supercircuit_space("u3cu3", 4, 100)
    assert space.decisions[0].options[-1] == 100


OWN_PLUGIN = '''
from nasfw import Choice, Space, hookimpl


class GreedyTask:
    def train_supernet(self, run_dir, epochs: int = 1):
        import torch
        torch.empty(2 ** 62, dtype=torch.uint8)  # far past any machine: torch refuses it at once

    def evaluate(self, arch):
        return {"score": 1.0}


@hookimpl
def nasfw_register_search_spaces(register):
    register("greedy", lambda: Space([Choice("op", ["a", "b"])]), "two ops")


@hookimpl
def nasfw_register_tasks(register):
    register("greedy", GreedyTask, "trains on more memory than there is")


@hookimpl
def nasfw_register_campaigns(register):
    register("greedy", {"plugin": "greedy", "space": "greedy", "task": "greedy", "objectives": [{"metric": "score"}],
                        "searcher": "random", "phases": {"supernet": {}}, "budget": 2, "out": "runs/greedy"})
'''


def test_running_out_of_memory_is_one_line_that_says_so(cli_in_process, tmp_path):
    """A phase that asks for more memory than the machine has (a resolution, a batch) ended in torch's traceback
    from deep inside the training; now one line that names it as memory, and the run stays resumable."""
    plugins = tmp_path / "mine"
    plugins.mkdir()
    (plugins / "greedy.py").write_text(OWN_PLUGIN)
    p = cli_in_process("search", "--plugins-dir", plugins, "--plugin", "greedy", "--out", tmp_path / "run",
                       "--no-progress")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith(
        "error: out of memory: an allocation of 4,294,967,296 GiB failed: the campaign asks for more memory than "
        "this machine has"), p.stderr


def test_what_counts_as_running_out_of_memory():
    import torch

    from nasfw.errors import out_of_memory

    with pytest.raises(RuntimeError) as e:
        torch.empty(2 ** 40, 2 ** 20, dtype=torch.uint8)
    assert out_of_memory(e.value) == "out of memory: an allocation of 1,073,741,824 GiB failed"
    assert out_of_memory(MemoryError()) == "out of memory"
    assert out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.50 GiB")) == \
        "out of memory: an allocation of 2.5 GiB failed"
    assert out_of_memory(RuntimeError("shape mismatch")) is None and out_of_memory(ValueError("x")) is None


def test_a_circuit_whose_training_cannot_fit_in_memory_is_refused(cli_in_process):
    """30 wires on a 133-qubit device without noise passed every check and was killed for memory in the
    SuperCircuit's first epoch (2^30 amplitudes per input, a state per gate kept for the backward pass)."""
    pytest.importorskip("qiskit_ibm_runtime")
    p = cli_in_process("search", "--plugin", "quantumnas", "--dry-run", "--set", "task_options.device=torino",
                       "--set", "task_options.noise=none", "--set", "task_options.n_wires=30")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("error: task_options.n_wires = 30: training keeps about 1,056,768 GiB of states for "
                               "the backward pass (batches of 256 inputs (finalize's training from scratch) x 2^30 "
                               "amplitudes x 516 gates), and this machine has "), p.stderr
    # the supernet's own batch, when finalize trains nothing, and the way out it names
    p = cli_in_process("search", "--plugin", "quantumnas", "--dry-run", "--set", "task_options.device=torino",
                       "--set", "task_options.noise=none", "--set", "task_options.n_wires=30",
                       "--set", "phases.finalize.task=false", "--set", "phases.supernet.batch_size=8")
    assert "(batches of 8 inputs (phases.supernet.batch_size) x 2^30" in p.stderr, p.stderr
    assert p.stderr.rstrip().endswith("or smaller batches (phases.supernet.batch_size)"), p.stderr
    # `supernet: {}` is the task's own settings (its batch_size), not a campaign without the phase
    p = cli_in_process("search", "--plugin", "quantumnas", "--dry-run", "--set", "task_options.device=torino",
                       "--set", "task_options.noise=none", "--set", "task_options.n_wires=30",
                       "--set", "phases.finalize.task=false", "--set", "phases.supernet={}",
                       "--set", "task_options.batch_size=4")
    assert "(batches of 4 inputs (task_options.batch_size) x 2^30" in p.stderr, p.stderr


def test_the_estimate_is_what_autograd_keeps():
    """The refusal's figure against the tensors autograd really saves for the backward pass of the largest
    SubCircuit on 10 wires (counted by storage, so a tensor saved twice counts once)."""
    pytest.importorskip("qiskit_ibm_runtime")
    import torch

    from nasfw.plugins.quantumnas.memory import _gates, training_bytes
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_wires=10, device="guadalupe", noise="none", n_valid=50, n_test=50)
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        task.supercircuit(torch.randn(256, task.n_features))
    estimate = training_bytes(10, 256, _gates(task))
    assert 0.7 < sum(saved.values()) / estimate < 1.2, (sum(saved.values()), estimate)


def test_a_microcontroller_model_takes_the_input_sizes_the_space_takes(cli_in_process, tmp_path):
    """`--option resolution=2` overrode the arch's 64 and reported a 1 kB peak for a network whose five stride-2
    stages leave nothing of a 2x2 input."""
    import json

    import numpy as np

    from nasfw.search_spaces.mbconv import mbconv_space

    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(mbconv_space(width_mult=0.5, resolutions=[64]).sample(np.random.default_rng(0))))
    for bad in ("2", "100000000"):
        p = cli_in_process("cost", "--hardware", "stm32f401", "--arch", arch, "--option", f"resolution={bad}")
        needle = f"option resolution = {bad} is not allowed; allowed: an integer from 16 to 1024"
        assert p.returncode == 2 and needle in p.stderr, p.stderr
    p = cli_in_process("cost", "--hardware", "stm32f401", "--arch", arch, "--option", "resolution=96")
    assert p.returncode == 0, p.stderr
