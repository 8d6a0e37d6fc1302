"""TinyNAS's networks run in torch's channels-last memory layout (NHWC) on the CPU.

oneDNN's convolutions, the depthwise ones of MBConv blocks above all, are faster in NHWC than in torch's default
NCHW. Measured with torch 2.13 on one thread (`bench/tinynas_layout.py`), inherited subnets of the default space
(w0.25, resolutions 48-64): scoring 1,000 validation images 2.4x faster, a whole evaluation (extraction,
batch-norm recalibration, scoring) 2.1x, a supernet training step of 64 images 1.9x; `--budget small` runs in
1 min 39 s instead of 3 min 03 s. The values are the same up to float rounding (validation losses within 1.2e-7,
the same accuracies); a training's rounding differs, so seeded runs end on other weights than NCHW ones would.
Weights in either layout load into the other (`load_state_dict` copies values), and ONNX export does not depend
on it.
"""
from __future__ import annotations

import torch


def channels_last(net: torch.nn.Module) -> torch.nn.Module:
    """`net`, its 4-d weights moved to NHWC in place."""
    return net.to(memory_format=torch.channels_last)
