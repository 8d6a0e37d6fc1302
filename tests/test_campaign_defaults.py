"""Campaign fields a task's options imply (`campaign_defaults`): a device, circuit, molecule, board or baseline is
changed in task_options alone, and the space, cost model and constraints that must agree with it follow."""
from __future__ import annotations

import numpy as np
import pytest

from nasfw.api import resolve_campaign
from nasfw.campaign import merge, parse
from nasfw.errors import ConfigError
from nasfw.registry import get_registry
from nasfw.runner import build

SMALL_QML = ["task_options.n_valid=20", "task_options.n_test=20"]


@pytest.fixture(scope="module")
def reg():
    return get_registry(())


def test_one_set_moves_the_quantumnas_search_to_another_device(reg):
    """`--set task_options.device=lima` alone was refused: the default named Quito again in space_options."""
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.device=lima", *SMALL_QML])
    assert c.space_options == {"circuit": "u3cu3", "n_wires": 4, "n_blocks": 8, "device": "lima"}
    build(c, reg)  # check_space and check_campaign accept it
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.device=jakarta", *SMALL_QML])
    assert c.space_options["device"] == "jakarta"
    assert len(build(c, reg).space.sample(np.random.default_rng(0))["layout"]) == 4


def test_the_circuit_and_its_wires_follow_the_task(reg):
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.circuit=zz_ry", "task_options.n_blocks=3",
                                                  *SMALL_QML])
    assert c.space_options == {"circuit": "zz_ry", "n_wires": 4, "n_blocks": 3, "device": "quito"}
    assert any(".rzz" in d.name for d in build(c, reg).space.decisions)


def test_the_vqe_space_takes_the_molecules_qubits(reg):
    """H2O's active space is 3 orbitals, 6 qubits: the default's 4 wires failed check_space."""
    c = resolve_campaign(reg, "quantumnas", sets=["task=quantumnas-vqe", "task_options.molecule=h2o",
                                                  "task_options.device=jakarta"])
    assert c.space_options == {"circuit": "u3cu3", "n_wires": 6, "device": "jakarta"}
    assert build(c, reg).task.n_wires == 6
    c = resolve_campaign(reg, "quantumnas", user={"task": "quantumnas-vqe", "task_options": {"molecule": {
        "geometry": "H 0 0 0; H 0 0 0.74", "basis": "6-31g"}}})
    assert c.space_options["n_wires"] == 8  # two spatial orbitals per H in 6-31G, no active space: all four


def test_what_the_campaign_gives_stays_and_is_still_checked(reg):
    # no device: the space has no mapping (the compiler places the circuit), as before
    c = resolve_campaign(reg, "quantumnas", sets=["space_options.device=null", *SMALL_QML])
    assert c.space_options["device"] is None
    assert not any(d.name == "layout" for d in build(c, reg).space.decisions)
    c = resolve_campaign(reg, "quantumnas", sets=["space_options.layout_sampling=connected", *SMALL_QML])
    assert c.space_options == {"layout_sampling": "connected", "circuit": "u3cu3", "n_wires": 4, "n_blocks": 8,
                               "device": "quito"}
    c = resolve_campaign(reg, "quantumnas", sets=["space_options.device=lima", *SMALL_QML])
    with pytest.raises(ConfigError, match="leave space_options.device out"):
        build(c, reg)
    # another space than the task's own keeps exactly the options given
    c = resolve_campaign(reg, "quantumnas", user={"space": "nb201", "space_options": {}})
    assert c.space == "nb201" and c.space_options == {}


def test_a_run_started_before_resumes_as_the_same_campaign(reg):
    """Runs resolved when the default repeated the space options must keep their fingerprint (--resume)."""
    old = {"space_options": {"circuit": "u3cu3", "n_wires": 4, "n_blocks": 8, "device": "quito"}}
    assert parse(merge(reg.campaign("quantumnas"), old)).fingerprint() == \
        resolve_campaign(reg, "quantumnas").fingerprint()
    old = {"space_options": {"width_mult": 0.25, "resolutions": [48, 56, 64]},
           "hardware": [{"name": "stm32f401", "options": {"memory": "tinyengine"}}],
           "constraints": [{"metric": "peak_sram_kb", "max": 64}, {"metric": "flash_kb", "max": 256}]}
    assert parse(merge(reg.campaign("tinynas"), old)).fingerprint() == resolve_campaign(reg, "tinynas").fingerprint()


def test_the_tinynas_board_brings_its_cost_model_and_memory_bounds(reg):
    """`--set task_options.device=stm32f746` was refused (the default's hardware was the F401) and, with the
    hardware set too, still searched within the F401's 64 kB / 256 kB constraints."""
    c = resolve_campaign(reg, "tinynas", sets=["task_options.device=stm32f746"])
    assert c.hardware == [("stm32f746", {"memory": "tinyengine"})]
    assert [(k.metric, k.max) for k in c.constraints] == [("peak_sram_kb", 320), ("flash_kb", 1024)]
    c = resolve_campaign(reg, "tinynas", sets=["task_options.sram_kb=32", "task_options.memory=per-layer"])
    assert c.hardware == [("stm32f401", {"memory": "per-layer", "sram_kb": 32})]
    assert [(k.metric, k.max) for k in c.constraints] == [("peak_sram_kb", 32), ("flash_kb", 256)]
    # bounds the user chose stay: a search may aim below the board's memory
    c = resolve_campaign(reg, "tinynas", sets=["task_options.device=stm32f746",
                                               "constraints=[{metric: peak_sram_kb, max: 128}]"])
    assert [(k.metric, k.max) for k in c.constraints] == [("peak_sram_kb", 128)]
    c = resolve_campaign(reg, "tinynas", sets=["task_options.width_mult=0.35", "task_options.resolutions=[64]"])
    assert c.space_options == {"width_mult": 0.35, "resolutions": [64]}


def test_the_cost_model_charges_the_datasets_classifier(reg, tmp_path):
    """The cost model's classifier had 10 classes whatever the dataset: on a 100-class set the search kept a
    network whose Flash finalize then reported 8 kB higher (85 kB with 1,000 classes), past the board's."""
    data = tmp_path / "c100.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.random((400, 16, 16)).astype(np.float32), y=np.arange(400) % 100)
    c = resolve_campaign(reg, "tinynas", sets=[f"task_options.dataset={data}", "task_options.n_valid=50",
                                               "task_options.n_test=50"])
    assert c.hardware == [("stm32f401", {"memory": "tinyengine", "n_classes": 100})]
    comps = build(c, reg)
    arch = comps.space.sample(np.random.default_rng(1))
    searched = comps.cheap[0].evaluate(arch)
    reported = comps.task.cost.evaluate(comps.task.config(arch))  # what finalize reports for it
    assert searched["flash_kb"] == pytest.approx(reported["flash_kb"])
    c = resolve_campaign(reg, "tinynas", sets=[f"task_options.dataset={data}",  # a model given by hand follows too
                                               "hardware=[{name: stm32f401, options: {memory: tinyengine}}]"])
    assert c.hardware == [("stm32f401", {"memory": "tinyengine", "n_classes": 100})]
    c = resolve_campaign(reg, "tinynas", sets=[f"task_options.dataset={data}",
                                               "hardware=[{name: stm32f401, options: {n_classes: 10}}]"])
    with pytest.raises(ConfigError, match="n_classes = 10, but task_options.dataset = .* has 100 classes"):
        build(c, reg)


def test_another_naas_baseline_brings_its_pe_count(reg, tmp_path):
    """ShiDianNao-like has 64 PEs: with the default's max_pes 168 the run was refused until both were set."""
    c = resolve_campaign(reg, "naas", sets=["task_options.baseline=shidiannao-like",
                                            "task_options.networks=[squeezenet]"])
    assert c.space_options == {"encoding": "importance", "max_pes": 64}
    build(c, reg)
    npu = tmp_path / "npu.yaml"
    npu.write_text("name: my-npu\narray: [12, 12]\nrf_words: 256\nglb_bytes: 65536\n")
    c = resolve_campaign(reg, "naas", sets=[f"task_options.baseline={npu}",
                                            "task_options.baseline_dataflow=weight-stationary"])
    assert c.space_options["max_pes"] == 144


def test_the_accelerator_resources_model_sizes_buffers_within_the_tasks_baseline(reg):
    """`accelerator-resources` kept Eyeriss's on-chip budget on a ShiDianNao-like campaign, and its n_pes and
    rf_bytes were the values the run kept (a cost model's metric wins over the task's)."""
    sets = ["task_options.baseline=shidiannao-like", "task_options.networks=[squeezenet]"]
    c = resolve_campaign(reg, "naas", sets=[*sets, "hardware=[accelerator-resources]"])
    assert c.hardware == [("accelerator-resources", {"baseline": "shidiannao-like"})]
    comps = build(c, reg)
    arch = comps.space.sample(np.random.default_rng(0))
    glb = comps.task.accelerator(arch)[0].glb_bytes  # the buffer the task's evaluation sizes
    assert comps.cheap[0].evaluate(arch)["glb_bytes"] == glb != reg.cost_model("accelerator-resources").evaluate(
        arch)["glb_bytes"]
    eyeriss = "hardware=[{name: accelerator-resources, options: {baseline: eyeriss-v1}}]"
    c = resolve_campaign(reg, "naas", sets=[*sets, eyeriss])
    with pytest.raises(ConfigError, match="within the on-chip bytes of baseline 'eyeriss-v1', not of "
                                          "task_options.baseline 'shidiannao-like'"):
        build(c, reg)
    assert resolve_campaign(reg, "naas", sets=["hardware=[accelerator-resources]"]).raw["hardware"] == \
        ["accelerator-resources"]  # the default baseline: as it resolved before


def test_a_board_of_ones_own_is_searched_for(reg, tmp_path):
    """The cost model took a YAML of boards (`devices=FILE`) but the task did not: a search could not target a
    board of one's own, and `task_options.device: nrf52840` failed with the shipped boards' names only."""
    boards = tmp_path / "boards.yaml"
    boards.write_text("nrf52840: {sram_kb: 256, flash_kb: 1024, description: Cortex-M4F}\n")
    with pytest.raises(ConfigError, match="a board of one's own goes in task_options.devices"):
        build(resolve_campaign(reg, "tinynas", sets=["task_options.device=nrf52840"]), reg)
    c = resolve_campaign(reg, "tinynas", sets=["task_options.device=nrf52840", f"task_options.devices={boards}"])
    assert c.hardware == [("mcu", {"device": "nrf52840", "devices": str(boards), "memory": "tinyengine"})]
    assert [(k.metric, k.max) for k in c.constraints] == [("peak_sram_kb", 256), ("flash_kb", 1024)]
    comps = build(c, reg)
    assert comps.task.cost.device.sram_kb == 256 and comps.cheap[0].mcu.device.flash_kb == 1024
    metrics = comps.cheap[0].evaluate(comps.space.sample(np.random.default_rng(0)))
    assert metrics["sram_fits"] == float(metrics["peak_sram_kb"] <= 256)
    c = resolve_campaign(reg, "tinynas", sets=["task_options.device=nrf52840", f"task_options.devices={boards}",
                                               "hardware=[{name: mcu, options: {device: stm32f746}}]"])
    with pytest.raises(ConfigError, match="hardware.0. = 'mcu' with device 'stm32f746' is another board"):
        build(c, reg)
    # the `mcu` model without a device is its own default board (the F746), not a board called 'mcu'
    build(resolve_campaign(reg, "tinynas", sets=["task_options.device=stm32f746", "hardware=[{name: mcu}]"]), reg)


def test_a_compiled_circuit_cost_model_compiles_the_tasks_circuit(reg):
    """`hardware: [{name: ibmq-compiled}]` on a Lima campaign compiled for Quito (its options' default) and
    reported Quito's depth and fidelity for every candidate; then it was refused. It now takes the task's device
    (and circuit, wires, blocks); options given otherwise are still refused."""
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.device=lima", "hardware=[{name: ibmq-compiled}]",
                                                  *SMALL_QML])
    assert c.hardware == [("ibmq-compiled", {"device": "lima"})]
    comps = build(c, reg)
    (name, opts), = comps.expensive
    arch = comps.space.sample(np.random.default_rng(0))
    metrics = reg.cost_model(name, **opts).evaluate(arch)
    quito = reg.cost_model(name).evaluate({**arch, "layout": [0, 1, 2, 3]})
    assert metrics["depth"] > 0 and 0 < metrics["fidelity"] < 1 and metrics != quito
    for given, wrong in (("{device: quito}", r"device 'quito' \(the task's 'lima'\)"),
                         ("{n_blocks: 4}", r"n_blocks 4 \(the task's 8\)")):
        c = resolve_campaign(reg, "quantumnas", sets=["task_options.device=lima", *SMALL_QML,
                                                      f"hardware=[{{name: ibmq-compiled, options: {given}}}]"])
        with pytest.raises(ConfigError, match=r"hardware\[0\] = 'ibmq-compiled' compiles another circuit than "
                                              r"the task scores: " + wrong):
            build(c, reg)
    # a campaign that already agreed with the model's defaults resolves as it did (its fingerprint, --resume)
    assert resolve_campaign(reg, "quantumnas", sets=["hardware=[ibmq-compiled]"]).raw["hardware"] == ["ibmq-compiled"]
    lih = resolve_campaign(reg, "quantumnas", sets=["task=quantumnas-vqe", "task_options={molecule: lih}",
                                                    "hardware=[ibmq-compiled, circuit-params]"])
    assert lih.hardware == [("ibmq-compiled", {}), ("circuit-params", {})]  # 4 qubits, u3cu3, its 8 blocks


def test_a_parameter_count_cost_model_counts_the_tasks_circuit(reg):
    """`circuit-params` defaults to U3+CU3 on 4 wires: on a ZZ+RY campaign every candidate failed to cost, and on 5
    wires it counted other angles than the task's, which a `params` constraint was judged on and the run stored."""
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.n_wires=5", "task_options.circuit=zz_ry", *SMALL_QML,
                                                  "hardware=[circuit-params]"])
    assert c.hardware == [("circuit-params", {"circuit": "zz_ry", "n_wires": 5})]
    comps = build(c, reg)
    rng = np.random.default_rng(0)
    for arch in (comps.space.sample(rng) for _ in range(20)):
        assert comps.cheap[0].evaluate(arch)["params"] == comps.task.supercircuit.extract(arch).theta.numel()
    c = resolve_campaign(reg, "quantumnas", sets=["task_options.n_wires=5", *SMALL_QML,
                                                  "hardware=[{name: circuit-params, options: {n_wires: 4}}]"])
    with pytest.raises(ConfigError, match=r"hardware\[0\] = 'circuit-params' counts the angles of another "
                                          r"circuit than the task scores: n_wires 4 \(the task's 5\)"):
        build(c, reg)


def test_a_board_model_counts_memory_as_the_task_does(reg):
    """`hardware: [stm32f401]` costed per-layer SRAM (the model's default) while the task and its finalize count
    TinyEngine's; `hardware: [mcu]` was refused as its own default board, the F746."""
    c = resolve_campaign(reg, "tinynas", sets=["hardware=[stm32f401]"])
    assert c.hardware == [("stm32f401", {"memory": "tinyengine"})]
    assert resolve_campaign(reg, "tinynas").hardware == c.hardware  # as the default campaign's own
    c = resolve_campaign(reg, "tinynas", sets=["hardware=[mcu]", "task_options.memory=in-place-depthwise"])
    assert c.hardware == [("mcu", {"memory": "in-place-depthwise", "device": "stm32f401"})]
    build(c, reg)


def test_cost_of_a_run_on_a_model_it_did_not_use_takes_the_runs_circuit(tmp_path, capsys):
    """`nasfw cost --run RUN --hardware ibmq-compiled` on a Lima run compiled on Quito without a word."""
    import json

    import nasfw
    from nasfw.cli import main

    run = tmp_path / "run"
    view = nasfw.search("quantumnas", budget=2, out=run, progress=False, workers=1,
                        task_options={"device": "lima", "dataset": "digits", "n_valid": 20, "n_test": 20},
                        phases={"supernet": False, "finalize": {"task": False, "export": []}})
    assert main(["cost", "--run", str(run), "--hardware", "ibmq-compiled", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["hardware"]
    assert entry["options"] == {"device": "lima"}
    arch = json.dumps(view.best.arch)
    for device in ("lima", "quito"):
        assert main(["cost", "--hardware", "ibmq-compiled", "--option", f"device={device}", "--arch", arch,
                     "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)["metrics"]
        assert (metrics == entry["metrics"]) == (device == "lima")
