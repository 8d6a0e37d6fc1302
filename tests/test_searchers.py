import numpy as np
import pytest
import torch

from nasfw import Choice, ConfigError, Constraint, Float, Objective, Space
from nasfw.evaluation import Pipeline
from nasfw.plugins.nasbench201.tabular import NB201ParamsCost, NB201Tabular
from nasfw.searchers import BUILTIN, OK, Result, make_searcher
from nasfw.search_spaces.nasbench201 import nasbench201_space

NAMES = [c.name for c in BUILTIN]
CLS = {c.name: c for c in BUILTIN}


@pytest.fixture(scope="module")
def task(nb201_table):
    return NB201Tabular(path=nb201_table)


def drive(searcher, task, n, cheap=(), constraints=()):
    pipe = Pipeline(searcher.space, searcher, list(cheap), list(constraints))
    searcher.feasible = pipe.feasible if constraints else None
    out = []
    for _ in range(n):
        arch = pipe.next()
        if arch is None:
            break
        res = pipe.complete(arch, Result(OK, task.evaluate(arch)))
        out.append((arch, res))
    return out, pipe


@pytest.mark.parametrize("name", NAMES)
def test_every_searcher_finds_good_cells(name, task):
    s = make_searcher(CLS[name], nasbench201_space(), {}, seed=1,
                      objectives=[Objective("accuracy", "max")])
    out, pipe = drive(s, task, 60)
    assert len(out) == 60
    keys = [s.space.key(a) for a, _ in out]
    assert len(set(keys)) == 60  # the pipeline never evaluates a cell twice
    best = max(r.metrics["accuracy"] for _, r in out)
    assert best > 85.0  # well above the space median (~70)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name, task):
    space = nasbench201_space()
    a = make_searcher(CLS[name], space, {}, seed=3)
    drive(a, task, 25)
    state = a.state_dict()
    b = make_searcher(CLS[name], space, {}, seed=99)
    b.load_state_dict(state)
    if name == "tune-optuna":  # rebuilt from the history, like bayes
        assert len(b.history) == len(a.history) >= 25
        return
    if name == "bayes":  # Optuna's sampler is rebuilt from the history: same knowledge, not the same RNG
        from optuna.trial import TrialState

        done = lambda s: len(s.study.get_trials(states=(TrialState.COMPLETE,)))  # noqa: E731
        assert done(b) == done(a) == 25 and b.seen == a.seen
        return
    for _ in range(5):
        x, y = a.ask(), b.ask()
        assert space.key(x) == space.key(y)
        r = Result(OK, task.evaluate(x))
        a.tell(x, r)
        b.tell(y, r)


def drive_in_parallel(searcher, task, n, workers):
    """As the local loop drives a searcher with `workers` processes: the next ask comes as soon as the oldest
    evaluation is recorded, so `workers` asks are always out."""
    from collections import deque

    pipe = Pipeline(searcher.space, searcher)
    out, running = [], deque()
    while len(out) < n:
        while len(running) < workers:
            running.append(pipe.next())
        arch = running.popleft()
        out.append((arch, pipe.complete(arch, Result(OK, task.evaluate(arch)))))
    return out


@pytest.mark.parametrize("name", ["ofa-evolution", "nsga2"])
@pytest.mark.parametrize("workers", [1, 2, 5])
def test_generations_turn_with_parallel_workers(name, workers, task):
    """With two workers an ask was always outstanding when a generation's last child was handed out, and the
    generation waited on it: none ever turned, and the whole search was the first generation's random draw."""
    s = make_searcher(CLS[name], nasbench201_space(), {"population_size": 10}, seed=2,
                      objectives=[Objective("accuracy", "max")])
    out = drive_in_parallel(s, task, 200, workers)
    # each generation hands out its 10 children (nsga2) or 7-8 (ofa: the parents are kept) and at most
    # workers - 1 extra asks while its last children run
    assert s.generation >= 200 // (10 + workers - 1) - 1, s.generation
    best_parent = max(p[0] for p in s.population) if name == "ofa-evolution" else None
    if best_parent is not None:
        assert best_parent == max(r.metrics["accuracy"] for _, r in out)  # the best of every result survives


@pytest.mark.parametrize("name", ["evolution", "ofa-evolution", "nsga2", "random"])
def test_cheap_constraints_filter_before_evaluation(name, task):
    cons = [Constraint("params_m", max=0.4)]
    s = make_searcher(CLS[name], nasbench201_space(), {}, seed=0, constraints=cons)
    out, pipe = drive(s, task, 40, cheap=[NB201ParamsCost()], constraints=cons)
    assert out and all(r.metrics["params_m"] <= 0.4 + 1e-9 for _, r in out)


def test_nsga2_pareto_front(task):
    objs = [Objective("accuracy", "max"), Objective("params_m", "min")]
    s = make_searcher(CLS["nsga2"], nasbench201_space(), {"population_size": 16}, seed=0, objectives=objs)
    drive(s, task, 160)
    front = s.pareto()
    assert len(front) >= 3
    accs = sorted(f[0][0] for f in front)
    assert accs[-1] > 89.0 and accs[0] < accs[-1]


def test_bayes_samplers_and_multiobjective(task):
    space = nasbench201_space()
    for sampler in ("tpe", "gp", "random"):
        s = make_searcher(CLS["bayes"], space, {"sampler": sampler, "n_startup_trials": 5}, seed=0)
        out, _ = drive(s, task, 15)
        assert len(out) == 15
    mo = make_searcher(CLS["bayes"], space, {}, seed=0,
                       objectives=[Objective("accuracy", "max"), Objective("params_m", "min")])
    out, _ = drive(mo, task, 20)
    assert len(mo.study.best_trials) >= 1


def test_cmaes_on_continuous_space():
    space = Space([Float("x", -5.0, 5.0), Float("y", -5.0, 5.0)])
    s = make_searcher(CLS["bayes"], space, {"sampler": "cmaes", "n_startup_trials": 0}, seed=0,
                      objectives=[Objective("f", "min")])
    best = np.inf
    for _ in range(150):
        a = s.ask()
        f = (a["x"] - 1.5) ** 2 + (a["y"] + 2.0) ** 2
        best = min(best, f)
        s.tell(a, Result(OK, {"f": f}))
    assert best < 0.05


def test_reinforce_learns_a_simple_reward():
    space = Space([Choice(f"d{i}", list(range(4))) for i in range(4)])
    s = make_searcher(CLS["reinforce"], space, {}, seed=0, objectives=[Objective("r", "max")])
    for _ in range(300):
        a = s.ask()
        s.tell(a, Result(OK, {"r": float(sum(v == 3 for v in a.values()))}))
    late = [sum(v == 3 for v in s.ask().values()) for _ in range(50)]
    assert np.mean(late) > 3.0  # random policy averages 1.0


def test_ppo_learns_and_mnasnet_reward():
    space = Space([Choice(f"d{i}", list(range(4))) for i in range(3)])
    s = make_searcher(CLS["ppo"], space, {"reward": "mnasnet", "target": 5.0}, seed=0,
                      objectives=[Objective("acc", "max")])
    for _ in range(400):
        a = s.ask()
        acc = 0.5 + 0.1 * sum(a.values())
        lat = 1.0 + 2.0 * a["d0"]  # d0 = 3 busts the 5 ms target
        s.tell(a, Result(OK, {"acc": acc, "latency_ms": lat}))
    late = [s.ask() for _ in range(50)]
    assert np.mean([a["d1"] == 3 and a["d2"] == 3 for a in late]) > 0.6
    assert s.reward(Result(OK, {"acc": 1.0, "latency_ms": 10.0})) < 1.0  # over target: penalised


def test_a_large_learning_rate_saturates_the_controller_and_the_search_goes_on(task):
    """PPO with `lr: 1` on NAS-Bench-201: one NaN gradient (an overflowed probability ratio, update 13) made every
    weight NaN and the next ask stopped the search with numpy's "Probabilities contain NaN"."""
    s = make_searcher(CLS["ppo"], nasbench201_space(), {"lr": 1}, seed=0, objectives=[Objective("accuracy", "max")])
    done, _ = drive(s, task, 200)
    assert len(done) == 200
    assert all(bool(torch.isfinite(p).all()) for p in s.controller.params)


def test_weights_a_step_made_infinite_name_the_learning_rate(task):
    from nasfw.errors import SearcherError

    s = make_searcher(CLS["reinforce"], nasbench201_space(), {"lr": 1e308}, seed=0,
                      objectives=[Objective("accuracy", "max")])
    with pytest.raises(SearcherError, match=r"searcher 'reinforce': an update left the controller's weights "
                                            r"infinite; searcher.settings.lr = 1e\+308 is too large a step"):
        drive(s, task, 50)


@pytest.mark.parametrize("bad,needle", [
    ({"population_size": 1}, "population_size = 1 is not allowed; allowed: an integer from 2 to 10000"),
    ({"popsize": 10}, "popsize is not a setting of 'evolution'"),
    ({"population_size": "ten"}, "searcher.settings.population_size = 'ten' is not allowed; allowed: an integer"),
    ({"mutate_prob": True}, "searcher.settings.mutate_prob = True is not allowed; allowed: a number"),
])
def test_bad_settings_are_named(bad, needle):
    with pytest.raises(ConfigError, match=needle):
        make_searcher(CLS["evolution"], nasbench201_space(), bad)


@pytest.mark.parametrize("name,bad,needle", [
    ("reinforce", {"lr": -1}, r"searcher.settings.lr = -1 is not allowed; allowed: a number > 0"),
    ("reinforce", {"lr": 0}, r"searcher.settings.lr = 0 is not allowed"),
    ("reinforce", {"hidden": 0}, r"searcher.settings.hidden = 0 is not allowed; allowed: an integer >= 1"),
    ("reinforce", {"entropy_weight": -1}, r"searcher.settings.entropy_weight = -1 is not allowed"),
    ("reinforce", {"batch_size": 0}, r"searcher.settings.batch_size = 0 is not allowed"),
    ("reinforce", {"baseline_decay": 1}, r"settings.baseline_decay = 1 is not allowed; allowed: a number >= 0 and < 1"),
    ("ppo", {"clip": 5}, r"searcher.settings.clip = 5 is not allowed; allowed: a number > 0 and < 1"),
    ("ppo", {"epochs": 0}, r"searcher.settings.epochs = 0 is not allowed"),
    ("ppo", {"lr": -0.5}, r"searcher.settings.lr = -0.5 is not allowed"),
])
def test_bad_rl_settings_are_named(name, bad, needle):
    """The controller's settings are checked where they are read, not by torch's optimiser (a ValueError from
    inside Adam) or not at all (an LSTM of width 0 ran, learning nothing)."""
    with pytest.raises(ConfigError, match=needle):
        make_searcher(CLS[name], nasbench201_space(), bad)


@pytest.mark.parametrize("bad,needle", [({"lr": -1}, "lr = -1 must be > 0"), ({"hidden": 0}, "hidden = 0 must be >= 1"),
                                        ({"entropy_weight": -1}, "entropy_weight = -1 must be >= 0")])
def test_rl_settings_are_checked_when_built_in_python(bad, needle):
    """Built without make_searcher (a script's own loop), the same settings fail with the field's name."""
    with pytest.raises(ConfigError, match=needle):
        CLS["reinforce"](nasbench201_space(), **bad)


def test_yaml_number_text_is_a_number_for_a_float_setting():
    """YAML 1.1 reads `mutate_prob: 1e-1` as text; the searcher gets the number."""
    assert make_searcher(CLS["evolution"], nasbench201_space(), {"mutate_prob": "1e-1"}).mutate_prob == 0.1


def test_failed_and_infeasible_results_do_not_enter_population(task):
    s = make_searcher(CLS["evolution"], nasbench201_space(), {"population_size": 4, "sample_size": 2})
    for _ in range(4):
        s.tell(s.ask(), Result("failed", {}, "boom"))
    assert len(s.population) == 0
    a = s.ask()
    s.tell(a, Result(OK, task.evaluate(a)))
    assert len(s.population) == 1


@pytest.mark.parametrize("name", ["random", "evolution", "ofa-evolution", "nsga2", "bayes", "tune-optuna"])
def test_seeded_candidates_are_tried_first_and_survive_a_checkpoint(name, task):
    """`seed_initial`: the given archs are the first evaluated (in the first generation for the generational
    searchers), exactly as given; the ones not yet asked are in the checkpoint."""
    space = nasbench201_space()
    seeds = [space.sample(np.random.default_rng(100 + i)) for i in range(3)]
    settings = {"population_size": 6} if name in ("evolution", "ofa-evolution", "nsga2") else {}
    s = make_searcher(CLS[name], space, settings, seed=0)
    s.seed_initial(seeds)
    first = s.ask()
    resumed = make_searcher(CLS[name], space, settings, seed=5)
    resumed.load_state_dict(s.state_dict())
    asked = [first] + [s.ask() for _ in range(5)]
    keys = [space.key(a) for a in asked]
    assert keys[:3] == [space.key(a) for a in seeds]  # first and in order (a generation hands them out first)
    assert space.key(resumed.ask()) == keys[1]  # the checkpoint kept the two not yet asked
    s2 = make_searcher(CLS[name], space, settings, seed=0)
    assert not any(space.key(s2.ask()) in {space.key(a) for a in seeds} for _ in range(6))


def test_nsga2_ranks_and_crowding_agree_with_optuna():
    """The engine's NSGA-II sort (Deb's constraint-domination) and crowding distance against Optuna's own, on
    random populations with tied objective values and constraint violations."""
    import math

    import numpy as np
    import optuna
    from optuna.samplers.nsgaii._elite_population_selection_strategy import _calc_crowding_distance
    from optuna.study._multi_objective import _fast_non_domination_rank

    from nasfw.searchers.nsga2 import crowding_distance, non_dominated_sort

    rng = np.random.default_rng(0)
    for _ in range(100):
        n, m = int(rng.integers(3, 40)), int(rng.integers(2, 4))
        points = rng.integers(0, 6, size=(n, m)).astype(float)  # ties on purpose
        violations = np.where(rng.random(n) < 0.3, rng.integers(1, 4, size=n), 0).astype(float)
        ours = np.empty(n, dtype=int)
        for rank, front in enumerate(non_dominated_sort(points.tolist(), violations.tolist())):
            ours[front] = rank
        assert (ours == _fast_non_domination_rank(-points, penalty=violations)).all()  # Optuna minimises

        distinct = rng.random((n, m))
        mine = crowding_distance(distinct.tolist(), list(range(n)))
        trials = []
        for i in range(n):
            t = optuna.trial.create_trial(values=list(-distinct[i]), params={}, distributions={})
            t.number = i
            trials.append(t)
        theirs = _calc_crowding_distance(trials)
        for i in range(n):
            assert (math.isinf(mine[i]) and math.isinf(theirs[i])) or mine[i] == pytest.approx(theirs[i])


@pytest.mark.parametrize("name, low", [("evolution", 2), ("ofa-evolution", 2), ("nsga2", 4)])
def test_a_population_no_machine_can_draw_is_refused(name, low):
    """An evolution draws a whole generation at once: population_size 100,000,000 drew candidates for minutes
    (NAS-Bench-201 has 15,625) before anything was evaluated."""
    with pytest.raises(ConfigError, match=rf"searcher.settings.population_size = 100000000 is not allowed; "
                                          rf"allowed: an integer from {low} to 10000"):
        make_searcher(CLS[name], nasbench201_space(), {"population_size": 100_000_000})


@pytest.mark.parametrize("name, settings, budget, says", [
    ("ofa-evolution", {}, 50, ("searcher 'ofa-evolution' draws its first 100 candidates at random "
                               "(searcher.settings.population_size) and the budget is 50 evaluations")),
    ("ofa-evolution", {}, 100, "the budget is 100 evaluations, so this search samples at random only"),
    ("ofa-evolution", {}, 101, None),
    ("evolution", {"population_size": 40}, 30, "set population_size below the budget"),
    ("nsga2", {}, 200, None),
    ("bayes", {}, 8, "draws its first 10 candidates at random (searcher.settings.n_startup_trials)"),
    ("bayes", {"sampler": "random"}, 8, None), ("random", {}, 5, None), ("reinforce", {}, 5, None),
])
def test_a_budget_spent_within_the_random_start_is_said(name, settings, budget, says):
    from nasfw.searchers.base import random_start_note

    note = random_start_note(make_searcher(CLS[name], nasbench201_space(), settings), budget)
    assert (note is None) if says is None else (says in note), note


def test_the_dry_run_says_so_too(cli_in_process):
    p = cli_in_process("search", "--plugin", "nasbench201", "--searcher", "ofa-evolution", "--budget", "50",
                       "--dry-run")
    assert p.returncode == 0 and p.stderr.startswith("note: searcher 'ofa-evolution' draws its first 100"), p.stderr
