"""The colour-chart regions a frame really has, settled on the full-resolution frame before any check.

Two ways the network's chart regions go wrong on real captures, each put right from what the frame
shows (a third, the card it misses beside the ruler, is found by the chart check:
`chart_analysis.card_beside_ruler`):

* A long target strip (colour blocks at both ends, a grey ramp and tick bands between) comes out as
  two chart regions, its end blocks, with the ruler along the strip between them called scale bar.
  Two chart regions on one line whose gap a scale-bar region along the same line spans are one
  target: they become one region over both (the scale bar stays; the strip carries a ruler).
* A ruler, plain or coloured (a blue plastic rule), is called a chart. A chart region that reads
  unmistakably as a ruler (`segmenter.chart_ruler_min_bands` agreeing tick bands, more than a scale
  bar must show: a target's grey wedge makes a few), is one hue at most (a chart's patches are
  many) and shows no patch grid is a scale bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from edge.qc.chart_analysis import shows_chart
from edge.qc.scale import Reading, scale_bar_reading
from edge.segmentation.regions import Region

Box = tuple[int, int, int, int]

# Two chart regions lie on one line when they overlap across it by at least this share of the
# narrower one; the scale bar must overlap them as much, and span this share of the gap between.
_SAME_LINE = 0.5
_GAP_SPANNED = 0.8
# A pixel is coloured above this saturation and value (8-bit HSV); a region is one hue when at least
# this share of its coloured pixels lie within +-30 degrees of one hue, or when under 1 % are coloured.
_SATURATED = 80
_LIT = 60
_ONE_HUE_SHARE = 0.95
_COLOURED_SHARE = 0.01
_HUE_HALF_WINDOW = 15  # OpenCV hue units (2 degrees each)


def settle_chart_regions(regions: Sequence[Region], image: np.ndarray, long_side_mm: tuple[float, float],
                         min_ruler_bands: int, min_patches: int,
                         readings: dict[int, Reading]) -> tuple[list[Region], dict[int, Reading]]:
    """The regions with rulers called charts relabelled and target strips joined; ids renumbered in
    order, and the ruler readings (by id) carried over, with those of relabelled regions added."""
    by_box: dict[Box, Reading] = {r.bbox: readings[r.id] for r in regions if r.id in readings}
    rulers = rulers_called_charts(regions, image, long_side_mm, min_ruler_bands, min_patches)
    by_box.update(rulers)
    settled = [replace(r, class_name="scale_bar") if r.class_name == "colour_chart" and r.bbox in rulers else r
               for r in regions]
    settled = join_target_strips(settled)
    renumbered = [replace(r, id=i) for i, r in enumerate(settled)]
    kept = {r.id: by_box[r.bbox] for r in renumbered if r.class_name == "scale_bar" and r.bbox in by_box}
    return renumbered, kept


def rulers_called_charts(regions: Sequence[Region], image: np.ndarray, long_side_mm: tuple[float, float],
                         min_ruler_bands: int, min_patches: int) -> dict[Box, Reading]:
    """The chart regions (by box) that are plain rulers, with their readings (`plain_ruler_reading`).
    0 bands: none."""
    if min_ruler_bands <= 0:
        return {}
    found: dict[Box, Reading] = {}
    for region in regions:
        if region.class_name == "colour_chart":
            reading = plain_ruler_reading(image, region, long_side_mm, min_ruler_bands, min_patches)
            if reading is not None:
                found[region.bbox] = reading
    return found


def plain_ruler_reading(image: np.ndarray, region: Region, long_side_mm: tuple[float, float],
                        min_ruler_bands: int, min_patches: int) -> Reading:
    """The region's ruler reading where it is a plain ruler: at least `min_ruler_bands` agreeing tick
    bands (more than a scale bar must show: a target's grey wedge reads as a few), one hue, and no
    patch grid where the chart check would look; else None."""
    # cheapest first: a chart's many hues rule it out before any reading
    if not is_one_hue(crop_of(image, region.bbox)):
        return None
    reading = scale_bar_reading(image, region, long_side_mm)
    if reading is None or reading[1] < max(1, min_ruler_bands):
        return None
    return None if shows_chart(image, region.bbox, min_patches) else reading


def crop_of(image: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1]


def is_one_hue(crop: np.ndarray) -> bool:
    """Whether the crop's coloured pixels are nearly all of one hue (a coloured ruler, a grey card),
    unlike a chart's patches."""
    if crop.size == 0:
        return True
    if crop.dtype == np.uint16:
        crop = (crop >> 8).astype(np.uint8)
    # a large crop is judged from a subsample of about 250,000 pixels: shares, not detail, are wanted
    step = max(1, int(np.sqrt(crop.shape[0] * crop.shape[1] / 250_000)))
    hsv = cv2.cvtColor(np.ascontiguousarray(crop[::step, ::step]), cv2.COLOR_BGR2HSV)
    coloured = (hsv[..., 1] > _SATURATED) & (hsv[..., 2] > _LIT)
    count = int(coloured.sum())
    if count < _COLOURED_SHARE * coloured.size:
        return True
    hist = np.bincount(hsv[..., 0][coloured].astype(np.int64), minlength=180).astype(np.float64)
    # hue is circular: red sits at both ends of the scale
    wrapped = np.concatenate([hist, hist[:2 * _HUE_HALF_WINDOW]])
    best = np.convolve(wrapped, np.ones(2 * _HUE_HALF_WINDOW + 1), "valid")[:180].max()
    return bool(best >= _ONE_HUE_SHARE * count)


def _span(box: Box, axis: int) -> tuple[int, int]:
    """The box's extent along an axis (0: x, 1: y)."""
    return (box[0], box[2]) if axis == 0 else (box[1], box[3])


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


def _strip_of(a: Region, b: Region, bars: Sequence[Region]) -> bool:
    """Whether two chart regions are the end blocks of one strip with a scale bar between them."""
    for along in (0, 1):
        across = 1 - along
        a_across, b_across = _span(a.bbox, across), _span(b.bbox, across)
        narrower = min(a_across[1] - a_across[0], b_across[1] - b_across[0])
        if _overlap(a_across, b_across) < _SAME_LINE * narrower:
            continue
        first, second = sorted((_span(a.bbox, along), _span(b.bbox, along)))
        gap = (first[1], second[0])
        if gap[1] <= gap[0]:
            continue
        for bar in bars:
            bar_across = _span(bar.bbox, across)
            if (_overlap(bar_across, a_across) >= _SAME_LINE * narrower
                    and _overlap(bar_across, b_across) >= _SAME_LINE * narrower
                    and _overlap(_span(bar.bbox, along), gap) >= _GAP_SPANNED * (gap[1] - gap[0])):
                return True
    return False


def join_target_strips(regions: Sequence[Region]) -> list[Region]:
    """Chart regions that are the end blocks of one target strip, joined into one region (in the
    place of the first); other regions unchanged, in order."""
    out = list(regions)
    bars = [r for r in out if r.class_name == "scale_bar"]
    joined = True
    while joined:
        joined = False
        charts = [i for i, r in enumerate(out) if r.class_name == "colour_chart"]
        for n, i in enumerate(charts):
            for j in charts[n + 1:]:
                a, b = out[i], out[j]
                if not _strip_of(a, b, bars):
                    continue
                box = (min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1]),
                       max(a.bbox[2], b.bbox[2]), max(a.bbox[3], b.bbox[3]))
                area = a.area_px + b.area_px
                score = (a.score * a.area_px + b.score * b.area_px) / max(1, area)
                out[i] = replace(a, bbox=box, area_px=area, score=score)
                del out[j]
                joined = True
                break
            if joined:
                break
    return out
