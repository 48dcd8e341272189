"""The class map at a frame's own density, its outlines drawn along the edges of the image itself.

The network scores the canvas on a grid a stride (4 canvas pixels, 10 to 40 frame pixels) apart:
upsampled on their own, the scores give smooth outlines that still lie up to half a cell off the
plant's edge and lose stems thinner than a cell. A guided filter (He, Sun and Tang, "Guided Image
Filtering", 2013) makes each class's probability, within a window, a linear function of the frame's
brightness, so a probability that falls off across a window follows the brightness edge inside it.
The class map is then the argmax, with a margin for the specimen class: a pixel the filter leaves
nearly as likely specimen as anything else is plant that the coarse scores spread thin (stem,
pale petal, leaf margin).

The constants were set on dev's calibration part (training/README.md, "Evaluation"): with
model 1.2.0 every radius of 1 to 3 cells, eps 1e-4 to 1e-3 and margin 0.3 lie within 0.01 of each
other there, so the values in the middle of that plateau were taken.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.classes import CLASS_IDS
from edge.segmentation.base import Segmentation

WORKING_LONG_SIDE = 2048  # frame pixels the filter works at, at most: enough for a mask, bounded in time
RADIUS_CELLS = 2.0  # the filter's window radius, in cells of the network's output grid
EPS = 1e-3  # regularisation on brightness variance (brightness 0..1): edges weaker than ~0.03 are smoothed over
SPECIMEN_MARGIN = 0.3  # probability added to specimen before the argmax


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """`source` filtered with `guide`'s edges (both H x W float32; He et al.'s grey-guide form)."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_guide, mean_source = mean(guide), mean(source)
    covariance = mean(guide * source) - mean_guide * mean_source
    variance = mean(guide * guide) - mean_guide * mean_guide
    slope = covariance / (variance + np.float32(eps))
    offset = mean_source - slope * mean_guide
    return np.asarray(mean(slope) * guide + mean(offset), dtype=np.float32)


def class_probabilities(seg: Segmentation) -> np.ndarray:
    """Softmax probabilities (H x W x C) over the image's part of the canvas, in the source
    orientation, at the canvas's density: interpolated bilinearly from the output grid, so the
    image's part is cut at canvas precision."""
    assert seg.logits is not None
    scores = seg.logits.transpose(1, 2, 0)  # channels last, as OpenCV resizes them
    exp = np.exp(scores - scores.max(axis=2, keepdims=True))
    prob = np.ascontiguousarray(exp / exp.sum(axis=2, keepdims=True), dtype=np.float32)
    h, w = seg.classes.shape
    canvas = cv2.resize(prob, (w * seg.stride, h * seg.stride), interpolation=cv2.INTER_LINEAR)
    return seg.placement.crop_to_source_orientation(canvas)


def _unit_grey(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The image's brightness at hw, 0..1 float32, from 8- or 16-bit BGR or grey."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    grey = cv2.resize(grey, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    full_scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(grey.dtype, 1.0)
    return np.asarray(grey, dtype=np.float32) * np.float32(1.0 / full_scale)


def refined_class_map(seg: Segmentation, image: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """The class map (uint8 class ids) at out_hw, in the source orientation of `image` (the frame
    at any size), outlines snapped to the image's edges. Without scores, the output map scaled."""
    if seg.logits is None:
        return seg.placement.to_size(seg.classes, out_hw[0], out_hw[1])
    scale = min(1.0, WORKING_LONG_SIDE / max(out_hw))
    work_hw = (max(1, round(out_hw[0] * scale)), max(1, round(out_hw[1] * scale)))
    part = class_probabilities(seg)
    guide = _unit_grey(image, work_hw)
    cell = seg.stride * max(work_hw) / max(part.shape[:2])  # working pixels per output-grid cell
    radius = max(1, int(round(RADIUS_CELLS * cell)))
    # one class at a time, keeping the best so far: a stack of every class at the working size
    # would hold several hundred megabytes
    best = np.full(work_hw, -np.inf, np.float32)
    classes = np.zeros(work_hw, np.uint8)
    for class_id in range(part.shape[2]):
        prob = cv2.resize(np.ascontiguousarray(part[..., class_id]), (work_hw[1], work_hw[0]),
                          interpolation=cv2.INTER_LINEAR)
        refined = guided_filter(guide, prob, radius, EPS)
        if class_id == CLASS_IDS["specimen"]:
            refined += np.float32(SPECIMEN_MARGIN)
        wins = refined > best
        best[wins] = refined[wins]
        classes[wins] = class_id
    if classes.shape == out_hw:
        return classes
    return np.asarray(cv2.resize(classes, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_NEAREST), dtype=np.uint8)
