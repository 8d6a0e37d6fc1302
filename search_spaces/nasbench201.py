"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020): a 4-node DAG, one of five operations on each
of its six edges, 5^6 = 15,625 cells. Decision names follow the benchmark's edge order."""
from __future__ import annotations

from nasfw.space import Choice, Space

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), the benchmark's key order
EDGE_NAMES = tuple(f"edge_{i}_{j}" for i, j in EDGES)


def nasbench201_space() -> Space:
    return Space([Choice(name, list(OPS)) for name in EDGE_NAMES], name="nasbench201")


def arch_to_key(arch: dict) -> str:
    """'333132'-style key: one op code per edge, as the tabular files index cells."""
    return "".join(str(OPS.index(arch[e])) for e in EDGE_NAMES)


def key_to_arch(key: str) -> dict:
    return {e: OPS[int(c)] for e, c in zip(EDGE_NAMES, key)}


def arch_to_str(arch: dict) -> str:
    """The benchmark's own string form: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|."""
    nodes = []
    for i in (1, 2, 3):
        nodes.append("|" + "|".join(f"{arch[f'edge_{i}_{j}']}~{j}" for j in range(i)) + "|")
    return "+".join(nodes)
