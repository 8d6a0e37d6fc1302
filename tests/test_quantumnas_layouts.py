"""`space_options.layout_sampling: connected`: the mapping search draws and moves layouts along the device's
coupling map. What it is for is routing: the same SubCircuit placed on walked layouts needs fewer two-qubit
gates after qiskit's transpile than on uniformly drawn ones."""
import json
import statistics

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

from nasfw.errors import ConfigError, SpaceError  # noqa: E402
from nasfw.plugins.quantumnas import compile as qc  # noqa: E402
from nasfw.registry import get_registry  # noqa: E402
from nasfw.search_spaces.supercircuit import SuperCircuit  # noqa: E402

OPTS = {"circuit": "u3cu3", "n_wires": 8, "n_blocks": 1, "device": "guadalupe"}


def _space(sampling: str):
    return get_registry(()).space("supercircuit", **OPTS, layout_sampling=sampling)


def test_connected_layouts_route_with_fewer_two_qubit_gates():
    sc = SuperCircuit("u3cu3", 8, 1, 16, n_features=16, seed=0)
    widest = {d.name: d.options[-1] for d in sc.space.decisions if hasattr(d, "options")}
    sub = sc.extract({**widest, "layout": list(range(8))})  # CU3 on every ring pair: the routing is the layout's

    def gates(layout):
        tq, _ = qc.transpile(sub, "guadalupe", layout, 2, seed=0)
        return qc.stats(tq, "guadalupe")["two_qubit_gates"]

    rng = np.random.default_rng(0)
    walked = [gates(_space("connected").sample(rng)["layout"]) for _ in range(6)]
    uniform = [gates(_space("uniform").sample(rng)["layout"]) for _ in range(6)]
    # 8 CU3 = 16 CNOTs before routing; a walk routes the ring's closing pair, a uniform layout nearly every pair
    assert max(walked) < min(uniform), (walked, uniform)
    assert statistics.mean(walked) < 0.6 * statistics.mean(uniform)


def test_connected_space_keeps_every_layout_and_serialises_its_coupling_map():
    space = _space("connected")
    layout = space.decisions[-1]
    assert layout.name == "layout" and len(layout.edges) == 16  # Guadalupe's heavy-hex fragment
    arch = _space("uniform").sample(np.random.default_rng(3))
    space.validate(arch)  # a uniformly drawn mapping is still in the space
    assert json.loads(json.dumps(space.to_dict()))["decisions"][-1]["edges"] == layout.edges
    rng = np.random.default_rng(4)
    for _ in range(50):  # evolution's moves keep layouts valid
        a, b = space.sample(rng), space.sample(rng)
        space.validate(space.mutate(a, rng))
        space.validate(space.crossover(a, b, rng))


def test_bad_layout_sampling_is_clear():
    with pytest.raises(ConfigError, match=r"space_options.layout_sampling = 'walk' is not allowed; allowed: one of "
                                          r"'auto', 'uniform', 'connected'"):
        _space("walk")
    with pytest.raises(ConfigError, match=r"space_options.layout_sampling = 'connected' needs space_options.device"):
        get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, layout_sampling="connected")


@pytest.mark.parametrize(("device", "expected"), [("quito", None), ("lagos", None), ("guadalupe", "connected"),
                                                  ("torino", "connected")])
def test_auto_layout_sampling_walks_the_coupling_map_past_twelve_qubits(device, expected):
    space = get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, device=device)
    layout = space.decisions[-1]
    assert layout.name == "layout" and (layout.edges is not None) == (expected == "connected")
    uniform = get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, device=device,
                                     layout_sampling="uniform")
    assert uniform.decisions[-1].edges is None  # asked for, the paper's sampling on any device


def test_default_layouts_on_a_heron_device_can_be_evaluated_under_its_noise():
    """On Torino (133 qubits) every uniformly drawn 4-wire layout routed through 25 or more qubits, past the
    density-matrix evaluator's 12, and a search there failed every evaluation. The default draws walks."""
    from nasfw.search_spaces.quantum_density import MAX_QUBITS

    space = get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, device="torino", n_blocks=2)
    sc = SuperCircuit("u3cu3", 4, 2, 133, n_features=16, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(4):
        arch = space.sample(rng)
        tq, _ = qc.transpile(sc.extract(arch), "torino", arch["layout"], 2, seed=0)
        used = {tq.find_bit(q).index for inst in tq.data if inst.operation.name not in ("barrier", "delay")
                for q in inst.qubits}
        assert len(used) <= MAX_QUBITS, (arch["layout"], len(used))


@pytest.mark.slow
def test_a_search_on_a_heron_device_evaluates_its_candidates(tmp_path, run_cli):
    """`--set task_options.device=torino`: Torino was no device name, and on an Eagle calibration given as a JSON
    file every evaluation failed (routing past 12 qubits) and the run stopped."""
    cfg = tmp_path / "q.yaml"
    cfg.write_text(json.dumps({
        "plugin": "quantumnas", "name": "q-torino",
        "task_options": {"dataset": "digits", "classes": [0, 1], "n_blocks": 2, "device": "torino",
                         "n_valid": 40, "n_test": 30},
        "budget": {"evaluations": 12}, "workers": 1,
        "phases": {"supernet": {"epochs": 1}, "finalize": {"export": ["qasm"], "task": False}}}))
    r = run_cli("search", "--config", str(cfg), "--out", str(tmp_path / "run"), "--no-progress", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "evaluations: 12 (12 ok, 0 failed" in r.stdout, r.stdout
    qasm = (tmp_path / "run" / "export").glob("*.qasm3")
    assert any("cz" in p.read_text() for p in qasm)  # compiled to Torino's basis


def _is_connected(decision, layout) -> bool:
    idx = [decision._index[json.dumps(v)] for v in layout]
    seen, todo = {idx[0]}, [idx[0]]
    while todo:
        for b in decision._adj[todo.pop()]:
            if b in idx and b not in seen:
                seen.add(b)
                todo.append(b)
    return len(seen) == len(idx)


def test_step_by_step_searchers_lay_layouts_along_the_coupling_map():
    """Optuna (bayes, tune-optuna) picks each wire's qubit on its own and the RL controller walked any free qubit:
    on Torino their 4-wire layouts lay spread over 133 qubits and every evaluation failed (routing past 12)."""
    from nasfw.searchers.bayes import suggest

    space = get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, device="torino", n_blocks=2)
    layout = space.decisions[-1]
    rng = np.random.default_rng(0)
    spread = [[int(q) for q in rng.choice(133, 4, replace=False)] for _ in range(200)]
    assert sum(_is_connected(layout, v) for v in spread) < 5  # uniform picks are almost never one piece
    joined = [layout.connect(v, rng) for v in spread]
    assert all(_is_connected(layout, v) for v in joined)
    for v in joined:
        layout.validate(v, "layout")
        assert layout.connect(v, rng) == v  # one piece already: left as it is
    moved = layout.connect([0, 1, 2, 100], rng)
    assert moved[:3] == [0, 1, 2] and moved[3] in (3, 15)  # the largest piece stays, the stray wire joins it

    parents = [space.sample(rng) for _ in range(40)]  # walks, from all over the device
    children = [space.crossover(parents[i], parents[-1 - i], rng)["layout"] for i in range(20)]
    assert all(_is_connected(layout, v) for v in children)  # evolution's crossover joins its child too

    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    assert all(_is_connected(layout, suggest(study.ask(), space, rng)["layout"]) for _ in range(20))

    def uniform_choice(key, n, mask):
        idx = np.arange(n) if mask is None else np.flatnonzero(mask)
        return int(idx[rng.integers(len(idx))])

    walked = [space.walk(uniform_choice) for _ in range(50)]
    assert all(_is_connected(layout, a["layout"]) for a in walked)
    steps = [s for s in space.steps(walked[0]) if s[0].startswith("layout")]
    assert [s[3] for s in steps] == walked[0]["layout"]  # the RL controller replays its walk
    for s in space.steps({**walked[0], "layout": spread[0]}):  # and a layout from elsewhere (a seed)
        assert s[2] is None or s[2][s[3]]


def test_a_layout_that_routes_past_the_evaluator_says_what_to_change():
    from nasfw.plugins.quantumnas.task import QuantumNASTask
    from nasfw.search_spaces.quantum_density import TooManyQubits

    task = QuantumNASTask(dataset="digits", classes=[0, 1], n_blocks=1, device="torino", n_valid=8, n_test=8)
    arch = {**task.supercircuit.largest(), "layout": [0, 40, 80, 120]}  # the four corners of the chip
    with pytest.raises(TooManyQubits, match=r"layout \[0, 40, 80, 120\]: the compiled circuit touches \d+ qubits .*"
                                            r"density-matrix evaluator stops at 12: .*layout_sampling: connected.*"
                                            r"`task_options.noise: trajectories` simulates up to 20"):
        task.evaluate(arch)


def test_the_circuit_cost_models_name_what_is_wrong_with_an_arch_given_by_hand():
    """`nasfw cost --hardware circuit-params --arch '{}'` said "KeyError: 'n_blocks'"; `ibmq-compiled` with a
    layout naming a qubit twice printed qiskit's InvalidLayoutError as a traceback."""
    reg = get_registry(())
    block = {"n_blocks": 1, "b0.0.u3": 4, "b0.1.cu3": 4}
    assert reg.cost_model("circuit-params").evaluate({**block, "layout": [3, 1, 0, 2]}) == {"params": 24.0}
    with pytest.raises(SpaceError, match=r"arch.n_blocks is missing; allowed: "):
        reg.cost_model("circuit-params").evaluate({})
    # a count past the layer's wires was taken as the whole layer (24 angles), not refused
    with pytest.raises(SpaceError, match=r"arch.b0.1.cu3 = 9 is not allowed; allowed: one of \[1, 2, 3, 4\]"):
        reg.cost_model("circuit-params").evaluate({**block, "b0.1.cu3": 9})
    # campaigns do not pass their block count to the model: a 12-block arch is counted, a 100-block one refused
    from nasfw.search_spaces.supercircuit import count_params, subcircuit_ops, supercircuit_space

    deep = supercircuit_space("u3cu3", 4, 12).sample(np.random.default_rng(3))
    deep = {**deep, "n_blocks": 12, **{f"b{b}.{i}.{g}": 4 for b in range(12) for i, g in enumerate(("u3", "cu3"))}}
    assert reg.cost_model("circuit-params").evaluate(deep) == {
        "params": float(count_params(subcircuit_ops("u3cu3", 4, deep)))} == {"params": 288.0}
    with pytest.raises(SpaceError, match=r"arch.n_blocks = 100 is not allowed"):
        reg.cost_model("circuit-params").evaluate({**block, "n_blocks": 100})
    compiled = reg.cost_model("ibmq-compiled")
    with pytest.raises(SpaceError, match=r"arch.b0.0.u3 is missing"):
        compiled.evaluate({"n_blocks": 1})
    with pytest.raises(SpaceError, match=r"arch.layout = \[0, 1, 2, 2\] is not allowed; allowed: 4 distinct items"):
        compiled.evaluate({**block, "layout": [0, 1, 2, 2]})
