"""Constructed frames with known content for the quality-check tests."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from edge.qc.colour_science import COLORCHECKER24_LAB_D50, lab_d50_to_srgb
from edge.segmentation.regions import Region

PAPER = 232


def paper(width: int = 1200, height: int = 1600, level: int = PAPER) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def draw_text_block(image: np.ndarray, bbox: tuple[int, int, int, int], seed: int = 0) -> None:
    """Dark glyph-like strokes on a label card: sharp edges at many positions, like printed text."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bbox
    image[y0:y1, x0:x1] = 245
    for y in range(y0 + 8, y1 - 14, 16):
        x = x0 + 8
        while x < x1 - 20:
            w = int(rng.integers(3, 12))
            cv2.rectangle(image, (x, y), (x + w, y + int(rng.integers(5, 10))), (30, 30, 30), -1)
            x += w + int(rng.integers(2, 6))


def draw_colorchecker(patch: int = 40, gap: int = 10, surround: int = 20) -> np.ndarray:
    """A ColorChecker Classic 24 rendered from its reference values (sRGB), on a black card."""
    rgb = (lab_d50_to_srgb(COLORCHECKER24_LAB_D50) * 255).round().astype(np.uint8)
    chart = np.full((4 * patch + 5 * gap, 6 * patch + 7 * gap, 3), surround, np.uint8)
    for i in range(24):
        r, c = divmod(i, 6)
        y, x = gap + r * (patch + gap), gap + c * (patch + gap)
        chart[y:y + patch, x:x + patch] = rgb[i][::-1]
    return chart


def barcode_image(text: str, fmt: str = "Code128", scale: int = 3) -> np.ndarray:
    code = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    gray = np.asarray(zxingcpp.write_barcode_to_image(code, scale=scale))
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def paste(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    h, w = patch.shape[:2]
    image[y:y + h, x:x + w] = patch
    return (x, y, x + w, y + h)


def region(region_id: int, class_name: str, bbox: tuple[int, int, int, int]) -> Region:
    x0, y0, x1, y1 = bbox
    return Region(region_id, class_name, bbox, (x1 - x0) * (y1 - y0), 0.99)
