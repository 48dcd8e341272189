"""A scale-bar region grown along its ruler on the full-resolution frame.

The network often finds only part of a ruler: the millimetre-divided first centimetre of a ruler of
centimetre blocks, one end of a long rule. The region's ruler reading gives the scale; windows of a
few centimetres along the region's long axis, past its ends, are read for bands repeating at ruler
units at that scale, and the region grows while they show the ruler. Regions are never cut back:
the windows inside a true ruler region do not all show ticks (numbers, a logo on the rule), so
trimming lost real rulers on the calibration frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from edge.qc.scale import Reading, agreeing_band_count
from edge.segmentation.regions import Region

Box = tuple[int, int, int, int]

# Windows along the ruler: this many mm long (three repeats of a centimetre block), half overlapping.
_WINDOW_MM = 30.0
# A window shows the ruler where at least this many of its bands repeat at a ruler unit.
_MIN_BANDS = 2


def grow_along_rulers(regions: Sequence[Region], image: np.ndarray, readings: dict[int, Reading]) -> list[Region]:
    """The regions, each scale-bar region with a reading grown along its ruler (ids unchanged)."""
    grown = []
    for region in regions:
        reading = readings.get(region.id)
        if region.class_name == "scale_bar" and reading is not None:
            region = replace(region, bbox=ruler_box(image, region.bbox, reading[0]))
        grown.append(region)
    return grown


def ruler_box(image: np.ndarray, box: Box, px_per_mm: float) -> Box:
    """The box grown along its long axis past either end for as long as the window there still
    shows the ruler at this scale; across, and where its end windows show no ruler, as it was."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    along_x = x1 - x0 >= y1 - y0
    start, stop = (x0, x1) if along_x else (y0, y1)
    low, high = (y0, y1) if along_x else (x0, x1)
    limit = width if along_x else height
    # long enough for three repeats of a centimetre, and to be read along the ruler, not across it
    window = max(int(round(_WINDOW_MM * px_per_mm)), 3 * (high - low) // 2, 40)
    step = max(1, window // 2)

    def shows_ruler(a: int) -> bool:
        a, b = max(0, a), min(limit, a + window)
        if b - a < window // 2:
            return False
        crop = image[low:high, a:b] if along_x else image[a:b, low:high]
        gray = crop[..., 1] if crop.ndim == 3 else crop
        return agreeing_band_count(gray, px_per_mm) >= _MIN_BANDS

    # a window shows the ruler while the ruler fills about half of it or more, so a window past the
    # box that shows it is taken to the middle of its outer half: under half a window past the end
    new_start, new_stop = start, stop
    a = start  # the window at the box's first end, then one step further each time
    while a > 0 and shows_ruler(a):
        new_start = min(new_start, max(0, a + step // 2))
        a -= step
    a = max(start, stop - window)
    while a + window < limit and shows_ruler(a):
        new_stop = max(new_stop, min(limit, a + window - step // 2))
        a += step
    return (new_start, y0, new_stop, y1) if along_x else (x0, new_start, x1, new_stop)
