"""A scale-bar region fitted to its ruler along its long axis on the full-resolution frame.

The network often finds only part of a ruler: the millimetre-divided first centimetre of a ruler of
centimetre blocks, one end of a long rule. The region's ruler reading gives the scale; windows of a
few centimetres along the region's long axis, past its ends, are read for bands repeating at ruler
units at that scale, and the region grows while they show the ruler.

It also takes in too much: an imaging bar's institution wordmark or logo beside a small ruler card
becomes one region with it. A region is not cut back to the windows that show ticks (the windows
inside a true ruler region do not all show them: numbers, a logo on the rule; that lost real rulers
on the calibration frames), only where a whole end of it past the ticks, read as one piece, shows no
ruler at all: fewer agreeing bands than a scale-bar region needs to be kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from edge.qc.scale import Reading, agreeing_band_count
from edge.segmentation.regions import Region

Box = tuple[int, int, int, int]

# Windows along the ruler: this many mm long (three repeats of a centimetre block), half overlapping.
_WINDOW_MM = 30.0
# A window shows the ruler where at least this many of its bands repeat at a ruler unit.
_MIN_BANDS = 2
# An end is cut only past this many mm beyond the last window that shows the ruler (a rule's numbers
# and edge), and only where it is at least one window long.
_CUT_MARGIN_MM = 10.0
# ... and only where, read as one piece, it shows fewer agreeing bands than a scale-bar region needs
# to be kept at all (segmenter.scale_bar_min_ruler_bands as shipped): an end that would not pass as
# a ruler on its own. Lettering makes a few by chance.
_END_MIN_BANDS = 4


def grow_along_rulers(regions: Sequence[Region], image: np.ndarray, readings: dict[int, Reading]) -> list[Region]:
    """The regions, each scale-bar region with a reading grown along its ruler (ids unchanged)."""
    return _refitted(regions, image, readings, ruler_box)


def cut_bare_ends(regions: Sequence[Region], image: np.ndarray, readings: dict[int, Reading]) -> list[Region]:
    """The regions, each scale-bar region with a reading cut back at ends that show no ruler (ids
    unchanged)."""
    return _refitted(regions, image, readings, bare_ends_cut)


def fit_scale_bars(regions: Sequence[Region], image: np.ndarray, readings: dict[int, Reading], grow: bool,
                   trim: bool) -> tuple[list[Region], list[Region]]:
    """The regions with their scale bars grown along their rulers (where `grow`), and those again with
    bare ends cut (where `trim`)."""
    grown = grow_along_rulers(regions, image, readings) if grow else list(regions)
    return grown, cut_bare_ends(grown, image, readings) if trim else grown


def _refitted(regions: Sequence[Region], image: np.ndarray, readings: dict[int, Reading],
              fit: Callable[[np.ndarray, Box, float], Box]) -> list[Region]:
    """The regions, each scale-bar region with a reading given the box `fit` makes of it at its scale."""
    out = []
    for region in regions:
        reading = readings.get(region.id)
        if region.class_name == "scale_bar" and reading is not None:
            region = replace(region, bbox=fit(image, region.bbox, reading[0]))
        out.append(region)
    return out


def _axis(image: np.ndarray, box: Box, px_per_mm: float) -> tuple[bool, int, int, int, int, int, int]:
    """(along x, start, stop, low, high, limit, window) of a box read along its long axis."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    along_x = x1 - x0 >= y1 - y0
    start, stop = (x0, x1) if along_x else (y0, y1)
    low, high = (y0, y1) if along_x else (x0, x1)
    limit = width if along_x else height
    # long enough for three repeats of a centimetre, and to be read along the ruler, not across it
    window = max(int(round(_WINDOW_MM * px_per_mm)), 3 * (high - low) // 2, 40)
    return along_x, start, stop, low, high, limit, window


def _bands(image: np.ndarray, along_x: bool, low: int, high: int, a: int, b: int, px_per_mm: float) -> int:
    """Agreeing ruler bands of the box's stretch [a, b) along its axis, at this scale."""
    crop = image[low:high, a:b] if along_x else image[a:b, low:high]
    gray = crop[..., 1] if crop.ndim == 3 else crop
    return agreeing_band_count(gray, px_per_mm)


def bare_ends_cut(image: np.ndarray, box: Box, px_per_mm: float) -> Box:
    """The box cut back along its long axis at either end whose outermost window shows no ruler and
    which, past the windows showing the ruler and a margin, shows no ruler as a whole; as it was where
    no window shows the ruler."""
    along_x, start, stop, low, high, _, window = _axis(image, box, px_per_mm)
    margin = int(round(_CUT_MARGIN_MM * px_per_mm))
    if stop - start < 2 * window + margin:  # no room for a window of ruler and a window-long end beyond it
        return box
    step = max(1, window // 2)
    windows = []  # (start, stop) along the axis, half overlapping; a stub under half a window is none
    a = start
    while True:
        b = min(stop, a + window)
        if b - a >= window // 2 or a == start:
            windows.append((a, b))
        if b >= stop:
            break
        a += step
    shown: dict[int, bool] = {}

    def shows(i: int) -> bool:
        if i not in shown:
            shown[i] = _bands(image, along_x, low, high, *windows[i], px_per_mm) >= _MIN_BANDS
        return shown[i]

    # an end whose outermost window shows the ruler is ruler: most regions are read no further
    cut_start, cut_stop = not shows(0), not shows(len(windows) - 1)
    if not (cut_start or cut_stop):
        return box
    # runs of consecutive windows that show the ruler; the longest is the ruler (a window over
    # lettering may show it by chance, the ends are then judged as a whole below)
    runs: list[tuple[int, int, int]] = []  # (windows, first start, last stop)
    for i, (a, b) in enumerate(windows):
        if shows(i) and i > 0 and shows(i - 1):
            runs[-1] = (runs[-1][0] + 1, runs[-1][1], b)
        elif shows(i):
            runs.append((1, a, b))
    if not runs:
        return box
    _, first, last = max(runs, key=lambda run: run[0])  # the first of equally long runs
    new_start, new_stop = max(start, first - margin), min(stop, last + margin)
    if not cut_start or new_start - start < window or \
            _bands(image, along_x, low, high, start, new_start, px_per_mm) >= _END_MIN_BANDS:
        new_start = start
    if not cut_stop or stop - new_stop < window or \
            _bands(image, along_x, low, high, new_stop, stop, px_per_mm) >= _END_MIN_BANDS:
        new_stop = stop
    x0, y0, x1, y1 = box
    return (new_start, y0, new_stop, y1) if along_x else (x0, new_start, x1, new_stop)


def ruler_box(image: np.ndarray, box: Box, px_per_mm: float) -> Box:
    """The box grown along its long axis past either end for as long as the window there still
    shows the ruler at this scale; across, and where its end windows show no ruler, as it was."""
    x0, y0, x1, y1 = box
    along_x, start, stop, low, high, limit, window = _axis(image, box, px_per_mm)
    step = max(1, window // 2)

    def shows_ruler(a: int) -> bool:
        a, b = max(0, a), min(limit, a + window)
        if b - a < window // 2:
            return False
        return _bands(image, along_x, low, high, a, b, px_per_mm) >= _MIN_BANDS

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
