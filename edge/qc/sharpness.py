"""A no-reference sharpness measure for crops.

The re-blur measure of Crete-Roffet et al. (2007, "The blur effect"): blur the crop once
more and see how much of its local variation disappears. A sharp crop loses a lot, a
blurred one little. The result is a ratio, so it does not depend on how much text or
plant a crop holds, unlike a raw Laplacian variance. 1 = sharp, 0 = no detail left.
"""

from __future__ import annotations

import cv2
import numpy as np

_KERNEL = 9
# Crops are bounded so a huge specimen region costs no more than a label (time budget per frame).
MAX_CROP_PIXELS = 600_000


def to_gray_float(crop: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = 1.0 / 257.0 if gray.dtype == np.uint16 else 1.0
    return gray.astype(np.float32) * np.float32(scale)


# Crops whose mean step between neighbouring pixels is under this (grey levels of 255) are too
# flat to judge: on bare paper the JPEG block edges alone would read as sharp.
MIN_DETAIL = 1.0


def reblur_sharpness(gray: np.ndarray) -> float | None:
    """Sharpness in [0, 1] of a grey float32 crop, or None when the crop is flat or tiny."""
    measured = reblur_measure(gray)
    return None if measured is None else measured[0]


def reblur_measure(gray: np.ndarray) -> tuple[float, float] | None:
    """(sharpness in [0, 1], detail: mean step between neighbouring pixels) of a grey float32 crop,
    or None when the crop is too small or too flat to judge."""
    if gray.shape[0] < _KERNEL * 2 or gray.shape[1] < _KERNEL * 2:
        return None
    blurred_v = cv2.blur(gray, (1, _KERNEL))
    blurred_h = cv2.blur(gray, (_KERNEL, 1))
    losses = []
    details = []
    for axis, blurred in ((0, blurred_v), (1, blurred_h)):
        d_f = np.abs(np.diff(gray, axis=axis))
        d_b = np.abs(np.diff(blurred, axis=axis))
        s_f = float(d_f.sum())
        details.append(s_f / d_f.size)
        if s_f < 1e-6 * d_f.size * 255:
            return None
        s_v = float(np.maximum(d_f - d_b, 0).sum())
        losses.append((s_f - s_v) / s_f)
    detail = max(details)
    if detail < MIN_DETAIL:
        return None
    return 1.0 - max(losses), detail


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


def resample_to_scale(gray: np.ndarray, px_per_mm: float | None, target_px_per_mm: float | None) -> np.ndarray:
    """Resample a crop sampled finer than the target scale down to it, so stations are compared alike."""
    if not px_per_mm or not target_px_per_mm or px_per_mm <= 1.1 * target_px_per_mm:
        return gray
    factor = target_px_per_mm / px_per_mm
    size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
