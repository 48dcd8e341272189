"""Placing a frame on the segmenter's fixed canvas, and mapping the class map back.

Shared by the runtime and by training, so both see frames prepared the same way.

Landscape frames (slides, trays) are turned 90 degrees clockwise so every frame is placed
long side vertical on a portrait canvas: a 2:3 herbarium sheet then fills the canvas almost
exactly and a 3:1 slide uses its full height, which keeps small parts (barcodes, chart
patches) as large as the canvas allows. The rest of the canvas is padded with a constant.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 128


@dataclass(frozen=True)
class CanvasPlacement:
    """Where a source image went on the canvas: rotation, scale and offset."""

    source_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    rotated: bool
    placed_hw: tuple[int, int]
    offset_yx: tuple[int, int]

    def crop_to_source_orientation(self, canvas_map: np.ndarray) -> np.ndarray:
        """The part of a canvas-aligned map (any integer fraction of the canvas size) that
        covers the image, turned back to the source orientation, at canvas scale."""
        factor_y = self.canvas_hw[0] / canvas_map.shape[0]
        factor_x = self.canvas_hw[1] / canvas_map.shape[1]
        y0 = int(round(self.offset_yx[0] / factor_y))
        x0 = int(round(self.offset_yx[1] / factor_x))
        y1 = y0 + max(1, int(round(self.placed_hw[0] / factor_y)))
        x1 = x0 + max(1, int(round(self.placed_hw[1] / factor_x)))
        cropped = canvas_map[y0:y1, x0:x1]
        if self.rotated:
            cropped = cv2.rotate(cropped, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return np.ascontiguousarray(cropped)

    def to_size(self, canvas_map: np.ndarray, height: int, width: int) -> np.ndarray:
        """A canvas-aligned class map as a map of height x width in source orientation."""
        cropped = self.crop_to_source_orientation(canvas_map)
        return cv2.resize(cropped, (width, height), interpolation=cv2.INTER_NEAREST)


def place_on_canvas(
    image: np.ndarray, canvas_hw: tuple[int, int], pad_value: int = PAD_VALUE,
    interpolation: int = cv2.INTER_AREA,
) -> tuple[np.ndarray, CanvasPlacement]:
    """Rotate (if landscape), scale to fit and centre `image` on a canvas of canvas_hw.

    Works for H x W x C images and for H x W label maps (pass INTER_NEAREST and pad 0 then).
    """
    source_hw = (int(image.shape[0]), int(image.shape[1]))
    rotated = source_hw[1] > source_hw[0]
    if rotated:
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    h, w = image.shape[:2]
    canvas_h, canvas_w = canvas_hw
    scale = min(canvas_h / h, canvas_w / w)
    placed_h = max(1, min(canvas_h, int(round(h * scale))))
    placed_w = max(1, min(canvas_w, int(round(w * scale))))
    if (placed_h, placed_w) != (h, w):
        image = cv2.resize(image, (placed_w, placed_h), interpolation=interpolation)
    top = (canvas_h - placed_h) // 2
    left = (canvas_w - placed_w) // 2
    canvas = np.full((canvas_h, canvas_w, *image.shape[2:]), pad_value, dtype=image.dtype)
    canvas[top:top + placed_h, left:left + placed_w] = image
    placement = CanvasPlacement(source_hw, (canvas_h, canvas_w), rotated, (placed_h, placed_w), (top, left))
    return canvas, placement


def canvas_to_tensor(
    canvas_bgr: np.ndarray, mean: tuple[float, float, float], std: tuple[float, float, float]
) -> np.ndarray:
    """BGR uint8 canvas -> 1 x 3 x H x W float32, RGB, scaled to [0, 1] then normalised."""
    if canvas_bgr.dtype != np.uint8:
        rgb = canvas_bgr[:, :, ::-1].astype(np.float32) * (1.0 / 255.0)
        rgb -= np.asarray(mean, dtype=np.float32)
        rgb /= np.asarray(std, dtype=np.float32)
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
    # uint8 has 256 values: one lookup per pixel and channel instead of three float passes over
    # the canvas (the same float32 arithmetic, done once per value)
    table = _normalisation_table(tuple(mean), tuple(std))
    h, w = canvas_bgr.shape[:2]
    planes_bgr: list[np.ndarray] = list(cv2.split(canvas_bgr))  # contiguous planes: lookups at memory speed
    tensor = np.empty((1, 3, h, w), np.float32)
    for rgb_channel in range(3):
        np.take(table[rgb_channel], planes_bgr[2 - rgb_channel], out=tensor[0, rgb_channel])
    return tensor


@functools.lru_cache(maxsize=4)
def _normalisation_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    values = np.arange(256, dtype=np.float32)[None, :] * np.float32(1.0 / 255.0)
    values = values - np.asarray(mean, dtype=np.float32)[:, None]
    return values / np.asarray(std, dtype=np.float32)[:, None]
