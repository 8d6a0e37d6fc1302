"""`nasfw plugins NAME`: the options each component takes, listed from the signatures that check a campaign, so
what it lists is exactly what a campaign may set."""
import inspect
import json
import re

import pytest

from nasfw import list_options
from nasfw.errors import ConfigError
from nasfw.registry import check_options, get_registry
from nasfw.searchers.base import make_searcher
from nasfw.space import Choice, Space

REG = get_registry()
SPACE = Space([Choice("a", [1, 2, 3]), Choice("b", [1, 2])])


def _allowed_by_the_check(check) -> list[str] | None:
    """The names a check accepts, read from its refusal of a name nobody uses (None: it takes any name)."""
    try:
        check({"zz_not_an_option": 1})
    except ConfigError as e:
        return json.loads(re.search(r"allowed: (\[.*?\])", str(e)).group(1).replace("'", '"'))
    return None


def _cases():
    for kind in ("tasks", "search_spaces", "cost_models", "searchers"):
        for name in REG.names(kind):
            yield kind, name


@pytest.mark.parametrize("kind,name", list(_cases()))
def test_what_is_listed_is_what_the_campaign_check_accepts(kind, name):
    """Every listed option, at its default, passes the check; every name the check allows is listed (the phase
    methods' `progress` aside: the run sets it)."""
    c = list_options.component(REG, kind, name)
    obj = REG.entry(kind, name).obj
    checks = {}
    if kind == "searchers":
        checks["searcher.settings"] = lambda o: make_searcher(obj, SPACE, o)
    else:
        field = list_options.FIELDS[kind]
        checks[field] = lambda o: check_options(obj, o, field)
    if "phases.supernet" in c["fields"]:
        checks["phases.supernet"] = lambda o: check_options(obj.train_supernet, o, "phases.supernet", skip=2)
    if "phases.finalize.task" in c["fields"]:
        checks["phases.finalize.task"] = lambda o: check_options(obj.finalize, o, "phases.finalize.task", skip=3)
    assert set(checks) == set(c["fields"])
    for field, check in checks.items():
        listed = [o.name for o in c["fields"][field]]
        allowed = _allowed_by_the_check(check)
        if allowed is not None:
            assert sorted(listed) == sorted(a for a in allowed if a not in list_options.ENGINE_FILLED), field
        for o in c["fields"][field]:
            if o.default is not inspect.Parameter.empty and kind != "searchers":
                check({o.name: o.default})


def test_a_searchers_settings_with_their_defaults_and_bounds(run_cli):
    p = run_cli("plugins", "reinforce")
    assert p.returncode == 0, p.stderr
    lines = {line.split()[0]: line for line in p.stdout.splitlines()[2:]}
    assert re.search(r"lr\s+0\.01\s+a number > 0$", lines["lr"])
    assert re.search(r"baseline_decay\s+0\.9\s+a number >= 0 and < 1$", lines["baseline_decay"])
    assert re.search(r"reward\s+\"objective\"\s+one of 'objective', 'mnasnet'$", lines["reward"])
    assert not {"space", "seed", "objectives", "constraints", "feasible"} & set(lines)


def test_a_plugin_lists_its_tasks_phases(run_cli):
    p = run_cli("plugins", "quantumnas", "--json")
    assert p.returncode == 0, p.stderr
    found = {(c["kind"], c["name"]): c for c in json.loads(p.stdout)}
    qml = found[("task", "quantumnas-qml")]["fields"]
    assert {o["name"] for o in qml["task_options"]} >= {"dataset", "classes", "device", "noise"}
    assert next(o for o in qml["phases.supernet"] if o["name"] == "epochs")["allowed"] == "an integer >= 1"
    shots = next(o for o in qml["phases.finalize.task"] if o["name"] == "shots")
    assert shots["allowed"] == "an integer >= 1" and not shots["required"]
    names = {o["name"] for opts in qml.values() for o in opts}
    assert not {"self", "run_dir", "arch", "progress"} & names
    assert ("search space", "supercircuit") in found and ("cost model", "ibmq-compiled") in found
    assert found[("campaign", "quantumnas")]["notes"] == [
        ("task quantumnas-qml, space supercircuit, searcher ofa-evolution {\"population_size\": 20, \"parent_ratio\": "
        "0.25, \"mutation_ratio\": 0.5, \"mutate_prob\": 0.4}, 200 evaluations"),
        "--budget: small 60, medium 200, large 600, paper 1600 (and objectives, task_options, searcher, phases)"]


def test_an_unknown_name_is_refused_with_the_known_ones(run_cli):
    p = run_cli("plugins", "reinforc")
    assert p.returncode == 2
    assert "'reinforc' is neither a plugin nor a component of one; known:" in p.stderr
    assert "reinforce" in p.stderr and "Traceback" not in p.stderr


def test_a_plugin_that_failed_to_load_says_why(run_cli):
    from tests.conftest import PLUGIN_DIR

    p = run_cli("plugins", "broken", "--plugins-dir", PLUGIN_DIR)
    assert p.returncode == 2
    assert "nasfw plugins: plugin 'broken' failed to load: import failed" in p.stderr
    assert "ModuleNotFoundError" in p.stderr
