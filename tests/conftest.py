import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "tests" / "plugin_dir"


@pytest.fixture(autouse=True)
def _forget_python_objects():
    """Objects given to nasfw.search (task=, space=...) stay registered in the process's registry after a search
    (a notebook's next call may resume); other tests list that registry's entries, so every test leaves it as it
    found it."""
    yield
    from nasfw.inline_plugin import INLINE
    from nasfw.registry import get_registry

    reg = get_registry()
    if INLINE in reg.plugins:
        reg._drop(INLINE)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The one way tests reach the third-party data beside the project (../shared/data)."""
    path = ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present")
    return path


@pytest.fixture(scope="session")
def nb201_table(shared_data) -> str:
    return str(shared_data / "nasbench201" / "cifar10.pkl")


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `nasfw` console entry in a subprocess; returns CompletedProcess."""
    def run(*args, env=None, timeout=300, check=False):
        e = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        p = subprocess.run([sys.executable, "-m", "nasfw.cli", *map(str, args)], capture_output=True, text=True,
                           env=e, timeout=timeout, cwd=tmp_path)
        if check and p.returncode != 0:
            raise AssertionError(f"nasfw {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run


@pytest.fixture
def cli_in_process(tmp_path, monkeypatch, capsys):
    """`nasfw.cli.main` called in this process, from `tmp_path`; returns what `run_cli` does. For the many checks
    of one refusal message each: a subprocess pays two to three seconds of imports per case. What only a fresh
    process shows (a warning printed on stderr beside the message) is checked by `run_cli` cases."""
    import types

    from nasfw.cli import main

    def run(*args):
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own refusals
            code = e.code
        out, err = capsys.readouterr()
        return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return run


QUANTUMNAS_TINY = {
    "plugin": "quantumnas", "name": "q-deploy",
    "space_options": {"circuit": "zz_ry", "n_wires": 4, "n_blocks": 2, "device": "belem"},
    "task_options": {"dataset": "digits", "classes": [3, 5], "circuit": "zz_ry", "n_wires": 4, "n_blocks": 2,
                     "device": "belem", "n_valid": 40, "n_test": 40},
    "searcher": {"name": "random"}, "budget": {"evaluations": 4}, "workers": 1,
    "phases": {"supernet": {"epochs": 2},
               "finalize": {"export": ["qasm"],
                            "task": {"scratch_epochs": 3, "prune_steps": 1, "prune_epochs": 1, "shots": 1024,
                                     "search_population": 4, "retrain": 1, "baselines": []}}}}


@pytest.fixture(scope="session")
def quantumnas_tiny_run(tmp_path_factory) -> Path:
    """A finished QuantumNAS run (digits 3 vs 5, Belem, 4 random evaluations, no baselines; 10 s), read by the tests
    of what a run leaves behind: its exports and its report."""
    pytest.importorskip("qiskit_aer")
    folder = tmp_path_factory.mktemp("quantumnas-tiny")
    (folder / "q.json").write_text(json.dumps(QUANTUMNAS_TINY))
    p = subprocess.run([sys.executable, "-m", "nasfw.cli", "search", "--config", "q.json", "--out", "run",
                        "--no-progress"], cwd=folder, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert p.returncode == 0, p.stderr
    return folder / "run"


def wheel_layout_copy(folder: Path) -> Path:
    """nasfw's code laid out in `folder` as a wheel installs it (nasfw/ with hardware/, search_spaces/ and plugins/
    inside; a checkout keeps them beside nasfw/), for a process given PYTHONPATH=folder."""
    import shutil

    import nasfw
    import nasfw.hardware
    import nasfw.plugins
    import nasfw.search_spaces

    src = Path(nasfw.__file__).parent
    shutil.copytree(src, folder / "nasfw", ignore=shutil.ignore_patterns("__pycache__"))
    for pkg in (nasfw.hardware, nasfw.plugins, nasfw.search_spaces):
        here = Path(pkg.__file__).parent
        if here.parent != src:
            shutil.copytree(here, folder / "nasfw" / here.name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder
