"""MBConv networks in the OFA/ProxylessNAS JSON net-config format (the format MCUNet releases its models in):
MobileNetV2 at any width and resolution (the reference every MCU cost model is checked against), the TinyNAS
search space over such configs (kernels, expand ratios, depths; width and resolution), the torch model and
ONNX export of a config. The weight-shared supernet of the space is in `mbconv_supernet`.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Sequence

from nasfw.errors import ConfigError
from nasfw.option_types import INPUT_SIZES, Bounds, InputSize, is_input_size

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


def mobilenetv2_config(width_mult: float = 1.0, resolution: int = 224, n_classes: int = 1000,
                       scale_last: bool = False) -> dict[str, Any]:
    """`scale_last`: the feature-mix layer scales with the width too (MCUNet's scaled-down MobileNetV2s, e.g.
    448 channels at w0.35) rather than never dropping below 1280 (the ImageNet reference)."""
    first = make_divisible(32 * width_mult)
    last = make_divisible(1280 * (width_mult if scale_last else max(1.0, width_mult)))
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
# the options' type hints: what a campaign may give, refused by name before any work and listed by `nasfw plugins`
WidthTable = Literal["proxyless", "mobilenetv2"]  # the stage widths before the multiplier
WidthMult = Annotated[float, Bounds(low=0, high=4, low_open=True)]


def mbconv_space(widths: WidthTable = "proxyless", width_mult: WidthMult | None = None,
                 resolutions: InputSize | Sequence[InputSize] | None = None, field: str = "space_options"):
    """Per stage a depth (the last stage is a single block), per block a kernel and an expand ratio; blocks
    beyond a stage's depth are absent from the arch. With `width_mult` and `resolutions` (TinyNAS's stage-1
    choice), the arch carries them too, as a fixed `width` and an elastic `resolution` decision, so that it
    describes a whole network (`to_config(arch)`) and a cost model needs nothing beside it. `field` names where the
    user gave the options in an error (`task_options` when the task builds the space itself)."""
    from nasfw.decisions import Choice
    from nasfw.space import Space

    if widths not in ("proxyless", "mobilenetv2"):
        raise ConfigError(f"{field}.widths = {widths!r}; allowed: proxyless, mobilenetv2")
    ds: list = []
    if width_mult is not None:
        if not 0 < float(width_mult) <= 4:
            raise ConfigError(f"{field}.width_mult = {width_mult!r}; allowed: a number in (0, 4]")
        ds.append(Choice("width", [float(width_mult)]))
    if resolutions is not None:
        res = [resolutions] if isinstance(resolutions, int) else list(resolutions)
        if not res or not all(map(is_input_size, res)):
            raise ConfigError(f"{field}.resolutions = {resolutions!r}; allowed: {INPUT_SIZES}")
        ds.append(Choice("resolution", sorted(res)))
    n_stages = len(STAGE_STRIDES)
    for s in range(n_stages):
        depths = DEPTHS if s < n_stages - 1 else (1,)
        ds.append(Choice(f"s{s}.depth", list(depths)))
        for b in range(max(depths)):
            when = {f"s{s}.depth": [d for d in depths if d > b]} if b >= min(depths) else None
            ds.append(Choice(f"s{s}.b{b}.k", list(KERNELS), when=when))
            ds.append(Choice(f"s{s}.b{b}.e", list(EXPANDS), when=when))
    return Space(ds, name=f"mbconv-{widths}")


def to_config(arch: dict, width_mult: float | None = None, resolution: int | None = None, widths: str = "proxyless",
              n_classes: int = 1000) -> dict[str, Any]:
    """The arch as an OFA/ProxylessNAS JSON net config (no feature-mix layer, as MCUNet's models). Width and
    resolution come from the arguments, else from the arch (`width`, `resolution`), else 1.0 and 224."""
    width_mult = width_mult if width_mult is not None else float(arch.get("width", 1.0))
    resolution = resolution if resolution is not None else int(arch.get("resolution", 224))
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


def MBConvSuperNet(*args, **kwargs):  # noqa: N802 - the class lives in mbconv_supernet (it needs torch)
    from nasfw.search_spaces.mbconv_supernet import MBConvSuperNet as cls

    return cls(*args, **kwargs)
