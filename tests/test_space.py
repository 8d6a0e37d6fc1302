import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasfw import Choice, Float, IntRange, Permutation, Repeat, Space, SpaceError, Tie
from nasfw.search_spaces.nasbench201 import nasbench201_space


def mixed_space() -> Space:
    return Space([
        Choice("op", ["conv", "pool", "skip"]),
        IntRange("width", 16, 64, step=16),
        Tie("width_out", of="width"),
        Float("lr", 1e-4, 1e-1, log=True),
        Float("ratio", 0.0, 1.0),
        Permutation("mapping", 6, k=4),
        Permutation("placement", 7, k=4, edges=[[i, i + 1] for i in range(6)]),
        Repeat("blocks", [Choice("k", [3, 5, 7]), Choice("act", ["relu", "swish"]),
                          IntRange("e", 3, 6, when=None)], min=1, max=4),
        Choice("se", [0, 1], when={"op": ["conv"]}),
        IntRange("se_ratio", 2, 8, when={"se": [1]}),
    ], name="mixed")


SPACES = [mixed_space(), nasbench201_space()]
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, which=st.sampled_from([0, 1]), prob=st.floats(0, 1))
def test_sample_mutate_crossover_validate(seed, which, prob):
    space = SPACES[which]
    rng = np.random.default_rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    space.validate(a)
    space.validate(b)
    m = space.mutate(a, rng, prob)
    space.validate(m)
    assert m != a  # a mutation always changes something
    c = space.crossover(a, b, rng)
    space.validate(c)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, which=st.sampled_from([0, 1]))
def test_encode_decode_round_trip(seed, which):
    space = SPACES[which]
    arch = space.sample(np.random.default_rng(seed))
    vec = space.encode(arch)
    assert vec.shape == (space.width(),)  # fixed length whatever the depth or the conditions
    back = space.decode(vec)
    assert space.key(back) == space.key(arch)


def test_absent_slots_are_marked():
    space = mixed_space()
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = space.sample(rng)
        vec = space.encode(a)
        n_absent = int(np.isnan(vec).sum())
        expected = (4 - len(a["blocks"])) * 3 + ("se" not in a) + ("se_ratio" not in a)
        assert n_absent == expected


def test_conditional_and_tied_decisions():
    space = mixed_space()
    rng = np.random.default_rng(1)
    seen_se = set()
    for _ in range(200):
        a = space.sample(rng)
        assert a["width_out"] == a["width"]
        assert ("se" in a) == (a["op"] == "conv")
        assert ("se_ratio" in a) == (a.get("se") == 1)
        seen_se.add("se" in a)
    assert seen_se == {True, False}


def test_walk_steps_replay_matches():
    space = mixed_space()
    rng = np.random.default_rng(3)
    for _ in range(50):
        a = space.sample(rng)
        steps = space.steps(a)
        it = iter(steps)
        replay = space.walk(lambda key, n, mask: next(it)[3])
        a_no_float = {k: v for k, v in a.items() if k not in ("lr", "ratio")}
        assert {k: v for k, v in replay.items() if k not in ("lr", "ratio")} == a_no_float
        slot_keys = {k for k, _ in space.slots()}
        assert all(s[0] in slot_keys for s in steps)


@pytest.mark.parametrize("arch,needle", [
    ({"edge_1_0": "conv9x9"}, "edge_1_0 = 'conv9x9' is not allowed; allowed: one of"),
    ({}, "arch.edge_1_0 is missing"),
])
def test_validate_names_key_value_and_allowed(arch, needle):
    space = nasbench201_space()
    full = {**space.sample(0), **arch} if arch else arch
    with pytest.raises(SpaceError) as e:
        space.validate(full)
    assert needle in str(e.value)


def test_validate_errors_in_nested_and_conditional():
    space = mixed_space()
    a = space.sample(0)
    a["blocks"] = a["blocks"] + [{"k": 4, "act": "relu", "e": 3}]
    with pytest.raises(SpaceError, match=r"arch.blocks\[\d\].k = 4 is not allowed; allowed: one of \[3, 5, 7\]"):
        space.validate(a)
    b = space.sample(0)
    b["width_out"] = b["width"] + 16 if b["width"] < 64 else 16
    with pytest.raises(SpaceError, match="tied"):
        space.validate(b)
    c = space.sample(0)
    c["op"], c["se"] = "pool", 1
    c.pop("se_ratio", None)
    with pytest.raises(SpaceError, match="exists only when"):
        space.validate(c)
    with pytest.raises(SpaceError, match="not a decision of space"):
        space.validate({**space.sample(0), "bogus": 1})
    p = space.sample(0)
    p["mapping"] = [0, 0, 1, 2]
    with pytest.raises(SpaceError, match="distinct"):
        space.validate(p)


def test_size():
    assert nasbench201_space().size() == 5 ** 6
    s = Space([Choice("a", [1, 2]), Choice("b", [1, 2, 3], when={"a": [2]}), Permutation("p", 4, k=2)])
    assert s.size() == (1 + 3) * 12
    r = Space([Repeat("blocks", [Choice("k", [3, 5])], min=1, max=3)])
    assert r.size() == 2 + 4 + 8
    assert math.isinf(mixed_space().size())


def test_yaml_round_trip(tmp_path):
    import yaml

    space = mixed_space()
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump({"space": space.to_dict()}))
    loaded = Space.from_yaml(p)
    assert loaded.to_dict() == space.to_dict()
    a = space.sample(7)
    loaded.validate(a)


def test_yaml_errors_name_the_field():
    with pytest.raises(SpaceError, match=r"decisions\[0\].type = 'choise' is not allowed \(did you mean 'choice'\?\)"):
        Space.from_dict({"decisions": [{"name": "x", "type": "choise", "options": [1]}]})
    with pytest.raises(SpaceError, match=r"decisions\[0\].options is missing"):
        Space.from_dict({"decisions": [{"name": "x", "type": "choice"}]})
    with pytest.raises(SpaceError, match=r"stride is not a field of a int decision \(did you mean .step.\?\)"):
        Space.from_dict({"decisions": [{"name": "x", "type": "int", "low": 1, "high": 3, "stride": 1}]})
    with pytest.raises(SpaceError, match=r"option is not a field of a choice decision \(did you mean 'options'\?\)"):
        Space.from_dict({"decisions": [{"name": "x", "type": "choice", "option": [1]}]})
    with pytest.raises(SpaceError, match="not an earlier decision"):
        Space.from_dict({"decisions": [{"name": "x", "type": "int", "low": 1, "high": 3, "when": {"y": [1]}}]})
    with pytest.raises(SpaceError, match="used twice"):
        Space([Choice("x", [1]), Choice("x", [2])])


def test_float_log_scale_sampling_is_log_uniform():
    f = Space([Float("lr", 1e-4, 1e-0, log=True)])
    vals = np.array([f.sample(np.random.default_rng(i))["lr"] for i in range(2000)])
    frac_below = float(np.mean(vals < 1e-2))  # half the log range
    assert 0.45 < frac_below < 0.55


LINE = [[i, i + 1] for i in range(7)]  # items 0-1-2-...-7 on a line


def _contiguous(value: list) -> bool:
    return max(value) - min(value) == len(value) - 1


def test_permutation_with_edges_samples_walks():
    """Along a line a walk only ever takes the next free neighbour of the set, so every sample is a contiguous
    run of the line with neighbours at consecutive positions, where uniform samples rarely are."""
    along = Permutation("p", 8, k=4, edges=LINE)
    uniform = Permutation("p", 8, k=4)
    rng = np.random.default_rng(0)
    walks = [along.sample(rng) for _ in range(300)]
    assert all(_contiguous(v) for v in walks)
    assert sum(all(abs(a - b) == 1 for a, b in zip(v, v[1:])) for v in walks) > 100
    assert len({tuple(v) for v in walks}) >= 10  # every window of the line, both directions
    assert sum(_contiguous(uniform.sample(rng)) for _ in range(300)) < 60
    for v in walks:
        along.validate(v, "p")


def test_permutation_with_edges_mutates_along_them():
    """A mutation swaps two elements or moves one onto a free item next to the others; a crossover repairs a
    duplicate with a free item next to what it kept."""
    along = Permutation("p", 8, k=4, edges=LINE)
    rng = np.random.default_rng(1)
    moved = 0
    for _ in range(300):
        v = along.sample(rng)
        m = along.mutate(v, rng)
        along.validate(m, "p")
        if set(m) == set(v):
            assert sorted(m) == sorted(v) and m != v  # a swap
        else:
            moved += 1
            (new,) = set(m) - set(v)
            rest = [x for x in m if x != new]
            assert any(abs(new - x) == 1 for x in rest)
    assert 60 < moved < 240
    child = along.repair([2, 3, 3, 4], rng)
    along.validate(child, "p")
    assert child[:2] == [2, 3] and child[3] == 4 and child[2] in (1, 5)
    one = Permutation("q", 8, k=1, edges=LINE)
    assert all(abs(one.mutate([3], rng)[0] - 3) == 1 for _ in range(20))


def test_permutation_edges_round_trip_and_errors():
    along = Permutation("p", 5, k=3, edges=[[0, 1], [1, 2]])
    loaded = Space.from_dict({"decisions": [along.to_dict()]})
    assert loaded.decisions[0].edges == [[0, 1], [1, 2]]
    assert Permutation("p", 5, k=3).to_dict() == {"name": "p", "type": "permutation", "items": [0, 1, 2, 3, 4],
                                                  "k": 3}
    with pytest.raises(SpaceError, match=r"p.edges\[1\] = \[0, 9\]; each edge must be a pair of two different "
                                         r"items of \[0, 1, 2, 3, 4\]"):
        Permutation("p", 5, k=3, edges=[[0, 1], [0, 9]])
    with pytest.raises(SpaceError, match=r"p.edges\[0\] = \[2, 2\]"):
        Permutation("p", 5, k=3, edges=[[2, 2]])
    with pytest.raises(SpaceError, match=r"p.edges = 'ring'; it must be a list of \[item, item\] pairs"):
        Permutation("p", 5, k=3, edges="ring")


@pytest.mark.parametrize("make, needle", [
    (lambda: Space([Choice("a", [1, 2]), Choice("b", [1], when={"a": [7]})]),
     "b.when.a = 7 is not allowed; allowed: one of [1, 2]: 'a' never takes it, so 'b' would be absent then"),
    (lambda: Space([IntRange("d", 1, 4), Choice("b", [1], when={"d": [5]})]), "'d' never takes it"),
    (lambda: Space([Choice("op", ["conv", "pool"]), Choice("b", [1], when={"op": "conv"})]),
     "b.when.op = 'conv' is not allowed; allowed: a non-empty list of values of 'op', e.g. ['conv']"),
    (lambda: Space([Choice("a", [1, 2]), Choice("b", [1], when={"a": []})]), "b.when.a = [] is not allowed"),
    (lambda: Space([Choice("a", [object()])]), "a.options[0] = <object"),
])
def test_a_space_that_could_never_hold_a_decision_or_store_an_arch_is_refused(make, needle):
    """A `when` value the earlier decision never takes (a typo, a string where a list belongs: "conv" was read as
    c, o, n, v) left the decision out of every architecture without a word; an option that is not JSON failed with
    json's TypeError at the space's construction."""
    with pytest.raises(SpaceError) as e:
        make()
    assert needle in str(e.value)
