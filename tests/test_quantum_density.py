"""The torch density-matrix evaluator against qiskit-aer under a fake device's calibrated noise: final
density matrices to 1e-5, sampled <Z> (readout error included) within shot noise."""
import numpy as np
import pytest
import torch

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from nasfw.hardware.quantum_noise import backend, channels, noise_model  # noqa: E402
from nasfw.search_spaces.quantum_density import DensityProgram  # noqa: E402
from nasfw.search_spaces.supercircuit import SuperCircuit, to_qiskit  # noqa: E402


def compiled(circuit="u3cu3", device="quito", layout=(0, 1, 2, 3), seed=0, blocks=2):
    sc = SuperCircuit(circuit, 4, n_blocks=blocks, seed=seed)
    arch = sc.space.sample(seed)
    qc = to_qiskit(sc.extract(arch))
    tq = qiskit.transpile(qc, backend(device), optimization_level=2, initial_layout=list(layout), seed_transpiler=0)
    inputs = sorted(qc.parameters, key=lambda p: p.index)
    g, ro = channels(device)
    return tq, inputs, DensityProgram.from_qiskit(tq, g, ro, inputs)


def bind(tq, inputs, row):
    return tq.assign_parameters({p: float(v) for p, v in zip(inputs, row)})


@pytest.mark.parametrize("circuit,device,layout", [("u3cu3", "quito", (0, 1, 2, 3)),
                                                   ("zz_ry", "lima", (4, 3, 1, 0)),
                                                   ("rxyz", "quito", (1, 3, 4, 2)),
                                                   ("u3cu3", "yorktown", (2, 0, 1, 3)),
                                                   ("u3cu3", "lima@x4", (0, 1, 2, 3)),  # errors scaled
                                                   ("u3cu3", "torino", (0, 1, 2, 3)),  # Heron: CZ
                                                   ("zz_ry", "fractional.json", (0, 1, 2, 3))])  # RZZ, RX
def test_density_matrix_equals_aer(circuit, device, layout, tmp_path):
    from qiskit_aer import AerSimulator

    if device.endswith(".json"):  # a user's calibration file: qiskit-ibm-runtime's Heron-style fractional gates
        import shutil
        from pathlib import Path

        import qiskit_ibm_runtime

        src = Path(qiskit_ibm_runtime.fake_provider.__file__).parent / "backends" / "fractional"
        device = str(shutil.copy(src / "props_fractional.json", tmp_path / device))
    tq, inputs, prog = compiled(circuit, device, layout)
    if device.endswith(".json"):
        assert "rzz" in tq.count_ops()  # the ZZ layers compile to the device's own two-qubit rotation
    x = np.random.default_rng(1).uniform(0, np.pi, (2, 16))
    ours = prog.density(x).numpy()
    sim = AerSimulator(method="density_matrix", noise_model=noise_model(device))
    n = prog.n_qubits
    for i, row in enumerate(x):
        qc = bind(tq, inputs, row)
        qc.remove_final_measurements()
        qc.save_density_matrix(qubits=prog.physical)
        ref = np.asarray(sim.run(qc).result().data(0)["density_matrix"])
        # aer: first listed qubit least significant; ours: most significant
        ref = ref.reshape((2,) * 2 * n)
        perm = list(range(n))[::-1]
        ref = ref.transpose(perm + [n + p for p in perm]).reshape(2 ** n, 2 ** n)
        assert np.abs(ours[i] - ref).max() < 1e-5


def test_noise_changes_the_state():
    tq, inputs, prog = compiled()
    rho = prog.density(np.zeros((1, 16)))[0]
    purity = float(torch.trace(rho @ rho).real)
    assert 0.3 < purity < 0.999  # the calibrated noise makes the state mixed


def test_sampled_expectations_within_shot_noise():
    from qiskit_aer import AerSimulator

    shots = 8192
    tq, inputs, prog = compiled("u3cu3", "quito", (0, 1, 2, 3), seed=3)
    x = np.random.default_rng(2).uniform(0, np.pi, (3, 16))
    ours = prog.expval_z(x).numpy()
    sim = AerSimulator(method="density_matrix", noise_model=noise_model("quito"), seed_simulator=7)
    result = sim.run([bind(tq, inputs, r) for r in x], shots=shots).result()
    for i in range(len(x)):
        counts = result.get_counts(i)
        z = np.zeros(4)
        for bits, c in counts.items():
            for q in range(4):
                z[q] += c * (1 if bits[::-1][q] == "0" else -1)
        z /= shots
        sigma = np.sqrt(np.clip(1 - ours[i] ** 2, 1e-4, None) / shots)
        assert np.all(np.abs(z - ours[i]) < 5 * sigma + 1e-3), (z, ours[i])


def test_sampling_shots_is_unbiased():
    _, _, prog = compiled()
    x = np.random.default_rng(4).uniform(0, np.pi, (2, 16))
    exact = prog.expval_z(x)
    sampled = prog.expval_z(x, shots=20000, seed=1)
    assert (exact - sampled).abs().max() < 0.05


def test_wrong_input_width_is_a_clear_error():
    _, _, prog = compiled()
    with pytest.raises(ValueError, match="16"):
        prog.density(np.zeros((1, 3)))


def test_a_circuit_too_wide_for_a_density_matrix_is_refused_before_allocating():
    import qiskit

    qc = qiskit.QuantumCircuit(13, 13)
    qc.h(range(13))
    qc.measure(range(13), range(13))
    with pytest.raises(ValueError, match="touches 13 qubits.*stops at 12"):
        DensityProgram.from_qiskit(qc, {}, {})
