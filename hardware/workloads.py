"""Benchmark networks as layer lists for accelerator models (NAAS's benchmarks: VGG-16, ResNet-50,
MobileNetV2, SqueezeNet, MNasNet, UNet), generated from their definitions at batch 1 (nothing downloaded), and
layer lists read from a torch model or an ONNX file. Only convolutions and fully connected layers (as 1x1
convolutions) are kept: they are what the PE array runs; MACs match torchvision's model tables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nasfw.errors import ConfigError, unknown_name
from nasfw.hardware.eyeriss import Layer


class _Net:
    """Tracks the spatial size while a network's layers are listed."""

    def __init__(self, name: str, size: int):
        self.name, self.h, self.layers = name, size, []

    def conv(self, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None, dw: bool = False,
             h: int | None = None) -> int:
        pad = k // 2 if pad is None else pad
        hin = self.h if h is None else h
        hout = (hin + 2 * pad - k) // stride + 1
        self.layers.append(Layer(f"{self.name}.{len(self.layers)}", K=cout, C=1 if dw else cin, Y=hout, X=hout,
                                 R=k, S=k, stride=stride, depthwise=dw))
        if h is None:
            self.h = hout
        return hout

    def pool(self, k: int, stride: int, pad: int = 0, ceil: bool = False) -> None:
        num = self.h + 2 * pad - k
        self.h = (-(-num // stride) if ceil else num // stride) + 1

    def fc(self, cin: int, cout: int) -> None:
        self.layers.append(Layer(f"{self.name}.{len(self.layers)}", K=cout, C=cin, Y=1, X=1, R=1, S=1))


def vgg16(size: int = 224) -> list[Layer]:
    n, cin = _Net("vgg16", size), 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            n.pool(2, 2)
        else:
            n.conv(cin, v, 3)
            cin = v
    n.fc(512 * 7 * 7, 4096), n.fc(4096, 4096), n.fc(4096, 1000)
    return n.layers


def resnet50(size: int = 224) -> list[Layer]:
    n = _Net("resnet50", size)
    n.conv(3, 64, 7, 2, 3)
    n.pool(3, 2, 1)
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            h0 = n.h
            n.conv(cin, width, 1)
            n.conv(width, width, 3, s)
            n.conv(width, width * 4, 1)
            if b == 0:
                n.conv(cin, width * 4, 1, s, 0, h=h0)  # the projection shortcut
            cin = width * 4
    n.fc(2048, 1000)
    return n.layers


def _inverted_residual(n: _Net, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
    mid = cin * expand
    if expand != 1:
        n.conv(cin, mid, 1)
    n.conv(mid, mid, k, stride, dw=True)
    n.conv(mid, cout, 1)


def mobilenetv2(size: int = 224) -> list[Layer]:
    n = _Net("mobilenetv2", size)
    n.conv(3, 32, 3, 2)
    cin = 32
    for t, c, reps, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                          (6, 320, 1, 1)):
        for i in range(reps):
            _inverted_residual(n, cin, c, 3, s if i == 0 else 1, t)
            cin = c
    n.conv(cin, 1280, 1)
    n.fc(1280, 1000)
    return n.layers


def mnasnet(size: int = 224) -> list[Layer]:
    """MNASNet-B1 1.0 (torchvision's mnasnet1_0)."""
    n = _Net("mnasnet", size)
    n.conv(3, 32, 3, 2)
    n.conv(32, 32, 3, 1, dw=True)
    n.conv(32, 16, 1)
    cin = 16
    for e, c, reps, s, k in ((3, 24, 3, 2, 3), (3, 40, 3, 2, 5), (6, 80, 3, 2, 5), (6, 96, 2, 1, 3),
                             (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)):
        for i in range(reps):
            _inverted_residual(n, cin, c, k, s if i == 0 else 1, e)
            cin = c
    n.conv(cin, 1280, 1)
    n.fc(1280, 1000)
    return n.layers


def squeezenet(size: int = 224) -> list[Layer]:
    """SqueezeNet 1.0 (torchvision's squeezenet1_0): fire modules, a 1x1 convolution as the classifier."""
    n = _Net("squeezenet", size)
    n.conv(3, 96, 7, 2, 0)
    n.pool(3, 2, ceil=True)
    cin = 96
    for i, (sq, ex) in enumerate(((16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256),
                                  (64, 256))):
        if i in (3, 7):
            n.pool(3, 2, ceil=True)
        n.conv(cin, sq, 1)
        n.conv(sq, ex, 1)
        n.conv(sq, ex, 3, h=n.h)
        cin = 2 * ex
    n.conv(cin, 1000, 1)
    return n.layers


def unet(size: int = 256, base: int = 64, n_classes: int = 2) -> list[Layer]:
    """U-Net (Ronneberger et al.) with padded 3x3 convolutions: four 2x down-samplings, 2x2 transposed
    convolutions up (counted as convolutions producing the up-sampled map), skip concatenations."""
    n = _Net("unet", size)
    widths = [base * 2 ** i for i in range(5)]
    cin = 3
    for i, w in enumerate(widths):
        if i:
            n.pool(2, 2)
        n.conv(cin, w, 3)
        n.conv(w, w, 3)
        cin = w
    for w in reversed(widths[:-1]):
        n.h *= 2
        n.layers.append(Layer(f"unet.{len(n.layers)}", K=w, C=cin, Y=n.h, X=n.h, R=1, S=1))  # 2x2 up-conv, per out px
        n.conv(2 * w, w, 3)
        n.conv(w, w, 3)
        cin = w
    n.conv(cin, n_classes, 1)
    return n.layers


NETWORKS: dict[str, Callable[..., list[Layer]]] = {"vgg16": vgg16, "resnet50": resnet50, "mobilenetv2": mobilenetv2,
                                                   "squeezenet": squeezenet, "mnasnet": mnasnet, "unet": unet}


def network(name: str, **options) -> list[Layer]:
    if name not in NETWORKS:
        raise ConfigError(unknown_name("benchmark network", name, NETWORKS))
    return NETWORKS[name](**options)


def from_torch(model, input_shape: tuple[int, ...], name: str = "model") -> list[Layer]:
    """The convolution and linear layers a forward pass of `model` runs, with their shapes (forward hooks)."""
    import torch
    from torch import nn

    layers: list[Layer] = []

    def hook(mod, inp, out):
        i = len(layers)
        if isinstance(mod, nn.Conv2d):
            groups, cin = mod.groups, mod.in_channels
            dw = groups == cin and groups == mod.out_channels and groups > 1
            if groups > 1 and not dw:
                raise ConfigError(f"{name}: grouped convolution {mod} (groups={groups}) is not supported")
            layers.append(Layer(f"{name}.{i}", K=mod.out_channels, C=1 if dw else cin, Y=out.shape[2], X=out.shape[3],
                                R=mod.kernel_size[0], S=mod.kernel_size[1], stride=mod.stride[0], N=out.shape[0],
                                depthwise=dw))
        elif isinstance(mod, nn.Linear):
            layers.append(Layer(f"{name}.{i}", K=mod.out_features, C=mod.in_features, Y=1, X=1, R=1, S=1,
                                N=int(out.numel() // out.shape[-1])))
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return layers


def onnx_graph(path: str | Path, field: str = "model") -> tuple[Any, dict[str, list[int]], set[str]]:
    """An ONNX model with its shapes inferred, every tensor's shape (0 for a symbolic dimension) and the names of
    its constant tensors: initializers, Constant nodes and whatever a node makes of constants alone (a quantised
    weight's DequantizeLinear, a Clip bound). `field` names the option the path came from in errors."""
    import onnx
    from onnx import numpy_helper, shape_inference

    try:
        model = shape_inference.infer_shapes(onnx.load(str(path)))
    except Exception as e:  # onnx raises DecodeError, ValidationError, InferenceError...: all say the file is unusable
        raise ConfigError(f"{field} = {str(path)!r} is not a readable ONNX model ({type(e).__name__}: {e})") from None
    g = model.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(g.value_info) + list(g.output) + list(g.input)}
    shapes.update({i.name: list(numpy_helper.to_array(i).shape) for i in g.initializer})
    constants = {i.name for i in g.initializer}
    for node in g.node:  # in topological order
        ins = [x for x in node.input if x]
        if node.op_type == "Constant" or (ins and all(x in constants for x in ins)):
            constants.update(node.output)
    return model, shapes, constants


def from_onnx(path: str | Path, name: str | None = None, field: str = "model") -> list[Layer]:
    """Conv, Gemm and MatMul (by a constant 2-D weight) nodes of an ONNX file with static shapes (shape inference
    fills the outputs in). A weight may be an initializer or computed (a quantised model's DequantizeLinear):
    its shape is what counts. `field` names the option the path came from in errors."""
    import onnx

    path = Path(path)
    name = name or path.stem
    model, shapes, constants = onnx_graph(path, field)
    layers: list[Layer] = []

    def weight(node) -> list[int]:
        w = shapes.get(node.input[1])
        if not w or 0 in w:
            raise ConfigError(f"{field} = {str(path)!r}: the weight of node {node.name!r} ({node.op_type}) has no "
                              "static shape")
        return w

    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        out = shapes.get(node.output[0])
        if node.op_type == "Conv":
            if not out or 0 in out[1:]:
                raise ConfigError(f"{field} = {str(path)!r}: node {node.name!r} has no static output shape (export "
                                  "with a fixed image size)")
            k, c_per_group = weight(node)[:2]
            groups = int(attrs.get("group", 1))
            dw = groups > 1 and c_per_group == 1 and groups == k
            if groups > 1 and not dw:
                raise ConfigError(f"{field} = {str(path)!r}: grouped convolution {node.name!r} is not supported")
            ks = attrs.get("kernel_shape") or weight(node)[2:]
            layers.append(Layer(f"{name}.{len(layers)}", K=k, C=1 if dw else c_per_group, Y=out[2], X=out[3],
                                R=ks[0], S=ks[1], stride=attrs.get("strides", [1])[0], N=out[0] or 1, depthwise=dw))
        elif node.op_type == "Gemm" or (node.op_type == "MatMul" and node.input[1] in constants
                                        and len(shapes.get(node.input[1]) or []) == 2):
            w = weight(node)
            kout, cin = (w[0], w[1]) if attrs.get("transB", 0) else (w[1], w[0])
            layers.append(Layer(f"{name}.{len(layers)}", K=kout, C=cin, Y=1, X=1, R=1, S=1))
    if not layers:
        raise ConfigError(f"{field} = {str(path)!r} has no Conv, Gemm or MatMul layer for the accelerator to run")
    return layers


def load_network(entry: str, field: str) -> tuple[str, list[Layer]]:
    """A benchmark network by name, or a model of one's own as an ONNX file (named by its file's stem): the
    network an accelerator is searched for can be the one a TinyNAS search exported."""
    if isinstance(entry, str) and entry in NETWORKS:
        return entry, network(entry)
    if isinstance(entry, str) and entry.endswith(".onnx"):
        if not Path(entry).is_file():
            raise ConfigError(f"{field} = {entry!r}: no such ONNX file")
        return Path(entry).stem, from_onnx(entry, field=field)
    raise ConfigError(unknown_name(field, entry, NETWORKS) + " (or the path of an .onnx model)")
