"""A run's options may name files relative to the folder it was started in (campaign.yaml keeps them as written);
`nasfw export RUN`, `nasfw cost --run RUN` and `nasfw search --resume --out RUN` from another folder failed with
"no such file" for them."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import nasfw
from nasfw.run_cwd import paths_only_there, started_in


def _full_table(path) -> None:
    from nasfw.search_spaces.nasbench201 import arch_to_key, nasbench201_space

    decisions = nasbench201_space().decisions
    keys = sorted(arch_to_key({d.name: op for d, op in zip(decisions, ops)})
                  for ops in itertools.product(*[d.options for d in decisions]))
    path.write_text(json.dumps({k: 50.0 + i % 40 for i, k in enumerate(keys)}))


def test_a_run_with_relative_paths_is_exported_and_resumed_from_another_folder(tmp_path, monkeypatch, capsys):
    from nasfw.cli import main

    start, other = tmp_path / "project", tmp_path / "elsewhere"
    start.mkdir()
    other.mkdir()
    _full_table(start / "table.json")
    monkeypatch.chdir(start)
    assert main(["search", "--plugin", "nasbench201", "--set", "task_options.path=table.json", "--budget", "3",
                 "--out", "runs/a", "--no-progress"]) == 0
    assert started_in(nasfw.open_run(start / "runs" / "a").environments) == start

    monkeypatch.chdir(other)
    capsys.readouterr()
    assert main(["export", "../project/runs/a", "--out", "exported"]) == 0
    out, err = capsys.readouterr()
    assert f"note: nasfw export works in {start}, where the run was started: its options name table.json" in out, err
    assert (other / "exported" / "best.json").is_file()  # the user's own --out, from where the user is

    monkeypatch.chdir(other)
    assert main(["search", "--resume", "--out", "../project/runs/a", "--budget", "5", "--no-progress"]) == 0
    assert nasfw.open_run(start / "runs" / "a").summary()["evaluations"] == 5

    monkeypatch.chdir(other)  # from Python: the same, and the caller's folder is given back
    capsys.readouterr()
    run = nasfw.search(resume=True, out="../project/runs/a", budget=6, progress=False)
    assert run.summary()["evaluations"] == 6 and run.run_dir == start / "runs" / "a"
    assert f"note: nasfw.search(resume=True) works in {start}" in capsys.readouterr().out
    assert Path.cwd() == other

    monkeypatch.chdir(start)  # where the paths are found, nothing moves and nothing is said
    capsys.readouterr()
    assert main(["export", "runs/a"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_only_relative_paths_found_there_and_not_here_are_named(tmp_path, monkeypatch):
    there, here = tmp_path / "there", tmp_path / "here"
    for d in (there / "data", here / "both"):
        d.mkdir(parents=True)
    (there / "both").mkdir()
    monkeypatch.chdir(here)
    options = [{"dataset": "data", "name": "mnist", "nets": ["data", "both", str(there / "data")], "n": 3}]
    assert paths_only_there(options, there) == ["data"]
    assert paths_only_there([{"x": "a" * 5000}], there) == []  # too long to be a path: not one
