"""`space_options.layout_sampling: connected`: the mapping search draws and moves layouts along the device's
coupling map. What it is for is routing: the same SubCircuit placed on walked layouts needs fewer two-qubit
gates after qiskit's transpile than on uniformly drawn ones."""
import json
import statistics

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

from nasfw.errors import ConfigError  # noqa: E402
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
    with pytest.raises(ConfigError, match=r"space_options.layout_sampling = 'walk'; allowed: uniform, connected"):
        _space("walk")
    with pytest.raises(ConfigError, match=r"space_options.layout_sampling = 'connected' needs space_options.device"):
        get_registry(()).space("supercircuit", circuit="u3cu3", n_wires=4, layout_sampling="connected")
