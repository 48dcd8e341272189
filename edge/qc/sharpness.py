"""A no-reference sharpness measure for crops at native resolution: the width of the sharpest edges.

Where a crop has strong edges (text strokes, label borders, barcode bars, ruler ticks), the
width of an edge is its contrast divided by its steepest one-pixel step: a perfect step is
1 px wide, an edge blurred by a Gaussian of sigma s is about 2.5 s px wide. The sharpest
quarter of the strong edges tells the focus: softer edges (ink bleeding into paper, a curled
corner) exist in any frame, but a frame cannot have edges sharper than its optics allow.

The figure is in pixels of the stored frame, so it means the same at 2 MP and at 60 MP and
is never taken on a shrunken crop: shrinking hides exactly the softness it is there to see.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Crops are bounded so a huge specimen region costs no more than a label (time budget per frame).
MAX_CROP_PIXELS = 600_000
# Contrast of an edge is the grey range within this many pixels either side of it: wide enough
# to hold an edge blurred by sigma 3 (about 8 px), narrow enough for a text stroke's two sides.
_HALF_SPAN = 6
# Strong edges only: at least this range (grey levels of 255), and at least this share of the
# crop's strongest ranges, so sensor noise and JPEG blocks on bare paper never count.
_MIN_CONTRAST = 20.0
_RELATIVE_CONTRAST = 0.4
# Fewer strong edges than this: too little structure to judge.
MIN_EDGES = 100
# Which percentile of the edge widths is reported (the sharpest edges decide).
_PERCENTILE = 15.0


@dataclass(frozen=True)
class EdgeWidth:
    width_px: float  # the sharpest strong edges' width, pixels of the stored frame
    edges: int  # how many strong edges it was measured on


def to_gray_float(crop: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = 1.0 / 257.0 if gray.dtype == np.uint16 else 1.0
    return gray.astype(np.float32) * np.float32(scale)


def _edge_samples(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contrast, steepest step) at every edge peak along the rows of a grey float32 crop."""
    step = np.abs(np.diff(gray, axis=1))
    kernel = np.ones((1, 2 * _HALF_SPAN + 1), np.uint8)
    spread = cv2.dilate(gray, kernel) - cv2.erode(gray, kernel)
    contrast = np.maximum(spread[:, :-1], spread[:, 1:])
    padded = np.pad(step, ((0, 0), (1, 1)))
    peak = (step >= padded[:, :-2]) & (step > padded[:, 2:])
    return contrast[peak], step[peak]


def edge_width(gray: np.ndarray) -> EdgeWidth | None:
    """Width in pixels of the sharpest strong edges of a grey float32 crop (0..255), across both
    axes; None when the crop is too small or holds too few strong edges to judge."""
    if min(gray.shape[:2]) < 2 * _HALF_SPAN + 2:
        return None
    horizontal = _edge_samples(gray)
    vertical = _edge_samples(np.ascontiguousarray(gray.T))
    contrast = np.concatenate([horizontal[0], vertical[0]])
    steps = np.concatenate([horizontal[1], vertical[1]])
    if contrast.size < MIN_EDGES:
        return None
    floor = max(_MIN_CONTRAST, _RELATIVE_CONTRAST * float(np.percentile(contrast, 99.5)))
    strong = (contrast >= floor) & (steps > 0)
    count = int(strong.sum())
    if count < MIN_EDGES:
        return None
    widths = contrast[strong] / steps[strong]
    return EdgeWidth(float(np.percentile(widths, _PERCENTILE)), count)


def crop_for_sharpness(image: np.ndarray, bbox: tuple[int, int, int, int],
                       max_pixels: int = MAX_CROP_PIXELS) -> np.ndarray:
    """The region at full resolution; a large one is cut down to the window with the most detail
    (never downscaled: downscaling hides exactly the blur this is for)."""
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    if w * h <= max_pixels:
        return image[y0:y1, x0:x1]
    win_w = min(w, max(1, int((max_pixels * w / h) ** 0.5)))
    win_h = min(h, max(1, max_pixels // win_w))
    best, best_score = (x0, y0), -1.0
    for fy in (0.0, 0.5, 1.0):
        for fx in (0.0, 0.5, 1.0):
            wx, wy = x0 + int(fx * (w - win_w)), y0 + int(fy * (h - win_h))
            # a coarse look (every 4th pixel of one channel) is enough to rank windows
            sample = image[wy:wy + win_h:4, wx:wx + win_w:4, 1].astype(np.float32)
            score = float(np.abs(np.diff(sample, axis=1)).mean()) if sample.shape[1] > 1 else 0.0
            if score > best_score:
                best, best_score = (wx, wy), score
    bx, by = best
    return image[by:by + win_h, bx:bx + win_w]
