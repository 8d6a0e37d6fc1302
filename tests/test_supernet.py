"""The supernet protocol on a small elastic-width MLP trained for real on a synthetic task."""
import numpy as np
import pytest
import torch
from torch import nn

from nasfw import Choice, ConfigError, Space
from nasfw.supernet import (ProgressiveSchedule, RestrictedSampler, SandwichSampler, SuperNet, TrainConfig,
                            UniformSampler, recalibrate_bn, train_supernet)


class ElasticMLP(SuperNet):
    def __init__(self):
        super().__init__(Space([Choice("w1", [8, 16, 32]), Choice("w2", [8, 16, 32]), Choice("act", ["relu", "tanh"])]))
        self.fc1, self.bn1 = nn.Linear(4, 32), nn.BatchNorm1d(32)
        self.fc2, self.out = nn.Linear(32, 32), nn.Linear(32, 2)
        self.activate(self.largest())

    def forward(self, x):
        a = self.active
        act = torch.relu if a["act"] == "relu" else torch.tanh
        w1, w2 = a["w1"], a["w2"]
        h = nn.functional.linear(x, self.fc1.weight[:w1], self.fc1.bias[:w1])
        h = nn.functional.batch_norm(h, self.bn1.running_mean[:w1], self.bn1.running_var[:w1], self.bn1.weight[:w1],
                                     self.bn1.bias[:w1], self.training, 0.1, 1e-5)
        h = act(nn.functional.linear(act(h), self.fc2.weight[:w2, :w1], self.fc2.bias[:w2]))
        return nn.functional.linear(h, self.out.weight[:, :w2], self.out.bias)

    def extract(self, arch):
        w1, w2 = arch["w1"], arch["w2"]
        fc1, bn, fc2, out = nn.Linear(4, w1), nn.BatchNorm1d(w1), nn.Linear(w1, w2), nn.Linear(w2, 2)
        with torch.no_grad():
            fc1.weight.copy_(self.fc1.weight[:w1]); fc1.bias.copy_(self.fc1.bias[:w1])  # noqa: E702
            bn.weight.copy_(self.bn1.weight[:w1]); bn.bias.copy_(self.bn1.bias[:w1])  # noqa: E702
            bn.running_mean.copy_(self.bn1.running_mean[:w1]); bn.running_var.copy_(self.bn1.running_var[:w1])  # noqa: E702
            fc2.weight.copy_(self.fc2.weight[:w2, :w1]); fc2.bias.copy_(self.fc2.bias[:w2])  # noqa: E702
            out.weight.copy_(self.out.weight[:, :w2]); out.bias.copy_(self.out.bias)  # noqa: E702
        act = nn.ReLU() if arch["act"] == "relu" else nn.Tanh()
        return nn.Sequential(fc1, bn, act, fc2, act, out)


def data(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = ((x[:, 0] * x[:, 1] + x[:, 2]) > 0).long()
    return x, y


def loader():
    x, y = data()
    return [(x[i:i + 64], y[i:i + 64]) for i in range(0, len(x), 64)]


def loss_fn(model, batch):
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


@pytest.mark.parametrize("sampling,opts", [("uniform", {}), ("sandwich", {"n_random": 1}),
                                           ("restricted", {"max_changes": 1}),
                                           ("progressive", {"stages": [(0.0, {"w1": [32]}), (0.5, {})]})])
def test_training_strategies_learn(sampling, opts):
    torch.manual_seed(0)
    net = ElasticMLP()
    hist = train_supernet(net, loader, loss_fn, TrainConfig(epochs=8, lr=0.02, sampling=sampling,
                                                            sampling_options=opts))
    assert hist[-1] < hist[0]
    x, y = data(256, seed=1)
    net.eval()
    for arch in (net.largest(), net.smallest()):
        net.activate(arch)
        assert accuracy(net, x, y) > 0.75


def test_extract_matches_the_supernet_and_recalibration_fixes_bn():
    torch.manual_seed(0)
    net = ElasticMLP()
    train_supernet(net, loader, loss_fn, TrainConfig(epochs=3, lr=0.02))
    arch = {"w1": 16, "w2": 8, "act": "tanh"}
    net.activate(arch)
    net.eval()
    sub = net.extract(arch).eval()
    x, _ = data(64, seed=2)
    assert torch.allclose(net(x), sub(x), atol=1e-6)
    # recalibration: the running stats become the statistics of the data under this subnet
    recalibrate_bn(sub, loader(), n_batches=100)
    with torch.no_grad():
        h = sub[0](data()[0])
    assert torch.allclose(sub[1].running_mean, h.mean(0), atol=1e-5)
    assert torch.allclose(sub[1].running_var, h.var(0, unbiased=True), rtol=0.02)


def test_samplers_behave():
    net = ElasticMLP()
    sw = SandwichSampler(net.space, n_random=2).subnets(0.0, net)
    assert sw[0] == {"w1": 32, "w2": 32, "act": "tanh"} and sw[1] == {"w1": 8, "w2": 8, "act": "relu"}
    r = RestrictedSampler(net.space, seed=0, max_changes=1)
    prev = r.subnets(0.0)[0]
    for _ in range(50):
        cur = r.subnets(0.0)[0]
        assert sum(cur[k] != prev[k] for k in cur) <= 1
        prev = cur
    p = ProgressiveSchedule(net.space, stages=[(0.0, {"w1": [32]}), (0.5, {"w1": [16, 32]}), (0.8, {})])
    assert {p.subnets(0.1)[0]["w1"] for _ in range(30)} == {32}
    assert {p.subnets(0.6)[0]["w1"] for _ in range(60)} == {16, 32}
    assert {p.subnets(0.9)[0]["w1"] for _ in range(60)} == {8, 16, 32}
    pr = ProgressiveSchedule(net.space, stages=[(0.0, {"w1": [32]}), (0.5, {})], max_changes=1)
    prev = pr.subnets(0.1)[0]
    for step in range(60):  # restricted within each stage, and the stage restriction holds
        cur = pr.subnets(0.1 if step < 30 else 0.7)[0]
        if step < 30:
            assert cur["w1"] == 32
        if step != 30:
            assert sum(cur[k] != prev[k] for k in cur) <= 1
        prev = cur
    assert len(UniformSampler(net.space).subnets(0.0)) == 1
    with pytest.raises(ConfigError, match="not a decision"):
        ProgressiveSchedule(net.space, stages=[(0.0, {"depth": [1]})])
    _ = np
