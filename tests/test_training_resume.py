"""Finalize's own trainings continue from their last epoch checkpoint (`nasfw.epoch_checkpoint`): an interrupt in
the middle of TinyNAS's fine-tune or from-scratch run, or of a QuantumNAS circuit's scratch training, trained it
again from its first epoch on --resume. A continued training ends with the weights of an uninterrupted one."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasfw import epoch_checkpoint
from nasfw.epoch_checkpoint import EpochCheckpoint


class Interrupt(Exception):
    pass


@pytest.fixture(autouse=True)
def every_epoch(monkeypatch):
    monkeypatch.setattr(epoch_checkpoint, "CHECKPOINT_EVERY_S", 0.0)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_checkpoint_is_continued_only_by_the_same_settings_and_removed_at_the_end(tmp_path):
    net, rng = torch.nn.Linear(3, 2), np.random.default_rng(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ckpt = EpochCheckpoint(tmp_path / "c.ckpt", "lr 0.1")
    ckpt.save(2, {"net": net, "opt": opt}, [rng], losses=[1.0, 0.5])
    rng.random(5)
    other = torch.nn.Linear(3, 2)
    kept = EpochCheckpoint(tmp_path / "c.ckpt", "lr 0.1").restore({"net": other, "opt": opt}, [rng])
    assert kept == {"losses": [1.0, 0.5], "epoch": 2} and same_weights(other, net)
    assert np.random.default_rng(0).random() == rng.random()  # the data stream is where it was at the save
    assert EpochCheckpoint(tmp_path / "c.ckpt", "lr 0.2").restore({"net": other, "opt": opt}) is None
    (tmp_path / "cut.ckpt").write_bytes(b"half written")
    assert EpochCheckpoint(tmp_path / "cut.ckpt", "lr 0.1").restore({"net": other}) is None
    ckpt.finish()
    assert not (tmp_path / "c.ckpt").exists()
    EpochCheckpoint(None, "x").save(1, {"net": net})  # without a path: nothing, no error


def test_tinynas_training_continues_from_its_last_epoch(tmp_path, monkeypatch):
    from nasfw import progress
    from nasfw.plugins.tinynas.data import Split
    from nasfw.plugins.tinynas.finalize import train_model
    from nasfw.search_spaces.mbconv import build_model, mobilenetv2_config

    g = torch.Generator().manual_seed(0)
    data = SimpleNamespace(train=Split(torch.rand(96, 3, 32, 32, generator=g), torch.randint(0, 3, (96,), generator=g)))
    config = mobilenetv2_config(0.1, 32, 3)

    def trained(path, stop=None):
        bars = []

        class Bar:  # the bar is the one point between epochs a test reaches: Ctrl-C after `stop` epochs
            def __init__(self, *a, **k):
                self.n, self.initial = 0, 0
                bars.append(self)

            def update(self, k=1):
                self.n += k
                if self.n == stop:
                    raise Interrupt

            def refresh(self):
                pass

            def close(self):
                pass
        monkeypatch.setattr(progress, "progress_bar", Bar)
        torch.manual_seed(0)
        net = train_model(build_model(config), data, 32, 4, 3e-3, batch_size=32, checkpoint=path)
        return net, bars[0]

    whole, _ = trained(tmp_path / "whole.ckpt")
    with pytest.raises(Interrupt):
        trained(tmp_path / "cut.ckpt", stop=3)
    assert (tmp_path / "cut.ckpt").is_file()
    net, bar = trained(tmp_path / "cut.ckpt")
    assert (bar.initial, bar.n) == (2, 4)  # two epochs kept (the third ended in the interrupt)
    assert same_weights(net, whole) and not (tmp_path / "cut.ckpt").exists()


def test_a_quantumnas_circuit_training_continues_from_its_last_epoch(tmp_path):
    pytest.importorskip("qiskit_aer")
    from nasfw.plugins.quantumnas import train as qt
    from nasfw.plugins.quantumnas.task import QuantumNASTask

    task = QuantumNASTask(dataset="digits", n_blocks=2, device="lima", n_valid=20, n_test=20)
    arch = task.supercircuit.space.sample(np.random.default_rng(1))
    split = task.data.train
    steps_per_epoch = -(-len(split) // 256)

    def trained(path, stop_at_step=None):
        m = task.supercircuit.extract(arch)
        m.reinitialise(0)
        steps = [0]

        def on_step():
            steps[0] += 1
            if steps[0] == stop_at_step:
                raise Interrupt
        hist = qt.train(m, split, 4, 3, lr=5e-3, seed=0, on_step=on_step, checkpoint=path)
        return m, hist, steps[0]

    whole, whole_hist, _ = trained(tmp_path / "whole.ckpt")
    with pytest.raises(Interrupt):
        trained(tmp_path / "cut.ckpt", stop_at_step=2 * steps_per_epoch + 1)  # in the third epoch
    m, hist, steps = trained(tmp_path / "cut.ckpt")
    assert steps == steps_per_epoch  # only the third epoch trained again
    assert hist == whole_hist and same_weights(m, whole) and not (tmp_path / "cut.ckpt").exists()
