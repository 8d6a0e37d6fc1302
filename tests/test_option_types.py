"""Options checked against the type hints of the factories and phase methods that take them."""
import functools
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from nasfw.api import resolve_campaign
from nasfw.campaign import load_yaml, merge, parse
from nasfw.errors import ConfigError
from nasfw.option_types import (Bounds, Fraction, NonNegativeInt, PositiveFloat, PositiveInt, coerce_option,
                                describe, hints_of)
from nasfw.registry import Registry, check_options, get_registry
from nasfw.phase_options import check_phase_options
from nasfw.runner import build
from tests.conftest import PLUGIN_DIR, ROOT


@pytest.mark.parametrize("value,hint,expected", [
    (3, int, 3), (3, float, 3), (2.5, float, 2.5), ("1e-3", float, 1e-3), ("2", float, 2.0),
    (True, bool, True), ("x", str, "x"), (None, int | None, None), (5, int | None, 5),
    (48, int | Sequence[int], 48), ([48, 56], int | Sequence[int], [48, 56]), (["a"], Sequence[str], ["a"]),
    ({"trivial": 2}, dict[str, int] | None, {"trivial": 2}), ("h2", str | dict, "h2"), ({"geometry": []}, str | dict,
                                                                                            {"geometry": []}),
    ([1, "1e-2"], list[float], [1, 1e-2]), ("a", Literal["a", "b"], "a"), ("1e-3", str | float, "1e-3"),
    ("runs/x", Path, "runs/x"), (object, Any, object),
    (1, PositiveInt, 1), (0, NonNegativeInt, 0), ("5e-3", PositiveFloat, 5e-3), (0, Fraction, 0), (1, Fraction, 1),
    (None, PositiveInt | None, None), (2, typing.Annotated[int, Bounds(low=2)], 2),
    (1, typing.Annotated[float, Bounds(low=0, high=1, low_open=True)], 1),
])
def test_values_that_fit_their_hint_pass_as_the_factory_takes_them(value, hint, expected):
    assert coerce_option(value, hint, "f") == expected


@pytest.mark.parametrize("value,hint,allowed", [
    ("x", int, "an integer"), (True, int, "an integer"), (2.5, int, "an integer"), ("fast", float, "a number"),
    ("nan", float, "a number"), (float("nan"), float, "a number"), (float("inf"), float, "a number"),
    (float("nan"), PositiveFloat, "a number > 0"), (float("inf"), PositiveFloat, "a number > 0"),
    (float("nan"), Fraction, "a number from 0 to 1"), (True, float, "a number"), (1, bool, "true or false"),
    (5, str, "a string"),
    (None, int, "an integer"), (2.5, int | None, "an integer or null"),
    ("mobilenetv2", Sequence[str], "a list (each a string)"),  # a string is not a list of names
    ([48, "x"], int | Sequence[int], "an integer or a list (each an integer)"),
    ([1], dict[str, int] | None, "a mapping (a string -> an integer) or null"),
    (3, str | dict, "a string or a mapping"),
    ("c", Literal["a", "b"], "one of 'a', 'b'"), ({"a": 1}, list, "a list"),
    (0, PositiveInt, "an integer >= 1"), (-1, NonNegativeInt, "an integer >= 0"), (0, PositiveFloat, "a number > 0"),
    ("-1e-3", PositiveFloat, "a number > 0"), (1.5, Fraction, "a number from 0 to 1"),
    (True, PositiveInt, "an integer >= 1"), (0, PositiveInt | None, "an integer >= 1 or null"),
    (0, typing.Annotated[float, Bounds(low=0, high=1, low_open=True)], "a number > 0 and <= 1"),
])
def test_values_that_do_not_fit_name_the_field_the_value_and_what_is_allowed(value, hint, allowed):
    with pytest.raises(ConfigError) as e:
        coerce_option(value, hint, "task 't' option 'o'")
    assert str(e.value) == f"task 't' option 'o' = {value!r} is not allowed; allowed: {allowed}"
    assert describe(hint) == allowed


class _Own:
    pass


def test_hints_this_module_cannot_judge_let_the_value_through():
    def f(a: "NoSuchType" = None, b: _Own = None):  # noqa: F821 - a forward reference that does not resolve
        pass
    assert hints_of(f) == {}  # nothing is judged rather than something wrongly refused
    assert check_options(f, {"a": "anything"}, "task 'f'") == {"a": "anything"}

    def g(b: _Own = None, c: int = 0):
        pass
    # a plugin's own class: YAML never holds one, so the factory converts the value itself
    assert check_options(g, {"b": {"from": "yaml"}}, "task 'g'") == {"b": {"from": "yaml"}}
    with pytest.raises(ConfigError, match="option 'c' = 'x' is not allowed; allowed: an integer"):
        check_options(g, {"b": 3, "c": "x"}, "task 'g'")


def test_hints_come_through_classes_and_partials():
    class Model:
        def __init__(self, device: str = "x", n: int = 1, **options: Any):
            pass
    assert hints_of(functools.partial(Model, device="y"))["n"] is int
    # **options: the named ones are still checked, the rest are the factory's own business
    with pytest.raises(ConfigError, match="option 'n' = 'two' is not allowed; allowed: an integer"):
        check_options(functools.partial(Model, device="y"), {"n": "two", "other": 1}, "cost model 'm'")
    assert check_options(Model, {"other": "kept"}, "cost model 'm'") == {"other": "kept"}


def test_every_first_party_factory_and_phase_method_has_hints_that_resolve():
    """A factory whose hints do not resolve is silently unchecked; keep every shipped one checkable."""
    reg = get_registry()
    for kind in ("search_spaces", "tasks", "cost_models"):
        for name in reg.names(kind):
            obj = reg.entry(kind, name).obj
            if getattr(obj, "__module__", "").startswith("tests") or name == "toy":
                continue
            hints = hints_of(obj)
            assert hints or name == "nasbench201" and kind == "search_spaces", (kind, name)
            if kind == "tasks":
                for m in ("train_supernet", "finalize"):
                    if hasattr(obj, m):
                        assert hints_of(getattr(obj, m)), (name, m)


@pytest.mark.parametrize("plugin,patch,needle", [
    ("tinynas", {"task_options": {"batch_size": "x"}}, ("task_options.batch_size = 'x' is not allowed; "
     "allowed: an integer >= 2")),
    ("tinynas", {"task_options": {"resolutions": [48, "x"]}}, ("task_options.resolutions = [48, 'x'] is not allowed; "
     "allowed: an integer from 16 to 1024 or a list (each an integer from 16 to 1024)")),
    ("naas", {"task_options": {"networks": "mobilenetv2"}}, ("task_options.networks = 'mobilenetv2' is not "
     "allowed; allowed: a list (each vgg16, resnet50, mobilenetv2, squeezenet, mnasnet, unet, or an .onnx model's "
     "path)")),
    ("naas", {"task_options": {"n_random": "x"}}, "task_options.n_random = 'x' is not allowed"),
    ("quantumnas", {"space_options": {"n_blocks": 2.5}}, ("space_options.n_blocks = 2.5 is "
     "not allowed; allowed: an integer from 1 to 100 or null")),
    ("tinynas", {"task_options": {"seed": -1}}, ("task_options.seed = -1 is not allowed; allowed: an "
     "integer from 0 to 4294967295")),
    ("naas", {"task_options": {"seed": 2**33}}, "task_options.seed = 8589934592 is not allowed"),
    ("nasbench201", {"seed": -1}, "campaign.seed = -1 is not allowed; allowed: an integer from 0 to 4294967295"),
    # the fixed sets and ranges of the shipped plugins' options, refused by their hints (and so listed by
    # `nasfw plugins NAME`), not only by the plugin's own code after the hint let any string or integer through
    ("quantumnas", {"task_options": {"noise": "densty"}}, ("task_options.noise = 'densty' is not allowed; allowed: "
     "one of 'density', 'trajectories', 'proxy', 'none'; did you mean 'density'?")),
    ("quantumnas", {"task_options": {"optimization_level": True}}, ("task_options.optimization_level = True is not "
     "allowed; allowed: one of 0, 1, 2, 3")),
    ("quantumnas", {"task_options": {"noise_scale": 0}}, ("task_options.noise_scale = 0 is not allowed; allowed: a "
     "number > 0 and <= 100")),
    ("quantumnas", {"task_options": {"trajectories": 1}}, ("task_options.trajectories = 1 is not allowed; allowed: an "
     "integer >= 2")),
    ("quantumnas", {"space_options": {"layout_sampling": "connect"}}, ("space_options.layout_sampling = 'connect' is "
     "not allowed; allowed: one of 'auto', 'uniform', 'connected'; did you mean 'connected'?")),
    ("quantumnas", {"hardware": [{"name": "ibmq-compiled", "options": {"optimization_level": 4}}]},
     "hardware[0].options.optimization_level = 4 is not allowed; allowed: one of 0, 1, 2, 3"),
    ("tinynas", {"task_options": {"memory": "tiny-engine"}}, ("task_options.memory = 'tiny-engine' is not allowed; "
     "allowed: one of 'per-layer', 'in-place-depthwise', 'tinyengine'; did you mean 'tinyengine'?")),
    ("tinynas", {"task_options": {"width_mult": 0}}, ("task_options.width_mult = 0 is not allowed; allowed: a number > "
     "0 and <= 4")),
    ("tinynas", {"hardware": [{"name": "stm32f401", "options": {"bits": 16}}]}, ("hardware[0].options.bits = 16 is "
     "not allowed; allowed: one of 8, 4")),
    ("naas", {"task_options": {"mapping": "row_stationary"}}, ("task_options.mapping = 'row_stationary' is not "
     "allowed; allowed: one of 'search', 'row-stationary'; did you mean 'row-stationary'?")),
    ("naas", {"space_options": {"max_pes": 4}}, "space_options.max_pes = 4 is not allowed; allowed: an integer >= 8"),
    ("nasbench201", {"task_options": {"seed_mode": "samples"}}, ("task_options.seed_mode = 'samples' is not allowed; "
     "allowed: one of 'mean', 'sample'; did you mean 'sample'?")),
    # an option the factory does not take is named as written too, with the ones it does take
    ("quantumnas", {"task_options": {"nois": "none"}}, ("task_options.nois is not an option of task 'quantumnas-qml' "
     "(did you mean 'noise'?); allowed: ['dataset', ")),
    ("tinynas", {"hardware": [{"name": "stm32f401", "options": {"bit": 4}}]}, ("hardware[0].options.bit is not an "
     "option of cost model 'stm32f401' (did you mean 'bits'?)")),
])
def test_a_mistyped_option_of_a_shipped_plugin_fails_before_any_work(plugin, patch, needle, nb201_table):
    reg = get_registry()
    if plugin == "nasbench201":
        patch = merge(patch, {"task_options": {"path": nb201_table}})
    with pytest.raises(ConfigError) as e:
        build(resolve_campaign(reg, plugin, patch), reg)  # as a run resolves it: with the task's campaign_defaults
    assert needle in str(e.value)


def test_phase_options_are_checked_and_yaml_number_text_becomes_a_number(tmp_path):
    """YAML 1.1 reads `lr: 1e-3` as text: the method that takes `lr: float` gets the number."""
    reg = Registry(plugins_dirs=[PLUGIN_DIR])
    base = {"space": "toy", "task": "toy", "objectives": [{"metric": "score"}], "searcher": "random", "budget": 2,
            "task_options": {"sleep": "1e-3"}}
    camp = parse({**base, "phases": {"supernet": {"epochs": 2}}})
    comps = build(camp, reg)
    assert comps.task.sleep == 1e-3
    check_phase_options(camp, comps.task)
    with pytest.raises(ConfigError, match=r"phases.supernet.epochs = 'x' is not allowed; allowed: an "
                                          r"integer"):
        check_phase_options(parse({**base, "phases": {"supernet": {"epochs": "x"}}}), comps.task)


def test_yaml_number_text_reaches_a_real_phase_method_as_a_number(tmp_path):
    reg = get_registry()
    camp = resolve_campaign(reg, "tinynas", {"phases": {"supernet": {"lr": "1e-3"},
                                                        "finalize": {"task": {"lr": "2e-4"}}}})
    check_phase_options(camp, build(camp, reg).task)
    assert camp.phases["supernet"]["lr"] == 1e-3 and camp.phases["finalize"]["task"]["lr"] == 2e-4
    assert camp.raw["phases"]["supernet"]["lr"] == "1e-3"  # the campaign file as written is left alone


def test_every_shipped_experiment_passes_the_option_checks():
    """The type hints must accept what the project's own campaign files write."""
    reg = get_registry()
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        raw = load_yaml(path)
        camp = resolve_campaign(reg, raw.get("plugin"), raw)  # with the space options the task implies
        if not isinstance(camp.space, dict):
            check_options(reg.entry("search_spaces", camp.space).obj, camp.space_options, path.name)
        check_options(reg.entry("tasks", camp.task).obj, camp.task_options, path.name)
        for name, options in camp.hardware:
            if not name.endswith((".yaml", ".yml")):
                check_options(reg.entry("cost_models", name).obj, options, path.name)
        task_cls = reg.entry("tasks", camp.task).obj
        sup = camp.phases.get("supernet")
        if isinstance(sup, dict) and hasattr(task_cls, "train_supernet"):
            check_options(task_cls.train_supernet, sup, path.name, skip=2)
        fin = (camp.phases.get("finalize") or {}).get("task")
        if isinstance(fin, dict) and hasattr(task_cls, "finalize"):
            check_options(task_cls.finalize, fin, path.name, skip=3)


def test_a_literal_of_numbers_takes_neither_true_nor_a_float():
    """`optimization_level: true` passed `Literal[0, 1, 2, 3]` (True == 1 in Python) and reached qiskit as a bool."""
    hint = Literal[0, 1, 2, 3]
    assert coerce_option(2, hint, "o") == 2
    for value in (True, 1.0, "1"):
        with pytest.raises(ConfigError, match=f"o = {value!r} is not allowed; allowed: one of 0, 1, 2, 3"):
            coerce_option(value, hint, "o")
    assert coerce_option(True, Literal[True, "auto"], "o") is True


def test_the_circuit_names_of_the_hints_are_the_supercircuit_spaces():
    from nasfw.search_spaces.circuit_options import CircuitName
    from nasfw.search_spaces.supercircuit import SPACES

    assert typing.get_args(CircuitName) == tuple(SPACES)


def test_a_misspelt_name_in_a_list_of_names_gets_the_closest():
    hint = Sequence[Literal["human", "random", "sabre"]]
    assert coerce_option(["sabre"], hint, "o") == ["sabre"]
    with pytest.raises(ConfigError, match=r"o = \['human', 'sabr'\] is not allowed; allowed: a list \(each one of "
                                          r"'human', 'random', 'sabre'\); did you mean 'sabre'\?"):
        coerce_option(["human", "sabr"], hint, "o")


def test_the_fixed_sets_of_the_hints_are_the_code_s_own():
    """A `Literal` beside the table it names (dataflows, circuits) must list the same names."""
    from nasfw.hardware.dataflows import DATAFLOWS
    from nasfw.plugins.naas.task import Dataflow

    assert set(typing.get_args(Dataflow)) == set(DATAFLOWS)


def test_a_note_describes_a_free_form_option():
    from nasfw.option_types import Note, describe

    hint = typing.Annotated[str, Note("a board's name")]
    assert describe(hint) == "a board's name" and describe(hint | None) == "a board's name or null"
    assert coerce_option("x", hint, "o") == "x"  # a note checks nothing
    with pytest.raises(ConfigError, match="o = 3 is not allowed; allowed: a board's name"):
        coerce_option(3, hint, "o")


@pytest.mark.parametrize("supernet, needle", [
    ({"sampling": "restricted", "sampling_options": {"max_change": 1}},
     ("phases.supernet.sampling_options.max_change is not an option of the 'restricted' sampling rule (did you mean "
     "'max_changes'?); allowed: ['max_changes']")),
    ({"sampling": "uniform", "sampling_options": {"max_changes": 1}},
     "phases.supernet.sampling_options.max_changes is not an option of the 'uniform' sampling rule"),
    ({"sampling": "progressive", "sampling_options": {"max_changes": "two"}},
     "phases.supernet.sampling_options.max_changes = 'two' is not allowed; allowed: an integer or null"),
])
def test_sampling_options_are_the_rule_s_own(supernet, needle):
    """The samplers take `**_`, so a misspelt or another rule's option was dropped without a word and the
    SuperCircuit trained as if it were not there."""
    reg = get_registry()
    campaign = resolve_campaign(reg, "quantumnas", {"phases": {"supernet": supernet}})
    task = build(campaign, reg).task
    with pytest.raises(ConfigError) as e:
        check_phase_options(campaign, task)
    assert needle in str(e.value)
    good = resolve_campaign(reg, "quantumnas", {"phases": {"supernet": {"sampling": "progressive",
                                                                        "sampling_options": {"max_changes": 1}}}})
    check_phase_options(good, task)


@pytest.mark.parametrize("task, options", [
    ("tinynas", {"memory": "x"}), ("tinynas", {"width_mult": 9}), ("quantumnas-qml", {"nois": "density"}),
    ("quantumnas-qml", {"noise": "bogus"}), ("quantumnas-vqe", {"noise": "x"}), ("naas", {"max_pes": 2}),
    ("nasbench201", {"seed_mode": "q"}),
])
def test_a_task_built_from_python_refuses_options_as_a_campaign_does(task, options):
    """`TinyNASTask(memory="x")` said "unknown option memory 'x'" (the cost model's words) and a misspelt keyword
    was a TypeError; a campaign's `task_options.memory: x` said `task_options.memory = 'x' is not allowed; ...`."""
    from nasfw.errors import ConfigError
    from nasfw.registry import get_registry

    reg = get_registry()
    with pytest.raises(ConfigError) as by_campaign:
        reg.configured("tasks", task, options, "task_options.")
    with pytest.raises(ConfigError) as by_python:
        reg.entry("tasks", task).obj(**options)
    assert str(by_python.value) == str(by_campaign.value)
    assert str(by_python.value).startswith(f"task_options.{next(iter(options))}")
