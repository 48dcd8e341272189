"""The segmenter interface every inference backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.segmentation.letterbox import CanvasPlacement


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
    both at the network's output resolution (canvas size / output stride).
    """

    classes: np.ndarray
    confidence: np.ndarray
    placement: CanvasPlacement


class Segmenter(Protocol):
    info: ModelInfo
    canvas_hw: tuple[int, int]

    def segment(self, image_bgr: np.ndarray) -> Segmentation:
        """Segment an 8-bit BGR image of any size (the frame's small copy)."""
        ...

    def close(self) -> None: ...
