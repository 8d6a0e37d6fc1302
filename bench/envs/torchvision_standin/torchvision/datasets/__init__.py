"""Names torchquantum and torchpack import at module level; every class raises when instantiated."""
from . import utils  # noqa: F401


class _Unavailable:
    def __init__(self, *a, **k):
        raise RuntimeError("torchvision stand-in: datasets are not available in the benchmark environment")


def __getattr__(name):
    return type(name, (_Unavailable,), {})
