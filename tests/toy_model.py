"""A small real ONNX network with known behaviour, for tests that must not depend on the
trained segmenter: it labels pure-ish green pixels specimen, blue label, red colour chart, cyan
scale bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

from edge.classes import CLASS_NAMES

CANVAS_HW = (192, 128)
SPECIMEN_BGR = (0, 200, 0)
LABEL_BGR = (255, 0, 0)
LABEL_DARK_BGR = (120, 0, 0)
CHART_BGR = (0, 0, 255)
SCALE_BAR_BGR = (255, 255, 0)  # cyan: neither green nor blue enough for specimen or label


def build_toy_model(folder: Path, name: str = "toy-segmenter") -> Path:
    weights = np.zeros((8, 3, 1, 1), np.float32)
    bias = np.full((8,), -20.0, np.float32)
    bias[0] = 0.0
    # input channels are R, G, B in [0, 1]
    for class_id, rgb in ((1, (-1, 1, -1)), (2, (-1, -1, 1)), (5, (1, -1, -1))):
        weights[class_id, :, 0, 0] = 12.0 * np.asarray(rgb, np.float32)
        bias[class_id] = -1.0
    weights[6, :, 0, 0] = 12.0 * np.asarray((-1.0, 0.5, 0.5), np.float32)  # scale bar: green and blue at once
    bias[6] = -6.0
    h, w = CANVAS_HW
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["logits"], kernel_shape=[1, 1])],
        "toy",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8, h, w])],
        initializer=[numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    card = {
        "name": name, "file": path.name, "sha256": None,
        "input": {"name": "image", "height": h, "width": w, "layout": "NCHW", "colour": "RGB",
                  "scale": "1/255", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "output": {"name": "logits", "stride": 1},
        "classes": list(CLASS_NAMES),
    }
    path.with_suffix(".yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return path
