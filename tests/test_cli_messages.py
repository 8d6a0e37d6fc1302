"""What the commands other than `search` say when something stops them. Every command that writes into a folder
says in one line when it cannot (a file of that name, a path that cannot be made; `report`, `export`, `compare`,
`lut build` and `space optimise` ended in a FileExistsError traceback), and only a search is told to resume."""
import pytest

import nasfw
from nasfw.errors import ConfigError, output_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "run"
    nasfw.search("nasbench201", {"phases": {"finalize": {"export": ["json"]}}}, budget=3, out=str(out),
                 progress=False)
    return out


@pytest.mark.parametrize("command", [
    ["report", "{run}"], ["export", "{run}"], ["compare", "{run}"],
    ["lut", "build", "--plugin", "tinynas"], ["space", "optimise", "--plugin", "tinynas"],
])
def test_a_file_where_the_output_folder_should_be_is_refused_in_one_line(run_dir, run_cli, tmp_path, command):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    p = run_cli(*[c.format(run=run_dir) for c in command], "--out", blocker)
    assert p.returncode == 2, p.stderr
    assert p.stderr == f"error: --out = '{blocker}' exists and is not a folder; allowed: a folder, made if missing\n"
    assert blocker.read_text() == "a file"


def test_a_folder_that_cannot_be_made_is_refused_from_python_too(run_dir, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"out = '.*file/sub': the folder cannot be made \(Not a directory\)"):
        nasfw.open_run(run_dir).report(tmp_path / "file" / "sub")
    assert output_folder(tmp_path / "a" / "b").is_dir()


def test_only_an_interrupted_search_is_told_to_resume(run_dir, monkeypatch, capsys):
    """Ctrl-C in `nasfw report` (or `lut build`, minutes long) said "finished evaluations are in the store; continue
    with --resume", which only a search has."""
    import nasfw.report
    from nasfw.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nasfw.report, "write_report", interrupted)
    assert main(["report", str(run_dir)]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_command_to_copy_quotes_a_folder_with_a_space(cli_in_process, tmp_path):
    """`continue it as it was started with \\`nasfw search --resume --out my runs/a\\`` ran `--out my` when pasted."""
    out = tmp_path / "my runs" / "a"
    assert cli_in_process("search", "--plugin", "nasbench201", "--budget", "5", "--out", out,
                          "--no-progress").returncode == 0
    p = cli_in_process("search", "--plugin", "nasbench201", "--seed", "3", "--out", out, "--resume")
    assert p.returncode == 2 and f"`nasfw search --resume --out '{out}'`" in p.stderr, p.stderr
