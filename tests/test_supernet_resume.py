"""An interrupted supernet training continues from its checkpoint and ends where an uninterrupted one does: a
Ctrl-C at epoch 150 of QuantumNAS's 200 trained them all again on --resume."""
import numpy as np
import pytest
import torch

from nasfw.supernet import TrainConfig, train_supernet
from tests.test_supernet import ElasticMLP, data, loss_fn

CONFIG = dict(epochs=6, lr=0.02, sampling="restricted", sampling_options={"max_changes": 1}, warmup_epochs=1)


class Interrupt(Exception):
    pass


def train(tmp_path, stop_after=None, config=CONFIG, resumed=None):
    """A fresh process's view: a new network and data stream seeded as a plugin seeds them."""
    torch.manual_seed(0)
    net, rng = ElasticMLP(), np.random.default_rng(0)
    x, y = data()

    def loader():  # shuffled by the numpy stream the checkpoint must keep
        order = torch.from_numpy(rng.permutation(len(x)))
        return [(x[order[i:i + 64]], y[order[i:i + 64]]) for i in range(0, len(x), 64)]

    def on_epoch(epoch, loss):
        if stop_after is not None and epoch + 1 == stop_after:
            raise Interrupt
    hist = train_supernet(net, loader, loss_fn, TrainConfig(**config), on_epoch, checkpoint=tmp_path / "t.ckpt",
                          rngs=[rng], checkpoint_every_s=0, on_resume=(resumed.append if resumed is not None else None))
    return net, hist


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path):
    whole, whole_hist = train(tmp_path / "whole")
    assert not (tmp_path / "whole" / "t.ckpt").exists()  # removed once the training ends
    with pytest.raises(Interrupt):
        train(tmp_path / "cut", stop_after=4)
    assert (tmp_path / "cut" / "t.ckpt").is_file()
    resumed = []
    net, hist = train(tmp_path / "cut", resumed=resumed)
    assert resumed == [3]  # epochs 1-3 kept (the 4th ended in the interrupt, before its checkpoint)
    assert hist == whole_hist
    for k, v in whole.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    assert not (tmp_path / "cut" / "t.ckpt").exists()


def test_a_checkpoint_of_other_settings_is_not_continued(tmp_path):
    with pytest.raises(Interrupt):
        train(tmp_path, stop_after=3)
    resumed = []
    train(tmp_path, config={**CONFIG, "lr": 0.01}, resumed=resumed)
    assert resumed == []  # another learning rate: trained from the start
    (tmp_path / "t.ckpt").write_bytes(b"cut short")  # a file a crash left half written
    train(tmp_path, resumed=resumed)
    assert resumed == []


class StoppingBar:
    """Stands in for the progress bar a plugin's training advances once per epoch: a Ctrl-C after `stop` epochs
    (the bar is the one point between epochs a test can reach in a plugin's own loop)."""

    def __init__(self, stop):
        self.stop, self.n, self.initial = stop, 0, 0

    def update(self, k=1):
        self.n += k
        if self.n == self.stop:
            raise Interrupt

    def set_postfix(self, **_):
        pass

    def refresh(self):
        pass

    def close(self):
        pass


def test_quantumnas_supercircuit_training_resumes(tmp_path, monkeypatch):
    from nasfw.plugins.quantumnas import task as qtask
    from nasfw import epoch_checkpoint
    from nasfw.supernet import train as train_module

    monkeypatch.setattr(epoch_checkpoint, "CHECKPOINT_EVERY_S", 0.0)

    def trained(folder, stop=None):
        bar = StoppingBar(stop)
        monkeypatch.setattr(qtask, "progress_bar", lambda *a, **k: bar)
        task = qtask.QuantumNASTask(dataset="digits", n_blocks=2, device="lima", n_valid=20, n_test=20)
        hist = task.train_supernet(folder, epochs=5, warmup_epochs=1, batch_size=64)
        return task.supercircuit.state_dict(), hist, bar

    whole, whole_hist, _ = trained(tmp_path / "whole")
    with pytest.raises(Interrupt):
        trained(tmp_path / "cut", stop=3)
    weights, hist, bar = trained(tmp_path / "cut")
    assert (bar.initial, bar.n) == (2, 5) and hist == whole_hist  # the bar started at the 2 epochs kept
    assert all(torch.equal(weights[k], v) for k, v in whole.items())
    assert not (tmp_path / "cut" / train_module.TRAINING_CHECKPOINT).exists()
