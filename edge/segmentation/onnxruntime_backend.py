"""ONNX Runtime backend (CPU)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from edge.segmentation.base import ModelInfo, Segmentation
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.model_card import ModelCard, file_sha256


def softmax_top(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax class and its softmax probability per pixel, from C x H x W logits."""
    classes = logits.argmax(axis=0).astype(np.uint8)
    top = np.take_along_axis(logits, classes[None].astype(np.intp), axis=0)[0]
    total = np.exp(logits - top[None]).sum(axis=0)
    return classes, (1.0 / total).astype(np.float32)


class OnnxRuntimeSegmenter:
    def __init__(self, card: ModelCard, threads: int = 2) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(card.path), options, providers=["CPUExecutionProvider"])
        self._card = card
        self.canvas_hw = card.input_hw
        self.info = ModelInfo(name=card.name, sha256=card.sha256 or file_sha256(card.path),
                              backend="onnxruntime", device="cpu")

    def segment(self, image_bgr: np.ndarray) -> Segmentation:
        canvas, placement = place_on_canvas(image_bgr, self.canvas_hw)
        tensor = canvas_to_tensor(canvas, self._card.mean, self._card.std)
        (logits,) = self._session.run([self._card.output_name], {self._card.input_name: tensor})
        classes, confidence = softmax_top(logits[0])
        return Segmentation(classes=classes, confidence=confidence, placement=placement)

    def close(self) -> None:
        pass
