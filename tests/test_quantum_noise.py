import pytest

pytest.importorskip("qiskit_ibm_runtime")

from nasfw.errors import ConfigError  # noqa: E402
from nasfw.hardware import quantum_noise as qn  # noqa: E402


def test_the_papers_devices_are_there():
    names = qn.device_names()
    for d in ("yorktown", "santiago", "belem", "quito", "lima", "athens", "manila", "jakarta", "guadalupe",
              "montreal"):
        assert d in names


def test_quito_summary_matches_its_calibration():
    s = qn.summary("quito")
    b = qn.backend("quito")
    assert s["qubits"] == 5 and s["two_qubit_gate"] == "cx" and "sx" in s["basis_gates"]
    cx = sorted(p.error for p in b.target["cx"].values())
    assert s["median_2q_error"] == pytest.approx((cx[len(cx) // 2 - 1] + cx[len(cx) // 2]) / 2 if len(cx) % 2 == 0
                                                 else cx[len(cx) // 2])
    assert 1e-4 < s["median_1q_error"] < s["median_2q_error"] < 0.1
    assert 0.005 < s["median_readout_error"] < 0.2 and 10 < s["median_t1_us"] < 1000


def test_noise_model_and_clear_errors():
    nm = qn.noise_model("lima")
    assert "cx" in nm.noise_instructions and "measure" in nm.noise_instructions
    with pytest.raises(ConfigError, match="unknown quantum device 'qiuto'; did you mean 'quito'"):
        qn.summary("qiuto")
