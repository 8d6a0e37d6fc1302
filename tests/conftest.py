import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "tests" / "plugin_dir"


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
