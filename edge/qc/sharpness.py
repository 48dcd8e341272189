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
# Crops are bounded so a huge specimen region costs no more than a label.
MAX_CROP_PIXELS = 4_000_000


def to_gray_float(crop: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = 1.0 / 257.0 if gray.dtype == np.uint16 else 1.0
    return gray.astype(np.float32) * np.float32(scale)


def reblur_sharpness(gray: np.ndarray) -> float | None:
    """Sharpness in [0, 1] of a grey float32 crop, or None when the crop is flat or tiny."""
    if gray.shape[0] < _KERNEL * 2 or gray.shape[1] < _KERNEL * 2:
        return None
    blurred_v = cv2.blur(gray, (1, _KERNEL))
    blurred_h = cv2.blur(gray, (_KERNEL, 1))
    losses = []
    for axis, blurred in ((0, blurred_v), (1, blurred_h)):
        d_f = np.abs(np.diff(gray, axis=axis))
        d_b = np.abs(np.diff(blurred, axis=axis))
        s_f = float(d_f.sum())
        if s_f < 1e-6 * d_f.size * 255:
            return None
        s_v = float(np.maximum(d_f - d_b, 0).sum())
        losses.append((s_f - s_v) / s_f)
    return 1.0 - max(losses)


def crop_for_sharpness(image: np.ndarray, bbox: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    if w * h > MAX_CROP_PIXELS:
        # keep full resolution: take the central window rather than downscaling
        side_w = min(w, int((MAX_CROP_PIXELS * w / h) ** 0.5))
        side_h = min(h, MAX_CROP_PIXELS // max(1, side_w))
        x0 += (w - side_w) // 2
        y0 += (h - side_h) // 2
        x1, y1 = x0 + side_w, y0 + side_h
    return image[y0:y1, x0:x1]
