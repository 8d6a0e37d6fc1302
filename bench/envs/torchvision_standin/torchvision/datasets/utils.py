"""`download_url`, which torchquantum imports at module level; it raises when called."""


def download_url(*a, **k):
    raise RuntimeError("torchvision stand-in: downloads are not available in the benchmark environment")
