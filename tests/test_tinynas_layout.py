"""TinyNAS's networks train and score in the channels-last layout (plugins/tinynas/layout.py): the same values
as the default layout up to float rounding, weights that load into either layout."""
import copy

import numpy as np
import torch

from nasfw.plugins.tinynas.task import TinyNASTask, score


def _convs(net: torch.nn.Module) -> list[torch.Tensor]:
    """Full convolutions' weights, whose layout is told apart (a depthwise one's (C, 1, k, k) is both)."""
    return [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] > 1
            and m.weight.shape[-1] > 1]


def test_subnets_score_in_channels_last_as_in_the_default_layout():
    task = TinyNASTask("digits", width_mult=0.25, resolutions=[32, 40])
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _convs(task.supernet))
    arch = task.space.sample(np.random.default_rng(0))
    net = task.subnet(arch)
    weights = _convs(net)
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    nchw = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    assert not any(w.is_contiguous(memory_format=torch.channels_last) for w in _convs(nchw))
    r = int(arch["resolution"])
    (loss_a, acc_a), (loss_b, acc_b) = score(net, task.data.valid, r), score(nchw, task.data.valid, r)
    assert acc_a == acc_b and abs(loss_a - loss_b) < 1e-5
    fresh = TinyNASTask("digits", width_mult=0.25, resolutions=[32, 40]).supernet.to(
        memory_format=torch.contiguous_format)
    fresh.load_state_dict(task.supernet.state_dict())  # NHWC weights into an NCHW network, value for value
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), task.supernet.state_dict().values()))
