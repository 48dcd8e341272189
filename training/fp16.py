"""The float16 copy of an exported segmenter, for TensorRT 11's strongly typed FP16 engines.

Needs onnx only (no PyTorch), so the TensorRT backend's tests make their FP16 models with it too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx


def convert_fp16(src: Path, dst: Path) -> str:
    """Float16 weights with float32 input and output; returns how it was done.

    Uses onnxconverter-common when installed; otherwise a minimal in-house pass that is enough for
    this graph: every float32 initializer (all of them Conv weights and biases here; the Resize
    scales are Constant nodes and stay float32) becomes float16, a Cast follows the input and a
    Cast precedes the output, so callers keep feeding and reading float32.
    """
    try:
        from onnxconverter_common import float16  # optional dependency

        onnx.save(float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
        return "onnxconverter-common float16, keep_io_types"
    except ImportError:
        pass
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    in_name, out_name = graph.input[0].name, graph.output[0].name
    for node in graph.node:
        node.input[:] = [f"{in_name}_fp16" if i == in_name else i for i in node.input]
        node.output[:] = [f"{out_name}_fp16" if o == out_name else o for o in node.output]
    graph.node.insert(0, helper.make_node("Cast", [in_name], [f"{in_name}_fp16"], to=TensorProto.FLOAT16))
    graph.node.append(helper.make_node("Cast", [f"{out_name}_fp16"], [out_name], to=TensorProto.FLOAT))
    del graph.value_info[:]  # stale float32 annotations; shapes are re-inferred by the runtimes
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return "float16 initializers, float32 I/O via Cast (training/export.py)"
