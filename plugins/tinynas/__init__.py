"""TinyNAS (MCUNet), in progress: the microcontroller cost models (peak SRAM, Flash, MACs, parameters of an
OFA/MCUNet JSON net config) and Once-for-All's Note10 latency tables. The elastic supernet and the two-stage
search are still to come."""
from __future__ import annotations

from functools import partial

from nasfw.hooks import hookimpl


@hookimpl
def nasfw_register_cost_models(register) -> None:
    from nasfw.hardware.mcu import MCUCost, load_devices

    for name, dev in load_devices().items():
        register(name, partial(MCUCost, device=name),
                 f"{name} ({dev.description}): {dev.sram_kb:g} kB SRAM, {dev.flash_kb:g} kB Flash; peak SRAM "
                 "(memory=per-layer|in-place-depthwise|tinyengine), Flash, MACs, params of a JSON net config",
                 cheap=True)
    from nasfw.hardware.phone_lut import Note10Latency

    register("note10", Note10Latency, "Samsung Note10 latency of an OFA MobileNetV3 subnet {ks, e, d, r} from "
             "Once-for-All's lookup tables (or tables=FOLDER in the same format)", cheap=True)
