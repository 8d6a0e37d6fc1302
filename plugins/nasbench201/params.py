"""Parameter count of the NAS-Bench-201 network in closed form (no torch): the cheap cost model."""
from __future__ import annotations

from nasfw.search_spaces.nasbench201 import EDGES


def param_count(arch: dict, c: int = 16, n: int = 5, num_classes: int = 10) -> int:
    """Trainable parameters of `NB201Network(arch)` without building it (BN affine weights included)."""
    def cell(w: int) -> int:
        per = {"nor_conv_1x1": w * w + 2 * w, "nor_conv_3x3": 9 * w * w + 2 * w}
        return sum(per.get(arch[f"edge_{i}_{j}"], 0) for i, j in EDGES)

    def reduction(ci: int, co: int) -> int:
        return 9 * ci * co + 2 * co + 9 * co * co + 2 * co + ci * co

    total = 27 * c + 2 * c  # stem conv + BN
    for stage, w in enumerate((c, 2 * c, 4 * c)):
        if stage:
            total += reduction(w // 2, w)
        total += n * cell(w)
    return total + 2 * 4 * c + 4 * c * num_classes + num_classes
