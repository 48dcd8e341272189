"""A no-reference sharpness measure for crops at native resolution: the width of the sharpest edges.

Where a crop has strong edges (text strokes, label borders, barcode bars, ruler ticks), the
width of an edge is its contrast divided by its steepest one-pixel step: a perfect step is
1 px wide, an edge blurred by a Gaussian of sigma s is about 2.5 s px wide. The sharpest
part of the strong edges tells the focus: softer edges (ink bleeding into paper, a curled
corner) exist in any frame, but a frame cannot have edges sharper than its optics allow. Edges
across rows and across columns are read apart (a shake smears only one direction), and a region
is read in tiles whose median decides, so a sharp strip it happens to overlap cannot vouch for it.

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
# An axis with at least this share of MIN_EDGES strong edges has its own say.
_AXIS_SHARE = 0.3
# Regions are read in tiles of at most this side, at most this many spread evenly over the region; the
# median of at least _MIN_TILES measured tiles decides.
_TILE = 192
_MIN_TILE = 64
_MAX_TILES = 9
_MIN_TILES = 3
_MIN_TILE_EDGES = 40


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


def edge_width(gray: np.ndarray, min_edges: int = MIN_EDGES) -> EdgeWidth | None:
    """Width in pixels of the sharpest strong edges of a grey float32 crop (0..255); None when the
    crop is too small or holds too few strong edges to judge.

    Edges across the rows and across the columns are read apart and the wider of the two decides
    (where both have enough edges): motion blur widens only the edges across its direction."""
    if min(gray.shape[:2]) < 2 * _HALF_SPAN + 2:
        return None
    per_axis = [_edge_samples(gray), _edge_samples(np.ascontiguousarray(gray.T))]
    contrast_all = np.concatenate([contrast for contrast, _ in per_axis])
    if contrast_all.size < min_edges:
        return None
    floor = max(_MIN_CONTRAST, _RELATIVE_CONTRAST * float(np.percentile(contrast_all, 99.5)))
    widths: list[float] = []
    counts: list[int] = []
    for contrast, steps in per_axis:
        strong = (contrast >= floor) & (steps > 0)
        counts.append(int(strong.sum()))
        widths.append(float(np.percentile(contrast[strong] / steps[strong], _PERCENTILE)) if strong.any() else 0.0)
    if sum(counts) < min_edges:
        return None
    judged = [w for w, n in zip(widths, counts, strict=True) if n >= min_edges * _AXIS_SHARE]
    if not judged:  # one axis holds nearly all the edges (a barcode's bars): it alone decides
        judged = [widths[int(np.argmax(counts))]]
    return EdgeWidth(max(judged), sum(counts))


def region_edge_width(image: np.ndarray, bbox: tuple[int, int, int, int]) -> EdgeWidth | None:
    """Edge width of a region at full resolution: the median over tiles spread evenly across it,
    so the region's own content decides and a sharp strip the region overlaps (a ruler beside a
    label, a neighbouring slip) cannot vouch for it. A region too small for tiles is measured whole."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, bbox[0]), max(0, bbox[1]), min(width, bbox[2]), min(height, bbox[3])
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return None
    # tiles a third of the region's short side (within limits), so a small label has tiles too
    tile = int(min(_TILE, max(_MIN_TILE, min(w, h) // 3)))
    cols, rows = max(1, w // tile), max(1, h // tile)
    if cols * rows < _MIN_TILES:
        return edge_width(to_gray_float(crop_for_sharpness(image, (x0, y0, x1, y1))))
    step = max(1.0, (cols * rows / _MAX_TILES) ** 0.5)
    tile_widths: list[float] = []
    edges = 0
    for ty in np.arange(0, rows, step):
        for tx in np.arange(0, cols, step):
            ax = x0 + int(tx * (w - tile) / max(1, cols - 1)) if cols > 1 else x0
            ay = y0 + int(ty * (h - tile) / max(1, rows - 1)) if rows > 1 else y0
            pixels = image[ay:ay + tile, ax:ax + tile]
            if pixels.size == 0:
                continue
            measured = edge_width(to_gray_float(pixels), min_edges=_MIN_TILE_EDGES)
            if measured is not None:
                tile_widths.append(measured.width_px)
                edges += measured.edges
    if len(tile_widths) < _MIN_TILES:
        return edge_width(to_gray_float(crop_for_sharpness(image, (x0, y0, x1, y1))))
    return EdgeWidth(float(np.median(tile_widths)), edges)


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
