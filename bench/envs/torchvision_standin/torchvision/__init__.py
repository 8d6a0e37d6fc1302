"""Import-only stand-in for torchvision, installed into the torchquantum benchmark environment alone.

torchquantum 0.1.8 and torchpack import torchvision at import time for dataset loaders (MNIST, CIFAR) that the
benchmark never calls; PyPI's torchvision wheel is built against the CUDA torch and fails to load beside the
CPU torch ("operator torchvision::nms does not exist"). Nothing here is used by nasfw. Any use of a
transform or dataset raises, so a benchmark that did call one would fail loudly rather than run on a fake.
"""
from . import datasets, transforms  # noqa: F401


def __getattr__(name):
    raise AttributeError(f"torchvision stand-in: torchvision.{name} is not available in the benchmark environment")
