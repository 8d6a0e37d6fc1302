"""Whether a campaign's images fit in the machine's memory, told before any work.

TinyNAS holds every image at the space's largest resolution as float32 (plugins/tinynas/data.py), and so does
each process that evaluates: with the local backend every worker reads its own copy beside the campaign's
process, which trains the supernet and finalizes. MNIST at resolution 1,024 (19.5 GiB) passed every check and
ran out of memory once the supernet began to read its data, and a user's folder of 100,000 photos at 128 (18 GiB
of RGB) would do the same after it had decoded them all. The check refuses only what cannot fit at all (the
copies against the whole memory), so a campaign near the line may still run short.
"""
from __future__ import annotations

from typing import Any

from nasfw.errors import ConfigError
from nasfw.plugins.tinynas.data import held_bytes, image_count


def processes(campaign: Any) -> int:
    """How many processes of this machine read the images: the campaign's, and each local worker beside it."""
    return 1 + campaign.workers if campaign.backend == "local" and campaign.workers > 1 else 1


def check_data_memory(task: Any, campaign: Any) -> None:
    from nasfw.torch_device import memory_bytes

    import torch

    have = memory_bytes(torch.device("cpu"))
    if have is None:
        return
    resolution = max(task.resolutions)
    each = held_bytes(task.dataset, resolution)
    copies = processes(campaign)
    if each * copies <= have:
        return
    gib = lambda n: f"{n / 2 ** 30:,.1f} GiB"  # noqa: E731
    held = (f"{gib(each)} as float32 in each process that reads them, {gib(each * copies)} in the campaign's and its "
            f"{copies - 1} workers' (workers: {copies - 1})" if copies > 1 else f"{gib(each)} as float32")
    fewer = "lower resolutions, fewer workers, or fewer images" if copies > 1 else "lower resolutions or fewer images"
    raise ConfigError(
        f"task_options.dataset = {task.dataset!r}: its {image_count(task.dataset):,} images at {resolution}x"
        f"{resolution} (the largest of task_options.resolutions) hold {held}, and this machine has {gib(have)}; "
        f"{fewer}")
