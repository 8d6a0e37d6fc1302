"""MBConv networks in the OFA/ProxylessNAS JSON net-config format (the format MCUNet releases its models in).

So far: MobileNetV2 at any width multiplier and resolution as such a config, the reference every MCU cost
model is checked against. The TinyNAS search space over these configs (kernels, expand ratios, depths,
widths, resolutions) builds on it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

# MobileNetV2 (Sandler et al.): expand ratio t, channels c, repeats n, first stride s
MBV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of 8, never more than 10% down (the rule of the MobileNet reference code)."""
    min_value = min_value or divisor
    new = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def _block(cin: int, cout: int, k: int, s: int, e: int, residual: bool) -> dict[str, Any]:
    return {"name": "MobileInvertedResidualBlock",
            "mobile_inverted_conv": {"name": "MBInvertedConvLayer", "in_channels": cin, "out_channels": cout,
                                     "kernel_size": k, "stride": s, "expand_ratio": e, "mid_channels": None,
                                     "act_func": "relu6", "use_se": False},
            "shortcut": {"name": "IdentityLayer", "in_channels": cin, "out_channels": cout} if residual else None}


def mobilenetv2_config(width_mult: float = 1.0, resolution: int = 224, n_classes: int = 1000) -> dict[str, Any]:
    first = make_divisible(32 * width_mult)
    last = make_divisible(1280 * max(1.0, width_mult))
    blocks, cin = [], first
    for t, c, n, s in MBV2_SETTINGS:
        cout = make_divisible(c * width_mult)
        for i in range(n):
            stride = s if i == 0 else 1
            blocks.append(_block(cin, cout, 3, stride, t, stride == 1 and cin == cout))
            cin = cout
    return {"name": "MobileNetV2", "resolution": resolution,
            "first_conv": {"name": "ConvLayer", "kernel_size": 3, "stride": 2, "in_channels": 3, "out_channels": first,
                           "act_func": "relu6"},
            "blocks": blocks,
            "feature_mix_layer": {"name": "ConvLayer", "kernel_size": 1, "stride": 1, "in_channels": cin,
                                  "out_channels": last, "act_func": "relu6"},
            "classifier": {"name": "LinearLayer", "in_features": last, "out_features": n_classes, "bias": True}}


# --- the TinyNAS / OFA MBConv space ---------------------------------------------------------------------------
# ProxylessNAS widths: first conv, the expand-1 block, six searched stages; strides of the searched stages.
PROXYLESS_WIDTHS = (32, 16, 24, 40, 80, 96, 192, 320)
MBV2_WIDTHS = (32, 16, 24, 32, 64, 96, 160, 320)
STAGE_STRIDES = (2, 2, 2, 1, 2, 1)
KERNELS, EXPANDS, DEPTHS = (3, 5, 7), (3, 4, 5, 6), (2, 3, 4)


def mbconv_space(widths: str = "proxyless"):
    """Per stage a depth (the last stage is a single block), per block a kernel and an expand ratio; blocks
    beyond a stage's depth are absent from the arch. Width multiplier and resolution belong to the space's
    options (`to_config`), as TinyNAS fixes them in its first stage."""
    from nasfw.decisions import Choice
    from nasfw.space import Space

    if widths not in ("proxyless", "mobilenetv2"):
        from nasfw.errors import ConfigError

        raise ConfigError(f"space_options.widths = {widths!r}; allowed: proxyless, mobilenetv2")
    ds: list = []
    n_stages = len(STAGE_STRIDES)
    for s in range(n_stages):
        depths = DEPTHS if s < n_stages - 1 else (1,)
        ds.append(Choice(f"s{s}.depth", list(depths)))
        for b in range(max(depths)):
            when = {f"s{s}.depth": [d for d in depths if d > b]} if b >= min(depths) else None
            ds.append(Choice(f"s{s}.b{b}.k", list(KERNELS), when=when))
            ds.append(Choice(f"s{s}.b{b}.e", list(EXPANDS), when=when))
    return Space(ds, name=f"mbconv-{widths}")


def to_config(arch: dict, width_mult: float = 1.0, resolution: int = 224, widths: str = "proxyless",
              n_classes: int = 1000) -> dict[str, Any]:
    """The arch as an OFA/ProxylessNAS JSON net config (no feature-mix layer, as MCUNet's models)."""
    base = PROXYLESS_WIDTHS if widths == "proxyless" else MBV2_WIDTHS
    ch = [make_divisible(c * width_mult) for c in base]
    blocks = [_block(ch[0], ch[1], 3, 1, 1, False)]
    cin = ch[1]
    for s, stride in enumerate(STAGE_STRIDES):
        cout = ch[s + 2]
        for b in range(arch[f"s{s}.depth"]):
            st = stride if b == 0 else 1
            blocks.append(_block(cin, cout, arch[f"s{s}.b{b}.k"], st, arch[f"s{s}.b{b}.e"], st == 1 and cin == cout))
            cin = cout
    return {"name": "ProxylessNASNets", "resolution": resolution,
            "first_conv": {"name": "ConvLayer", "kernel_size": 3, "stride": 2, "in_channels": 3, "out_channels": ch[0],
                           "act_func": "relu6"},
            "blocks": blocks, "feature_mix_layer": None,
            "classifier": {"name": "LinearLayer", "in_features": cin, "out_features": n_classes, "bias": True}}


# --- torch model and ONNX export ---------------------------------------------------------------------------------
def build_model(config: dict[str, Any]):
    """A plain torch network (conv-BN-ReLU6 layers, MBConv blocks with residuals) from a JSON net config."""
    import torch
    from torch import nn

    def conv_bn(cin: int, cout: int, k: int, s: int, groups: int = 1, act: bool = True) -> list:
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return layers + ([nn.ReLU6(inplace=True)] if act else [])

    class MBBlock(nn.Module):
        def __init__(self, m: dict, residual: bool):
            super().__init__()
            cin, cout, k, s, e = (m["in_channels"], m["out_channels"], m["kernel_size"], m["stride"],
                                  m["expand_ratio"])
            mid = m.get("mid_channels") or int(round(cin * e))
            layers = conv_bn(cin, mid, 1, 1) if e != 1 else []
            layers += conv_bn(mid, mid, k, s, groups=mid) + conv_bn(mid, cout, 1, 1, act=False)
            self.body, self.residual = nn.Sequential(*layers), residual

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.body(x)
            return x + y if self.residual else y

    fc = config["first_conv"]
    layers: list = conv_bn(fc["in_channels"], fc["out_channels"], fc["kernel_size"], fc["stride"])
    for b in config["blocks"]:
        m = b["mobile_inverted_conv"]
        if m.get("name") == "ZeroLayer":
            continue
        layers.append(MBBlock(m, b.get("shortcut") is not None))
    fm = config.get("feature_mix_layer")
    if fm:
        layers += conv_bn(fm["in_channels"], fm["out_channels"], 1, 1)
    cl = config["classifier"]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cl["in_features"], cl["out_features"])]
    return nn.Sequential(*layers)


def export_onnx(config: dict[str, Any], path, model=None, opset: int = 17):
    """ONNX of the config's network (`model`, its trained weights, or a fresh one) at its resolution, batch 1,
    static shapes (the legacy exporter: fast, and static shapes are what MCU toolchains and ZigZag need)."""
    import torch

    model = (model if model is not None else build_model(config)).eval()
    r = int(config["resolution"])
    import warnings

    with warnings.catch_warnings():  # the legacy exporter is chosen on purpose (FACTS: 0.07 s vs 2-3 s)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 3, r, r),), str(path), opset_version=opset, dynamo=False,
                          input_names=["image"], output_names=["logits"])
    return path


# --- the weight-shared MBConv supernet ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _supernet_classes():
    """Built on first use, so that reading configs needs no torch import."""
    import torch
    from torch import nn

    from nasfw.supernet.base import SuperNet
    from nasfw.supernet.elastic import ElasticBatchNorm, ElasticConv, ElasticDepthwiseConv, sort_channels

    class ElasticMBBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            mid = cin * max(EXPANDS)
            self.cin, self.cout, self.stride = cin, cout, stride
            self.expand, self.bn1 = ElasticConv(cin, mid), ElasticBatchNorm(mid)
            self.dw, self.bn2 = ElasticDepthwiseConv(mid, KERNELS, stride), ElasticBatchNorm(mid)
            self.project, self.bn3 = ElasticConv(mid, cout), ElasticBatchNorm(cout)
            self.residual = stride == 1 and cin == cout

        def set(self, k: int, e: int) -> None:
            self.expand.active_out, self.dw.active_k = self.cin * e, k

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = nn.functional.relu6(self.bn1(self.expand(x)))
            y = nn.functional.relu6(self.bn2(self.dw(y)))
            y = self.bn3(self.project(y))
            return x + y if self.residual else y

        def static(self) -> nn.Module:
            mid = self.expand.active_out
            body = nn.Sequential(self.expand.static(self.cin, mid), self.bn1.static(mid), nn.ReLU6(),
                                 self.dw.static(mid), self.bn2.static(mid), nn.ReLU6(),
                                 self.project.static(mid, self.cout), self.bn3.static(self.cout))
            return _Residual(body) if self.residual else body

        def reorganize(self) -> None:
            """Most important expanded channels first, so every expand ratio keeps the best ones."""
            order = sort_channels(self.expand, self.bn1, self.dw)
            with torch.no_grad():
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(self.bn2, name).copy_(getattr(self.bn2, name)[order])
                self.project.weight.copy_(self.project.weight[:, order])

    class _Residual(nn.Module):
        def __init__(self, body: nn.Module):
            super().__init__()
            self.body = body

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.body(x)

    class MBConvSuperNet(SuperNet):
        """Every subnet of `mbconv_space` in one network: elastic kernel and expand ratio per block, elastic
        depth per stage (the first blocks run). `extract(arch)` is a plain torch network whose JSON config is
        `to_config(arch, width_mult, ...)` (so the MCU cost model and the network agree)."""

        def __init__(self, width_mult: float = 1.0, widths: str = "proxyless", n_classes: int = 10):
            super().__init__(mbconv_space(widths))
            base = PROXYLESS_WIDTHS if widths == "proxyless" else MBV2_WIDTHS
            ch = [make_divisible(c * width_mult) for c in base]
            self.width_mult, self.widths, self.n_classes = width_mult, widths, n_classes
            self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, 2, 1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU6(),
                                      nn.Conv2d(ch[0], ch[0], 3, 1, 1, groups=ch[0], bias=False),
                                      nn.BatchNorm2d(ch[0]), nn.ReLU6(),
                                      nn.Conv2d(ch[0], ch[1], 1, bias=False), nn.BatchNorm2d(ch[1]))
            self.stages = nn.ModuleList()
            cin = ch[1]
            for s, stride in enumerate(STAGE_STRIDES):
                n = max(DEPTHS) if s < len(STAGE_STRIDES) - 1 else 1
                blocks = nn.ModuleList([ElasticMBBlock(cin if b == 0 else ch[s + 2], ch[s + 2],
                                                       stride if b == 0 else 1) for b in range(n)])
                self.stages.append(blocks)
                cin = ch[s + 2]
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_classes))
            self.activate(self.largest())

        def activate(self, arch: dict) -> None:
            super().activate(arch)
            for s, blocks in enumerate(self.stages):
                for b in range(arch[f"s{s}.depth"]):
                    blocks[b].set(arch[f"s{s}.b{b}.k"], arch[f"s{s}.b{b}.e"])

        def _active_blocks(self, arch: dict) -> list:
            return [blk for s, blocks in enumerate(self.stages) for blk in blocks[: arch[f"s{s}.depth"]]]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            for blk in self._active_blocks(self.active):
                x = blk(x)
            return self.head(x)

        def extract(self, arch: dict) -> nn.Module:
            self.activate(arch)
            import copy

            return nn.Sequential(copy.deepcopy(self.stem), *[blk.static() for blk in self._active_blocks(arch)],
                                 copy.deepcopy(self.head))

        def reorganize(self) -> None:
            for blocks in self.stages:
                for blk in blocks:
                    blk.reorganize()

        def config(self, arch: dict, resolution: int) -> dict:
            return to_config(arch, self.width_mult, resolution, self.widths, self.n_classes)

    return MBConvSuperNet


def MBConvSuperNet(*args, **kwargs):  # noqa: N802 - a class built lazily
    return _supernet_classes()(*args, **kwargs)
