"""The segmenter interface every inference backend implements, and the inference path they share:
place the frame on the canvas, normalise, run the backend's network, softmax the logits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.segmentation.letterbox import CanvasPlacement, canvas_to_tensor, place_on_canvas
from edge.segmentation.model_card import ModelCard


@dataclass(frozen=True)
class ModelInfo:
    name: str
    sha256: str | None
    backend: str
    device: str


@dataclass
class Segmentation:
    """Per-pixel result on the canvas, plus how the image was placed on it.

    `classes` is the argmax class map and `confidence` the winning class's probability,
    both at the network's output resolution (canvas size / output stride); `logits`, where the
    backend gave them, the network's output itself (C x H x W float32, the same grid), from which
    `edge.segmentation.refine` draws a class map at the frame's density when one is asked for.
    """

    classes: np.ndarray
    confidence: np.ndarray
    placement: CanvasPlacement
    logits: np.ndarray | None = None
    stride: int = 1  # canvas pixels per output-map pixel


class Segmenter(Protocol):
    info: ModelInfo
    canvas_hw: tuple[int, int]

    def segment(self, image_bgr: np.ndarray) -> Segmentation:
        """Segment an 8-bit BGR image of any size (the frame's small copy)."""
        ...

    def close(self) -> None: ...


def softmax_top(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax class and its softmax probability per pixel, from C x H x W logits."""
    classes = logits.argmax(axis=0).astype(np.uint8)
    top = np.take_along_axis(logits, classes[None].astype(np.intp), axis=0)[0]
    total = np.exp(logits - top[None]).sum(axis=0)
    return classes, (1.0 / total).astype(np.float32)


def segment_with(logits: Callable[[np.ndarray], np.ndarray], image_bgr: np.ndarray, card: ModelCard) -> Segmentation:
    """Segment an 8-bit BGR image with a backend's `logits` (1 x 3 x H x W float32 in, 1 x C x h x w
    logits of any float type out), placed and normalised as the model card says."""
    canvas, placement = place_on_canvas(image_bgr, card.input_hw)
    tensor = canvas_to_tensor(canvas, card.mean, card.std)
    scores = np.asarray(logits(tensor)[0], dtype=np.float32)
    classes, confidence = softmax_top(scores)
    return Segmentation(classes=classes, confidence=confidence, placement=placement, logits=scores,
                        stride=max(1, round(card.input_hw[0] / classes.shape[0])))
