"""A campaign's space against the space its task can evaluate (`nasfw.space_cover`), and the check every
run makes before any work."""
import pytest

from nasfw import Choice, ConfigError, Float, IntRange, Permutation, Repeat, Space, Tie
from nasfw.space_cover import check_within, problems


def task_space(**changes) -> Space:
    d = {
        "n": Choice("n", [1, 2, 3]),
        "k": Choice("k", [3, 5, 7]),
        "extra": Choice("extra", ["a", "b"], when={"n": [3]}),
        "w": IntRange("w", 16, 64, step=16),
        "w_out": Tie("w_out", of="w"),
        "lr": Float("lr", 1e-4, 1e-1, log=True),
        "layout": Permutation("layout", 5, k=3),
        "blocks": Repeat("blocks", [Choice("e", [3, 4, 6])], min=1, max=4),
    }
    d.update(changes)
    return Space([v for v in d.values() if v is not None], name="task-space")


def test_the_same_space_and_narrower_ones_fit():
    assert problems(task_space(), task_space()) == []
    narrower = task_space(n=Choice("n", [1, 2]), extra=None, k=Choice("k", [5]), w=Choice("w", [32, 48]),
                          lr=Float("lr", 1e-3, 1e-2, log=True),
                          blocks=Repeat("blocks", [Choice("e", [4])], min=2, max=3))
    assert problems(narrower, task_space()) == []  # 'extra' applies only when n = 3, which this space never takes


def test_what_the_task_cannot_take_is_named():
    found = problems(task_space(k=Choice("k", [3, 9]), w=IntRange("w", 16, 80, step=16), extra=None), task_space())
    assert found == ["'k' offers [9], which the task cannot take (it takes [3, 5, 7])",
                     "'w' offers [80], which the task cannot take (it takes [16, 32, 48, 64])",
                     "'extra' is missing (the task needs it)"]
    assert problems(task_space(layout=Permutation("layout", 7, k=3)), task_space()) == [
        "'layout' arranges 3 of [0, 1, 2, 3, 4, 5, 6], where the task takes 3 of [0, 1, 2, 3, 4]"]
    assert problems(task_space(layout=Permutation("layout", 5, k=4)), task_space()) == [
        "'layout' arranges 4 of [0, 1, 2, 3, 4], where the task takes 3 of [0, 1, 2, 3, 4]"]
    assert problems(task_space(lr=Float("lr", 1e-5, 1e-1, log=True)), task_space()) == [
        "'lr' spans [1e-05, 0.1], the task's [0.0001, 0.1]"]
    assert problems(task_space(blocks=Repeat("blocks", [Choice("e", [3, 8])], min=1, max=4)), task_space()) == [
        "'blocks[].e' offers [8], which the task cannot take (it takes [3, 4, 6])"]
    assert problems(task_space(w_out=Tie("w_out", of="k")), task_space()) == [
        "'w_out' copies 'k' here and 'w' in the task's"]
    assert problems(task_space(k=Permutation("k", 3, k=2)), task_space()) == [
        "'k' is a permutation decision here and a choice in the task's"]
    extra = Space(task_space().decisions + [Choice("new", [0, 1])], name="s")
    assert problems(extra, task_space()) == ["'new' is not a decision the task knows"]


def test_optional_decisions_may_be_left_out_and_edges_do_not_matter():
    no_layout = task_space(layout=None)
    assert problems(no_layout, task_space()) == ["'layout' is missing (the task needs it)"]
    assert problems(no_layout, task_space(), optional=("layout",)) == []
    along_a_line = task_space(layout=Permutation("layout", 5, k=3, edges=[[0, 1], [1, 2], [2, 3], [3, 4]]))
    assert problems(along_a_line, task_space()) == []


def test_check_within_raises_a_config_error_naming_both_spaces():
    with pytest.raises(ConfigError) as e:
        check_within(task_space(k=Choice("k", [9])), task_space(), "toy", "k")
    msg = str(e.value)
    assert "the space 'task-space' does not fit task 'toy', whose space is 'task-space'" in msg
    assert "'k' offers [9]" in msg and "leave `space` out to search the task's own (it follows k in task_options)" \
        in msg
    assert "Set k alike in space_options and task_options" in str(e.value.between_options())
    import pickle

    again = pickle.loads(pickle.dumps(e.value))  # as a worker process would send it
    assert str(again) == msg and again.options == "k"


@pytest.mark.parametrize("config, expected", [
    ("plugin: quantumnas\nspace_options: {device: quito}\ntask_options: {device: lagos}\n",
     "'layout' arranges 4 of [0, 1, 2, 3, 4], where the task takes 4 of [0, 1, 2, 3, 4, 5, 6]"),
    ("plugin: quantumnas\nspace_options: {n_wires: 4}\ntask_options: {n_wires: 3, classes: [0, 1, 2]}\n",
     "'b0.0.u3' offers [4], which the task cannot take (it takes [1, 2, 3])"),
    ("plugin: quantumnas\nspace_options: {circuit: u3cu3}\ntask_options: {circuit: zz_ry}\n",
     "whose space is 'supercircuit-zz_ry'"),
    (("plugin: quantumnas\ntask: quantumnas-vqe\nspace_options: {n_wires: 4, device: jakarta}\n"
      "task_options: {molecule: h2o, device: jakarta}\n"),
     "space_options.n_wires to the molecule's 6 qubits"),
    ("plugin: tinynas\nspace_options: {width_mult: 0.25}\ntask_options: {width_mult: 0.35}\n",
     "'width' offers [0.25], which the task cannot take (it takes [0.35])"),
])
def test_a_space_the_task_cannot_read_fails_before_any_work(cli_in_process, tmp_path, config, expected):
    """Space and task options that disagree (task_options.device other than space_options.device) used to train
    the supernet and then fail every evaluation, or search a 5-qubit mapping on a 7-qubit device without a word.
    (Left out of space_options, they follow task_options: tests/test_campaign_defaults.py.)"""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config)
    p = cli_in_process("search", "--config", cfg, "--out", tmp_path / "run")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "space_options and task_options describe different spaces" in p.stderr and expected in p.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config", [
    "plugin: quantumnas\nspace_options: {n_blocks: 4}\n",  # a narrower block count: the larger SuperCircuit reads it
    "plugin: quantumnas\nspace_options: {device: null}\n",  # no mapping searched: the compiler places the circuit
    "plugin: tinynas\nspace_options: {resolutions: [56]}\n",  # one of the supernet's resolutions
])
def test_a_narrower_space_is_accepted(run_cli, tmp_path, config):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config)
    p = run_cli("search", "--config", cfg, "--dry-run")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("config, expected", [
    # a space written out in full with one decision (NAS-Bench-201's task had no check: each evaluation failed)
    ("plugin: nasbench201\nhardware: []\nspace: {decisions: [{name: edge0, type: choice, options: [none]}]}\n",
     "the space 'space' does not fit task 'nasbench201', whose space is 'nasbench201': 'edge0' is not a decision"),
    ("plugin: nasbench201\nspace: mbconv\n", "the space 'mbconv-proxyless' does not fit task 'nasbench201'"),
    # written out, not built from space_options: the advice is not to align space_options with task_options
    ("plugin: tinynas\nspace: {decisions: [{name: resolution, type: choice, options: [48, 1000]}]}\n",
     "'resolution' offers [1000], which the task cannot take"),
])
def test_a_space_chosen_or_written_out_that_the_task_cannot_read_fails_before_any_work(run_cli, tmp_path, config,
                                                                                       expected):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config)
    p = run_cli("search", "--config", cfg, "--out", tmp_path / "run")
    assert p.returncode == 2, p.stdout + p.stderr
    assert expected in p.stderr
    assert "Search within the task's space: leave `space` out" in p.stderr
    assert "space_options and task_options describe" not in p.stderr
    assert not (tmp_path / "run").exists()
