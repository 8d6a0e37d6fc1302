"""Changing a campaign without rewriting it: a file's fields over a plugin's default, and `--set FIELD=VALUE`."""
from pathlib import Path

import pytest

from nasfw.campaign import merge
from nasfw.errors import ConfigError
from nasfw.registry import Registry
from tests.test_campaign import BASE


def test_set_changes_one_field_and_keeps_its_neighbours():
    """`--set` exists so that running a default campaign on another device or with one setting changed needs no
    YAML file. A dotted path changes that one value and keeps its neighbours, in lists too."""
    from nasfw.api import resolve_campaign

    reg = Registry()
    c = resolve_campaign(reg, "nasbench201", budget="small", sets=[
        "searcher.settings.population_size=8", "task_options.dataset=cifar100", "phases.finalize.top_k=2",
        "constraints=[{metric: params_m, max: 0.5}]", "constraints.0.max=0.7", "budget.evaluations=12"])
    assert c.searcher_settings == {"population_size": 8, "sample_size": 5}
    assert c.task_options == {"dataset": "cifar100"}
    assert c.phases["finalize"] == {"top_k": 2, "export": ["json", "onnx"]}
    assert [(k.metric, k.max) for k in c.constraints] == [("params_m", 0.7)]
    assert c.budget_evaluations == 12  # after the preset: a --set wins over what --budget brings
    # a whole field merges as a campaign file's does: another searcher starts from its own settings
    c = resolve_campaign(reg, "nasbench201", sets=["searcher={name: random}"])
    assert (c.searcher, c.searcher_settings) == ("random", {})
    # another task, as a file's `task:`: its own options and objectives, not the replaced task's
    c = resolve_campaign(reg, "quantumnas", sets=["task=quantumnas-vqe", "task_options.molecule=h2"])
    assert c.task_options == {"molecule": "h2"} and [o.metric for o in c.objectives] == ["energy"]


@pytest.mark.parametrize("text,needle", [
    ("task_options.dataset", "--set 'task_options.dataset' is not allowed; allowed: FIELD=VALUE"),
    ("task_options..dataset=x", "is not allowed; allowed: FIELD=VALUE"),
    ("seed=[1", "--set 'seed=[1': the value is not valid YAML"),
    ("task_optins.dataset=x", "unknown campaign field 'task_optins'; did you mean 'task_options'"),
    ("task.dataset=x", "--set 'task.dataset=x': task = 'nasbench201' holds no fields; set it whole (--set task=...)"),
    ("objectives.3.metric=x", "objectives is a list of 1; '3' is not allowed; allowed: an index 0..0, or the whole"),
    ("seed=-1", "campaign.seed = -1 is not allowed"),
    # an item of a list the campaign does not hold became a mapping {'0': ...}, refused as a bad `constraints`
    ("constraints.0.max=3", ("--set 'constraints.0.max=3': this campaign does not hold constraints (a list; a "
     "plugin's task may fill it in later, as `--dry-run` prints); allowed: the whole list, e.g. --set "
     "'constraints=[...]'")),
])
def test_a_bad_set_names_itself(text, needle):
    from nasfw.api import resolve_campaign

    with pytest.raises(ConfigError) as e:
        resolve_campaign(Registry(), "nasbench201", sets=[text])
    assert needle in str(e.value)


def test_the_same_searcher_keeps_the_defaults_other_settings():
    """A file that sets QuantumNAS's population_size alone dropped the default's mutate_prob 0.4 (the paper's) for
    the class default, silently."""
    base = {**BASE, "searcher": {"name": "ofa-evolution", "settings": {"population_size": 20, "mutate_prob": 0.4}}}
    assert merge(base, {"searcher": {"settings": {"population_size": 40}}})["searcher"]["settings"] == \
        {"population_size": 40, "mutate_prob": 0.4}
    assert merge(base, {"searcher": {"name": "ofa-evolution", "settings": {"mutate_prob": 0.1}}})["searcher"] == \
        {"name": "ofa-evolution", "settings": {"population_size": 20, "mutate_prob": 0.1}}
    assert merge(base, {"searcher": {"name": "random"}})["searcher"] == {"name": "random"}


def test_the_description_says_what_set_changed(tmp_path):
    """The default's 'MNIST-4 on the Quito fake device' stayed word for word in the campaign.yaml of a run moved to
    Lima; a resume with the same --set does not repeat it, and the fingerprint (--resume) does not read it."""
    from nasfw.api import resolve_campaign
    from nasfw.campaign import parse

    reg = Registry()
    sets = ["task_options.device=lima", "task_options.n_test=100"]
    c = resolve_campaign(reg, "quantumnas", sets=sets)
    assert c.description.endswith("on the Quito fake device: U3+CU3 SuperCircuit, noise-adaptive evolution of "
                                  "circuit and mapping, train from scratch, prune, qiskit-aer evaluation with "
                                  "baselines (with --set task_options.device=lima --set task_options.n_test=100)")
    again = resolve_campaign(reg, stored=c.raw, sets=sets)
    assert again.description == c.description and again.fingerprint() == c.fingerprint()
    assert parse({**c.raw, "description": "x"}).fingerprint() == c.fingerprint()
    assert resolve_campaign(reg, "quantumnas").description == reg.campaign("quantumnas")["description"]


def test_the_description_says_a_campaign_file_changed_the_default(tmp_path):
    """experiments/quantumnas-vqe-h2.yaml (VQE on H2, no description of its own) ran with a campaign.yaml that
    read "QuantumNAS MNIST-4 on the Quito fake device"; a file or mapping that changes nothing keeps it as is."""
    from nasfw.api import resolve_campaign, user_fields

    reg = Registry()
    default = reg.campaign("quantumnas")["description"]
    path = str(Path(__file__).parents[1] / "experiments" / "quantumnas-vqe-h2.yaml")
    vqe = user_fields(path)
    vqe.pop("description", None)
    c = resolve_campaign(reg, "quantumnas", {"task_options": {"device": "lima"}})
    assert c.description == f"{default} (with task_options changed)"
    c = resolve_campaign(reg, "quantumnas", vqe, source=path)
    assert c.description == f"{default} (changed by {path})"
    assert resolve_campaign(reg, "quantumnas", {"out": "x", "workers": 1}).description == default
    assert resolve_campaign(reg, "quantumnas", {**vqe, "description": "H2"}).description == "H2"
    for f in sorted((Path(__file__).parents[1] / "experiments").glob("*.yaml")):  # each says what it runs
        assert user_fields(f).get("description"), f.name
