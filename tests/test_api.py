"""`nasfw.search` / `nasfw.open_run`: the Python entry resolves a campaign as the CLI does and runs the same run."""
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import nasfw
from tests.conftest import PLUGIN_DIR, ROOT


def rows(run_dir):
    with sqlite3.connect(run_dir / "nasfw.sqlite") as c:
        return [(json.loads(a), json.loads(m), s) for a, m, s in
                c.execute("SELECT arch, metrics, status FROM evaluations ORDER BY id")]


def test_python_search_stores_what_the_cli_stores(tmp_path, run_cli):
    run_cli("search", "--plugin", "nasbench201", "--searcher", "evolution", "--budget", "12", "--seed", "4",
            "--out", tmp_path / "cli", "--no-progress", check=True)
    run = nasfw.search("nasbench201", searcher="evolution", budget=12, seed=4, out=str(tmp_path / "py"),
                       progress=False)
    assert rows(tmp_path / "py") == rows(tmp_path / "cli")
    assert run.summary()["ok"] == 12 and run.campaign.searcher == "evolution"
    assert run.finalized["best"]["arch"] == run.top(1)[0].arch
    again = nasfw.open_run(tmp_path / "py")
    assert [e.arch for e in again.top(3)] == [e.arch for e in run.top(3)]


def test_a_mapping_config_and_keyword_fields_merge_like_a_campaign_file(tmp_path):
    """A config mapping goes over the plugin's default as a file would, and keyword fields over both: a
    task_options keyword adds to the default's options instead of dropping them; the caller's dict is unchanged."""
    config = {"objectives": [{"metric": "accuracy", "direction": "max"}, {"metric": "params_m", "direction": "min"}],
              "searcher": {"name": "nsga2", "settings": {"population_size": 6}}}
    before = json.dumps(config, sort_keys=True)
    run = nasfw.search("nasbench201", config, budget=10, out=str(tmp_path / "run"), progress=False,
                       task_options={"seed_mode": "sample"})
    assert json.dumps(config, sort_keys=True) == before
    assert run.campaign.task_options == {"dataset": "cifar10", "seed_mode": "sample"}
    assert [o.metric for o in run.campaign.objectives] == ["accuracy", "params_m"]
    assert run.campaign.searcher_settings["population_size"] == 6
    assert (tmp_path / "run" / "pareto.json").is_file() and run.pareto()


def test_paths_may_be_path_objects(tmp_path):
    """`out=Path(...)` was refused ("campaign.out = PosixPath(...) is not allowed"): from Python a path object is
    the natural way to name a folder or a file, in keyword fields and in a config mapping alike."""
    run = nasfw.search("nasbench201", budget=3, out=tmp_path / "a", progress=False)
    assert run.run_dir == tmp_path / "a" and run.campaign.out == str(tmp_path / "a")
    config = {"out": tmp_path / "b", "constraints": ({"metric": "params_m", "max": 0.5},)}
    run = nasfw.search("nasbench201", config, budget=3, progress=False)
    assert run.campaign.out == str(tmp_path / "b") and run.campaign.constraints[0].max == 0.5
    assert isinstance(config["out"], type(tmp_path))  # the caller's mapping is left as it was


def test_a_plugin_from_a_folder(tmp_path, run_cli):
    run = nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=5, out=str(tmp_path / "run"), progress=False)
    assert run.summary()["evaluations"] == 5 and run.origin() == {"plugin": "toy"}
    # a campaign that names its space and task (no plugin) is shown by them, not as `plugin=None`
    own = nasfw.search(config={"space": "toy", "task": "toy", "objectives": [{"metric": "score"}]}, searcher="random",
                       plugins_dirs=[PLUGIN_DIR], budget=3, out=str(tmp_path / "own"), progress=False)
    assert own.origin() == {"space": "toy", "task": "toy"}
    assert run_cli("show", tmp_path / "own", check=True).stdout.startswith("campaign  space=toy  task=toy  searcher=")
    run_cli("report", tmp_path / "own", check=True)
    assert "- space: toy\n- task: toy\n" in (tmp_path / "own" / "report" / "report.md").read_text()


@pytest.mark.parametrize("call, needle", [
    (lambda t: nasfw.search("nasbench20"), "unknown plugin 'nasbench20'; did you mean 'nasbench201'"),
    (lambda t: nasfw.search("nasbench201", sead=1), "unknown campaign field 'sead'"),
    (lambda t: nasfw.search("nasbench201", budget=-2), "budget.evaluations = -2 is not allowed"),
    (lambda t: nasfw.search("nasbench201", budget="hueg"), "unknown budget preset 'hueg'"),
    (lambda t: nasfw.search("nasbench201", searcher={"name": "random"}), "searcher = {'name': 'random'} is not"),
    (lambda t: nasfw.search(), "nasfw.search needs a plugin name or a config"),
    (lambda t: nasfw.search(config=5), "config = 5 is not allowed; allowed: a campaign YAML file's path"),
    (lambda t: nasfw.search(config=str(t / "missing.yaml")), "does not exist"),
    (lambda t: nasfw.search("nasbench201", task_options={"batch": 1}),
     "task_options.batch is not an option of task 'nasbench201'"),
    (lambda t: nasfw.open_run(t / "nowhere"), "is not a nasfw run folder"),
])
def test_bad_input_is_a_config_error_before_any_work(tmp_path, monkeypatch, call, needle):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(nasfw.NasfwError, match=None) as e:
        call(tmp_path)
    assert needle in str(e.value)
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made


def test_a_run_is_resumed_from_python_with_its_folder_alone(tmp_path, monkeypatch):
    """`resume=True, out=RUN` continues the run as it was started (its campaign.yaml), as `nasfw search --resume
    --out RUN` does; the messages about the folder speak nasfw.search's keywords, not the CLI's flags."""
    monkeypatch.chdir(tmp_path)
    first = nasfw.search("nasbench201", budget=8, seed=3, out="runs/a", progress=False)
    more = nasfw.search(resume=True, out="runs/a", budget=12, progress=False)
    assert more.summary()["ok"] == 12 and more.campaign.seed == 3
    assert [e.arch for e in more.evaluations[:8]] == [e.arch for e in first.evaluations]
    for kw, needle in [
        ({"plugin": "nasbench201", "out": "runs/a", "seed": 3},
         "already holds a run; pass resume=True to continue it or choose another out= (e.g. runs/a-2)"),
        ({"plugin": "nasbench201", "out": "runs/a"},
         "already holds a run of another campaign (seed: 3 -> 0); choose another out= (e.g. runs/a-2)"),
        ({"plugin": "nasbench201", "out": "runs/a", "seed": 5, "resume": True},
         "(seed: 3 -> 5); continue it as it was started with `nasfw.search(resume=True, out='runs/a')`"),
        ({"plugin": "nasbench201", "out": "runs/b", "resume": True}, "resume=True: 'runs/b' holds no run"),
        ({"resume": True}, "resume=True without a plugin or a config needs the run folder (out=)"),
        ({"resume": True, "out": "runs/c"}, "resume=True: 'runs/c' holds no run to resume (no campaign.yaml)"),
    ]:
        with pytest.raises(nasfw.NasfwError) as e:
            nasfw.search(progress=False, **kw)
        assert needle in str(e.value) and "--" not in str(e.value), kw


def test_a_run_shows_itself_in_one_line(tmp_path):
    """A notebook cell that ends in nasfw.search(...) prints the run's repr: the folder, the counts and the best,
    not every evaluation's dict (50 of them filled the screen)."""
    run = nasfw.search("nasbench201", budget=6, out=str(tmp_path / "run"), progress=False)
    best = run.top(1)[0]
    assert run.best == best and run.best.arch == json.loads((tmp_path / "run" / "best.json").read_text())["arch"]
    assert repr(run) == (f"RunView({str(tmp_path / 'run')!r}: nasbench201, 6 of 6 evaluations, 6 ok, 0 failed; "
                         f"best accuracy {best.metrics['accuracy']:.6g} (#{best.id}))")
    strict = nasfw.search("nasbench201", budget=4, out=str(tmp_path / "strict"), progress=False,
                          constraints=[{"metric": "accuracy", "min": 99.9}])
    assert repr(strict).endswith(", constraints not met))") and "\n" not in repr(strict)
    with pytest.warns(RuntimeWarning, match=r"every evaluation of .*failing' failed; the first with: RuntimeError: "
                      "toy evaluation failed on purpose"):  # the CLI exits 1 here; a script learns it too
        failing = nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, out=str(tmp_path / "failing"),
                               progress=False, task_options={"fail_op": "*"})
    assert ("0 ok, 3 failed; every evaluation failed, most often with: RuntimeError: toy evaluation failed on "
            "purpose (at toy.py:") in repr(failing)
    assert "arch_key" not in repr(run.top(1)) and "accuracy" in repr(run.top(1))  # what run.top(5) shows
    tiny = nasfw.search("nasbench201", budget=3, out=str(tmp_path / "tiny"), progress=False,
                        constraints=[{"metric": "params_m", "max": 0.0001}])  # a cheap metric: none is trained
    assert repr(tiny).endswith("0 of 3 evaluations, 0 ok, 0 failed, "
                               f"{tiny.summary()['infeasible']} infeasible skipped)")
    assert tiny.best is None and failing.best is None


def test_a_run_as_a_dataframe(tmp_path):
    """One row per stored evaluation, metrics and single-valued decisions as columns, and the constraint read
    as the run reads it (the smallest cell with at least 80% accuracy: evaluated, and then met or not)."""
    pd = pytest.importorskip("pandas")
    run = nasfw.search("nasbench201", budget=15, out=str(tmp_path / "run"), progress=False,
                       objectives=[{"metric": "params_m", "direction": "min"}],
                       constraints=[{"metric": "accuracy", "min": 80}])
    df = run.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == len(run.evaluations) == 15
    assert list(df["evaluation"]) == [e.id for e in run.evaluations]
    assert (df["status"] == "ok").all()
    assert (df["meets_constraints"] == (df["accuracy"] >= 80)).all()
    assert df["meets_constraints"].any() and not df["meets_constraints"].all()
    decisions = [c for c in df.columns if c.startswith("arch.")]
    assert decisions and all(df[c].notna().all() for c in decisions)
    assert df.groupby(decisions[0])["accuracy"].mean().notna().all()
    assert df.loc[0, "arch"] == run.evaluations[0].arch
    written = run.report(tmp_path / "rep", top_k=3)  # what `nasfw report` writes, from the notebook
    assert written["report"] == str(tmp_path / "rep" / "report.md")
    assert [Path(p).name for p in written["plots"]] == ["best_so_far.png", "pareto.png"]
    assert all(Path(p).stat().st_size > 1000 for p in written["plots"])
    top = (tmp_path / "rep" / "report.md").read_text().split("## Top architectures")[1].split("\n## ")[0]
    assert sum(line.startswith("| ") for line in top.splitlines()) == 1 + 3  # the table's header and its 3 rows


def _script(tmp_path, body: str):
    path = tmp_path / "my_search.py"
    path.write_text(body)
    return subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=240)


def test_a_script_with_worker_processes_runs_under_the_main_guard(tmp_path):
    p = _script(tmp_path, 'import nasfw\n\nif __name__ == "__main__":\n'
                          '    run = nasfw.search("nasbench201", workers=2, budget=6, out="run", progress=False)\n'
                          '    print("ok", run.summary()["ok"])\n')
    assert p.returncode == 0, p.stderr[-2000:]
    assert "ok 6" in p.stdout


def test_a_script_that_searches_at_its_top_level_stops_with_the_reason(tmp_path):
    """Each spawned worker imports the script again; without the main guard it searched again inside every
    worker, each died, and the driver restarted its pool for ever (a hang, thousands of tracebacks). Now the
    workers say why in one line and the driver stops after three dead pools, naming the fix."""
    p = _script(tmp_path, 'import nasfw\n\nrun = nasfw.search("nasbench201", workers=2, budget=6, out="run", '
                          'progress=False)\n')
    assert p.returncode != 0
    assert "WorkerError: worker processes exit before they are ready (3 process pools in a row)" in p.stderr
    assert 'put the call under `if __name__ == "__main__":`' in p.stderr
    assert p.stderr.count("nasfw.search: a worker process imported the script") <= 2 * 3


def test_a_script_read_from_standard_input_is_refused_with_worker_processes(tmp_path):
    """`python - <<EOF`: the workers would import '<stdin>' as a file, each died at its start, and after three
    pools the run stopped with a hint about the main guard that did not apply. Now it is refused before the run
    folder is made, saying why; with one worker (in this process) the same script runs."""
    body = ('import nasfw\nrun = nasfw.search("nasbench201", workers={n}, budget=4, out="{out}", progress=False)\n'
            'print("ok", run.summary()["ok"])\n')

    def piped(n: int, out: str):
        return subprocess.run([sys.executable, "-"], input=body.format(n=n, out=out), cwd=tmp_path,
                              capture_output=True, text=True, timeout=240)

    p = piped(2, "two")
    assert p.returncode != 0 and not (tmp_path / "two").exists()
    assert ("WorkerError: workers: 2 evaluates in worker processes, which import the calling script by its path, "
            "and '<stdin>' is not a file") in p.stderr
    p = piped(1, "one")
    assert p.returncode == 0 and "ok 4" in p.stdout, p.stderr[-2000:]


def test_the_callers_session_is_given_back(tmp_path):
    """Evaluating in this process (one worker) sets torch to one thread, as every worker does, seeds the global
    random streams from the campaign's seed, and the report draws its plots: a notebook that ran a search kept
    one thread, drew seed 0's numbers from `torch.randn` after every search, and had its inline matplotlib
    backend switched to Agg (its next `plt.show()` drew nothing)."""
    import random

    import matplotlib
    import numpy as np
    torch = pytest.importorskip("torch")
    before, backend = torch.get_num_threads(), matplotlib.get_backend()
    torch.set_num_threads(2)
    matplotlib.use("svg")  # a backend the product has no reason to choose, standing for a notebook's inline one
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    states = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    try:
        nasfw.search(config=ROOT / "experiments" / "quantumnas-vqe-h2.yaml", budget=3, out=str(tmp_path / "run"),
                     workers=1, progress=False, phases={"supernet": {"epochs": 2}, "finalize": {"task": False}})
        assert (tmp_path / "run" / "report" / "best_so_far.png").exists()
        assert torch.get_num_threads() == 2
        assert matplotlib.get_backend() == "svg"
        assert torch.equal(torch.random.get_rng_state(), states[0])
        assert (np.random.get_state()[1] == states[1]).all() and random.getstate() == states[2]
    finally:
        torch.set_num_threads(before)
        matplotlib.use(backend)


def test_the_campaign_seed_seeds_the_task_too():
    """`--seed 1` moved the searcher alone: QuantumNAS's data split, SuperCircuit initialisation and baselines
    stayed at the task's seed 0, so runs "over seeds" shared them (the human-design row matched to the digit)."""
    from nasfw.api import resolve_campaign
    from nasfw.registry import get_registry
    from nasfw.runner import build

    reg = get_registry(())
    comps = build(resolve_campaign(reg, "quantumnas", fields={"seed": 3}), reg)
    assert comps.task.seed == 3 and comps.task_options["seed"] == 3  # the workers' tasks are built from these
    own = build(resolve_campaign(reg, "quantumnas", fields={"seed": 3, "task_options": {"seed": 5}}), reg)
    assert own.task.seed == 5  # a seed the task is given itself stays
    toy = build(resolve_campaign(get_registry((str(PLUGIN_DIR),)), "toy", fields={"seed": 3}),
                get_registry((str(PLUGIN_DIR),)))
    assert "seed" not in toy.task_options  # a task without a seed option is given none
