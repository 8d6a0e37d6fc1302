import json

import pytest
import yaml

from tests.conftest import PLUGIN_DIR


@pytest.fixture(scope="module")
def nb_run(tmp_path_factory):
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("cli") / "run"
    p = subprocess.run([sys.executable, "-m", "nasfw.cli", "search", "--plugin", "nasbench201", "--budget", "60",
                        "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "eval" in p.stderr and "best accuracy=" in p.stderr  # the progress bar shows the current best
    return out


def test_search_prints_best(nb_run):
    summary = json.loads((nb_run / "summary.json").read_text())
    assert summary["evaluations"] == 60 and summary["best"]["metrics"]["accuracy"] > 88
    assert (nb_run / "best.json").exists() and (nb_run / "export" / "arch.json").exists()
    assert (nb_run / "export" / "model.onnx").stat().st_size > 10000


def test_show(nb_run, run_cli):
    text = run_cli("show", nb_run, "--top", "3", check=True).stdout
    assert "60 of 60 evaluations" in text and "top 3:" in text
    data = json.loads(run_cli("show", nb_run, "--json", check=True).stdout)
    assert len(data["top"]) == 10 and data["summary"]["ok"] == 60
    accs = [t["metrics"]["accuracy"] for t in data["top"]]
    assert accs == sorted(accs, reverse=True)
    curve = data["best_so_far"]
    assert [v for _, v in curve] == sorted(v for _, v in curve)


def test_report_writes_pngs_and_markdown(nb_run, run_cli, tmp_path):
    run_cli("report", nb_run, "--out", tmp_path / "rep", check=True)
    for f in ("best_so_far.png", "pareto.png"):
        data = (tmp_path / "rep" / f).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Top architectures" in md and "![best_so_far](best_so_far.png)" in md


def test_plots_take_a_log_axis_for_metrics_spread_over_decades(nb_run, tmp_path, monkeypatch):
    """NAAS's EDP runs from 4e16 to 2e18: on a linear axis the Pareto front and the best-so-far curve lay flat on
    the floor. Such an axis is logarithmic now; accuracies and parameter counts within a decade stay linear."""
    from matplotlib.figure import Figure

    from nasfw.report import axis_scale, plot_best_so_far, plot_pareto
    from nasfw.results import RunView
    from nasfw.store import Evaluation

    assert axis_scale([4.1e16, 7e16, 2.2e18]) == "log"
    assert axis_scale([71.9, 91.5]) == axis_scale([0.07, 1.07]) == axis_scale([-1.0, 200.0]) == "linear"
    scales = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (scales.append(
        (fig.axes[0].get_xscale(), fig.axes[0].get_yscale())), save(fig, *a, **k))[1])
    view = RunView.open(nb_run)  # accuracy against params_m: both within a decade
    plot_best_so_far(view, tmp_path / "a.png")
    plot_pareto(view, tmp_path / "b.png")
    assert scales == [("linear", "linear"), ("linear", "linear")]
    edp = [(12, 2.1e18), (24, 2.2e17), (60, 7.8e16), (128, 4.1e16), (160, 2.2e18)]
    from nasfw.cost import Objective

    view.campaign.objectives = [Objective("accuracy", "min")]  # standing in for edp_geomean
    view.evaluations = [Evaluation(i, "", {"i": i}, {"accuracy": v, "n_pes": n}, "ok", None, 0.0, "", 0.0, 0.0,
                                   "search") for i, (n, v) in enumerate(edp, 1)]
    scales.clear()
    plot_best_so_far(view, tmp_path / "c.png")
    plot_pareto(view, tmp_path / "d.png", x_metric="n_pes")
    assert scales == [("linear", "log"), ("linear", "log")]
    # a constraint on a plotted metric is drawn as its bound; one far outside the points is left out
    from nasfw.cost import Constraint

    labels = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: labels.append(
        [t.get_text() for t in fig.axes[0].get_legend().get_texts()]))
    view.campaign.constraints = [Constraint("n_pes", max=168), Constraint("accuracy", max=1e30)]
    plot_pareto(view, tmp_path / "e.png", x_metric="n_pes")
    assert labels == [["evaluated", "Pareto front", "n_pes <= 168"]]


def test_export_onnx_runs_in_onnxruntime(nb_run, run_cli, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from nasfw.plugins.nasbench201.model import NB201Network

    run_cli("export", nb_run, "--format", "onnx", "--out", tmp_path / "x", check=True)
    best = json.loads((tmp_path / "x" / "best.json").read_text())
    sess = ort.InferenceSession(str(tmp_path / "x" / "model.onnx"))
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    (y,) = sess.run(None, {"image": x})
    assert y.shape == (1, 10)
    torch.manual_seed(0)
    model = NB201Network(best["arch"]).eval()
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(best["metrics"]["params_m"], abs=1e-6)


def test_export_validates_a_given_arch(nb_run, run_cli):
    p = run_cli("export", nb_run, "--arch", '{"edge_1_0": "conv9"}')
    assert p.returncode == 2
    assert "--arch.edge_1_0 = 'conv9' is not allowed; allowed: one of" in p.stderr


def test_cost_and_hardware(run_cli):
    arch = {"edge_1_0": "nor_conv_3x3", "edge_2_0": "nor_conv_3x3", "edge_2_1": "nor_conv_3x3",
            "edge_3_0": "nor_conv_1x1", "edge_3_1": "skip_connect", "edge_3_2": "nor_conv_3x3"}
    data = json.loads(run_cli("cost", "--hardware", "nb201-params", "--arch", json.dumps(arch), "--json",
                              check=True).stdout)
    assert data["metrics"]["params_m"] == pytest.approx(1.073466)
    hw = json.loads(run_cli("hardware", "--json", "--plugins-dir", PLUGIN_DIR, check=True).stdout)
    assert {"nb201-params", "toy-size"} <= {h["name"] for h in hw}
    p = run_cli("cost", "--hardware", "nb201-params", "--option", "channel=8", "--arch", json.dumps(arch))
    assert p.returncode == 2 and "--option channel is not an option of cost model 'nb201-params'" in p.stderr


def test_cost_of_a_run_uses_its_cost_models_with_their_options(tmp_path, capsys):
    """`nasfw cost --hardware NAME --arch RUN/export/best.json` costed with the model's default options, not the
    run's (a board's memory model, its classes), so its figures differed from those `nasfw show` printed."""
    import nasfw
    from nasfw.cli import main

    run = tmp_path / "run"
    view = nasfw.search("nasbench201", budget=8, out=str(run), progress=False, workers=1,
                        hardware=[{"name": "nb201-params", "options": {"channels": 8}}])
    best = view.top(1)[0]
    assert main(["cost", "--run", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hardware"][0]["name"] == "nb201-params"
    assert data["hardware"][0]["metrics"]["params_m"] == pytest.approx(best.metrics["params_m"])
    assert main(["cost", "--hardware", "nb201-params", "--arch", json.dumps(best.arch), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)["metrics"]["params_m"]
    assert default > 2 * best.metrics["params_m"]  # 16 channels by default
    assert main(["cost", "--run", str(run), "--arch", '{"edge_1_0": "conv9"}']) == 2
    assert "--arch.edge_1_0 = 'conv9' is not allowed" in capsys.readouterr().err
    assert main(["cost", "--arch", "{}"]) == 2
    assert "needs --hardware NAME" in capsys.readouterr().err
    # a run without cost models (QuantumNAS's default lists none): the refusal names the ones its plugin provides
    bare = tmp_path / "bare"
    nasfw.search("nasbench201", budget=4, out=str(bare), progress=False, workers=1, hardware=[])
    assert main(["cost", "--run", str(bare)]) == 2
    assert "name one with --hardware (nasbench201 provides nb201-params" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["search", "--plugin", "nasbench20"], "unknown plugin 'nasbench20'; did you mean 'nasbench201'"),
    (["search", "--plugin", "nasbench201", "--searcher", "evolutoin"], "did you mean 'evolution'"),
    (["search", "--plugin", "nasbench201", "--budget", "-3"], "budget.evaluations = -3 is not allowed"),
    (["search", "--config", "missing.yaml"], "campaign file 'missing.yaml' does not exist"),
    (["cost", "--hardware", "stm32", "--arch", "{}"], "unknown hardware 'stm32'"),
    (["show", "nowhere"], "'nowhere' is not a nasfw run folder"),
    (["search", "--plugin", "nasbench201", "--config", "{cfg}", "--dry-run"], "unknown search space 'nasbench21'"),
    (["search", "--plugin", "nasbench201", "--config", "{cfg2}", "--dry-run"], "unknown task 'nasbench'; did you mean"),
    (["cost", "--hardware", "stm32f746", "--model", "broken.json"],
     "--model 'broken.json' is not valid JSON: Expecting value at line 2, column 1"),
    (["cost", "--hardware", "stm32f746", "--arch", '{"s0.depth": 5}'],
     "stm32f746: arch.s0.depth = 5 is not allowed; allowed: one of [2, 3, 4]. The input is neither"),
    (["cost", "--hardware", "nb201-params", "--arch", "{}"], "arch.edge_1_0 is missing; allowed: "),  # KeyError before
    (["cost", "--hardware", "accelerator-resources", "--arch", '{"pes": 16}'],
     "arch.dims is missing; accelerator-resources reads pes, dims, shape0, shape1, rf_bytes and glb_frac"),
    (["cost", "--hardware", "nb201-params", "--arch", "{}", "--option", "channels=0"],
     "--option channels = 0 is not allowed; allowed: an integer >= 1"),
    (["cost", "--hardware", "nb201-params", "--arch", "best.json"], "--arch 'best.json': no such file (and not JSON"),
    (["cost", "--hardware", "nb201-params", "--arch", "broken.json"],
     "--arch 'broken.json' is not valid JSON: Expecting value at line 2, column 1"),
    (["cost", "--hardware", "nb201-params", "--arch", '{"edge_1_0": "none", "edge_1_0": "skip_connect"}'],
     "--arch: key 'edge_1_0' appears twice; allowed: each key once"),  # json.loads kept the second
    (["cost", "--hardware", "stm32f746", "--arch", "{}", "--option", "foo=1"],
     ("--option foo is not an option of cost model 'stm32f746'; allowed: ['device', 'widths', 'n_classes', "
     "'memory'")),  # a traceback once
    (["cost", "--hardware", "stm32f746", "--arch", "{}", "--option", "sram_kb=-5"],
     "--option sram_kb = -5 is not allowed; allowed: a number > 0 or null"),
    (["lut", "build", "--plugin", "tinynas", "--out", "lut", "--resolutions", "48,x"],
     "--resolutions '48,x' is not allowed; allowed: comma-separated positive integers"),  # int()'s traceback before
    (["search", "--config", "empty.yaml"], "campaign file empty.yaml is empty; give --plugin NAME"),  # "space missing"
    (["search", "--plugin", "nasbench201", "--set", "task_options.dataset"],
     "--set 'task_options.dataset' is not allowed; allowed: FIELD=VALUE"),
    (["lut", "build", "--config", "empty.yaml", "--out", "lut"], "campaign file empty.yaml is empty"),
])
def test_bad_input_is_one_clean_line(run_cli, args, needle, tmp_path):
    (tmp_path / "space.yaml").write_text("space: nasbench21\n")
    (tmp_path / "task.yaml").write_text("task: nasbench\n")
    (tmp_path / "broken.json").write_text('{"blocks":\n')
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    args = [a.replace("{cfg}", str(tmp_path / "space.yaml")).replace("{cfg2}", str(tmp_path / "task.yaml"))
            for a in args]
    p = run_cli(*args)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    assert needle in p.stderr


def test_the_commands_and_their_options_explain_themselves(capsys):
    """`nasfw` or `nasfw lut` alone printed "the following arguments are required" and nothing else; `--version`
    did not exist; several options had no help line (--seed, --workers, --json, cost's --hardware)."""
    import argparse

    from nasfw import __version__
    from nasfw.cli import build_parser, main

    assert main([]) == 2 and "search    run a search campaign" in capsys.readouterr().out
    assert main(["lut"]) == 2 and "build     time every layer" in capsys.readouterr().out
    assert main(["space"]) == 2 and "optimise  choose the space" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"nasfw {__version__}\n"

    def undocumented(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from undocumented(child, f"{path} {name}")
            elif not action.help:
                yield f"{path} {action.option_strings or action.dest}"

    assert list(undocumented(build_parser(), "nasfw")) == []


def test_unwritable_output_folder(run_cli, tmp_path):
    """A read-only place (here a read-only file system, which even root cannot write) fails cleanly."""
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    targets = ["/proc/nasfw-run"] + ([] if os.access(ro, os.W_OK) else [str(ro / "run")])
    try:
        for target in targets:
            p = run_cli("search", "--plugin", "nasbench201", "--budget", "5", "--out", target)
            assert p.returncode == 2, p.stderr
            assert p.stderr.startswith("error: cannot write the run folder") and p.stderr.count("\n") == 1
    finally:
        ro.chmod(0o700)


def test_full_disk_is_a_clean_error_and_keeps_what_finished(run_cli, tmp_path):
    """The run folder on a tiny file system fills up mid-campaign: one clean line, exit status 2, and the
    evaluations committed before are intact."""
    import sqlite3
    import subprocess

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        p = run_cli("search", "--plugin", "nasbench201", "--budget", "3000", "--out", mnt / "run", "--no-progress")
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("error: cannot write") and "full" in p.stderr and p.stderr.count("\n") == 1
        c = sqlite3.connect(f"file:{mnt / 'run' / 'nasfw.sqlite'}?mode=ro", uri=True)
        try:
            n = c.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        finally:
            c.close()
        assert 0 < n < 3000
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_resume_a_run_folder_of_another_campaign(run_cli, tmp_path):
    run_cli("search", "--plugin", "nasbench201", "--budget", "5", "--out", tmp_path / "run", "--no-progress",
            check=True)
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--out", tmp_path / "run", "--resume")
    assert p.returncode == 2 and "is from another campaign" in p.stderr and p.stderr.count("\n") == 1
    # the fields that differ are named, and the way to continue the run as it was
    p = run_cli("search", "--plugin", "nasbench201", "--seed", "3", "--out", tmp_path / "run", "--resume")
    expected = ("is from another campaign (seed: 0 -> 3); continue it as it was started with "
                f"`nasfw search --resume --out {tmp_path / 'run'}`")
    assert p.returncode == 2 and expected in p.stderr
    # which works with nothing but the folder (the campaign comes from its campaign.yaml), a larger budget too
    p = run_cli("search", "--resume", "--out", tmp_path / "run", "--budget", "8", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["evaluations"] == 8
    p = run_cli("search", "--resume", "--out", tmp_path / "nothing")
    assert p.returncode == 2 and "holds no run to resume (no campaign.yaml)" in p.stderr


def test_hardware_files(run_cli, tmp_path):
    arch = json.dumps({"op": "a", "width": 32, "width_out": 32, "lr": 0.01, "mapping": [0, 1, 2],
                       "blocks": [{"k": 3, "e": 4}]})
    good = tmp_path / "board.yaml"
    good.write_text("name: my-board\ncost_model: toy-board\noptions: {sram_kb: 64, flash_kb: 512}\n")
    p = run_cli("cost", "--plugins-dir", PLUGIN_DIR, "--hardware", good, "--arch", arch, "--json", check=True)
    assert json.loads(p.stdout)["metrics"] == {"peak_sram_kb": 32.0, "sram_fraction": 0.5}
    cases = [("cost_model: toy-board\noptions: {sram_kb: 64}\n", "needs option(s) ['flash_kb']"),
             ("options: {sram_kb: 64, flash_kb: 1}\n", "field 'cost_model' is missing"),
             ("cost_model: toy-bord\noptions: {}\n", "unknown hardware 'toy-bord'; did you mean 'toy-board'"),
             ("cost_model: toy-board\nsram: 3\n", "unknown hardware file bad.yaml field 'sram'")]
    for text, needle in cases:
        (tmp_path / "bad.yaml").write_text(text)
        p = run_cli("cost", "--plugins-dir", PLUGIN_DIR, "--hardware", tmp_path / "bad.yaml", "--arch", arch)
        assert p.returncode == 2 and needle in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_a_run_whose_every_evaluation_failed_exits_non_zero_and_says_why(run_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"space": "toy", "task": "toy", "task_options": {"fail_op": "*"},
                               "objectives": [{"metric": "score"}], "searcher": "random", "budget": 4}))
    p = run_cli("search", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--out", tmp_path / "run", "--no-progress")
    assert p.returncode == 1
    assert "every evaluation failed, nothing was finalized" in p.stderr
    assert "toy evaluation failed on purpose" in p.stderr
    assert "Traceback" not in p.stderr
    # show and report say why instead of an empty table (and the plot has no legend to warn about)
    p = run_cli("show", tmp_path / "run", check=True)
    assert "failed 4x (first: evaluation 1): RuntimeError: toy evaluation failed on purpose" in p.stdout
    assert "no successful evaluation yet" in p.stdout and "top 0" not in p.stdout
    p = run_cli("show", tmp_path / "run", "--json", check=True)
    assert json.loads(p.stdout)["failures"][0]["count"] == 4
    p = run_cli("report", tmp_path / "run", check=True)
    assert "Warning" not in p.stderr, p.stderr
    md = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "No successful evaluation." in md and "| 4 | 1 | RuntimeError: toy evaluation failed on purpose" in md


def test_failures_are_grouped_most_frequent_first(tmp_path):
    """A run where some candidates fail lists each distinct error once, with its count, beside the top table."""
    from nasfw.campaign import parse
    from nasfw.registry import Registry
    from nasfw.results import RunView
    from nasfw.runner import run_campaign

    raw = {"space": "toy", "task": "toy", "task_options": {"fail_op": "a", "nan_op": "c"},
           "objectives": [{"metric": "score"}], "searcher": "random", "budget": 30, "out": str(tmp_path / "run")}
    run_campaign(parse(raw), Registry([PLUGIN_DIR]), progress=False, plugins_dirs=(str(PLUGIN_DIR),))
    view = RunView.open(tmp_path / "run")
    failed = [e for e in view.evaluations if e.status == "failed"]
    groups = view.failures()
    assert sum(g["count"] for g in groups) == len(failed) and len(groups) == len({e.error for e in failed}) == 2
    assert groups[0]["count"] >= groups[1]["count"]
    assert all(g["first"] == min(e.id for e in failed if e.error == g["error"]) for g in groups)
    assert view.top(3)  # the "b" candidates succeed


def test_phase_options_are_checked_before_any_work(run_cli, tmp_path):
    """Phase settings are options of the task's methods; a typo fails in seconds, not after the search."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("phases: {supernet: {epochz: 2}}\n")
    p = run_cli("search", "--config", cfg, "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--out", tmp_path / "run")
    assert p.returncode == 2
    assert ("phases.supernet.epochz is not an option of the supernet phase of task 'toy' (did you mean 'epochs'?); "
            "allowed: ['epochs', 'sleep_s', 'progress']") in p.stderr
    assert not (tmp_path / "run").exists()
    cfg.write_text("phases: {finalize: {task: {shotz: 100}}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "quantumnas", "--dry-run")
    assert p.returncode == 2
    assert ("phases.finalize.task.shotz is not an option of the finalize step of task 'quantumnas-qml' (did you mean "
            "'shots'?)") in p.stderr
    # the default's QML phase settings do not reach another task (VQE's methods take other options)
    cfg.write_text("task: quantumnas-vqe\ntask_options: {molecule: h2}\nphases: {finalize: {task: {steps: 5}}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "quantumnas", "--dry-run")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("plugin, finalize, needle", [
    ("quantumnas", "{baselines: [humann]}", ("phases.finalize.task.baselines = ['humann'] is not allowed; allowed: a "
     "list (each one of 'human', 'random', 'noise-unaware', 'fixed-mapping', 'sabre'); did you mean 'human'?")),
    ("quantumnas", "{retrain_spread: block}", ("phases.finalize.task.retrain_spread = 'block' is not allowed; "
     "allowed: one of 'none', 'blocks'; did you mean 'blocks'?")),
    ("tinynas", "{lut: nolut}", "phases.finalize.task.lut = 'nolut': latency tables: no *_lookup_table.yaml in"),
    ("naas", "{n_random: 0}", "phases.finalize.task.n_random = 0 is not allowed; allowed: an integer >= 1"),
])
def test_finalize_values_are_checked_before_the_search(run_cli, tmp_path, plugin, finalize, needle):
    """A misspelt baseline or a missing latency table failed in finalize, after the search and the training:
    the task's `check_finalize` runs when the campaign is built (--dry-run too)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"phases: {{finalize: {{task: {finalize}}}}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", plugin, "--dry-run")
    assert p.returncode == 2 and needle in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("plugin, campaign, needle", [
    ("quantumnas", "phases: {supernet: {sampling: unifrom}}",
     ("phases.supernet.sampling = 'unifrom' is not allowed; allowed: one of 'uniform', 'sandwich', "
      "'restricted', 'progressive'; did you mean 'uniform'?")),
    ("quantumnas", "task: quantumnas-vqe\ntask_options: {molecule: h2}\nphases: {supernet: {sampling: progresive}}",
     "did you mean 'progressive'?"),
    ("tinynas", "phases: {supernet: {optimizer: adamw}}", "one of 'adam', 'sgd'; did you mean 'adam'?"),
    ("quantumnas", "task_options: {dataset: fashion}", "task_options.dataset = 'fashion'; allowed: 'mnist', 'digits'"),
    ("quantumnas", "task_options: {test_dataset: t10k}", "task_options.test_dataset = 't10k'; allowed: 'mnist'"),
    ("quantumnas", "task_options: {dataset: digits, classes: [0, 1, 2, 3, 4, 5]}",
     "task_options.classes: 6 classes cannot be read from 4 qubits"),
    ("quantumnas", "task_options: {classes: [0, 12]}", "[12] not among the dataset's labels"),
    ("quantumnas", "task_options: {n_features: 15}", "n_features = 15 is not allowed for the images of 'mnist'"),
    ("quantumnas", "phases: {supernet: {lr: -1}}",  # torch.optim's 'Invalid learning rate' traceback before
     "phases.supernet.lr = -1 is not allowed; allowed: a number > 0"),
    ("tinynas", "phases: {supernet: {epochs: 0}}",
     "phases.supernet.epochs = 0 is not allowed; allowed: an integer >= 1"),
    ("quantumnas", "phases: {finalize: {task: {mutate_prob: 1.5}}}", "allowed: a number from 0 to 1"),
    ("tinynas", "task_options: {dataset: fashion}", "task_options.dataset = 'fashion'; allowed: 'mnist', 'digits'"),
    ("tinynas", "task_options: {n_valid: 0}",
     "task_options.n_valid = 0 is not allowed; allowed: an integer >= 1 or null"),
    # an option given in task_options is named so, not as the space_options the user never wrote
    ("tinynas", "task_options: {widths: proxy}", ("error: task_options.widths = 'proxy' is not allowed; allowed: one "
     "of 'proxyless', 'mobilenetv2'; did you mean 'proxyless'?")),
    ("quantumnas", "task_options: {n_wires: 0}", ("error: task_options.n_wires = 0 is not allowed; allowed: an integer "
     ">= 2")),
    ("quantumnas", "task_options: {circuit: u3cx}", ("task_options.circuit = 'u3cx' is not allowed; allowed: one of "
     "'u3cu3', 'zz_ry', 'rxyz', 'zx_xx', 'rxyz_u1_cu3', 'ibmq_basis'; did you mean 'u3cu3'?")),
    # one device or board named in two places, once differently: accepted, and the run mixed the two (left out
    # of space_options and hardware, they follow the task: tests/test_campaign_defaults.py)
    ("quantumnas", "space_options: {device: quito}\ntask_options: {device: lima}",
     "space_options.device = 'quito' and task_options.device = 'lima' name two devices"),
    ("quantumnas", "task: quantumnas-vqe\nspace_options: {device: quito}\ntask_options: {molecule: h2, device: lima}",
     "name two devices"),
    # too few qubits: the error names devices that have enough
    ("quantumnas", "task: quantumnas-vqe\ntask_options: {molecule: h2o}",
     "task_options.molecule needs 6 qubits; 'quito' has 5; a larger task_options.device: e.g. casablanca, jakarta"),
    ("tinynas", "hardware: [{name: stm32f401}]\ntask_options: {device: stm32f746}",
     "hardware[0] = 'stm32f401' is another board than task_options.device = 'stm32f746'"),
    # a cheap cost model that cannot read the space's archs stopped the run at its first candidate, after training
    ("tinynas", "hardware: [stm32f401, note10]", ("hardware[1] = 'note10' cannot cost the architectures of space "
                                                  "'mbconv-proxyless': note10 latency: the arch must be an OFA "
                                                  "MobileNetV3 subnet")),
])
def test_values_that_failed_once_training_started_fail_when_the_campaign_is_built(cli_in_process, tmp_path, plugin,
                                                                                  campaign, needle):
    """A misspelt sampling rule or optimiser, or a QML dataset that is not there, failed when the supernet phase
    reached it (the run folder made, the data loaded); now `--dry-run` refuses them in one line."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(campaign + "\n")
    p = cli_in_process("search", "--config", cfg, "--plugin", plugin, "--dry-run")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and needle in p.stderr, p.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("plugin, campaign, needle", [
    ("quantumnas", "task_options: {dataset: fashion}", "task_options.dataset = 'fashion'; allowed: 'mnist', 'digits'"),
    ("tinynas", "phases: {supernet: {epochs: 0}}",
     "phases.supernet.epochs = 0 is not allowed; allowed: an integer >= 1"),
])
def test_a_refused_value_is_the_console_s_only_line(run_cli, tmp_path, plugin, campaign, needle):
    """As above, from the console: nothing else (no library's warning) is printed beside the message."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(campaign + "\n")
    p = run_cli("search", "--config", cfg, "--plugin", plugin, "--dry-run")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and needle in p.stderr, p.stderr


def test_export_formats_are_checked_under_the_name_typed(nb_run, run_cli, tmp_path):
    """A format the task does not write fails before anything is written, naming `--format` on the command line
    and `phases.finalize.export` in a campaign file."""
    p = run_cli("export", nb_run, "--format", "qasm", "--out", tmp_path / "x")
    assert p.returncode == 2
    assert "--format: 'qasm' is not a format this task writes; allowed: ['json', 'onnx', 'pt']" in p.stderr
    assert not (tmp_path / "x").exists()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("phases: {finalize: {export: [qasm, onnx]}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "quantumnas", "--dry-run")
    assert p.returncode == 2
    assert "phases.finalize.export: 'onnx' is not a format this task writes; allowed: ['qasm', 'json']" in p.stderr
    p = run_cli("export", nb_run, "--format", "onxx")
    assert p.returncode == 2 and "allowed: ['json', 'onnx', 'pt']; did you mean 'onnx'?" in p.stderr
    cfg.write_text("phases: {finalize: {export: [json]}}\n")
    p = run_cli("search", "--config", cfg, "--plugins-dir", PLUGIN_DIR, "--plugin", "toy", "--dry-run")
    assert p.returncode == 2 and "phases.finalize.export: ['json']; the task" in p.stderr
    assert "has no export" in p.stderr


def test_phase_options_for_a_phase_the_task_lacks_fail(run_cli, tmp_path):
    """Options for a phase the task does not have were dropped without a word: a user who set supernet epochs
    on NAS-Bench-201 (a lookup task, no supernet) believed they had trained one."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("phases: {supernet: {epochs: 3}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "nasbench201", "--dry-run")
    assert p.returncode == 2
    assert "phases.supernet = {'epochs': 3}: the task 'nasbench201' has no supernet phase" in p.stderr
    assert "Traceback" not in p.stderr
    cfg.write_text("phases: {finalize: {task: {shots: 10}}}\n")
    p = run_cli("search", "--config", cfg, "--plugin", "nasbench201", "--dry-run")
    assert p.returncode == 2
    assert "phases.finalize.task = {'shots': 10}: the task 'nasbench201' has no finalize step of its own" in p.stderr
    for ok in ("phases: {supernet: {}, finalize: {task: false, top_k: 3}}\n", "phases: {supernet: false}\n"):
        cfg.write_text(ok)
        p = run_cli("search", "--config", cfg, "--plugin", "nasbench201", "--dry-run")
        assert p.returncode == 0, (ok, p.stderr)


def test_top_must_be_a_positive_count(nb_run, run_cli):
    """`--top -2` used to show all but the last two rows (a slice from the end) under the title 'top 3'."""
    for command in ("show", "report"):
        p = run_cli(command, nb_run, "--top", "-2")
        assert p.returncode == 2 and "argument --top: -2 is not allowed; allowed: a positive integer" in p.stderr
    assert "top 1:" in run_cli("show", nb_run, "--top", "1", check=True).stdout


def test_set_runs_a_default_campaign_with_one_field_changed(run_cli):
    """Another dataset (or device) for a plugin's default campaign, without writing a campaign file."""
    p = run_cli("search", "--plugin", "nasbench201", "--set", "task_options.dataset=cifar100", "--set",
                "searcher.settings.population_size=8", "--dry-run", check=True)
    shown = yaml.safe_load(p.stdout.split("\n", 1)[1])
    assert shown["task_options"] == {"dataset": "cifar100"}
    assert shown["searcher"]["settings"] == {"population_size": 8, "sample_size": 5}
