"""TinyNAS (MCUNet, Lin et al., NeurIPS 2020): the most accurate network that fits a microcontroller's SRAM
and Flash. Stage 1 (`stage1.optimise_space`) picks the width and resolution of the MBConv space; stage 2
trains that space's weight-shared supernet and runs constraint-aware evolution, every candidate checked
against the device's memory before it is evaluated; the winner is fine-tuned, exported (ONNX + JSON net
config) and compared with a scaled-down MobileNetV2 that fits the same device.

Also here: the microcontroller cost models (one per device, `memory=per-layer|in-place-depthwise|tinyengine`)
and Once-for-All's Note10 phone latency tables."""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from nasfw.errors import ConfigError, SpaceError
from nasfw.hardware.mcu import Bits, BoardName, BoardsFile, MemoryModel
from nasfw.hooks import hookimpl
from nasfw.option_types import NonNegativeFloat, PositiveFloat, PositiveInt
from nasfw.search_spaces.mbconv import InputSize, WidthMult, WidthTable

DEFAULT_CAMPAIGN = {
    "name": "tinynas",
    "plugin": "tinynas",
    "description": "TinyNAS on MNIST for an STM32F401 (64 kB SRAM, 256 kB Flash, TinyEngine memory): MBConv supernet "
                   "(w0.25, resolutions 48-64, stage 1's choice for this device), constraint-aware evolution, "
                   "fine-tune, ONNX export, scaled-down MobileNetV2 baseline",
    "space": "mbconv",
    # space_options, hardware and constraints follow task_options (the task's campaign_defaults): the supernet's
    # space, the board's cost model with TinyEngine's memory, peak SRAM and Flash within the board's 64 / 256 kB
    "task": "tinynas",
    "task_options": {"dataset": "mnist", "width_mult": 0.25, "resolutions": [48, 56, 64], "device": "stm32f401",
                     "memory": "tinyengine"},  # n_valid, n_test: a fifth of the images each, at most 1,000
    "objectives": [{"metric": "accuracy", "direction": "max"}],
    "searcher": {"name": "ofa-evolution", "settings": {"population_size": 20, "parent_ratio": 0.2,
                                                       "mutation_ratio": 0.5, "mutate_prob": 0.1,
                                                       "n_children": 20}},
    "budget": {"evaluations": 100},
    "budgets": {
        "small": 60, "medium": 200, "large": 600,
        # MCUNet's stage 2: population 100, top 20 parents, 50 mutants (p = 0.1) + 50 crossovers, 30 iterations
        "paper": {"evaluations": 3000,
                  "searcher": {"name": "ofa-evolution", "settings": {"population_size": 100, "parent_ratio": 0.2,
                                                                     "mutation_ratio": 0.5, "mutate_prob": 0.1,
                                                                     "n_children": 100}},
                  "phases": {"supernet": {"epochs": 30, "lr": 1e-2, "sampling": "progressive", "n_subnets": 4,
                                          "largest_epochs": 5},
                             "finalize": {"top_k": 5, "export": ["onnx", "json"],
                                          "task": {"finetune_epochs": 10, "scratch_epochs": 20}}}},
    },
    "seed": 0,
    "workers": 2,
    "out": "runs/tinynas",
    "phases": {"supernet": {"epochs": 5, "lr": 1e-2, "sampling": "progressive", "n_subnets": 4, "largest_epochs": 1},
               "finalize": {"top_k": 5, "export": ["onnx", "json"],
                            "task": {"finetune_epochs": 2, "scratch_epochs": 4}}},
}


def mbconv(widths: WidthTable = "proxyless", width_mult: WidthMult | None = None,
           resolutions: InputSize | Sequence[InputSize] | None = None):
    """The MBConv space; with `width_mult` and `resolutions` its archs describe whole networks."""
    from nasfw.search_spaces.mbconv import mbconv_space

    return mbconv_space(widths, width_mult, resolutions)


class MCUArchCost:
    """A microcontroller cost model that reads either an OFA/MCUNet JSON net config or an arch of the MBConv
    space (converted with its `width` and `resolution`), so campaigns filter candidates with it directly."""

    cheap = True

    def __init__(self, device: BoardName = "stm32f746", widths: WidthTable = "proxyless", n_classes: PositiveInt = 10,
                 memory: MemoryModel = "per-layer", bits: Bits = 8, resolution: PositiveInt | None = None,
                 sram_kb: PositiveFloat | None = None, flash_kb: PositiveFloat | None = None,
                 code_kb: NonNegativeFloat | None = None, devices: BoardsFile | None = None):
        # MCUCost's options spelt out (not **options), so an unknown or mistyped one is named before any work
        from nasfw.hardware.mcu import MCUCost

        self.mcu = MCUCost(device, memory=memory, bits=bits, resolution=resolution, sram_kb=sram_kb,
                           flash_kb=flash_kb, code_kb=code_kb, devices=devices)
        self.widths, self.n_classes = widths, n_classes
        self.name = device

    def evaluate(self, target: Any) -> dict[str, float]:
        if isinstance(target, dict) and "blocks" not in target:
            from nasfw.search_spaces.mbconv import mbconv_space, to_config

            try:
                target = to_config(target, widths=self.widths, n_classes=self.n_classes)
            except (KeyError, TypeError):  # an arch from outside a campaign (`nasfw cost --arch`): which decision?
                try:
                    mbconv_space(self.widths).validate({k: v for k, v in target.items()
                                                        if k not in ("width", "resolution")})
                except SpaceError as e:
                    raise ConfigError(f"{self.name}: {e}. The input is neither an OFA/ProxylessNAS net config (it "
                                      "has no 'blocks') nor an arch of the MBConv space (as `nasfw show` prints "
                                      "it)") from None
                raise
        return self.mcu.evaluate(target)


@hookimpl
def nasfw_register_search_spaces(register) -> None:
    register("mbconv", mbconv, "MBConv (MCUNet/ProxylessNAS/OFA) space: per-stage depth {2,3,4}, kernel {3,5,7} and "
             "expand ratio {3,4,5,6} per block; width multiplier and elastic resolution")


@hookimpl
def nasfw_register_tasks(register) -> None:
    from nasfw.plugins.tinynas.task import TinyNASTask

    register("tinynas", TinyNASTask, "image classification (MNIST, digits, .npz, image folder) with inherited "
             "MBConv-supernet weights after BN recalibration; fine-tune, ONNX export, MobileNetV2 baseline")


@hookimpl
def nasfw_register_cost_models(register) -> None:
    from nasfw.hardware.mcu import load_devices

    for name, dev in load_devices().items():
        register(name, partial(MCUArchCost, device=name),
                 f"{name} ({dev.description}): {dev.sram_kb:g} kB SRAM, {dev.flash_kb:g} kB Flash; peak SRAM "
                 "(memory=per-layer|in-place-depthwise|tinyengine), Flash, MACs, params of a JSON net config or "
                 "an MBConv arch", cheap=True)
    register("mcu", MCUArchCost, "any microcontroller by device=NAME, with devices=FILE a YAML of boards of one's "
             "own (sram_kb, flash_kb): the same memory model as the named boards", cheap=True)
    from nasfw.hardware.phone_lut import Note10Latency

    register("note10", Note10Latency, "Samsung Note10 latency of an OFA MobileNetV3 subnet {ks, e, d, r} from "
             "Once-for-All's lookup tables (or tables=FOLDER in the same format)", cheap=True)


@hookimpl
def nasfw_register_campaigns(register) -> None:
    register("tinynas", DEFAULT_CAMPAIGN, DEFAULT_CAMPAIGN["description"])
