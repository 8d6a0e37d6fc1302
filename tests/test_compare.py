"""`nasfw compare` / `nasfw.compare_runs`: runs grouped by the settings they differ in, each run's best read at an
equal number of evaluations, each group's mean and spread over its seeds, and the files written for them."""
import statistics

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

import nasfw
from nasfw.compare import HV_MARGIN, group_labels
from nasfw.cost import dominates, pareto_front
from nasfw.compare_plots import step_values

MO = {"objectives": [{"metric": "accuracy", "direction": "max"}, {"metric": "params_m", "direction": "min"}]}
SMALL = {"phases": {"finalize": {"export": ["json"]}}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """NAS-Bench-201 (tabular, seconds): evolution with 30 evaluations and random search with 20, two seeds
    each, in one folder."""
    root = tmp_path_factory.mktemp("compare")
    for searcher, budget in (("evolution", 30), ("random", 20)):
        for seed in (0, 1):
            nasfw.search("nasbench201", SMALL, searcher=searcher, budget=budget, seed=seed,
                         out=str(root / "runs" / f"{searcher}-{seed}"), progress=False)
    return root


def best_within(run_dir, at: int) -> float:
    """Read the store directly: the best accuracy among the first `at` evaluations counted by the budget."""
    counted = [e for e in nasfw.open_run(run_dir).evaluations if e.status in ("ok", "failed")][:at]
    return max(e.metrics["accuracy"] for e in counted if e.status == "ok")


def test_runs_are_grouped_by_searcher_and_read_at_the_shortest_runs_count(runs):
    comp = nasfw.compare_runs(runs / "runs")  # a folder holding runs stands for each
    assert comp.at == 20 and comp.objective.metric == "accuracy" and comp.objective.direction == "max"
    assert comp.differing[0] == "searcher.name"
    assert {g.label for g in comp.groups} == {"searcher.name=evolution", "searcher.name=random"}
    for g in comp.groups:
        expected = [best_within(r, 20) for r in g.runs]
        assert g.values == pytest.approx(expected)
        assert g.mean == pytest.approx(statistics.fmean(expected))
        assert g.std == pytest.approx(statistics.stdev(expected))
        assert (g.best, g.worst) == (max(expected), min(expected))
    assert comp.groups[0].mean >= comp.groups[1].mean  # best first
    first, second = comp.groups
    assert second.p_vs_first == pytest.approx(mannwhitneyu(first.values, second.values).pvalue)
    for r in comp.runs:
        assert r.curve == nasfw.open_run(r.run).best_so_far()  # what the plot draws
        assert r.best == pytest.approx(best_within(r.run, 20))
        assert r.best_overall == pytest.approx(best_within(r.run, r.evaluations))
        counted = [e for e in nasfw.open_run(r.run).evaluations if e.status in ("ok", "failed")]
        assert counted[r.found_at - 1].metrics["accuracy"] == pytest.approx(r.best)  # where it was found
        assert all(e.metrics["accuracy"] < r.best for e in counted[:r.found_at - 1])


def test_runs_of_different_tasks_are_compared_with_a_note(runs, tmp_path):
    """A toy task's accuracy beside NAS-Bench-201's was tabulated as if one scale held both."""
    from tests.conftest import PLUGIN_DIR

    assert nasfw.compare_runs(runs / "runs").caveats == []
    toy = nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, out=tmp_path / "toy", progress=False)
    comp = nasfw.compare_runs([runs / "runs" / "random-0", toy.run_dir], metric="accuracy:max")
    assert comp.caveats == [("the runs score different tasks (nasbench201, toy): their accuracy need not be on one "
                            "scale")]
    assert comp.to_dict()["caveats"] == comp.caveats
    comp.write(tmp_path / "c")
    assert "Note: the runs score different tasks (nasbench201, toy)" in (tmp_path / "c" / "compare.md").read_text()


def test_a_comparison_as_a_dataframe(runs):
    pytest.importorskip("pandas")
    comp = nasfw.compare_runs(runs / "runs")
    df = comp.to_dataframe()
    assert len(df) == 4 and set(df["searcher.name"]) == {"evolution", "random"}
    means = df.groupby("group")["best"].mean()
    assert all(means[g.label] == pytest.approx(g.mean) for g in comp.groups)


def test_at_reads_the_runs_elsewhere_and_a_named_metric_is_compared(runs):
    comp = nasfw.compare_runs([runs / "runs" / "evolution-0", runs / "runs" / "evolution-1"], at=30)
    assert comp.at == 30 and len(comp.groups) == 1 and comp.groups[0].label == "nasbench201"
    assert comp.groups[0].values == pytest.approx([best_within(runs / "runs" / f"evolution-{s}", 30) for s in (0, 1)])
    small = nasfw.compare_runs(runs / "runs", metric="params_m:min", at=5)
    assert small.objective.direction == "min"
    for r in small.runs:
        counted = [e for e in nasfw.open_run(r.run).evaluations if e.status in ("ok", "failed")][:5]
        assert r.best == pytest.approx(min(e.metrics["params_m"] for e in counted))


@pytest.mark.parametrize("kwargs, needle", [
    ({"metric": "params_m"}, "has no objective 'params_m' (its objectives: accuracy:max); name the metric"),
    ({"metric": "accuracy:min"}, "'accuracy' is to be minimised, but run"),
    ({"metric": "accuracy:up"}, "metric = 'accuracy:up'; allowed: a metric name"),
    ({"metric": "energy:min"}, "no evaluation of these runs reports 'energy'"),
    ({"metric": 3}, "metric = 3; allowed"),
    ({"at": 0}, "at = 0; allowed: a positive number of evaluations"),
])
def test_bad_arguments_are_refused_with_the_field(runs, kwargs, needle):
    with pytest.raises(nasfw.ConfigError, match=None) as e:
        nasfw.compare_runs(runs / "runs", **kwargs)
    assert needle in str(e.value)


def test_the_example_direction_is_the_one_the_runs_give_the_metric(runs, tmp_path):
    """Runs of two objectives: the refusal's example said `params_m:max` for a metric the other run minimises."""
    small = nasfw.search("nasbench201", SMALL, budget=3, out=str(tmp_path / "small"), progress=False,
                         objectives=[{"metric": "params_m", "direction": "min"}])
    with pytest.raises(nasfw.ConfigError) as e:
        nasfw.compare_runs([small.run_dir, runs / "runs" / "evolution-0"])
    assert str(e.value).endswith("name the metric to compare with its direction, e.g. metric params_m:min")
    with pytest.raises(nasfw.ConfigError) as e:
        nasfw.compare_runs([small.run_dir, runs / "runs" / "evolution-0"], metric="latency_ms")
    assert str(e.value).endswith("e.g. metric latency_ms:max or latency_ms:min")


def test_folders_that_are_not_runs_are_refused(tmp_path):
    with pytest.raises(nasfw.ConfigError, match="no such folder"):
        nasfw.compare_runs(tmp_path / "missing")
    with pytest.raises(nasfw.ConfigError, match="is not a nasfw run folder .* and holds none"):
        nasfw.compare_runs(tmp_path)


def test_group_names_use_the_fewest_fields_that_tell_the_groups_apart():
    evo = {"searcher.name": "evolution", "searcher.settings.population_size": 20, "searcher.settings.sample_size": 5}
    rnd = {"searcher.name": "random"}
    keys = ["searcher.name", "searcher.settings.population_size", "searcher.settings.sample_size"]
    assert group_labels([evo, rnd, evo], keys) == ["searcher.name=evolution", "searcher.name=random"] + [
        "searcher.name=evolution"]
    evo10 = {**evo, "searcher.settings.population_size": 10}
    labels = group_labels([evo, evo10, rnd], keys)
    assert labels == ["searcher.name=evolution, searcher.settings.population_size=20",
                      "searcher.name=evolution, searcher.settings.population_size=10", "searcher.name=random"]
    # the device tells two of three apart, the supernet switch the third: not every supernet setting
    lima = {"task_options.device": "lima", "phases.supernet.epochs": 100, "phases.supernet.lr": 0.05}
    quito = {**lima, "task_options.device": "quito"}
    off = {"task_options.device": "lima", "phases.supernet": False}
    keys = ["task_options.device", "phases.supernet", "phases.supernet.epochs", "phases.supernet.lr"]
    labels = group_labels([lima, quito, off], keys)
    assert len(set(labels)) == 3 and all("phases.supernet.lr" not in x for x in labels)
    assert labels[1] == "task_options.device=quito"


def test_runs_are_grouped_by_the_fields_named(runs, tmp_path):
    comp = nasfw.compare_runs(runs / "runs", by=["searcher.settings.population_size"])
    assert sorted((g.label, len(g.runs)) for g in comp.groups) == [
        ("searcher.settings.population_size=(unset)", 2), ("searcher.settings.population_size=20", 2)]
    assert comp.differing[0] == "searcher.name"  # what else differs is still said
    one = nasfw.compare_runs(runs / "runs", by=["task"])  # a field every run shares: one group of all four
    assert [(g.label, len(g.runs)) for g in one.groups] == [("task=nasbench201", 4)]
    with pytest.raises(nasfw.ConfigError, match="unknown by field 'searcher'; did you mean 'searcher.name'"):
        nasfw.compare_runs(runs / "runs", by=["searcher"])
    with pytest.raises(nasfw.ConfigError, match="by = 'searcher.name'; allowed: a list of dotted campaign fields"):
        nasfw.compare_runs(runs / "runs", by="searcher.name")
    # the seed is not a setting to group by: it said "unknown by field 'seed'", as if misspelt
    with pytest.raises(nasfw.ConfigError, match="by seed: the seed is what a group's runs differ in"):
        nasfw.compare_runs(runs / "runs", by=["seed"])


def test_a_searcher_named_alone_is_the_same_searcher():
    from nasfw.compare import flat_settings

    assert flat_settings({"searcher": "random", "seed": 3}) == flat_settings({"searcher": {"name": "random"}})


def test_step_values_hold_the_best_until_it_improves():
    values = step_values([(2, 1.0), (5, 3.0)], 6)
    assert np.isnan(values[0]) and list(values[1:]) == [1.0, 1.0, 1.0, 3.0, 3.0]


def test_the_command_prints_both_tables_and_writes_the_report_and_plots(runs, run_cli, tmp_path):
    p = run_cli("compare", runs / "runs", "--out", tmp_path / "cmp", check=True)
    assert "searcher.name=evolution" in p.stdout and "best @20" in p.stdout and "p vs #1" in p.stdout
    assert "the runs have 20 to 30; another count with --at N" in p.stdout
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| 1 | searcher.name=" in md and "![best_so_far](best_so_far.png)" in md
    assert (tmp_path / "cmp" / "best_so_far.png").stat().st_size > 10_000
    assert not (tmp_path / "cmp" / "pareto.png").exists()  # one objective: no fronts
    p = run_cli("compare", runs / "runs", "--metric", "latency")
    assert p.returncode == 2 and p.stderr.startswith("error: --metric: run ") and "Traceback" not in p.stderr


def test_the_files_are_written_when_the_tables_go_to_a_pipe_closed_early(runs, tmp_path):
    """`nasfw compare RUNS --out D | head` left D empty: printing into the closed pipe ended the command first."""
    import subprocess
    import sys

    out = tmp_path / "cmp"
    subprocess.run(f"'{sys.executable}' -m nasfw.cli compare '{runs / 'runs'}' --out '{out}' | head -1", shell=True,
                   check=True, capture_output=True, timeout=120)
    assert (out / "compare.md").is_file() and (out / "best_so_far.png").is_file()


def test_runs_with_two_objectives_get_their_fronts_plotted(tmp_path, run_cli):
    for searcher in ("nsga2", "random"):
        nasfw.search("nasbench201", {**MO, **SMALL}, searcher=searcher, budget=16, out=str(tmp_path / searcher),
                     progress=False)
    comp = nasfw.compare_runs([tmp_path / "nsga2", tmp_path / "random"])
    assert comp.front_metrics == ("params_m", "accuracy")
    for g in comp.groups:
        run = nasfw.open_run(g.runs[0])
        assert sorted(g.front) == sorted({(e.metrics["params_m"], e.metrics["accuracy"]) for e in run.pareto()})
    # each run's hypervolume, computed here as a sum of rectangles on the scale the comparison states
    ref = comp.reference
    pts = {g.runs[0]: [(e.metrics["params_m"], e.metrics["accuracy"]) for e in nasfw.open_run(g.runs[0]).ok]
           for g in comp.groups}
    joint = [pt for run in pts.values() for pt in run]
    front = [joint[i] for i in pareto_front([(-x, y) for x, y in joint])]
    lo_x, hi_x = min(x for x, _ in front), max(x for x, _ in front)
    lo_y, hi_y = min(y for _, y in front), max(y for _, y in front)
    assert ref["params_m"] == pytest.approx(lo_x + HV_MARGIN * (hi_x - lo_x))
    assert ref["accuracy"] == pytest.approx(hi_y - HV_MARGIN * (hi_y - lo_y))
    for r in comp.runs:
        scaled = sorted(((x - lo_x) / (hi_x - lo_x), (hi_y - y) / (hi_y - lo_y)) for x, y in pts[r.run])
        area, floor = 0.0, HV_MARGIN
        for x, y in scaled:  # by rising cost: each point adds the strip below the best loss so far
            if x < HV_MARGIN and y < floor:
                area += (HV_MARGIN - x) * (floor - y)
                floor = y
        assert r.hypervolume == pytest.approx(area / HV_MARGIN ** 2)
    assert "hypervolume" in comp.tables()[0][1]
    out = comp.write(tmp_path / "cmp")
    assert [p.rsplit("/", 1)[1] for p in out["plots"]] == ["best_so_far.png", "pareto.png"]
    p = run_cli("compare", tmp_path / "nsga2", tmp_path / "random", "--json", check=True)
    import json

    data = json.loads(p.stdout)
    assert data["metric"] == "accuracy" and {g["label"] for g in data["groups"]} == {"searcher.name=nsga2",
                                                                                      "searcher.name=random"}


def test_the_pareto_front_is_every_point_no_other_dominates():
    rng = np.random.default_rng(0)
    for d in (2, 3):
        pts = rng.random((300, d))
        pts[::7] = pts[3]  # ties and duplicates
        pairwise = [i for i, p in enumerate(pts) if not any(dominates(q, p) for j, q in enumerate(pts) if j != i)]
        assert pareto_front(pts) == pairwise


def test_a_run_not_yet_started_does_not_set_the_count(runs, tmp_path):
    import shutil
    import sqlite3

    empty = tmp_path / "empty"
    shutil.copytree(runs / "runs" / "random-0", empty)
    with sqlite3.connect(empty / "nasfw.sqlite") as c:
        c.execute("DELETE FROM evaluations")
    comp = nasfw.compare_runs([runs / "runs" / "evolution-0", runs / "runs" / "random-1", empty])
    assert comp.at == 20
    assert [r.best for r in comp.runs if r.run == str(empty)] == [None]
    assert [g.without_value for g in comp.groups if str(empty) in g.runs] == [1]


FINALIZING = """
from nasfw import Choice, Space, hookimpl


class Task:
    def __init__(self, offset: float = 0.0, seed: int = 0):
        self.offset = offset

    def evaluate(self, arch):
        return {"score": arch["a"] + self.offset}

    def finalize(self, arch, run_dir):
        return {"retrained": {"score": 10 * arch["a"] + self.offset, "ok": True}, "rows": [{"x": 1}], "note": "n"}


@hookimpl
def nasfw_register_search_spaces(register):
    register("fin", lambda: Space([Choice("a", [1, 2, 3, 4, 5, 6])], name="fin"))


@hookimpl
def nasfw_register_tasks(register):
    register("fin", Task)
"""


def test_what_each_runs_finalize_reported_is_compared_per_group(tmp_path, run_cli):
    """The paper's figures come after the search (QuantumNAS's qiskit-aer accuracy, NAAS's EDP gain): each number of
    summary.json's `task` is put beside the other groups', mean and spread over each group's seeds."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "fin.py").write_text(FINALIZING)
    for offset in (0.0, 0.5):
        for seed in (0, 1):
            nasfw.search(config={"space": "fin", "task": "fin", "task_options": {"offset": offset},
                                 "objectives": [{"metric": "score"}], "searcher": "random", "budget": 3},
                         plugins_dirs=[tmp_path / "plugins"], seed=seed, progress=False,
                         out=str(tmp_path / "runs" / f"{offset}-{seed}"))
    comp = nasfw.compare_runs(tmp_path / "runs")
    assert [g.label for g in comp.groups] == ["task_options.offset=0.5", "task_options.offset=0.0"]
    assert list(comp.final) == ["retrained.score"]  # flags, text and row lists are left out
    for g, values in zip(comp.groups, comp.final["retrained.score"]):
        runs = [nasfw.open_run(r) for r in g.runs]
        assert values == [10 * r.finalized["best"]["arch"]["a"] + r.campaign.task_options["offset"] for r in runs]
    title, head, rows = comp.tables()[2]
    assert head == ["value", "#1", "#2"] and rows[0][0] == "retrained.score"
    assert comp.to_dict()["final"]["retrained.score"]["task_options.offset=0.5"] == comp.final["retrained.score"][0]
    p = run_cli("compare", tmp_path / "runs", check=True)
    assert "after the search (each run's finalize, summary.json)" in p.stdout


def test_a_folder_of_runs_given_for_one_run_names_them(runs):
    """`nasfw show runs/` said only that it is not a run folder; `compare` takes such a folder, `show` one run."""
    with pytest.raises(nasfw.NasfwError) as e:
        nasfw.open_run(runs / "runs")
    assert str(e.value).endswith("; it holds runs: evolution-0, evolution-1, random-0, random-1 (name one, e.g. "
                                 f"{str(runs / 'runs' / 'evolution-0')!r})")


def test_a_folder_of_runs_given_as_the_run_to_start_from_names_them(runs, nb201_table):
    from nasfw.api import resolve_campaign
    from nasfw.registry import get_registry
    from nasfw.runner import build

    reg = get_registry()
    campaign = resolve_campaign(reg, "nasbench201", {"task_options": {"path": nb201_table},
                                                     "searcher": {"initial": {"run": str(runs / "runs"), "top": 2}}})
    with pytest.raises(nasfw.ConfigError, match=r"searcher.initial.run = .*: no nasfw run there \(no nasfw.sqlite\); "
                                                r"it holds runs: evolution-0, evolution-1, random-0, random-1"):
        build(campaign, reg)


def test_a_task_seed_equal_to_the_runs_seed_is_a_seed_not_a_setting(tmp_path):
    """A campaign that writes the task's seed beside its own (bench/quantumnas_seeds.py did, as scripts made before
    the runner passed the seed down do) made one group per seed, each of one run: the seeds were never pooled."""
    for searcher in ("evolution", "random"):
        for seed in (0, 1):
            nasfw.search("nasbench201", SMALL, searcher=searcher, budget=10, seed=seed, task_options={"seed": seed},
                         out=str(tmp_path / "runs" / f"{searcher}-{seed}"), progress=False)
    comp = nasfw.compare_runs(tmp_path / "runs")
    assert comp.differing[0] == "searcher.name" and "task_options.seed" not in comp.differing
    assert sorted(len(g.runs) for g in comp.groups) == [2, 2]
    # a task seed that differs from the run's own is the user's setting, and groups as one
    nasfw.search("nasbench201", SMALL, searcher="random", budget=10, seed=1, task_options={"seed": 5},
                 out=str(tmp_path / "runs" / "random-1-task5"), progress=False)
    assert "task_options.seed" in nasfw.compare_runs(tmp_path / "runs").differing
