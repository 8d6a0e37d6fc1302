"""nasfw.search with Python objects in place of names: a task function, class or object, a Space, a Searcher."""
import json
import subprocess
import sys
import textwrap

import pytest

import nasfw
from nasfw import Choice, IntRange, Space
from nasfw.errors import ConfigError
from nasfw.searchers import Searcher

SPACE = Space([IntRange("width", 8, 64, step=8), Choice("kernel", [3, 5, 7])], name="mine")


def score(arch):
    return {"acc": arch["width"] / 64 + arch["kernel"] / 70}


class Scaled:
    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def evaluate(self, arch):
        return {"acc": self.scale * arch["width"]}


class Widest(Searcher):
    """Proposes the widths in order, widest first."""
    _state = ("next_width",)

    def __init__(self, space, objectives=None, constraints=None, seed=0, feasible=None):
        super().__init__(space, objectives, constraints, seed, feasible)
        self.next_width = 64

    def _ask(self):
        arch = {"width": self.next_width, "kernel": 3}
        self.next_width = max(8, self.next_width - 8)
        return arch

    def _tell(self, arch, result):
        pass


def test_a_function_and_a_space_search_without_a_plugin(tmp_path):
    run = nasfw.search(task=score, space=SPACE, objectives=["acc"], searcher="evolution", budget=12,
                       out=tmp_path / "fn", progress=False)
    assert run.summary()["ok"] == 12 and run.best.metrics["acc"] == pytest.approx(max(
        score(e.arch)["acc"] for e in run.ok))
    # the run folder is an ordinary one: show reads it without the objects
    p = subprocess.run([sys.executable, "-m", "nasfw.cli", "show", str(tmp_path / "fn"), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["summary"]["ok"] == 12
    # the command line cannot continue or export it without the objects, and says so (not "unknown task")
    for args, hint in ((["search", "--resume", "--out", str(tmp_path / "fn")], "continue it from Python"),
                       (["export", str(tmp_path / "fn")], "its best architecture is in")):
        p = subprocess.run([sys.executable, "-m", "nasfw.cli", *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and "given to nasfw.search as a Python object" in p.stderr and hint in p.stderr
    # a resume takes the same objects again and continues
    more = nasfw.search(task=score, space=SPACE, objectives=["acc"], searcher="evolution", budget=20,
                        out=tmp_path / "fn", resume=True, progress=False)
    assert more.summary()["ok"] == 20


def test_a_task_class_takes_its_options_and_a_searcher_class_searches(tmp_path):
    run = nasfw.search(task=Scaled, task_options={"scale": 2}, space=SPACE, objectives=["acc"], searcher=Widest,
                       budget=3, out=tmp_path / "cls", progress=False)
    widths = sorted(e.arch["width"] for e in run.ok)
    assert widths == [48, 56, 64] and run.best.metrics["acc"] == 128
    env = run.environment["plugins"]["python"]
    assert env["source"] == "objects given to nasfw.search" and len(env["sha256"]) == 12
    with pytest.raises(ConfigError, match="task_options.scale = 'x' is not allowed"):
        nasfw.search(task=Scaled, task_options={"scale": "x"}, space=SPACE, objectives=["acc"], searcher="random",
                     budget=2, out=tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="cannot be given to a task object"):
        nasfw.search(task=Scaled(), task_options={"scale": 3}, space=SPACE, objectives=["acc"], searcher="random",
                     budget=2, out=tmp_path / "obj", progress=False)


def test_objects_are_refused_where_evaluations_run_in_other_processes(tmp_path):
    with pytest.raises(ConfigError, match="workers: 2 evaluates in other processes"):
        nasfw.search(task=score, space=SPACE, objectives=["acc"], searcher="random", budget=4, workers=2,
                     out=tmp_path / "w", progress=False)
    assert not (tmp_path / "w").exists()  # refused before the run folder
    with pytest.raises(ConfigError, match="allowed: a task's name, a class or object"):
        nasfw.search(task=42, space=SPACE, objectives=["acc"], searcher="random", budget=4, out=tmp_path / "n",
                     progress=False)


def test_an_edited_function_is_other_code_on_resume(tmp_path):
    """The objects' source is the plugin's code: a resume after an edit says so, as for an edited plugin file."""
    script = textwrap.dedent('''
        import sys
        import nasfw
        from nasfw import Choice, Space

        def score(arch):
            return {"acc": float(arch["a"]) * BONUS}

        space = Space([Choice("a", [1, 2, 3, 4, 5, 6])])
        nasfw.search(task=score, space=space, objectives=["acc"], searcher="random", budget=int(sys.argv[1]),
                     out=sys.argv[2], resume=sys.argv[3] == "1", progress=False)
    ''')
    out = tmp_path / "run"
    for i, (budget, resume, text) in enumerate([(3, "0", script.replace("BONUS", "1")),
                                               (5, "1", script.replace("BONUS", "1")),
                                               (6, "1", script.replace("BONUS", "2"))]):
        (tmp_path / "s.py").write_text(text)
        p = subprocess.run([sys.executable, str(tmp_path / "s.py"), str(budget), str(out), resume],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        assert ("began with other code or data (plugin python" in p.stdout + p.stderr) == (i == 2), p.stderr


class Memory:
    """A cheap cost model given as a class: it filters in this process, whatever the workers."""
    cheap = True

    def evaluate(self, arch):
        return {"mem_kb": arch["width"] * arch["kernel"] / 10}


class Latency:
    cheap = False

    def evaluate(self, arch):
        return {"ms": arch["width"] / 8}


def test_cost_models_given_as_objects(tmp_path):
    run = nasfw.search(task=score, space=SPACE, hardware=[Memory, Latency()], objectives=["acc"],
                       constraints=[{"metric": "mem_kb", "max": 20}], searcher="evolution", budget=10,
                       out=tmp_path / "hw", progress=False)
    assert [name for name, _ in run.campaign.hardware] == ["Memory", "Latency"]
    assert all(e.metrics["mem_kb"] <= 20 and e.metrics["ms"] == e.arch["width"] / 8 for e in run.ok)
    # a cheap one runs in the driver, so workers may evaluate a task from a plugin; an expensive one may not
    with pytest.raises(ConfigError, match="cost model 'Latency' was given as a Python object"):
        nasfw.search("nasbench201", hardware=[Latency()], searcher="random", budget=4, workers=2,
                     out=tmp_path / "w", progress=False)
    with pytest.raises(ConfigError, match=r"hardware\[0\] = 3 is not allowed; allowed: a cost model's name, a "
                                          r"\{name, options\} mapping"):
        nasfw.search(task=score, space=SPACE, hardware=[3], objectives=["acc"], searcher="random", budget=4,
                     out=tmp_path / "n", progress=False)


def test_a_redefined_function_is_the_one_evaluated(tmp_path):
    """Each process keeps its built tasks by name and options; a notebook cell that redefined `evaluate` (or a
    second lambda: all are named '<lambda>') registered the new function, and the second search went on
    evaluating the first one."""
    def evaluate(arch):
        return {"acc": 1.0}

    first = nasfw.search(task=evaluate, space=SPACE, objectives=["acc"], searcher="random", budget=3,
                         out=tmp_path / "a", progress=False)

    def evaluate(arch):  # noqa: F811 - the cell, edited and run again
        return {"acc": 2.0}

    second = nasfw.search(task=evaluate, space=SPACE, objectives=["acc"], searcher="random", budget=3,
                          out=tmp_path / "b", progress=False)
    third = nasfw.search(task=lambda arch: {"acc": 3.0}, space=SPACE, objectives=["acc"], searcher="random",
                         budget=3, out=tmp_path / "c", progress=False)
    assert [{e.metrics["acc"] for e in run.ok} for run in (first, second, third)] == [{1.0}, {2.0}, {3.0}]


@pytest.mark.parametrize("returned, shown", [([1, 2], "list [1, 2]"), (None, "None"), (0.5, "float 0.5")])
def test_a_task_that_returns_no_mapping_is_named(tmp_path, returned, shown):
    """dict() of a list failed as "cannot convert dictionary update sequence element #0 to a sequence (at
    evaluation.py:...)", of None as "'NoneType' object is not iterable"."""
    with pytest.warns(RuntimeWarning, match="every evaluation"):
        run = nasfw.search(task=lambda arch: returned, space=SPACE, objectives=["acc"], searcher="random",
                           budget=2, out=tmp_path / "r", progress=False)
    assert {e.error for e in run.evaluations} == {
        f"NotMetrics: evaluate of task 'lambda_' returned {shown}, not a mapping of metrics {{name: number}}"}


def test_numbers_from_numpy_and_torch_are_metrics(tmp_path):
    """An accuracy computed with numpy (float32) or torch (`(pred == y).float().mean()`, a 0-d tensor) failed
    every evaluation with "metric 'acc' is NaN or not a number: tensor(0.9100)"."""
    import numpy as np
    import torch

    def evaluate(arch):
        return {"acc": torch.tensor(arch["width"] / 64.0, requires_grad=True) * 1, "w": np.float32(arch["width"]),
                "k": np.int64(arch["kernel"]), "one": np.array([1.5])}
    run = nasfw.search(task=evaluate, space=SPACE, objectives=["acc"], searcher="random", budget=4,
                       out=tmp_path / "r", progress=False)
    assert run.summary()["ok"] == 4
    for e in run.ok:
        assert e.metrics == {"acc": pytest.approx(e.arch["width"] / 64), "w": e.arch["width"],
                             "k": e.arch["kernel"], "one": 1.5}
        assert all(type(v) is float for v in e.metrics.values())


@pytest.mark.parametrize("value", ["0.5", None, [0.5, 0.6], float("nan")])
def test_what_holds_no_single_number_is_still_refused(tmp_path, value):
    import numpy as np

    value = np.array(value) if isinstance(value, list) else value
    with pytest.warns(RuntimeWarning, match="every evaluation"):
        run = nasfw.search(task=lambda arch: {"acc": value}, space=SPACE, objectives=["acc"], searcher="random",
                           budget=2, out=tmp_path / "r", progress=False)
    assert {e.error for e in run.evaluations} == {f"metric 'acc' is NaN or not a number: {value!r}"}


def test_a_campaign_without_a_searcher_names_some(tmp_path):
    with pytest.raises(ConfigError, match=r"campaign.searcher is missing; it must be a searcher name or \{name, "
                                          r"settings, initial\} \(e.g. evolution, random, bayes; `nasfw plugins` "):
        nasfw.search(task=score, space=SPACE, objectives=["acc"], budget=2, out=tmp_path / "r", progress=False)
