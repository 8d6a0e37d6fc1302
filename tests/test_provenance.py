"""What a run was made with: recorded per session, shown, and compared (nasfw.provenance)."""
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nasfw
from nasfw import provenance
from nasfw.compare import compare_runs
from nasfw.registry import Registry
from nasfw.report import write_report
from tests.conftest import PLUGIN_DIR, wheel_layout_copy


def _plugin_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copy(PLUGIN_DIR / "toy.py", folder / "toy.py")
    return folder


def _edit(folder: Path) -> None:
    toy = folder / "toy.py"
    toy.write_text(toy.read_text() + "\n# an edit between two sessions\n")


def test_environment_names_the_code_packages_and_machine():
    env = provenance.environment(Registry(), ["nasbench201", "core", "not-loaded"])
    assert env["nasfw"]["version"] == nasfw.__version__ and len(env["nasfw"]["sha256"]) == provenance.HASH_CHARS
    assert set(env["plugins"]) == {"core", "nasbench201"}  # what the registry holds; nothing invented
    assert env["plugins"]["nasbench201"]["version"] == f"nasfw {nasfw.__version__}"  # its entry point's distribution
    assert env["packages"]["torch"] == importlib.metadata.version("torch")
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["cpus"] >= 1 and env["accelerator"]


def test_the_hash_follows_the_files(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = provenance.files_hash([tmp_path])
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")
    assert provenance.files_hash([tmp_path]) == before  # caches are not code
    (tmp_path / "a.py").write_text("x = 2\n")
    assert provenance.files_hash([tmp_path]) != before
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("")
    assert provenance.files_hash([tmp_path]) != before  # a new file is new code


def test_git_commit_only_for_a_tracked_file(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "mod.py").write_text("x = 1\n")
    assert provenance.git_commit(tmp_path, "mod.py") is None  # untracked: a package that merely lies in a checkout
    run("add", "mod.py")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "m")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert provenance.git_commit(tmp_path, "mod.py") == {"commit": head[:provenance.HASH_CHARS], "modified": False}
    (tmp_path / "mod.py").write_text("x = 2\n")
    assert provenance.git_commit(tmp_path, "mod.py")["modified"] is True


def test_changes_name_each_field_that_moved():
    a = {"nasfw": {"version": "0.1.0", "sha256": "aaa"}, "python": "3.11.7",
         "packages": {"torch": "2.12.0", "qiskit": "2.1"}, "plugins": {"toy": {"sha256": "111"}}, "host": "a"}
    b = {**a, "packages": {"torch": "2.13.0", "onnx": "1.16"}, "plugins": {"toy": {"sha256": "222"}}, "host": "b"}
    assert provenance.changes(a, b) == ["plugin toy 111 -> 222", "torch 2.12.0 -> 2.13.0", "qiskit 2.1 -> (none)",
                                        "onnx (none) -> 1.16"]
    assert provenance.changes(a, {**a, "host": "other"}) == []  # another machine is not other code


def test_a_resume_with_edited_plugin_code_says_so_and_the_run_keeps_it(tmp_path, run_cli):
    plugins = _plugin_copy(tmp_path)
    out = tmp_path / "run"
    first = run_cli("search", "--plugins-dir", plugins, "--plugin", "toy", "--budget", 3, "--out", out,
                    "--no-progress", check=True)
    assert "began with other code" not in first.stderr
    again = run_cli("search", "--resume", "--out", out, "--budget", 4, "--plugins-dir", plugins, "--no-progress",
                    check=True)
    assert "began with other code" not in again.stderr  # the same code: nothing to say
    _edit(plugins)
    edited = run_cli("search", "--resume", "--out", out, "--budget", 5, "--plugins-dir", plugins, "--no-progress",
                     check=True)
    assert "note: this run began with other code or data (plugin toy " in edited.stderr
    view = nasfw.open_run(out)
    assert len(view.environments) == 3
    assert view.environment == view.environments[0]
    changes = view.summary()["environment_changes"]
    assert len(changes) == 1 and changes[0].startswith("session 3 (") and "plugin toy" in changes[0]
    assert json.loads((out / "summary.json").read_text())["environment_changes"] == changes
    shown = run_cli("show", out, check=True).stdout
    assert "made with: nasfw " in shown and "plugins " in shown and "toy " in shown
    assert "resumed with other code or data, session 3" in shown
    md = Path(write_report(out)["report"]).read_text()
    assert "## Environment" in md and "| plugin toy |" in md and "Resumed with other code or data:" in md


def test_compare_says_when_runs_were_made_with_other_code(tmp_path):
    plugins = _plugin_copy(tmp_path)
    for seed in (0, 1):
        nasfw.search("toy", plugins_dirs=[plugins], budget=3, seed=seed, out=tmp_path / "runs" / f"a{seed}",
                     progress=False)
    same = compare_runs([tmp_path / "runs"])
    assert same.code_differences == []
    _edit(plugins)
    nasfw.search("toy", plugins_dirs=[plugins], budget=3, seed=2, out=tmp_path / "runs" / "b2", progress=False)
    comp = compare_runs([tmp_path / "runs"])
    assert len(comp.code_differences) == 1
    line = comp.code_differences[0]
    assert line.startswith("plugin toy: ") and "(2 runs: a0, a1)" in line and "(1 run: b2)" in line
    assert comp.to_dict()["code_differences"] == comp.code_differences
    md = Path(comp.write(tmp_path / "cmp")["report"]).read_text()
    assert "not all made with the same code" in md and "plugin toy: " in md


def test_runs_from_before_the_record_read_as_unknown(tmp_path):
    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, out=tmp_path / "runs" / "new", progress=False)
    nasfw.search("toy", plugins_dirs=[PLUGIN_DIR], budget=3, seed=1, out=tmp_path / "runs" / "old", progress=False)
    from nasfw.store import Store

    store = Store(tmp_path / "runs" / "old", create=False)
    store.set_meta("environment", None)  # as a run made before this record existed
    store.close()
    old = nasfw.open_run(tmp_path / "runs" / "old")
    assert old.environment is None and old.summary()["environment_changes"] == []
    assert "## Environment" not in Path(write_report(old.run_dir)["report"]).read_text()
    diff = compare_runs([tmp_path / "runs"]).code_differences
    assert diff == ["not recorded (1 run: old: made before nasfw recorded what a run was made with)"]


def test_the_same_code_hashes_alike_from_a_checkout_and_a_wheel_layout(tmp_path):
    """A checkout keeps nasfw.hardware, .search_spaces and .plugins beside nasfw/; a wheel puts them inside it.
    The code is the same, so is its hash (a run made from either compares as one code)."""
    wheel_layout_copy(tmp_path)
    code = "from nasfw.provenance import nasfw_code; print(nasfw_code()['sha256'])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path).stdout.strip()
    assert there == provenance.nasfw_code()["sha256"]
    with open(tmp_path / "nasfw" / "store.py", "a") as f:
        f.write("# edited\n")
    edited = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path).stdout.strip()
    assert edited != there


def test_a_checkout_modified_outside_the_code_is_not_other_code():
    env = provenance.environment(Registry(), ["core"])
    a = {**env, "nasfw": {**env["nasfw"], "commit": "1a2b3c4d5e6f", "modified": False}}
    b = {**env, "nasfw": {**env["nasfw"], "commit": "1a2b3c4d5e6f", "modified": True}}  # a README edited
    assert provenance.changes(a, b) == []
    assert "commit 1a2b3c4d5e6f, modified" in provenance.summary_line(b)
    assert provenance.machine_fields(b)["nasfw checkout"] == "commit 1a2b3c4d5e6f, modified"
    c = {**b, "nasfw": {**b["nasfw"], "sha256": "0" * provenance.HASH_CHARS}}  # the code itself edited
    assert provenance.changes(b, c) == [f"nasfw code {env['nasfw']['sha256']} -> {'0' * provenance.HASH_CHARS}"]


def test_a_resume_after_a_data_file_changed_says_so(tmp_path, run_cli):
    """A run records a hash of each file and folder its task and cost model options name; a resume after the
    dataset was replaced mixed evaluations of two datasets without a word (only code was compared)."""
    import itertools

    from nasfw.search_spaces.nasbench201 import arch_to_key, nasbench201_space

    decisions = nasbench201_space().decisions
    keys = {arch_to_key({d.name: op for d, op in zip(decisions, ops)})
            for ops in itertools.product(*[d.options for d in decisions])}  # every cell
    table = tmp_path / "table.json"
    table.write_text(json.dumps({k: 50.0 + i % 40 for i, k in enumerate(sorted(keys))}))
    out = tmp_path / "run"
    args = ("--plugin", "nasbench201", "--set", f"task_options.path={table}", "--no-progress")
    run_cli("search", *args, "--budget", 3, "--out", out, check=True)
    again = run_cli("search", "--resume", "--out", out, "--budget", 4, "--no-progress", check=True)
    assert "began with other code" not in again.stderr
    table.write_text(json.dumps({k: 60.0 + i % 30 for i, k in enumerate(sorted(keys))}))
    changed = run_cli("search", "--resume", "--out", out, "--budget", 5, "--no-progress", check=True)
    assert "note: this run began with other code or data (file task_options.path " in changed.stderr
    assert "resumed with other code or data, session 3" in run_cli("show", out, check=True).stdout
    sessions = nasfw.open_run(out).environments
    files = sessions[0]["files"]
    assert list(files) == ["task_options.path"] and len(files["task_options.path"]) == 12
    across = provenance.differences_across([("before", sessions[:1]), ("after", sessions[2:])])
    assert len(across) == 1 and across[0].startswith("file task_options.path: ")  # as `nasfw compare` lists it
    folder = tmp_path / "imgs"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.png").write_bytes(b"x" * 10)
    from types import SimpleNamespace

    campaign = SimpleNamespace(task_options={"dataset": str(folder), "name": "mnist", "nets": [str(table)]},
                               hardware=[("mcu", {"devices": str(table)})])
    before = provenance.data_files(campaign)
    assert list(before) == ["task_options.dataset", "task_options.nets[0]", "hardware[0].options.devices"]
    (folder / "a" / "2.png").write_bytes(b"y")  # an image added
    assert provenance.data_files(campaign)["task_options.dataset"] != before["task_options.dataset"]
