import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasfw.campaign import merge, parse, resolve_budget
from nasfw.errors import ConfigError, NasfwError
from nasfw.registry import Registry
from nasfw.runner import run_campaign
from tests.conftest import PLUGIN_DIR, ROOT

BASE = {"space": "toy", "task": "toy", "objectives": [{"metric": "score"}], "searcher": "evolution", "budget": 20}


@pytest.mark.parametrize("patch,needle", [
    ({"searcherr": "x"}, "unknown campaign field 'searcherr'; did you mean 'searcher'"),
    ({"budget": {"evaluations": -5}}, "campaign.budget.evaluations = -5 is not allowed; allowed: a positive integer"),
    ({"budget": {"evals": 5}}, "unknown campaign.budget field 'evals'; did you mean 'evaluations'"),
    ({"workers": "two"}, "campaign.workers = 'two' is not allowed; allowed: a positive integer"),
    ({"seed": 1.5}, "campaign.seed = 1.5 is not allowed; allowed: an integer"),
    ({"objectives": [{"metric": "score", "direction": "up"}]}, "direction = 'up' is not allowed"),
    ({"constraints": [{"metric": "size"}]}, "needs 'max' or 'min'"),
    ({"backend": "slurm"}, "unknown campaign.backend 'slurm'"),
    ({"evaluation": {"timeout": 3}}, "unknown campaign.evaluation field 'timeout'; did you mean 'timeout_s'"),
    ({"evaluation": {"retries": 1.5}}, "campaign.evaluation.retries = 1.5 is not allowed; allowed: a non-negative"),
    ({"constraints": [{"metric": "size", "min": 5, "max": 1}]},
     "campaign.constraints[0]: min = 5 is above max = 1; no size can meet both"),
    # the same two bounds in two entries searched on, skipping every candidate as infeasible
    ({"constraints": [{"metric": "size", "max": 1}, {"metric": "lat", "max": 3}, {"metric": "size", "min": 5}]},
     "campaign.constraints[2]: size >= 5 and campaign.constraints[0]: size <= 1; no size can meet both"),
    ({"constraints": [{"metric": "size", "min": 5}, {"metric": "size", "max": 1}]},
     "campaign.constraints[0]: size >= 5 and campaign.constraints[1]: size <= 1; no size can meet both"),
    ({"constraints": [{"metric": "size", "min": .5, "max": .5}, {"metric": "size", "max": .5}]}, None),
    ({"objectives": [{"metric": "score"}, {"metric": "score", "direction": "min"}]},
     "campaign.objectives[1].metric = 'score' repeats campaign.objectives[0]"),
    # `phases.supernet: false` skips a phase; the same word for finalize is told where skipping is written
    ({"phases": {"finalize": False}}, ("campaign.phases.finalize = False is not allowed; allowed: a mapping of top_k, "
     "export and task (phases.finalize.task: false skips the task's finalize step")),
])
def test_schema_errors_are_clear(patch, needle):
    if needle is None:  # bounds that some value meets
        parse({**BASE, **patch})
        return
    with pytest.raises(ConfigError) as e:
        parse({**BASE, **patch})
    assert needle in str(e.value)


def test_missing_key():
    raw = dict(BASE)
    del raw["task"]
    with pytest.raises(ConfigError, match="campaign.task is missing"):
        parse(raw)


def test_budget_presets():
    raw = {**BASE, "budgets": {"small": 7}}
    assert parse(resolve_budget(raw, "small")).budget_evaluations == 7
    assert parse(resolve_budget(raw, "large")).budget_evaluations == 500
    assert parse(resolve_budget(raw, "12")).budget_evaluations == 12
    with pytest.raises(ConfigError, match="unknown budget preset 'smal'; did you mean 'small'"):
        resolve_budget(raw, "smal")


def test_phases_merge_all_the_way_down_for_the_same_task():
    base = {**BASE, "phases": {"supernet": {"epochs": 100, "lr": 0.05},
                               "finalize": {"top_k": 5, "export": ["json"], "task": {"epochs": 100, "shots": 8192}}}}
    out = merge(base, {"phases": {"finalize": {"task": {"shots": 256}}}})
    assert out["phases"]["finalize"] == {"top_k": 5, "export": ["json"], "task": {"epochs": 100, "shots": 256}}
    assert out["phases"]["supernet"] == {"epochs": 100, "lr": 0.05}
    assert base["phases"]["finalize"]["task"]["shots"] == 8192  # the default itself is left alone
    # lists replace, they do not append
    assert merge(base, {"phases": {"finalize": {"export": ["qasm"]}}})["phases"]["finalize"]["export"] == ["qasm"]
    # another task: the default's settings under each phase name are its task's options, and do not carry over
    other = merge(base, {"task": "other", "phases": {"finalize": {"task": {"steps": 3}}}})
    assert other["phases"]["finalize"] == {"task": {"steps": 3}}
    assert other["phases"]["supernet"] == {}  # the phase runs, with the other task's defaults
    assert merge(base, {"task": "other"})["phases"] == {"supernet": {}, "finalize": {}}
    assert merge({**base, "phases": {"supernet": False}}, {"task": "other"})["phases"] == {"supernet": False}


yaml_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)
fields = st.sampled_from(["space", "task", "objectives", "searcher", "budget", "seed", "workers", "constraints",
                          "hardware", "phases", "evaluation", "backend", "out", "bogus"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(fields, yaml_values, max_size=8) | yaml_values)
def test_fuzzed_campaigns_give_only_clean_errors(doc, tmp_path_factory):
    from nasfw.campaign import load_yaml

    p = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    p.write_text(yaml.safe_dump(doc))
    try:
        parse(load_yaml(p))
    except NasfwError:
        pass


def run(raw, tmp_path, **kw):
    reg = Registry([PLUGIN_DIR])
    c = parse({**raw, "out": str(tmp_path / "run")})
    return run_campaign(c, reg, progress=False, plugins_dirs=(str(PLUGIN_DIR),), **kw)


def test_failures_nan_and_constraints_are_recorded(tmp_path):
    from nasfw.results import RunView

    # Optuna's TPE proposes without the cheap check, so the pipeline rejects (and records) infeasible ones;
    # evolution asks the check itself and never proposes them
    raw = {**BASE, "task_options": {"fail_op": "a", "nan_op": "c"}, "hardware": ["toy-size"],
           "constraints": [{"metric": "size", "max": 100}], "budget": 30, "searcher": "bayes"}
    s = run(raw, tmp_path)
    view = RunView.open(tmp_path / "run")
    statuses = {e.status for e in view.evaluations}
    assert statuses == {"ok", "failed", "infeasible"}
    errors = {e.error for e in view.evaluations if e.status == "failed"}
    assert any("RuntimeError: toy evaluation failed on purpose" in x for x in errors)
    assert any("NaN" in x for x in errors)
    assert s["evaluations"] == 30  # infeasible candidates are rejected before evaluation and not counted
    assert all(e.metrics["size"] <= 100 for e in view.ok)
    run({**raw, "searcher": "evolution"}, tmp_path / "evo")
    evo = RunView.open(tmp_path / "evo" / "run")
    assert {e.status for e in evo.evaluations} <= {"ok", "failed"}


def test_a_run_where_no_candidate_meets_the_constraints_says_so(tmp_path, run_cli):
    """The least-violating candidate was reported as "best" like any other; now the run, `nasfw show` and the
    report say that nothing met the constraints and what the closest breaks."""
    from nasfw.cost import violated

    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({**BASE, "searcher": "random", "budget": 6, "hardware": ["toy-size"],
                               "constraints": [{"metric": "score", "min": 50}]}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--out", tmp_path / "run", "--no-progress")
    assert p.returncode == 0, p.stderr
    best = json.loads((tmp_path / "run" / "summary.json").read_text())["best"]
    assert best["violates"] == [f"score >= 50 (is {best['metrics']['score']:.4g})"]
    assert "no candidate met the constraints; this one comes closest, and breaks: score >= 50" in p.stdout
    p = run_cli("show", tmp_path / "run", check=True)
    assert "meets constraints" in p.stdout and "no candidate meets the constraints; #1 comes closest" in p.stdout
    assert "| no |" in (tmp_path / "run" / "report" / "report.md").read_text()
    from nasfw.cost import Constraint

    both = [Constraint("size", max=64), Constraint("score", min=0.5)]
    assert violated(both, {"size": 80, "score": 0.7}) == ["size <= 64 (is 80)"]
    assert violated(both, {"size": 10, "score": 0.7}) == []


def test_a_bound_nothing_in_the_space_meets_is_named_with_the_nearest_value(tmp_path):
    """A cheap constraint no architecture meets ran a million draws (a minute or two) and ended "proposed only
    already-evaluated or infeasible architectures 1000 times in a row", which reads as a searcher fault; the run
    now stops after 20 fruitless proposals and names the bound and how near the space came to it."""
    from nasfw.cost import Constraint, nearest_misses
    from nasfw.results import RunView

    summary = run({**BASE, "hardware": ["toy-size"], "constraints": [{"metric": "size", "max": 1}]}, tmp_path)
    sizes = [e.metrics["size"] for e in RunView.open(tmp_path / "run").evaluations]
    assert summary["ok"] == 0 and len(sizes) == summary["infeasible"] == 20 and min(sizes) > 1
    assert summary["stopped"].startswith("20 proposals in a row drew 1000 architectures each and none met the "
                                         "cheap constraints; ")
    assert summary["stopped"].endswith(f"; the {len(sizes)} skipped as infeasible broke size <= 1: {len(sizes)} of "
                                       f"{len(sizes)}, nearest {min(sizes):.4g}")
    both = [Constraint("size", max=64), Constraint("score", min=0.5, max=2)]
    rows = [{"size": 80, "score": 0.7}, {"size": 70, "score": 3.0}, {"size": 10, "score": 0.1}, {"score": 5.0}]
    assert nearest_misses(both, rows) == ["size <= 64: 2 of 3, nearest 70", "score >= 0.5 and <= 2: 3 of 4, nearest 3"]


def test_a_constraint_on_a_metric_nothing_reports_stops_the_run(tmp_path):
    """A typo in a constraint's metric used to leave the constraint unapplied for the whole run, silently."""
    from nasfw.results import RunView

    raw = {**BASE, "hardware": ["toy-size"], "constraints": [{"metric": "sise", "max": 100}], "budget": 5}
    with pytest.raises(ConfigError, match=r"constraints\[0\]\.metric = 'sise': neither the task nor a cost model "
                                          r"reported such a metric \(did you mean 'size'\?\); reported: "):
        run(raw, tmp_path)
    assert len(RunView.open(tmp_path / "run").evaluations) == 1  # the first evaluation, kept


def test_two_worker_processes(tmp_path):
    # long enough that the second spawned worker is up before the first has done everything, even under load
    s = run({**BASE, "workers": 2, "budget": 12, "task_options": {"sleep": 0.5}}, tmp_path)
    from nasfw.results import RunView

    view = RunView.open(tmp_path / "run")
    assert s["evaluations"] == 12
    assert len({e.worker for e in view.evaluations}) == 2


def test_timeout_is_recorded_and_campaign_goes_on(tmp_path):
    # the task takes longer to build than the limit: the clock starts when the worker begins the evaluation,
    # so only the hanging ones time out, also after each restart of the pool (which builds the task again)
    s = run({**BASE, "workers": 2, "budget": 10, "task_options": {"hang_op": "b", "setup_sleep": 2.5},
             "evaluation": {"timeout_s": 2}, "searcher": "random"}, tmp_path)
    from nasfw.results import RunView

    view = RunView.open(tmp_path / "run")
    assert s["evaluations"] == 10
    hung = [e for e in view.evaluations if e.arch["op"] == "b"]
    assert hung and all(e.status == "failed" and e.error == "timeout: still running after 2 s" for e in hung)
    assert all(e.status == "ok" for e in view.evaluations if e.arch["op"] != "b")


def test_run_folder_guards(tmp_path):
    run(BASE, tmp_path)
    with pytest.raises(NasfwError, match="already holds a run; pass --resume to continue it"):
        run(BASE, tmp_path)
    # another campaign (a second seed into the default folder): resuming would be refused, so not offered; a free
    # folder beside it is
    (tmp_path / "run-2").mkdir()
    with pytest.raises(NasfwError, match=r"already holds a run of another campaign \(seed: \(unset\) -> 5\); choose "
                                         r"another --out \(e.g. .*run-3\)"):
        run({**BASE, "seed": 5}, tmp_path)
    with pytest.raises(NasfwError, match=r"from another campaign \(seed: \(unset\) -> 5\)"):
        run({**BASE, "seed": 5}, tmp_path, resume=True)
    with pytest.raises(NasfwError, match=r"from another campaign \(objectives: \[\{\"metric\": \"score\"\}\] -> "):
        run({**BASE, "objectives": [{"metric": "score", "direction": "min"}]}, tmp_path, resume=True)


def _experiment(path):
    """QuantumNAS experiments train circuits and run qiskit-aer (minutes each): they run with the slow tests."""
    slow = path.stem.startswith("quantumnas")
    return pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if slow else [])


# MNIST-10 on 10 qubits needs 10 minutes to 2 hours (qiskit-aer trajectories beyond 10 qubits): measured by hand, their
# command and figures in docs/results-quantumnas.md; CI's 60 minutes (45 without them) cannot hold them
BY_HAND = {"quantumnas-mnist10-guadalupe", "quantumnas-mnist10-guadalupe-trajectories",
           "quantumnas-mnist10-guadalupe-seeded", "quantumnas-mnist10-guadalupe-connected",
           "quantumnas-mnist10-guadalupe-paper", "quantumnas-mnist10-guadalupe-paper-trajectories"}


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_experiments_measured_by_hand_are_valid_campaigns(name, run_cli):
    """What CI cannot run it still checks: the file exists and the campaign, its space and its task build."""
    path = ROOT / "experiments" / f"{name}.yaml"
    p = run_cli("search", "--config", path, "--dry-run")
    assert p.returncode == 0, p.stderr
    assert f"name: {name}" in p.stdout


@pytest.mark.parametrize("path", [_experiment(p) for p in sorted((ROOT / "experiments").glob("*.yaml"))
                                  if p.stem not in BY_HAND])
def test_experiments_run_at_small_budget(path, run_cli, tmp_path):
    raw = yaml.safe_load(path.read_text())
    config = path
    if raw.get("task", "quantumnas-qml") == "quantumnas-qml" and raw.get("plugin") == "quantumnas":
        # the MNIST campaigns' training and aer rows at full size are 4-6 minutes each, their figures measured
        # by hand (docs/results-quantumnas.md); here each file runs end to end on its own device with the
        # training, shots and test set cut down, every baseline included
        config = tmp_path / path.name
        config.write_text(yaml.safe_dump(merge(raw, {
            "task_options": {"n_test": 60},
            "phases": {"supernet": {"epochs": 5},
                       "finalize": {"task": {"scratch_epochs": 5, "retrain": 2, "remap": 4, "shots": 1024,
                                             "search_population": 6}}}})))
    p = run_cli("search", "--config", config, "--budget", "small", "--out", tmp_path / "run", "--no-progress",
                timeout=900)
    assert p.returncode == 0, p.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["evaluations"] > 0 and "best" in summary
    assert Path(tmp_path / "run" / "campaign.yaml").exists()
    assert raw.get("plugin")


def test_phases_supernet_runs_once_and_finalize_writes_results(tmp_path):
    run({**BASE, "phases": {"supernet": {"epochs": 2}, "finalize": {"top_k": 3}}}, tmp_path)
    out = tmp_path / "run"
    assert (out / "supernet.txt").read_text() == "2"
    assert len(json.loads((out / "top.json").read_text())) == 3
    run({**BASE, "budget": 25, "phases": {"supernet": {"epochs": 2}}}, tmp_path, resume=True)
    assert (out / "supernet.txt").read_text() == "2"  # a resumed run does not train the supernet again
    assert json.loads((out / "summary.json").read_text())["evaluations"] == 25
    run({**BASE, "phases": {"supernet": False}}, tmp_path / "off")
    assert not (tmp_path / "off" / "run" / "supernet.txt").exists()


def test_retries_absorb_transient_failures(tmp_path):
    s = run({**BASE, "task_options": {"flaky": True}, "evaluation": {"retries": 1}}, tmp_path)
    assert s["ok"] == 20 and s["failed"] == 0
    s = run({**BASE, "task_options": {"flaky": True}, "seed": 1, "evaluation": {"fail_fast": 0}}, tmp_path / "noretry")
    assert s["failed"] == 20


def test_dead_worker_processes_do_not_stop_the_campaign(tmp_path):
    from nasfw.results import RunView

    s = run({**BASE, "workers": 2, "budget": 15, "searcher": "random", "task_options": {"die_op": "c"}}, tmp_path)
    view = RunView.open(tmp_path / "run")
    assert s["evaluations"] == 15 and s["ok"] == 15  # lost ones are recorded, not counted
    lost = [e for e in view.evaluations if e.status == "lost"]
    assert lost and all("worker died" in e.error for e in lost)


def test_shared_state_reaches_every_worker_process(tmp_path):
    from nasfw.results import RunView

    raw = {**BASE, "workers": 2, "budget": 8, "task_options": {"shared_mb": 2.0, "sleep": 0.6},
           "phases": {"supernet": {"epochs": 3}}}
    run(raw, tmp_path)
    view = RunView.open(tmp_path / "run")
    assert all(e.metrics["shared_mb"] == 2.0 and e.metrics["shared_trained"] == 3.0 for e in view.ok)
    assert len({e.worker for e in view.ok}) == 2


def test_a_folder_run_again_in_one_session_is_scored_with_its_own_supernet(tmp_path):
    """The driver keeps the task it evaluated with; keyed by the shared state's path alone, a run folder deleted
    and run again from the same session (its supernet trained anew, to the same path) was scored with the first
    run's weights."""
    import shutil

    import nasfw

    for epochs in (1, 3):
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
        view = nasfw.search(config={**BASE, "workers": 1, "budget": 3, "task_options": {"shared_mb": 0.01},
                                    "phases": {"supernet": {"epochs": epochs}}, "out": str(tmp_path / "run")},
                            plugins_dirs=[PLUGIN_DIR], progress=False)
        assert {e.metrics["shared_trained"] for e in view.ok} == {float(epochs)}


def test_a_plugin_added_in_code_evaluates_in_the_driver(tmp_path):
    """run_campaign with a registry that got a plugin object (not a file) evaluates with that registry."""
    import types

    from nasfw import Choice, Space, hookimpl

    mod = types.SimpleNamespace()

    class Task:
        def evaluate(self, arch):
            return {"score": float(arch["a"])}

    @hookimpl
    def nasfw_register_search_spaces(register):
        register("inline-space", lambda: Space([Choice("a", [1, 2, 3, 4])]))

    @hookimpl
    def nasfw_register_tasks(register):
        register("inline-task", Task)
    mod.nasfw_register_search_spaces, mod.nasfw_register_tasks = nasfw_register_search_spaces, nasfw_register_tasks
    reg = Registry()
    reg.add_plugin(mod, "inline")
    c = parse({"space": "inline-space", "task": "inline-task", "objectives": ["score"], "searcher": "random",
               "budget": 4, "out": str(tmp_path / "run")})
    s = run_campaign(c, reg, progress=False)
    assert s["ok"] == 4 and s["best"]["metrics"]["score"] == 4.0


def test_submitting_to_a_pool_a_worker_just_broke_loses_nothing():
    """A worker dies between two wait() calls; the next submit must not raise (BrokenProcessPool) but report
    the dead evaluation as lost and run the new one on a fresh pool."""
    import time

    from nasfw.backends import LocalBackend
    from nasfw.evaluation import EvaluatorSpec
    from nasfw.space import Space

    spec = EvaluatorSpec("toy", {"die_op": "c"}, (), (str(PLUGIN_DIR),))
    backend = LocalBackend(spec, workers=2)
    space = Registry([PLUGIN_DIR]).space("toy")
    rng = __import__("numpy").random.default_rng(0)
    dying = {**space.sample(rng), "op": "c"}
    fine = {**space.sample(rng), "op": "a"}
    try:
        backend.submit(dying)
        deadline = time.time() + 60
        pool = backend.pool
        while not getattr(pool, "_broken", False) and time.time() < deadline:
            time.sleep(0.05)
        assert getattr(pool, "_broken", False), "the dying worker did not break the pool"
        backend.submit(fine)
        results = []
        while backend.busy() and time.time() < deadline:
            results += backend.wait()
        status = {r[0]["op"]: r[1].status for r in results}
        assert status == {"c": "lost", "a": "ok"}
        assert all("worker died" in r[1].error for r in results if r[1].status == "lost")
    finally:
        backend.close()
    assert isinstance(space, Space)


@pytest.mark.parametrize("initial,needle", [
    (3, "campaign.searcher.initial = 3 is not allowed; allowed: a list of archs, or {run: FOLDER, top: N}"),
    ([{"op": "a"}, 5], "campaign.searcher.initial[1] = 5 is not allowed; allowed: an arch"),
    ({"run": "runs/x", "topp": 2}, "unknown campaign.searcher.initial field 'topp'; did you mean 'top'"),
    ({"run": "runs/x", "top": 0}, "campaign.searcher.initial.top = 0 is not allowed; allowed: a positive integer"),
    ({"top": 3}, "campaign.searcher.initial.run = None is not allowed; allowed: the folder of an earlier"),
])
def test_initial_archs_schema_errors(initial, needle):
    with pytest.raises(ConfigError) as e:
        parse({**BASE, "searcher": {"name": "evolution", "initial": initial}})
    assert needle in str(e.value)


def test_another_searcher_keeps_the_starting_archs_but_not_the_settings():
    base = {**BASE, "searcher": {"name": "evolution", "settings": {"population": 8}, "initial": [{"op": "a"}]}}
    assert merge(base, {"searcher": {"name": "bayes"}})["searcher"] == {"name": "bayes", "initial": [{"op": "a"}]}


def test_a_users_initial_archs_are_evaluated_first_and_an_earlier_runs_best_can_start_a_search(tmp_path):
    """`searcher.initial` as archs, then as {run, top}: the first evaluations of the new run are exactly those
    archs, in order; a bad one is refused before the run folder exists, naming where it came from."""
    import numpy as np

    from nasfw.results import RunView

    space = Registry([PLUGIN_DIR]).space("toy")
    rng = np.random.default_rng(7)
    given = [space.sample(rng) for _ in range(3)]
    for searcher in ("evolution", "random", "bayes"):
        run({**BASE, "budget": 8, "searcher": {"name": searcher, "initial": given}}, tmp_path / searcher)
        first = [e.arch for e in RunView.open(tmp_path / searcher / "run").evaluations[:3]]
        assert first == given, searcher

    bad = [dict(given[0], width=9)]
    with pytest.raises(NasfwError, match=r"searcher.initial\[0\].width = 9"):
        run({**BASE, "searcher": {"name": "evolution", "initial": bad}}, tmp_path / "bad")
    assert not (tmp_path / "bad" / "run").exists()

    earlier = RunView.open(tmp_path / "evolution" / "run")
    top = [e.arch for e in earlier.top(2)]
    warm = {**BASE, "budget": 5, "searcher": {"name": "evolution",
                                               "initial": {"run": str(tmp_path / "evolution" / "run"), "top": 2}}}
    run(warm, tmp_path / "warm")
    assert [e.arch for e in RunView.open(tmp_path / "warm" / "run").evaluations[:2]] == top
    with pytest.raises(ConfigError, match=r"searcher.initial.run = '.*nowhere': no nasfw run there"):
        run({**warm, "searcher": {"name": "evolution", "initial": {"run": str(tmp_path / "nowhere")}}},
            tmp_path / "w2")


SMALL_SPACE = {"name": "small", "decisions": [
    {"name": "op", "type": "choice", "options": ["a", "b", "c"]},
    {"name": "width", "type": "choice", "options": [8, 16]},
    {"name": "lr", "type": "choice", "options": [0.01]},
    {"name": "blocks", "type": "repeat", "min": 1, "max": 1,
     "body": [{"name": "k", "type": "choice", "options": [3]}, {"name": "e", "type": "choice", "options": [1, 2]}]},
]}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_budget_above_the_space_ends_saying_the_space_is_done(tmp_path, workers):
    """A budget above a finite space's size (NAS-Bench-201's 15,625 cells) ended "the searcher proposed only
    already-evaluated or infeasible architectures 1000 times in a row", which reads as a searcher fault, after
    a thousand wasted draws; it now ends when the last architecture is taken, and says so."""
    summary = run({**BASE, "space": SMALL_SPACE, "searcher": "random", "budget": 50, "workers": workers}, tmp_path)
    assert summary["ok"] == 12 and summary["stopped"] == "every architecture of the space (12) has been evaluated"
    if workers > 1:
        return
    constrained = {**BASE, "space": SMALL_SPACE, "searcher": "random", "budget": 50, "hardware": ["toy-size"],
                   "constraints": [{"metric": "size", "max": 8}]}
    summary = run(constrained, tmp_path / "constrained")  # the random searcher draws until a candidate is feasible,
    assert (summary["ok"], summary["infeasible"]) == (6, 0)  # so the other 6 never reach the pipeline to be counted
    assert summary["stopped"] == ("the searcher proposed only already-evaluated or infeasible architectures 1000 "
                                  "times in a row (6 of the space's 12 architectures taken)")
    # a pipeline that holds every architecture, evaluated or ruled out, asks its searcher nothing more
    from nasfw.cost import Constraint
    from nasfw.evaluation import Pipeline
    from nasfw.searchers.base import Result
    from nasfw.searchers.random_search import RandomSearch
    from nasfw.space import Space

    space = Space.from_dict(SMALL_SPACE)
    pipe = Pipeline(space, RandomSearch(space, seed=0), constraints=[Constraint("size", max=8)])
    pipe.cache = {f"arch{i}": Result("ok", {}) for i in range(12)}
    assert pipe.next() is None
    assert pipe.stop_reason == ("every architecture of the space (12) has been evaluated or ruled out by the cheap "
                                "constraints")


def test_a_cost_models_metric_is_stored_as_the_constraint_judged_it():
    """A task and a cheap cost model that both give `params_m` (NAS-Bench-201's table, and its parameter model with
    `channels: 8`): the candidate passed `params_m <= 0.5` on the model's 0.22 and was stored with the table's 0.86,
    so the run's own table said the constraint was broken. The cost model's value is kept, as an expensive
    model's already was."""
    from nasfw.cost import Constraint
    from nasfw.evaluation import Pipeline
    from nasfw.searchers.base import OK, Result
    from nasfw.searchers.random_search import RandomSearch
    from nasfw.space import Space

    class Params:
        name, cheap = "params", True

        def evaluate(self, arch):
            return {"params_m": 0.22}

    space = Space.from_dict(SMALL_SPACE)
    pipe = Pipeline(space, RandomSearch(space, seed=0), [Params()], [Constraint("params_m", max=0.5)])
    arch = pipe.next()
    stored = pipe.complete(arch, Result(OK, {"accuracy": 90.0, "params_m": 0.86}))
    assert stored.metrics == {"accuracy": 90.0, "params_m": 0.22}
