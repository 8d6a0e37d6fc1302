"""A model of one's own on the microcontroller model: its layers read from an ONNX graph.

The memory model (hardware/mcu.py) reads OFA/MCUNet JSON net configs, which only MBConv networks have; "does my
network fit this board?" is asked of any model, and ONNX is what every framework exports. So the graph is read
into the same two descriptions the net config gives: the layer rows of the per-layer and in-place-depthwise
modes and the op list of TinyEngine's planner. Both come from one liveness pass: a tensor stays in SRAM from the
node that makes it to its last use; element-wise nodes (activations, quantise/dequantise, flatten, an addition into
its later operand) work in place, so their output shares the input's buffer. A layer's `keep` is what else is alive
while it runs: inside a residual block, the block's input, exactly as the net config's rows put it (tested
against the net configs of MCUNet's released models and of networks of the space, and an int8 graph). Feature
maps must be square, as the model's are. Pooling is an op of TinyEngine's plan but not a layer row, as in the
net config's model (MBConv networks pool once, globally, at the end), so a network that pools a large map midway
is under-counted by the row modes.
"""
from __future__ import annotations

from pathlib import Path

from nasfw.errors import ConfigError
from nasfw.hardware.mcu import KIND
from nasfw.hardware.workloads import onnx_graph

IN_PLACE = {"Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "LeakyRelu", "Tanh", "Flatten", "Reshape",
            "Squeeze", "Unsqueeze", "Identity", "Dropout", "QuantizeLinear", "DequantizeLinear", "BatchNormalization",
            "Add", "Mul"}  # Add and Mul write into an operand's buffer
POOLS = {"GlobalAveragePool", "AveragePool", "MaxPool", "GlobalMaxPool"}


def read_onnx(path: str | Path, field: str = "model") -> tuple[list[tuple], list[list]]:
    """(layer rows as hardware/mcu.py `layer_rows` gives them, TinyEngine ops as `tinyengine_ops` gives them)."""
    import onnx

    path = Path(path)
    where = f"{field} = {str(path)!r}"
    model, shapes, constants = onnx_graph(path, field)
    g = model.graph
    nodes = list(g.node)

    def acts(node) -> list[str]:
        return [x for x in node.input if x and x not in constants]

    root: dict[str, str] = {x.name: x.name for x in g.input if x.name not in constants}
    born: dict[str, int] = {r: -1 for r in root}
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.output[0] in constants:
            continue
        ins = acts(node)
        for x in ins:
            if x not in root:
                raise ConfigError(f"{where}: node {node.name!r} ({node.op_type}) reads {x!r}, which nothing before it "
                                  "makes")
            last[root[x]] = i
        if node.op_type in IN_PLACE and ins:
            root[node.output[0]] = max((root[x] for x in ins), key=lambda r: born[r])  # the later operand's buffer
        else:
            for o in node.output:
                root[o], born[o] = o, i
    for o in g.output:
        last[root[o.name]] = len(nodes)

    def size(name: str) -> int:
        s = shapes.get(name)
        if not s or 0 in s[1:]:  # a symbolic batch (dynamic_axes) is fine: one image at a time on the board
            raise ConfigError(f"{where}: tensor {name!r} has no static shape (export with a fixed image size)")
        n = 1
        for d in s[1:]:  # per image: the batch is 1 on a microcontroller
            n *= d
        return n

    def side(name: str, node) -> int:
        s = shapes.get(name) or []
        if len(s) == 2:
            return 1
        if len(s) != 4 or s[2] != s[3]:
            raise ConfigError(f"{where}: node {node.name!r} works on a {s} feature map; the memory model takes "
                              "square (N, C, H, H) maps")
        return s[2]

    readers: dict[str, list] = {}  # tensor -> the nodes that read it
    for n in nodes:
        if n.output[0] not in constants:
            for x in set(n.input):
                readers.setdefault(x, []).append(n)

    def consumers(name: str) -> list:
        """The nodes that read this tensor, through in-place nodes (Conv -> Clip -> the next layers)."""
        out = []
        for n in readers.get(name, []):
            out += consumers(n.output[0]) if n.op_type in IN_PLACE and n.op_type not in ("Add", "Mul") else [n]
        return out

    def feeds_residual(name: str) -> bool:
        c = consumers(name)
        return len(c) > 1 and any(n.op_type == "Add" for n in c)

    rows: list[tuple] = []
    ops: list[list] = []
    for i, node in enumerate(nodes):
        t = node.op_type
        if node.output[0] in constants or t not in ("Conv", "Gemm", "MatMul", "Add", *POOLS):
            continue
        ins = acts(node)
        x, y = ins[0], node.output[0]
        if t == "Add":
            if len(ins) == 2:
                h = side(y, node)
                ops.append(["add", size(y) // h ** 2, size(y) // h ** 2, 1, h, h, feeds_residual(y)])
            continue
        hin, hout = side(x, node), side(y, node)
        cin, cout = size(x) // hin ** 2, size(y) // hout ** 2
        if t in POOLS:
            ops.append(["pool", cin, cout, hin, hin, hout, feeds_residual(y)])
            continue
        alive = sum(size(r) for r, b in born.items() if b < i < last.get(r, -1) and r not in (root[x], root[y]))
        if t == "Conv":
            w = shapes.get(node.input[1]) or []
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            groups, k = int(attrs.get("group", 1)), (attrs.get("kernel_shape") or w[2:] or [1])[0]
            dw = groups > 1 and groups == cin == cout
            if groups > 1 and not dw:
                raise ConfigError(f"{where}: grouped convolution {node.name!r} is not supported")
            kind = KIND["dw"] if dw else KIND["conv"] if k > 1 else KIND["pw"]
            rows.append((kind, cin, cout, k, hin, hout, alive))
            ops.append(["dw" if dw else "conv", cin, cout, k, hin, hout, feeds_residual(y)])
        else:  # Gemm, MatMul: a fully connected layer when its weight is a constant
            if len(node.input) < 2 or node.input[1] not in constants:
                continue
            rows.append((KIND["fc"], cin, cout, 1, 1, 1, alive))
            ops.append(["fc", cin, cout, 1, 1, 1, False])
    if not rows:
        raise ConfigError(f"{where} has no Conv, Gemm or MatMul layer for the microcontroller to run")
    return rows, ops
