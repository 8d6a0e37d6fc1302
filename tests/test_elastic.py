"""Elastic kernel, width and batch norm: static extractions compute what the elastic layers compute, the
kernel transforms start as a centre crop, and channel sorting keeps the network's function."""
import pytest
import torch
from torch import nn

from nasfw.supernet.elastic import ElasticBatchNorm, ElasticConv, ElasticDepthwiseConv, sort_channels


def test_kernel_transform_starts_as_centre_crop_and_learns_apart():
    torch.manual_seed(0)
    dw = ElasticDepthwiseConv(8, (3, 5, 7))
    assert torch.equal(dw.kernel_weight(5), dw.weight[:, :, 1:6, 1:6])
    assert torch.equal(dw.kernel_weight(3), dw.weight[:, :, 2:5, 2:5])
    x = torch.randn(2, 8, 9, 9)
    dw.active_k = 3
    loss = dw(x).pow(2).mean()
    loss.backward()
    assert dw.transforms["3"].grad is not None and dw.transforms["3"].grad.abs().sum() > 0
    with pytest.raises(ValueError, match="kernel 4"):
        dw.kernel_weight(4)


@pytest.mark.parametrize("k,c", [(7, 8), (5, 6), (3, 4)])
def test_static_layers_equal_the_elastic_ones(k, c):
    torch.manual_seed(1)
    pw = ElasticConv(8, 16)
    dw = ElasticDepthwiseConv(16, (3, 5, 7), stride=2)
    bn = ElasticBatchNorm(16)
    with torch.no_grad():
        dw.transforms["5"].add_(0.01 * torch.randn(25, 25))
        dw.transforms["3"].add_(0.01 * torch.randn(9, 9))
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
    bn.eval()
    pw.active_out, dw.active_k = 2 * c, k
    x = torch.randn(2, c, 11, 11)
    elastic = dw(bn(pw(x)))
    static = nn.Sequential(pw.static(c, 2 * c), bn.static(2 * c), dw.static(2 * c, k)).eval()
    assert torch.allclose(static(x), elastic, atol=1e-5)


def test_sorting_channels_keeps_the_function_and_puts_important_ones_first():
    torch.manual_seed(2)
    a, bn, b = ElasticConv(4, 12), ElasticBatchNorm(12), ElasticConv(12, 6)
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
    net = lambda x: b(torch.relu(bn(a(x))))  # noqa: E731
    bn.eval()
    x = torch.randn(3, 4, 5, 5)
    before = net(x)
    sort_channels(a, bn, b)
    assert torch.allclose(net(x), before, atol=1e-5)
    norms = a.weight.abs().reshape(12, -1).sum(1)
    assert torch.all(norms[:-1] >= norms[1:])


def test_batch_norm_updates_only_the_active_channels():
    bn = ElasticBatchNorm(8)
    bn.train()
    bn(torch.randn(16, 4, 3, 3) + 5)
    assert torch.all(bn.running_mean[:4] > 0.3) and torch.all(bn.running_mean[4:] == 0)


def test_mbconv_supernet_extracts_the_subnet_its_config_describes(tmp_path):
    from nasfw.hardware.mcu import layer_table, params
    from nasfw.search_spaces.mbconv import MBConvSuperNet, export_onnx

    torch.manual_seed(3)
    net = MBConvSuperNet(width_mult=0.35, n_classes=10)
    net.reorganize()  # importance order must not change what the largest subnet computes
    x = torch.randn(2, 3, 64, 64)
    for seed in range(3):
        arch = net.space.sample(seed)
        net.activate(arch)
        net.eval()
        with torch.no_grad():
            ref = net(x)
        sub = net.extract(arch).eval()
        with torch.no_grad():
            assert torch.allclose(sub(x), ref, atol=1e-4)
        cfg = net.config(arch, 64)
        assert sum(p.numel() for p in sub.parameters()) == params(layer_table(cfg))
    path = export_onnx(cfg, tmp_path / "sub.onnx", sub)
    assert path.stat().st_size > 1000


def test_mbconv_supernet_trains_with_sandwich_sampling():
    from nasfw.search_spaces.mbconv import MBConvSuperNet
    from nasfw.supernet.train import TrainConfig, train_supernet

    torch.manual_seed(4)
    net = MBConvSuperNet(width_mult=0.25, n_classes=2)
    x = torch.randn(32, 3, 32, 32)
    y = (x[:, 0].mean((1, 2)) > 0).long()
    hist = train_supernet(net, lambda: [(x, y)] * 4, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
                          TrainConfig(epochs=6, lr=0.01, sampling="sandwich", sampling_options={"n_random": 2},
                                      warmup_epochs=0))
    assert hist[-1] < hist[0]


def test_extracted_mbconv_subnet_recalibrates_its_batch_norm():
    from nasfw.search_spaces.mbconv import MBConvSuperNet
    from nasfw.supernet.bn import recalibrate_bn

    torch.manual_seed(5)
    net = MBConvSuperNet(width_mult=0.25, n_classes=3)
    arch = net.space.sample(7)
    sub = net.extract(arch)
    x = torch.randn(16, 3, 32, 32) * 2 + 1
    recalibrate_bn(sub, [(x, None)] * 3)
    first_bn = sub[0][1]  # the stem's batch norm sees the input conv's output
    with torch.no_grad():
        h = sub[0][0](x)
    assert torch.allclose(first_bn.running_mean, h.mean((0, 2, 3)), atol=1e-4)
    assert not torch.allclose(first_bn.running_mean, net.stem[1].running_mean)  # the supernet is untouched
