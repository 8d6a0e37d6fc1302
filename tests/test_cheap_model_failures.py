"""A cheap cost model that cannot cost some architectures: each is recorded as a failed evaluation naming the
model, never sent to a worker, and the search goes on. It stopped the run with a traceback from the driver (a
string metric compared with a bound, None from evaluate), and a NaN was taken for a broken constraint."""
import numpy as np
import pytest

from nasfw.campaign import parse
from nasfw.registry import Registry
from nasfw.results import RunView
from nasfw.runner import run_campaign
from tests.conftest import PLUGIN_DIR

PICKY = '''
from nasfw import hookimpl


class Picky:
    """Costs every op but "c"."""
    name = "picky"
    cheap = True

    def __init__(self, mode: str = "raise"):
        self.mode = mode

    def evaluate(self, arch):
        if arch["op"] != "c":
            return {"mem": float(arch["width"])}
        if self.mode == "raise":
            raise ValueError("cannot cost op c")
        if self.mode == "none":
            return None
        return {"mem": {"text": "12", "nan": float("nan")}[self.mode]}


@hookimpl
def nasfw_register_cost_models(register):
    register("picky", Picky, "fails on op c", cheap=True)
'''


def _seed_whose_first_draw_is_costed(space) -> int:
    """The campaign's build costs one arch drawn with its seed (a model that can cost none is refused there)."""
    return next(s for s in range(100) if space.sample(np.random.default_rng(s))["op"] != "c")


@pytest.mark.parametrize("mode, error", [
    ("raise", "cost model 'picky': ValueError: cannot cost op c (at picky.py:"),
    ("text", "cost model 'picky': metric 'mem' is NaN or not a number: '12'"),
    ("nan", "cost model 'picky': metric 'mem' is NaN or not a number: nan"),
    ("none", "cost model 'picky': evaluate returned None, not a mapping of metrics"),
])
@pytest.mark.parametrize("constrained", [True, False])
def test_an_architecture_a_cheap_model_cannot_cost_is_a_failed_evaluation(tmp_path, mode, error, constrained):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "picky.py").write_text(PICKY)
    dirs = (str(PLUGIN_DIR), str(tmp_path / "plugins"))
    reg = Registry(dirs)
    raw = {"space": "toy", "task": "toy", "objectives": [{"metric": "score"}], "searcher": "random", "budget": 24,
           "hardware": [{"name": "picky", "options": {"mode": mode}}], "out": str(tmp_path / "run"),
           "seed": _seed_whose_first_draw_is_costed(reg.space("toy"))}
    if constrained:
        raw["constraints"] = [{"metric": "mem", "max": 1000}]
    summary = run_campaign(parse(raw), reg, progress=False, plugins_dirs=dirs)
    assert summary["evaluations"] == 24 and summary["ok"] > 0 and summary["failed"] > 0
    view = RunView.open(tmp_path / "run")
    failed = [e for e in view.evaluations if e.status == "failed"]
    assert failed and all(e.arch["op"] == "c" and e.error.startswith(error) for e in failed)
    assert all(e.worker == "driver" and e.metrics == {} for e in failed)  # never sent to the task
    assert all(e.arch["op"] != "c" for e in view.ok)
