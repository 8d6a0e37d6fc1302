"""QuantumNAS plugin: SuperCircuit spaces, weight sharing, pruning, data, the task, and a small campaign."""
import json

import numpy as np
import pytest
import torch

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.plugins.quantumnas import train as qt  # noqa: E402
from nasfw.plugins.quantumnas.data import load_qml  # noqa: E402
from nasfw.plugins.quantumnas.paired import decode_correct  # noqa: E402
from nasfw.plugins.quantumnas.task import QuantumNASTask  # noqa: E402
from nasfw.search_spaces.supercircuit import (SPACES, SuperCircuit, subcircuit_ops, supercircuit_space,  # noqa: E402
                                             to_qiskit)


def z_of(qc, x):
    from qiskit.quantum_info import Pauli, Statevector

    sv = Statevector(qc.assign_parameters([float(v) for v in x]))
    n = qc.num_qubits
    return np.array([sv.expectation_value(Pauli("".join("Z" if k == q else "I" for k in reversed(range(n))))).real
                     for q in range(n)])


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_space_runs_as_qiskit_runs_it(name):
    sc = SuperCircuit(name, 4, seed=1)
    arch = sc.space.sample(3)
    sc.activate(arch)
    x = torch.rand(2, 16) * np.pi
    with torch.no_grad():
        ours = sc(x)
        sub = sc.extract(arch)
        assert torch.allclose(sub(x), ours, atol=1e-6)  # the standalone SubCircuit inherits the weights
    ref = z_of(to_qiskit(sub, measure=False), x[0])
    assert np.abs(ref - ours[0].numpy()).max() < 1e-5


def test_paper_space_sizes():
    assert len(SPACES) == 6
    assert SuperCircuit("u3cu3", 4).n_blocks == 8
    assert SuperCircuit("rxyz_u1_cu3", 4).n_blocks == 4  # the 11-layer space
    full = SuperCircuit("u3cu3", 4)
    assert full.n_params(full.largest()) == 8 * (4 * 3 + 4 * 3)


def test_share_front_and_block_count():
    space = supercircuit_space("u3cu3", 4, n_blocks=3, device_qubits=5)
    arch = {"n_blocks": 2, "b0.0.u3": 2, "b0.1.cu3": 3, "b1.0.u3": 4, "b1.1.cu3": 1, "layout": [4, 0, 2, 1]}
    space.validate(arch)
    ops = subcircuit_ops("u3cu3", 4, arch)
    assert [(o.gate, o.wires) for o in ops[:5]] == [("u3", (0,)), ("u3", (1,)), ("cu3", (0, 1)), ("cu3", (1, 2)),
                                                    ("cu3", (2, 3))]
    assert ops[2].slot == ("b0.1.cu3", 0)  # the first gates of a layer share the first weights
    assert len(ops) == 2 + 3 + 4 + 1
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = space.sample(rng)
        assert len(set(a["layout"])) == 4 and all(0 <= q < 5 for q in a["layout"])
        assert all(f"b{b}.0.u3" not in a for b in range(a["n_blocks"], 3))  # switched-off blocks are absent
        child = space.crossover(a, space.mutate(a, rng, 0.4), rng)
        assert len(set(child["layout"])) == 4  # repaired: distinct physical qubits


def test_bad_space_options_are_clear():
    with pytest.raises(ConfigError, match="circuit"):
        supercircuit_space("u3cu4")
    with pytest.raises(ConfigError, match="device_qubits"):
        supercircuit_space("u3cu3", 4, device_qubits=3)
    from nasfw.plugins.quantumnas import supercircuit

    with pytest.raises(ConfigError, match=r"space_options.n_wires = 30 exceeds the 5 qubits of device 'quito'"):
        supercircuit(n_wires=30, device="quito")


def test_pruning_zeroes_the_smallest_angles_and_drops_identity_gates():
    d = load_qml("digits", [0, 1, 2, 3], 16, n_valid=50, n_test=50)
    sc = SuperCircuit("u3cu3", 4, n_blocks=2)
    sub = sc.extract(sc.largest())
    with torch.no_grad():
        sub.theta[:3] = 1e-4  # one whole U3 gate near zero: the identity
    history = qt.prune(sub, d.train, 4, final=0.5, initial=0.1, steps=3, epochs_per_step=1)
    assert history[-1] == pytest.approx(0.5, abs=0.02)
    assert torch.all(sub.theta[sub.mask == 0] == 0)
    kept = sub.gates(drop_identities=True)
    assert len(kept) < len(sub.gates())
    qc = to_qiskit(sub)
    assert sum(1 for i in qc.data if i.operation.name in ("u", "cu3")) == len(kept)
    x = d.valid.x[:4]
    with torch.no_grad():  # dropping identities changes nothing
        assert torch.allclose(torch.tensor(np.stack([z_of(to_qiskit(sub, measure=False), r) for r in x])).float(),
                              sub(x), atol=1e-5)


def test_task_scores_under_noise_and_checks_the_layout(tmp_path):
    task = QuantumNASTask(dataset="digits", n_blocks=2, device="lima", n_valid=40, n_test=40)
    task.train_supernet(tmp_path, epochs=2, progress=False)
    arch = task.supercircuit.space.sample(0)
    m = task.evaluate(arch)
    for k in ("loss", "accuracy", "noise_free_loss", "noise_free_accuracy", "params", "depth", "fidelity", "proxy"):
        assert k in m and np.isfinite(m[k])
    assert 0 < m["fidelity"] < 1 and m["loss"] >= 0
    with pytest.raises(ConfigError, match="layout"):
        task.evaluate({**arch, "layout": [0, 0, 1, 2]})
    other = QuantumNASTask(dataset="digits", n_blocks=2, device="lima", n_valid=40, n_test=40)
    other.load_supernet(tmp_path)  # what --resume does after the SuperCircuit phase
    assert all(torch.equal(a, b) for a, b in zip(task.supercircuit.parameters(), other.supercircuit.parameters()))
    with pytest.raises(ConfigError, match="noise"):
        QuantumNASTask(noise="exact")
    with pytest.raises(ConfigError, match="quantum device"):
        QuantumNASTask(device="quitto")
    for options, message in (({"classes": 3}, "task_options.classes = 3"),
                             ({"classes": [1, 1]}, "at least two distinct"),
                             ({"n_valid": -5}, "task_options.n_valid = -5 is not allowed; allowed: an integer >= 1"),
                             ({"n_test": 0}, "task_options.n_test = 0"),
                             ({"batch_size": 2.5}, "task_options.batch_size = 2.5"),
                             ({"optimization_level": 5}, "allowed: one of 0, 1, 2, 3")):
        with pytest.raises(ConfigError, match=message):
            QuantumNASTask(**options)
    # a class the dataset does not hold is named (it read "need at least two classes present" beside two present)
    with pytest.raises(ConfigError, match=r"classes = \[0, 1, 11\]: \[11\] not among the dataset's labels; labels "
                                          r"present: \[0, 1, 2"):
        _ = QuantumNASTask(dataset="digits", classes=[0, 1, 11], n_valid=40, n_test=40).data


def test_small_campaign_end_to_end(tmp_path, run_cli):
    cfg = tmp_path / "q.yaml"
    cfg.write_text(json.dumps({
        "plugin": "quantumnas", "name": "q-tiny",
        "space_options": {"circuit": "zz_ry", "n_wires": 4, "n_blocks": 2, "device": "belem"},
        "task_options": {"dataset": "digits", "classes": [0, 1], "circuit": "zz_ry", "n_wires": 4, "n_blocks": 2,
                         "device": "belem", "n_valid": 40, "n_test": 30},
        "searcher": {"name": "ofa-evolution", "settings": {"population_size": 4, "parent_ratio": 0.25,
                                                           "mutation_ratio": 0.5, "mutate_prob": 0.4}},
        "budget": {"evaluations": 8}, "workers": 1,
        "phases": {"supernet": {"epochs": 2},
                   "finalize": {"export": ["qasm"],
                                "task": {"scratch_epochs": 2, "prune_steps": 2, "prune_epochs": 1, "shots": 1024,
                                         "search_population": 4, "baselines": ["human", "random", "sabre"],
                                         "random_circuits": 2}}}}))
    out = tmp_path / "run"
    r = run_cli("search", "--config", str(cfg), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    # --no-progress reaches the plugin's own phases, not only the search
    assert "supercircuit:" not in r.stderr and "finalize:" not in r.stderr and "search:" not in r.stderr
    assert "\nfinal evaluation (quantumnas.md):\n# QuantumNAS on " in r.stdout and "| human design |" in r.stdout
    report = json.loads((out / "quantumnas.json").read_text())
    names = [row["name"] for row in report["rows"]]
    assert names == ["searched", "searched, search's mapping", "searched, search's winner", "searched + pruned",
                     "human design", "random circuit 1", "random circuit 2", "searched, SABRE layout"]
    assert report["rows"][5]["arch"] != report["rows"][6]["arch"]
    # each row's arch is the circuit as evaluated: its layout the row's (the human design's ran on 0..n-1, not on
    # the largest layout of the space; SABRE's row on SABRE's placement, not the searched one)
    assert all(row["arch"]["layout"] == row["layout"] for row in report["rows"])
    assert report["rows"][4]["layout"] == [0, 1, 2, 3]
    # retrain: 5 from the default campaign: the search's winner first among distinct circuits, each trained from
    # scratch and scored on the validation inputs under the noise; the best by the calibrated loss was kept
    tried = report["retrain"]
    best_arch = json.loads((out / "best.json").read_text())["arch"]
    assert tried[0]["arch"] == best_arch and 1 < len(tried) <= 5
    blocks = [r["arch"]["n_blocks"] for r in tried]  # retrain_spread's default: each block count once before repeats
    assert len(set(blocks[:len(set(blocks))])) == len(set(blocks))
    chosen = min(tried, key=lambda r: r["calibrated_loss"])
    assert {k: v for k, v in report["rows"][0]["arch"].items() if k != "layout"} == \
        {k: v for k, v in chosen["arch"].items() if k != "layout"}
    assert {k: v for k, v in report["rows"][2]["arch"].items() if k != "layout"} == \
        {k: v for k, v in best_arch.items() if k != "layout"}
    # the trained circuit re-chose its layout (remap: 40 from the default campaign) among the search's layouts,
    # the search's own first and the fixed one second, on the validation inputs
    scored = [tuple(r["layout"]) for r in report["remap"]]
    assert report["search_layout"] == chosen["arch"]["layout"] == list(scored[0]) and (0, 1, 2, 3) in scored[:2]
    assert len(set(scored)) == len(scored) and tuple(report["layout"]) in scored
    assert min(report["remap"], key=lambda r: r["calibrated_loss"])["layout"] == report["layout"]
    assert report["rows"][1]["arch"]["layout"] == report["search_layout"]
    assert report["rows"][0]["arch"]["layout"] == report["rows"][2]["arch"]["layout"] == report["layout"]
    # the torch column is read with aer's shots (the two columns differ by the simulator alone), its exact reading
    # kept beside it
    assert report["torch_evaluator"] == "density matrix, 1024 shots sampled"
    for row in report["rows"]:
        assert 0 <= row["aer_accuracy"] <= 1
        assert abs(row["aer_accuracy"] - row["torch_noisy_accuracy"]) < 0.2  # same noise, 1024 shots
        assert 0 <= row["torch_noisy_exact_accuracy"] <= 1 and 0 <= row["torch_noisy_mean_abs_z"] <= 1
    searched_acc = report["rows"][0]["aer_accuracy"]
    for row in report["rows"][1:]:  # each row against the searched circuit, paired on the test inputs
        paired = row["aer_vs_searched"]
        assert abs(paired["difference"] - 100 * (row["aer_accuracy"] - searched_acc)) < 1e-3
        # the accuracy gap is the discordant inputs' balance
        gap = round(paired["difference"] * report["test_samples"] / 100)
        assert paired["only_this"] - paired["only_reference"] == gap
        assert 0 < paired["p_value"] <= 1
    assert "aer_vs_searched" not in report["rows"][0]
    # each row keeps which test inputs aer classified right, and the report which inputs they were, so that rows of
    # other runs on the same inputs compare paired (bench/quantumnas_pooled.py)
    for row in report["rows"]:
        right = decode_correct(row["aer_correct"])
        assert len(right) == report["test_samples"] and abs(right.mean() - row["aer_accuracy"]) < 1e-6
    assert len(report["test_inputs"]) == 16
    qasm3 = (out / "export" / "searched.qasm3").read_text()
    assert "OPENQASM 3" in qasm3 and "input float" in qasm3
    qasm2_text = (out / "export" / "searched_pruned.ansatz.qasm2").read_text()
    assert qasm2_text.startswith("OPENQASM 2.0")
    back = qiskit.qasm2.loads(qasm2_text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    assert set(back.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}
    layout = json.loads((out / "export" / "searched.layout.json").read_text())
    assert layout["initial_layout"] == report["layout"]
    assert "| searched |" in (out / "quantumnas.md").read_text()
    # the run says where its time went: the search is the smallest part of it
    times = json.loads((out / "summary.json").read_text())["phase_s"]
    assert set(times) == {"supernet", "search", "finalize"} and times["finalize"] > times["search"] > 0
    assert "\ntime: supernet " in r.stdout and " in all\n" in r.stdout
    assert (out / "report" / "best_so_far.png").stat().st_size > 1000  # the engine's plots in the run folder
    # the baselines table is part of the run's report and of `nasfw show`
    report_md = (out / "report" / "report.md").read_text()
    assert "## Final evaluation (quantumnas.md)" in report_md and "| human design |" in report_md
    shown = run_cli("show", str(out)).stdout
    assert "final evaluation (quantumnas.md):" in shown and "| searched + pruned |" in shown


def test_remap_moves_a_trained_circuit_off_a_bad_readout_qubit():
    """Lagos's qubit 2 misreads 46% of the time; a trained circuit on it re-chooses a layout without it."""
    from nasfw.cost import Objective
    from nasfw.plugins.quantumnas import remap as qr
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_blocks=2, device="lagos", n_valid=100, n_test=40)
    sub = task.supercircuit.extract(task.supercircuit.largest())
    sub.reinitialise(0)
    qt.train(sub, task.data.train, 4, 15, lr=5e-2)
    bad, good = [2, 1, 0, 3], [0, 1, 3, 5]
    best, scored = qr.remap(task, sub, [bad, good], Objective("calibrated_loss", "min"))
    assert best == good and scored[0]["calibrated_loss"] > scored[1]["calibrated_loss"] + 0.1
    assert scored[0]["accuracy"] < scored[1]["accuracy"]
    assert qr.remap(task, sub, [bad, good], Objective("accuracy", "max"))[0] == good
    # read with finite shots (as finalize does, with its own shots) the scores move, the choice not
    best, read = qr.remap(task, sub, [bad, good], Objective("calibrated_loss", "min"), shots=256)
    assert best == good and read[1]["calibrated_loss"] != scored[1]["calibrated_loss"]
    # without a density matrix (noise: proxy) the estimated success probability of the compiled circuit decides
    proxy = QuantumNASTask(dataset="digits", n_blocks=2, device="lagos", noise="proxy", n_valid=100, n_test=40)
    best, scored = qr.remap(proxy, sub, [bad, good, [3, 5, 4, 6]], Objective("calibrated_loss", "min"))
    assert "calibrated_loss" not in scored[0] and best == max(scored, key=lambda r: r["fidelity"])["layout"]
    # a noise-free metric cannot tell layouts apart: the noisy twin decides
    assert qr.score_metric(Objective("noise_free_loss", "min"), "density").metric == "calibrated_loss"
    assert qr.score_metric(Objective("noise_free_loss", "min"), "proxy").metric == "fidelity"
    assert qr.score_metric(Objective("calibrated_loss", "min"), "proxy").metric == "fidelity"
    assert qr.score_metric(Objective("two_qubit_gates", "min"), "proxy").metric == "two_qubit_gates"


def test_fitness_read_with_shots():
    """`task_options.shots`: the noisy fitness from sampled outcomes, the same for the same circuit."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    kw = dict(dataset="digits", n_blocks=1, n_valid=60, n_test=20)
    exact, shot = QuantumNASTask(**kw), QuantumNASTask(**kw, shots=64)
    arch = {**exact.supercircuit.largest(), "layout": [0, 1, 2, 3]}
    a, b = exact.evaluate(arch), shot.evaluate(arch)
    assert a["noise_free_loss"] == b["noise_free_loss"] and a["loss"] != b["loss"]
    assert abs(a["loss"] - b["loss"]) < 0.2 and shot.evaluate(arch)["loss"] == b["loss"]
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ConfigError, match="shots"):
            QuantumNASTask(**kw, shots=bad)


def test_fitness_from_trajectories():
    """`noise: trajectories`: the noisy fitness from sampled noise histories, close to the density matrix's at
    4 qubits, and the mode that scores 10-qubit circuits, which the density matrix refuses."""
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    kw = dict(dataset="digits", n_blocks=1, n_valid=60, n_test=20)
    exact, traj = QuantumNASTask(**kw), QuantumNASTask(**kw, noise="trajectories", trajectories=200)
    arch = {**exact.supercircuit.largest(), "layout": [0, 1, 2, 3]}
    a, b = exact.evaluate(arch), traj.evaluate(arch)
    assert a["noise_free_loss"] == b["noise_free_loss"] and a["loss"] != b["loss"]
    assert abs(a["loss"] - b["loss"]) < 0.02 and abs(a["accuracy"] - b["accuracy"]) <= 0.05
    assert traj.evaluate(arch)["loss"] == b["loss"]  # the same seed, the same histories
    for bad in (1, 2.5, True):
        with pytest.raises(ConfigError, match="task_options.trajectories"):
            QuantumNASTask(**kw, noise="trajectories", trajectories=bad)
    with pytest.raises(ConfigError, match="shots goes with noise: density"):
        QuantumNASTask(**kw, noise="trajectories", shots=64)
    with pytest.raises(ConfigError, match="use noise: trajectories"):
        QuantumNASTask(n_wires=10, n_blocks=1, device="guadalupe")
    ten = QuantumNASTask(dataset="digits", n_wires=10, n_blocks=1, device="guadalupe", noise="trajectories",
                         trajectories=4, n_valid=6, n_test=4)
    m = ten.evaluate(ten.supercircuit.space.sample(0))
    assert 0 <= m["accuracy"] <= 1 and np.isfinite(m["loss"]) and m["two_qubit_gates"] > 0


def test_finalize_rejects_a_bad_remap(tmp_path):
    from nasfw.plugins.quantumnas.finalize import finalize
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_blocks=1, n_valid=20, n_test=20)
    for bad in (-1, 2.5, True):
        with pytest.raises(ConfigError, match="remap"):
            finalize(task, task.supercircuit.largest(), tmp_path, remap=bad)


def test_finalize_rejects_a_bad_retrain(tmp_path):
    from nasfw.plugins.quantumnas.finalize import finalize
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_blocks=1, n_valid=20, n_test=20)
    for field in ("retrain", "retrain_layouts"):
        for bad in (0, 1.5, False):
            with pytest.raises(ConfigError, match=field):
                finalize(task, task.supercircuit.largest(), tmp_path, **{field: bad})
    for bad in (1, -2, 2.5, True):
        with pytest.raises(ConfigError, match="torch_trajectories = "):
            finalize(task, task.supercircuit.largest(), tmp_path, torch_trajectories=bad)


def test_retrain_candidates_are_distinct_circuits_and_the_best_trained_one_wins():
    from nasfw.cost import Objective
    from nasfw.plugins.quantumnas import retrain as qrt
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", classes=[0, 1], n_blocks=2, n_valid=60, n_test=20, noise="none")
    big = task.supercircuit.largest()
    # a one-block circuit is the same circuit whatever its inactive second block says
    one = {**big, "n_blocks": 1}
    same = {**one, **{k: 1 for k in big if k.startswith("b1.")}}
    assert task.supercircuit.ops(one) == task.supercircuit.ops(same) and one != same
    cands = qrt.distinct_circuits(task, [one, same, big, one], limit=5)
    assert cands == [one, big]
    assert qrt.distinct_circuits(task, [one, same, big], limit=1) == [one]
    # spread over block counts: the best of each block count first, then the rest by rank
    key = next(k for k in big if k.startswith("b0."))
    big2 = {**big, key: 1}
    assert task.supercircuit.ops(big2) != task.supercircuit.ops(big)
    assert qrt.distinct_circuits(task, [big, big2, same, one], limit=2) == [big, big2]
    assert qrt.distinct_circuits(task, [big, big2, same, one], limit=2, spread="blocks") == [big, same]
    assert qrt.distinct_circuits(task, [big, big2, one], limit=5, spread="blocks") == [big, one, big2]
    with pytest.raises(ValueError, match="spread = 'size'"):
        qrt.distinct_circuits(task, [big], limit=1, spread="size")

    def train(a):
        m = task.supercircuit.extract(a)
        m.reinitialise(0)
        qt.train(m, task.data.train, 2, 15 if a["n_blocks"] == 2 else 0, lr=5e-2, seed=0)
        return m

    score = lambda m, a: qt.noise_free_metrics(m, task.data.valid, 2)  # noqa: E731
    pick, modules, scored = qrt.choose(cands, train, score, Objective("noise_free_loss", "min"))
    # the untrained one-block circuit sits at chance; the trained two-block one is chosen
    assert pick == 1 and len(modules) == 2 and scored[1]["noise_free_loss"] < scored[0]["noise_free_loss"]
    assert scored[1]["params"] == task.supercircuit.n_params(big)
    # ties go to the first candidate (the search's winner)
    pick, _, _ = qrt.choose([one, one], train, score, Objective("noise_free_loss", "min"))
    assert pick == 0


def test_budget_preset_with_overrides():
    from nasfw.campaign import parse, resolve_budget
    from nasfw.plugins.quantumnas import DEFAULT_CAMPAIGN

    raw = resolve_budget(DEFAULT_CAMPAIGN, "paper")
    c = parse(raw)
    assert c.budget_evaluations == 1600
    assert c.searcher_settings["population_size"] == 40 and c.task_options["n_valid"] == 500
    assert c.phases["supernet"]["epochs"] == 200
    with pytest.raises(ConfigError, match="evaluations"):
        parse({**DEFAULT_CAMPAIGN, "budgets": {"x": {"searcher": {}}}})


def test_angle_periods_respect_controls():
    """CU3(2 pi, 0, 0) is controlled -I, a CZ-like phase, not the identity; CU3(4 pi, 0, 0) is the identity."""
    import math

    sc = SuperCircuit("u3cu3", 2, n_blocks=1)
    arch = {"n_blocks": 1, "b0.0.u3": 1, "b0.1.cu3": 1}
    sub = sc.extract(arch)
    with torch.no_grad():
        sub.theta.copy_(torch.tensor([0.3, 0.2, 0.1, 2 * math.pi, 0.0, 0.0]))
    assert [g for g, _, _ in sub.gates(drop_identities=True)] == ["u3", "cu3"]
    with torch.no_grad():
        sub.theta[3] = 4 * math.pi
    assert [g for g, _, _ in sub.gates(drop_identities=True)] == ["u3"]
    assert float(qt.wrapped(torch.tensor(2 * math.pi)).abs()) == pytest.approx(2 * math.pi)


def test_pruning_a_trained_circuit_keeps_it_working():
    d = load_qml("digits", [0, 1, 2, 3], 16, n_valid=50, n_test=150)
    sc = SuperCircuit("u3cu3", 4, n_blocks=3)
    sub = sc.extract(sc.largest())
    sub.reinitialise(1)
    qt.train(sub, d.train, 4, 40, lr=5e-2)
    before = qt.evaluate(sub, d.test, 4)[1]
    qt.prune(sub, d.train, 4, final=0.1, initial=0.05, steps=2, epochs_per_step=2)
    assert before > 0.6 and qt.evaluate(sub, d.test, 4)[1] > before - 0.1


def test_calibrated_loss_ignores_a_uniform_shrinkage_but_not_the_ranking():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=g)
    z = 0.3 * torch.randn(200, 4, generator=g)
    z[torch.arange(200), y] += 0.4  # informative outputs
    plain, _ = qt.score(z, y, 4)
    cal = qt.calibrated_loss(z, y, 4)
    assert cal <= plain
    # shrinking every output tenfold (what depolarising noise does) leaves it nearly unchanged, the plain loss not
    assert abs(qt.calibrated_loss(0.1 * z, y, 4) - cal) < 1e-3
    assert qt.score(0.1 * z, y, 4)[0] > plain + 0.05
    # against a fine scan of the temperature
    t = torch.linspace(0.05, 50, 20000)
    scan = float(min(F.nll_loss(F.log_softmax(ti * z, 1), y) for ti in t[::10]))
    assert abs(cal - scan) < 2e-3
    # outputs that carry less information score worse
    noisy = z + 0.5 * torch.randn(200, 4, generator=g)
    assert qt.calibrated_loss(noisy, y, 4) > cal + 0.05
    # outputs that classify every input with a wide margin: 0, which the progress bar and tables print as 0, not -0
    perfect = qt.calibrated_loss(torch.eye(4)[y], y, 4)
    assert perfect == 0 and f"{perfect:.6g}" == "0"


def test_noise_unaware_baseline_uses_the_campaigns_metric_without_noise(tmp_path):
    from nasfw.plugins.quantumnas.finalize import unaware_objective

    assert unaware_objective(tmp_path) == unaware_objective(tmp_path / "missing")
    assert unaware_objective(tmp_path).metric == "noise_free_loss"
    for metric, direction, twin in (("calibrated_loss", "min", "noise_free_calibrated_loss"),
                                    ("accuracy", "max", "noise_free_accuracy"), ("loss", "min", "noise_free_loss")):
        (tmp_path / "campaign.yaml").write_text(f"objectives:\n- metric: {metric}\n  direction: {direction}\n")
        o = unaware_objective(tmp_path)
        assert (o.metric, o.direction) == (twin, "max" if metric == "accuracy" else "min")


@pytest.mark.parametrize("name", sorted(SPACES))
def test_large_batches_take_the_unitary_path_and_agree(name):
    """A batch larger than the state (40 > 16) runs the SubCircuit's unitary once; it must give qiskit's <Z>
    for each sample and the same values and gradients as batches small enough to go gate by gate."""
    sc = SuperCircuit(name, 4, seed=2)
    sub = sc.extract(sc.space.sample(4))
    x = torch.rand(40, 16) * np.pi
    z = sub(x)
    (z ** 2).sum().backward()
    g_big = sub.theta.grad.clone()
    sub.theta.grad = None
    chunks = [sub(x[i:i + 8]) for i in range(0, 40, 8)]
    sum((c ** 2).sum() for c in chunks).backward()
    assert torch.allclose(z, torch.cat(chunks), atol=1e-5)
    assert torch.allclose(g_big, sub.theta.grad, atol=1e-4)
    qc = to_qiskit(sub, measure=False)
    for i in (0, 39):
        assert np.abs(z_of(qc, x[i]) - z[i].detach().numpy()).max() < 1e-5


def test_seed_layouts_start_the_search_on_the_trivial_and_sabre_layouts(tmp_path, run_cli):
    """`seed_layouts`: the search's first candidates are random SubCircuits on the trivial layout and on SABRE's
    layout for each, evaluated before any random pair even when the budget is smaller than a generation."""
    from nasfw.results import RunView

    cfg = tmp_path / "q.yaml"
    opts = {"circuit": "u3cu3", "n_wires": 4, "n_blocks": 2, "device": "guadalupe"}
    cfg.write_text(json.dumps({
        "plugin": "quantumnas", "name": "q-seeded", "space_options": opts,
        "task_options": {**opts, "dataset": "digits", "classes": [0, 1], "n_valid": 20, "n_test": 20,
                         "noise": "proxy", "seed_layouts": {"trivial": 1, "sabre": 2}},
        "budget": {"evaluations": 4}, "workers": 1,
        "phases": {"supernet": {"epochs": 1}, "finalize": {"task": False}}}))
    # the default objective (calibrated_loss) is not there under the proxy: the first evaluation, kept, stops
    # the run instead of a search that ranks every candidate as -inf
    r = run_cli("search", "--config", cfg, "--out", tmp_path / "bad", "--no-progress")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert ("objectives[0].metric = 'calibrated_loss': neither the task nor a cost model reported such a metric "
            "(did you mean 'noise_free_calibrated_loss'?); reported: depth, fidelity,") in r.stderr
    assert len(RunView.open(tmp_path / "bad").evaluations) == 1
    campaign = json.loads(cfg.read_text())
    cfg.write_text(json.dumps({**campaign, "objectives": [{"metric": "proxy", "direction": "max"}]}))
    r = run_cli("search", "--config", cfg, "--out", tmp_path / "run", "--no-progress")
    assert r.returncode == 0, r.stderr
    evals = sorted(RunView.open(tmp_path / "run").evaluations, key=lambda e: e.id)
    layouts = [e.arch["layout"] for e in evals]
    assert layouts[0] == [0, 1, 2, 3] and len(evals) == 4
    # the first three are what the task proposes (the campaign's seed, 0), SubCircuits and layouts alike
    task = QuantumNASTask(**opts, dataset="digits", classes=[0, 1], n_valid=20, n_test=20, noise="proxy",
                          seed_layouts={"trivial": 1, "sabre": 2})
    from nasfw.registry import get_registry

    space = get_registry(()).space("supercircuit", **opts)  # Guadalupe's 16 qubits: layouts walk its coupling map
    seeds = task.initial_archs(space, np.random.default_rng(0))
    assert [e.arch for e in evals[:3]] == seeds
    assert all(len(set(a["layout"])) == 4 and a["layout"] != [0, 1, 2, 3] for a in seeds[1:])
    with pytest.raises(ConfigError, match=r"task_options.seed_layouts = \{'dense': 2\}; it must map layout kinds "
                                          r"\(trivial, sabre\)"):
        QuantumNASTask(seed_layouts={"dense": 2})
