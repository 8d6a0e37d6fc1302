"""The searched network as the microcontroller runs it: int8 weights (per output channel) and int8 activations,
quantised after training with onnxruntime's static quantisation on training images, and scored on the test
split with onnxruntime.

The memory model charges Flash for int8 weights plus 8 bytes per output channel (an int32 bias and a float
scale) and SRAM for int8 activations; an accuracy reported for float weights is not the accuracy of the network
those figures describe. `parameter_bytes` counts the same parts in the quantised graph, so the Flash model's
parameter term is checked against a real int8 artifact, not only against published totals.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_IMAGES = 256  # training images whose activations set the int8 ranges


class _Images:
    """onnxruntime's calibration reader over (N, 3, R, R) images, one at a time (the graph has batch 1)."""

    def __init__(self, name: str, images: np.ndarray):
        self._it = iter([{name: images[i: i + 1]} for i in range(len(images))])

    def get_next(self) -> dict | None:
        return next(self._it, None)


def quantize_int8(fp32: Path, out: Path, calibration: np.ndarray) -> Path:
    """QDQ int8: symmetric per-channel weights, activations calibrated by their min and max over `calibration`
    (TFLite's int8 scheme, which TinyEngine runs)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out.with_suffix(".pre.onnx")
    try:
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), _Images("image", np.ascontiguousarray(calibration, np.float32)),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    finally:
        pre.unlink(missing_ok=True)
    return out


def onnx_accuracy(path: Path, split, threads: int = 1) -> tuple[float, float]:
    """Test accuracy (%) of an ONNX classifier with a batch-1 input, and its mean latency per image (ms)."""
    from nasfw.hardware.onnx_timing import session

    sess = session(path, threads)
    name = sess.get_inputs()[0].name
    x, y = split.x.numpy(), split.y.numpy()
    correct, t = 0, time.perf_counter()
    for i in range(len(y)):
        correct += int(sess.run(None, {name: np.ascontiguousarray(x[i: i + 1])})[0].argmax() == y[i])
    return 100.0 * correct / len(y), 1e3 * (time.perf_counter() - t) / len(y)


def parameter_bytes(path: Path) -> dict[str, Any]:
    """What the quantised graph stores for its layers: int8 weights, int32 biases and the weights' float scales
    (the per-channel scale of each weight tensor), read from the inputs of its DequantizeLinear nodes."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    weights = biases = scales = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        x = numpy_helper.to_array(inits[node.input[0]])
        if x.dtype == np.int8:
            weights += x.size
            scales += numpy_helper.to_array(inits[node.input[1]]).size
        elif x.dtype == np.int32:
            biases += x.size
    return {"int8_weights": weights, "int32_biases": biases, "weight_scales": scales,
            "bytes": weights + 4 * biases + 4 * scales}
