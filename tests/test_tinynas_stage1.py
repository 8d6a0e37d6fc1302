"""TinyNAS stage 1 chooses MCUNet's own search space for the 320 kB / 1 MB board."""
import pytest

from nasfw.plugins.tinynas.stage1 import optimise_space


def test_stage1_picks_mcunets_space_for_320kb_1mb(tmp_path):
    out = optimise_space("stm32f746", memory="tinyengine", width_mults=(0.3, 0.4, 0.5, 0.6, 0.7),
                         resolutions=(128, 144, 160, 176, 192, 208), samples=200, plot=tmp_path / "cdf.png")
    best = out["best"]
    assert (best["width"], best["resolution"]) == (0.5, 176)  # the released mcunet-320kb-1mb is w0.5-r176
    assert best["fit"] >= 0.4 and (tmp_path / "cdf.png").stat().st_size > 5000
    # a tighter board pushes the choice to a smaller space
    small = optimise_space("stm32f412", memory="tinyengine", sram_kb=128, flash_kb=512,
                           width_mults=(0.3, 0.4, 0.5, 0.6), resolutions=(96, 128, 160, 176), samples=200)["best"]
    assert small["width"] * small["resolution"] < 0.5 * 176


def test_stage1_reports_every_cell_and_no_choice_when_nothing_fits():
    out = optimise_space("stm32f412", sram_kb=8, width_mults=(1.0,), resolutions=(224,), samples=20)
    assert out["best"] is None and out["cells"][0]["fit"] == pytest.approx(0.0)


def test_stage1_from_the_command_line_for_the_campaigns_board(tmp_path, capsys):
    """Stage 1 was reachable from Python only, on a board and class count typed again by hand: the command takes
    them from the campaign `nasfw search` would run, and prints the command that searches the chosen space."""
    import json

    import numpy as np

    from nasfw.api import resolve_campaign
    from nasfw.cli import main
    from nasfw.registry import get_registry

    rc = main(["space", "optimise", "--plugin", "tinynas", "--set", "task_options.device=stm32f746", "--widths",
               "0.4,0.5,0.6", "--resolutions", "144,160,176,192", "--samples", "200", "--out", str(tmp_path),
               "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "stm32f746 (320 kB SRAM, 1024 kB Flash, tinyengine memory), 10 classes: 12 spaces" in out
    assert out.splitlines()[3].split()[:2] == ["0.5", "176"] and "chosen" in out.splitlines()[3]
    search = ("nasfw search --plugin tinynas --set task_options.device=stm32f746 --set task_options.width_mult=0.5 "
              "--set 'task_options.resolutions=[176]'")
    assert f"search it: {search}" in out
    report = json.loads((tmp_path / "stage1.json").read_text())
    assert len(report["cells"]) == 12 and (tmp_path / "stage1_cdf.png").stat().st_size > 5000
    # the printed sets make a campaign that searches exactly that space on that board
    sets = ["task_options.device=stm32f746", "task_options.width_mult=0.5", "task_options.resolutions=[176]"]
    c = resolve_campaign(get_registry(), "tinynas", sets=sets)
    assert c.space_options == {"width_mult": 0.5, "resolutions": [176]} and c.hardware[0][0] == "stm32f746"
    # the dataset's classes count towards Flash
    data = tmp_path / "c100.npz"
    np.savez(data, x=np.zeros((300, 8, 8), np.float32), y=np.arange(300) % 100)
    assert main(["space", "optimise", "--plugin", "tinynas", "--set", f"task_options.dataset={data}", "--widths", "0.2",
                 "--resolutions", "48", "--samples", "20", "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["n_classes"] == 100


def test_stage1_command_refuses_bad_grids_and_tasks_without_it(capsys):
    from nasfw.cli import main

    for args, message in ((["--widths", "0.3,x"], "--widths '0.3,x' is not allowed; allowed: comma-separated"),
                          (["--widths", "0,0.5"], (r"width_mults \(--widths\) = \[0.0, 0.5\] is not allowed; "
                                                   r"allowed: numbers in \(0, 4\]")),
                          (["--resolutions", "8"], r"resolutions \(--resolutions\) = \[8\] is not allowed"),
                          (["--min-fit", "1.5"], (r"min_fit \(--min-fit\) = 1.5 is not allowed; allowed: a fraction "
                                                 r"in \(0, 1\]"))):
        assert main(["space", "optimise", "--plugin", "tinynas", "--no-progress", *args]) == 2
        err = capsys.readouterr().err
        assert __import__("re").search(message, err), err
    with pytest.raises(SystemExit) as e:  # argparse's own refusal names the flag
        main(["space", "optimise", "--plugin", "tinynas", "--no-progress", "--samples", "0"])
    assert e.value.code == 2 and "argument --samples: 0 is not allowed; allowed: a positive integer" in \
        capsys.readouterr().err
    assert main(["space", "optimise", "--plugin", "tinynas", "--set", "task_options.sram_kb=8", "--samples", "20",
                 "--no-progress"]) == 1  # nothing fits: a script must not go on to search
    assert "no space qualifies" in capsys.readouterr().out
    assert main(["space", "optimise", "--plugin", "naas"]) == 2
    assert "task 'naas' cannot optimise its search space" in capsys.readouterr().err


def test_auto_runs_stage_1_when_the_campaign_is_resolved(capsys):
    """MCUNet's two stages took two commands and a copied command line: `width_mult: auto` (and/or `resolutions:
    auto`) runs stage 1 over what is left to it and the campaign searches its choice, recorded in place of `auto`
    (the run's campaign.yaml, the workers' task and --resume all read the chosen values)."""

    from nasfw.api import resolve_campaign
    from nasfw.plugins.tinynas.stage1 import WIDTH_MULTS
    from nasfw.plugins.tinynas.task import TinyNASTask
    from nasfw.registry import get_registry

    sets = ["task_options.device=stm32f746", "task_options.width_mult=auto", "task_options.resolutions=[160, 176]"]
    c = resolve_campaign(get_registry(), "tinynas", sets=sets)
    direct = optimise_space("stm32f746", width_mults=WIDTH_MULTS, resolutions=(160, 176), n_classes=10)["best"]
    chosen = {"width_mult": direct["width"], "resolutions": [direct["resolution"]]}
    assert chosen == {"width_mult": 0.5, "resolutions": [176]}
    assert {k: c.task_options[k] for k in chosen} == chosen and c.space_options == chosen
    assert ("stage 1 (task_options.width_mult: auto) for stm32f746: width 0.5 at resolution 176 (45% of 1000 "
            "networks fit, 68.0 M mean MACs)") in capsys.readouterr().err
    again = resolve_campaign(get_registry(), "tinynas", sets=sets)  # resolved once per process, said once
    assert again.task_options == c.task_options and capsys.readouterr().err == ""
    # a script's own task resolves it the same way
    task = TinyNASTask(device="stm32f746", width_mult="auto", resolutions=[160, 176])
    assert (task.width_mult, task.resolutions) == (0.5, [176])


def test_auto_where_no_space_fits_names_the_nearest():
    from nasfw.api import resolve_campaign
    from nasfw.errors import ConfigError
    from nasfw.registry import get_registry

    with pytest.raises(ConfigError, match=r"task_options.width_mult: auto: no space of the grid \(widths \[0.2, .*"
                                          r"resolutions \[224\]\) has 40% of its networks within stm32f401's memory "
                                          r"\(the nearest: width 0.2 at 224, 0%\)"):
        resolve_campaign(get_registry(), "tinynas", sets=["task_options.width_mult=auto",
                                                           "task_options.resolutions=[224]"])


@pytest.mark.parametrize("given, needle", [
    ("task_options.device=stm32f74", "unknown task_options.device 'stm32f74'; did you mean 'stm32f746'"),
    ("task_options.memory=bogus", "task_options.memory = 'bogus' is not allowed; allowed: one of 'per-layer'"),
    ("task_options.widths=bogus", "task_options.widths = 'bogus' is not allowed"),
    ("task_options.devices=nofile.yaml", "task_options.devices = 'nofile.yaml': no such YAML file"),
])
def test_auto_refuses_what_stage_1_reads_as_the_task_does(given, needle):
    """Under `auto` stage 1 read the options first and refused them in its own words ("unknown option memory",
    "space_options.widths", "option devices"), not as the options the user wrote."""
    from nasfw.api import resolve_campaign
    from nasfw.errors import ConfigError
    from nasfw.registry import get_registry

    with pytest.raises(ConfigError) as e:
        resolve_campaign(get_registry(), "tinynas", sets=["task_options.width_mult=auto", given])
    assert needle in str(e.value)


def test_stage_1_under_auto_shows_its_bar_unless_told_not_to(cli_in_process):
    """Stage 1 runs while the campaign is resolved, before a phase is handed `progress`: it showed no bar at all
    (seconds of silence on a large grid). It follows --no-progress as the phases do."""
    base = ["search", "--plugin", "tinynas", "--dry-run", "--set", "task_options.device=stm32f746",
            "--set", "task_options.width_mult=auto"]
    shown = cli_in_process(*base, "--set", "task_options.resolutions=[144, 160]")
    assert shown.returncode == 0 and "stage 1: 100%" in shown.stderr, shown.stderr
    quiet = cli_in_process(*base, "--set", "task_options.resolutions=[144, 176]", "--no-progress")
    assert quiet.returncode == 0 and "stage 1:" not in quiet.stderr and "stage 1 (task_options" in quiet.stderr
