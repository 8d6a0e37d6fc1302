"""`nasfw space show`: the space a campaign would search, its size, and its cheap constraints' share."""
import json

import numpy as np

from nasfw.space import Space
from tests.conftest import PLUGIN_DIR


def test_the_nasbench201_space_is_shown_with_its_size_and_an_example(run_cli):
    p = run_cli("space", "show", "--plugin", "nasbench201", check=True)
    assert "6 decisions, 15,625 architectures" in p.stdout
    assert "edge_1_0" in p.stdout and "nor_conv_3x3" in p.stdout and "example: {" in p.stdout


def test_set_changes_the_space_shown_and_json_is_the_space_language(run_cli):
    """`--set space_options...` shows the space that campaign would search; the JSON's space builds the same
    space again (what a campaign may name inline)."""
    full = json.loads(run_cli("space", "show", "--plugin", "quantumnas", "--json", "--samples", "0",
                              check=True).stdout)
    small = json.loads(run_cli("space", "show", "--plugin", "quantumnas", "--json", "--samples", "0", "--set",
                               "space_options.n_blocks=2", check=True).stdout)
    assert small["architectures"] < full["architectures"]
    again = Space.from_dict(small["space"])
    assert again.size() == small["architectures"]
    again.validate(small["example"])


def test_the_cheap_constraints_share_is_counted(run_cli, tmp_path):
    """The toy plugin's cheap model and a bound on it: the share printed is the share of the campaign's seeded
    random architectures that meet it, counted here again from the same draws."""
    from nasfw.registry import Registry

    reg = Registry([PLUGIN_DIR])
    space, cheap, metric = reg.space("toy"), reg.cost_model("toy-size"), "size"
    rng = np.random.default_rng(0)
    values = [cheap.evaluate(space.sample(rng))[metric] for _ in range(200)]
    bound = float(np.median(values))
    expected = sum(v <= bound for v in values)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"plugin: toy\nseed: 0\nhardware: [toy-size]\nconstraints: [{{metric: {metric}, max: {bound}}}]\n")
    out = run_cli("space", "show", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--samples", "200",
                  check=True).stdout
    assert f"{expected} of 200 random architectures" in out, out
    data = json.loads(run_cli("space", "show", "--plugins-dir", PLUGIN_DIR, "--config", cfg, "--samples", "200",
                              "--json", check=True).stdout)
    assert data["cheap"]["met"] == expected and data["cheap"]["metrics"][metric]["max"] == max(values)


def test_space_show_without_a_campaign_says_what_it_needs(run_cli):
    p = run_cli("space", "show")
    assert p.returncode == 2 and "needs --plugin NAME or --config FILE" in p.stderr
    p = run_cli("space", "show", "--plugin", "nasbench201", "--samples", "-5")
    assert p.returncode == 2 and "--samples: -5 is not allowed; allowed: an integer >= 0" in p.stderr


def test_a_bad_task_option_is_named_as_written_not_as_the_space_option_it_fills(run_cli):
    """The space takes the task's block count and width multiplier (`campaign_defaults`); a bad one was reported
    as `space_options.n_blocks`, a field the user never wrote, where `nasfw search` names `task_options`."""
    for plugin, option, needle in (("quantumnas", "task_options.n_blocks=0", "error: task_options.n_blocks = 0"),
                                   ("tinynas", "task_options.width_mult=9", "error: task_options.width_mult = 9")):
        p = run_cli("space", "show", "--plugin", plugin, "--set", option)
        assert p.returncode == 2 and needle in p.stderr, p.stderr
    p = run_cli("space", "show", "--plugin", "quantumnas", "--set", "space_options.n_blocks=0")
    assert p.returncode == 2 and "error: space_options.n_blocks = 0" in p.stderr  # the user's own space option


def test_a_space_file_from_space_show_is_searched_and_kept_in_the_run(run_cli, tmp_path):
    """`space: FILE` takes what `space show --json` printed (here narrowed by hand); the run's campaign.yaml holds
    the space itself, so the run resumes after the file is gone."""
    data = json.loads(run_cli("space", "show", "--plugin", "nasbench201", "--json", "--samples", "0",
                              check=True).stdout)
    for d in data["space"]["decisions"]:
        d["options"] = ["none", "nor_conv_3x3"]
    space_file = tmp_path / "narrow.json"
    space_file.write_text(json.dumps(data))
    out = tmp_path / "run"
    args = ["search", "--plugin", "nasbench201", "--set", f"space={space_file}", "--out", out, "--no-progress"]
    run_cli(*args, "--budget", "10", check=True)
    show = json.loads(run_cli("show", out, "--json", check=True).stdout)
    assert all(set(t["arch"].values()) <= {"none", "nor_conv_3x3"} for t in show["top"])
    space_file.unlink()
    assert "evaluations: 20" in run_cli("search", "--resume", "--out", out, "--budget", "20", "--no-progress",
                                        check=True).stdout
    bad = run_cli("search", "--plugin", "nasbench201", "--set", f"space={space_file}", "--dry-run")
    assert bad.returncode == 2 and "is not a file; allowed: a registered search-space name, a space file" in bad.stderr


def test_space_optimise_names_its_flag_for_a_bad_sample_count(run_cli):
    p = run_cli("space", "optimise", "--plugin", "tinynas", "--samples", "-1")
    assert p.returncode == 2 and "argument --samples: -1 is not allowed; allowed: a positive integer" in p.stderr


def test_a_large_device_s_layout_is_shown_in_one_short_row(cli_in_process):
    """Torino's 133 qubits were listed in full and widened every row of the table to about 600 characters."""
    p = cli_in_process("space", "show", "--plugin", "quantumnas", "--set", "task_options.device=torino")
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("layout"))
    assert "4 distinct of [0 .. 132], ordered, along 150 coupling edges" in row
    table = [line for line in p.stdout.splitlines() if " choice " in line or " permutation " in line]
    assert len(table) == 18 and max(len(line) for line in table) < 130
    from nasfw.cli_space import _items

    assert _items([0, 1, 2, 3, 4]) == "[0, 1, 2, 3, 4]"
    assert _items([f"q{i}" for i in range(20)]) == '["q0", "q1", "q2", "q3", ... (14 more), "q18", "q19"]'
