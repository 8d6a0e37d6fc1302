"""Whether a campaign's images and its supernet training fit in the machine's memory, told before any work.

TinyNAS holds every image at the space's largest resolution as float32 (plugins/tinynas/data.py), and so do the
processes that evaluate: a local pool's workers map one copy from a file (nasfw/shared_arrays.py), a Ray instance's
trials read one in its object store, beside the campaign's process, which trains the supernet and finalizes. That
process also keeps, for the backward pass, the activations of the subnet it trains: the largest one, at the largest
resolution, up to 850 MB per image at 1,024 (w0.25), counted here on torch's meta device (shapes without data: a
third of a second, no memory). The peak of a real forward and backward pass was 1.07 to 1.46 times this count (w0.25
r64, w0.5 r176, w0.25 r512). MNIST at resolution 1,024 (19.5 GiB of images, 50.6 GiB of activations for a batch of
64) passed every check and ran out of memory once the supernet began to train, and a user's folder of 100,000 photos
at 128 (18 GiB of RGB) would do the same after it had decoded them all. The check refuses only what cannot fit at
all (the sum against the whole memory), so a campaign near the line may still run short.
"""
from __future__ import annotations

from typing import Any

from nasfw.errors import ConfigError
from nasfw.plugins.tinynas.data import class_count, held_bytes, image_count, split_sizes


def image_copies(campaign: Any, each: int) -> tuple[int, str]:
    """How many copies of the images (`each` bytes) this machine holds, and whose: the campaign's, and its
    workers'. A local pool of one evaluates in the campaign's process, on its copy; a larger pool's workers map one
    copy from a file, and a local Ray instance's trials read one copy in its object store (arrays of at least
    nasfw.shared_arrays.MIN_BYTES; smaller ones each worker holds), except that Ray trials with a time limit
    evaluate in child processes that each load a copy. A Ray cluster's workers are on machines this one cannot
    see."""
    from nasfw.shared_arrays import MIN_BYTES

    w = campaign.workers
    ray = campaign.backend != "local"
    if not ray and w == 1 or ray and campaign.address:
        return 1, "the campaign's"
    if ray and (campaign.evaluation or {}).get("timeout_s"):
        return 2 + w, f"the campaign's, Ray's object store's and each of its {w} trials' (workers: {w}, timeout_s)"
    if each >= MIN_BYTES:
        shared = f"its {w} trials read in Ray's object store" if ray else f"its {w} workers map"
        return 2, f"the campaign's and the one {shared} (workers: {w})"
    return 1 + w, f"the campaign's and each of its {w} workers' (workers: {w})"


def activation_bytes(task: Any, batch: int) -> int:
    """What autograd keeps for the backward pass of the largest subnet at the largest resolution on `batch`
    images: the saved tensors (each storage once) of a pass over two images and over four, on the meta device,
    which gives the part that grows with the batch and the part that does not (weight slices). Not one image:
    at resolutions up to 32 the last feature map is 1x1, and batch norm refuses to train on a single value."""
    import torch

    from nasfw.search_spaces.mbconv_supernet import MBConvSuperNet

    with torch.device("meta"):
        net = MBConvSuperNet(task.width_mult, task.widths, class_count(task.dataset), task.resolutions)
    net.activate(net.largest())
    net.train()
    r = max(task.resolutions)

    def saved(n: int) -> int:
        storages: dict[int, int] = {}

        def keep(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage()._cdata] = t.untyped_storage().nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            net(torch.zeros(n, 3, r, r, device="meta"))
        return sum(storages.values())
    two, four = saved(2), saved(4)
    per_image = (four - two) // 2
    return two + (batch - 2) * per_image


def training_batch(task: Any, phases: dict, count: int | None = None) -> tuple[int, str] | None:
    """The largest batch the campaign's process trains on, and where it is set: the supernet's (its own or the
    task's), or the task's for finalize's fine-tune and trainings from scratch; no larger than the training split
    (a batch of 10,000 on 3,000 images is one of 3,000). None when the campaign trains nothing. `count`: the
    source's `image_count`, where the caller has it."""
    from nasfw.phase_options import finalize_trains, supernet_batch

    found = [b for b in [supernet_batch(phases, task.batch_size)] if b is not None]
    if finalize_trains(phases):
        found.append((task.batch_size, "task_options.batch_size"))
    if not found:
        return None
    batch, where = max(found)
    n = image_count(task.dataset) if count is None else count
    train = n - sum(split_sizes(n, task.n_valid, task.n_test, f"task_options.dataset = {task.dataset!r}"))
    return min(batch, train), where


def check_memory(task: Any, campaign: Any) -> None:
    import torch

    from nasfw.torch_device import memory_bytes

    have = memory_bytes(torch.device("cpu"))
    if have is None:
        return
    n = image_count(task.dataset)  # once: a folder's is a walk through its files
    each = held_bytes(task.dataset, max(task.resolutions), n)
    copies, whose = image_copies(campaign, each)
    if each * copies > have:  # the images alone: told without the cost of counting activations
        _refuse(task, n, each, (copies, whose), None, have)
    training = training_batch(task, campaign.phases, n)
    if training is None:
        return
    batch, where = training
    kept = activation_bytes(task, batch)
    if each * copies + kept > have:
        _refuse(task, n, each, (copies, whose), (kept, batch, where), have)


def _refuse(task: Any, n: int, each: int, held_by: tuple[int, str], training: tuple[int, int, str] | None,
            have: int) -> None:
    gib = lambda n: f"{n / 2 ** 30:,.1f} GiB"  # noqa: E731
    r = max(task.resolutions)
    copies, whose = held_by
    held = (f"{gib(each)} as float32 in each copy, {gib(each * copies)} in {copies} copies, {whose}" if copies > 1
            else f"{gib(each)} as float32")
    ways = ["lower resolutions"] + (["smaller batches"] if training else []) + (["fewer workers"] if copies > 1 else [])
    if training is None:
        kept = ""
    else:
        kept_bytes, batch, where = training
        kept = (f"; training the largest subnet on batches of {batch} ({where}) keeps {gib(kept_bytes)} of "
                f"activations for the backward pass: {gib(each * copies + kept_bytes)} in all")
    raise ConfigError(
        f"task_options.dataset = {task.dataset!r}: its {n:,} images at {r}x{r} (the largest "
        f"of task_options.resolutions) hold {held}{kept}, and this machine has {gib(have)}; "
        f"{', '.join(ways)} or fewer images")
