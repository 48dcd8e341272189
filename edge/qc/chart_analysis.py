"""The chart regions of a frame, each with its patch grid: measured once, used by several checks."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import cv2
import numpy as np

from edge.qc.base import FrameContext
from edge.qc.chart_grid import ChartGrid, find_patch_grid, is_chart
from edge.segmentation.regions import Region

# When a region shows no grid, it may be a piece of the chart (a segmenter often finds only part
# of one): look again in a box this much larger on every side, as a share of its longer side.
_WIDEN = 0.5
# A long strip (a chart and a ruler the segmenter ran together) is also searched in windows this
# many times its short side long, overlapping by half, so the chart's grid is not judged among the
# ruler's marks.
_STRIP_ASPECT = 2.5
_WINDOW = 2.0
# The band searched along a scale bar for a chart the segmenter missed, in the bar's widths, and
# the size its short side is reduced to for the search; windows along it square, then this many
# times as long (a row of patches continuing the ruler strip).
_BAND = 3.0
_BAND_WORK_SIDE = 160
_STRIP_WINDOW = 3
# Crops at least this many pixels across are also looked at reduced, where no grid was found.
_MIN_SIDE_TO_REDUCE = 120


def chart_grids(frame: FrameContext) -> list[tuple[Region, ChartGrid]]:
    """Chart regions with their patch grids; a region whose grid was found only in a widened or
    grown box comes back with that box."""
    # checks may run on several threads: the first to ask measures, the others wait for it
    with frame.cache.setdefault("chart_grids_lock", threading.Lock()):
        cached = frame.cache.get("chart_grids")
        if cached is None:
            cached = frame.cache["chart_grids"] = _measure_chart_grids(frame)
    return cached


def _measure_chart_grids(frame: FrameContext) -> list[tuple[Region, ChartGrid]]:
    min_patches = frame.profile.colour_chart.min_patches
    min_area = frame.profile.colour_chart.min_area_fraction * frame.width * frame.height
    found: list[tuple[Region, ChartGrid]] = []
    for region in sorted(frame.regions_of("colour_chart"), key=lambda r: r.area_px, reverse=True)[:4]:
        grid = _grid_in(frame, region.bbox)
        in_window = False
        if not is_chart(grid, min_patches):
            widened = _widened(region.bbox, frame.width, frame.height)
            for box in [widened, *_strip_windows(region.bbox)]:
                other = _grid_in(frame, box)
                if is_chart(other, min_patches):
                    # a window holds only part of the region: the chart is no larger than it
                    in_window = box != widened
                    area = region.area_px if box == widened else min(region.area_px, _area(box))
                    region, grid = dataclasses.replace(region, bbox=box, area_px=area), other
                    break
        if is_chart(grid, min_patches) and not in_window and max(region.area_px, grid_area_px(grid)) < min_area:
            region, grid = _follow_grid(frame, region, grid, min_patches)
        found.append((region, grid))
    if not found:
        card = card_beside_ruler(frame.image, frame.regions, min_patches)
        if card is not None:
            # a region of its own in the verdict, after the segmenter's
            frame.findings.found_regions.append(card[0])
            found.append(card)
    return found


def grid_area_px(grid: ChartGrid) -> float:
    """Area the patch grid covers, a patch pitch around the outer patch centres."""
    if not grid.patches:
        return 0.0
    xs = [p.centre[0] for p in grid.patches]
    ys = [p.centre[1] for p in grid.patches]
    return (max(xs) - min(xs) + grid.pitch_px) * (max(ys) - min(ys) + grid.pitch_px)


def _follow_grid(frame: FrameContext, region: Region, grid: ChartGrid, min_patches: int,
                 steps: int = 2) -> tuple[Region, ChartGrid]:
    """A grid too small to measure may be the piece of a longer chart that the segmenter found
    (a one-column chart down a ruler): look again in a box grown by its own length at both ends of
    the grid's rows or columns and narrowed to the grid across them (so a ruler alongside stays
    out), and keep the larger grid."""
    box = region.bbox
    for _ in range(steps):
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        xs = [x0 + p.centre[0] for p in grid.patches]
        ys = [y0 + p.centre[1] for p in grid.patches]
        pitch = grid.pitch_px
        along_x = max(xs) - min(xs) >= pitch / 2  # more than one column
        along_y = max(ys) - min(ys) >= pitch / 2  # more than one row
        gx0, gx1 = (x0 - w, x1 + w) if along_x else (min(xs) - pitch, max(xs) + pitch)
        gy0, gy1 = (y0 - h, y1 + h) if along_y else (min(ys) - pitch, max(ys) + pitch)
        grown = (max(0, int(gx0)), max(0, int(gy0)), min(frame.width, int(gx1)), min(frame.height, int(gy1)))
        other = _grid_in(frame, grown)
        if not is_chart(other, min_patches) or grid_area_px(other) <= grid_area_px(grid):
            break
        box, grid = grown, other
    if box == region.bbox:
        return region, grid
    return dataclasses.replace(region, bbox=box), grid


def _grid_in(frame: FrameContext, box: tuple[int, int, int, int]) -> ChartGrid:
    return grid_in(frame.image, box, frame.profile.colour_chart.min_patches)


def grid_in(image: np.ndarray, box: tuple[int, int, int, int], min_patches: int) -> ChartGrid:
    """The patch grid in a box of the frame, looked at again enlarged or reduced where none shows."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    if not crop.size:
        return ChartGrid([], 0, 0.0)
    grid = find_patch_grid(crop)
    if not is_chart(grid, min_patches):
        enlarged = find_patch_grid(crop, enlarge=True)
        if is_chart(enlarged, min_patches):
            return enlarged
        if min(crop.shape[:2]) >= _MIN_SIDE_TO_REDUCE:
            reduced = find_patch_grid(crop, reduce=True)
            if is_chart(reduced, min_patches):
                return reduced
    return grid


def shows_chart(image: np.ndarray, box: tuple[int, int, int, int], min_patches: int) -> bool:
    """Whether a chart's patch grid is found in the box, in the box widened around it, or in a window
    along it: where the chart check would look."""
    height, width = image.shape[:2]
    return any(is_chart(grid_in(image, b, min_patches), min_patches)
               for b in [box, _widened(box, width, height), *_strip_windows(box)])


def _widened(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    pad = int(_WIDEN * max(x1 - x0, y1 - y0)) + 8
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)


def _strip_windows(box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    short, long_ = min(w, h), max(w, h)
    if short <= 0 or long_ < _STRIP_ASPECT * short:
        return []
    size = int(_WINDOW * short)
    starts = list(range(0, long_ - size, max(1, size // 2))) + [long_ - size]
    if w > h:
        return [(x0 + s, y0, x0 + s + size, y1) for s in starts]
    return [(x0, y0 + s, x1, y0 + s + size) for s in starts]


def _area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def card_beside_ruler(image: np.ndarray, regions: Sequence[Region],
                      min_patches: int) -> tuple[Region, ChartGrid] | None:
    """A small card on the strip beside the ruler is what the network most often misses (the ruler
    and card share one strip of the copy stand): the band along the largest scale bar's line, across
    the whole frame, reduced once and searched in overlapping square windows; a window showing a grid
    is then read at full resolution. The card comes back as a chart region (the next id after the
    regions', scored as the scale bar it was found beside) with its grid, or None."""
    bar = max((r for r in regions if r.class_name == "scale_bar"), key=lambda r: r.area_px, default=None)
    if bar is None:
        return None
    height, width = image.shape[:2]
    x0, y0, x1, y1 = bar.bbox
    horizontal = x1 - x0 >= y1 - y0
    short = (y1 - y0) if horizontal else (x1 - x0)
    side = max(64, int(_BAND * short))
    centre = (y0 + y1) // 2 if horizontal else (x0 + x1) // 2
    lo = max(0, centre - side // 2)
    hi = min(height if horizontal else width, lo + side)
    band = image[lo:hi, :] if horizontal else image[:, lo:hi]
    if band.size == 0:
        return None
    factor = min(1.0, _BAND_WORK_SIDE / (hi - lo))
    # thinned before it is area-averaged: a 24 MP frame's band is millions of pixels
    stride = max(1, int(1 / (2 * factor)))
    thinned = band[::stride, ::stride]
    size = (max(1, round(band.shape[1] * factor)), max(1, round(band.shape[0] * factor)))
    reduced = cv2.resize(thinned, size, interpolation=cv2.INTER_AREA) if factor < 1 else band
    if not horizontal:
        reduced = reduced.swapaxes(0, 1)
    length = band.shape[1] if horizontal else band.shape[0]
    # square windows for a card; then windows a few times longer for a strip of patches in one row
    # along the ruler, which a square window shows too few of
    for window in (reduced.shape[0], _STRIP_WINDOW * reduced.shape[0]):
        for start in range(0, max(1, reduced.shape[1] - window // 2), max(1, window // 2)):
            if not is_chart(find_patch_grid(np.ascontiguousarray(reduced[:, start:start + window])), min_patches):
                continue
            a, b = int(start / factor), min(length, int((start + window) / factor))
            grid, box = _larger_grid(image, a, b, lo, hi, horizontal, min_patches)
            if grid is not None:
                card = _grid_box(grid, box)
                region = Region(len(regions), "colour_chart", card, int(grid_area_px(grid)), bar.score)
                return region, _shifted(grid, box[0] - card[0], box[1] - card[1])
    return None


def _larger_grid(image: np.ndarray, a: int, b: int, lo: int, hi: int, horizontal: bool,
                 min_patches: int) -> tuple[ChartGrid | None, tuple[int, int, int, int]]:
    """The grid in the window from a to b along the band (lo to hi across it), read at full
    resolution; where one shows, the grid of the window grown by half its length at both ends when
    that finds more patches (the window may hold only part of the card)."""
    length = image.shape[1] if horizontal else image.shape[0]
    grown = (max(0, a - (b - a) // 2), min(length, b + (b - a) // 2))
    best: ChartGrid | None = None
    best_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    for start, stop in ((a, b), grown):
        box = (start, lo, stop, hi) if horizontal else (lo, start, hi, stop)
        grid = grid_in(image, box, min_patches)
        if not is_chart(grid, min_patches) or (best is not None and grid.count <= best.count):
            break
        best, best_box = grid, box
    return best, best_box


def _grid_box(grid: ChartGrid, window: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The card's box: its patch centres with a patch pitch around them, inside the window searched."""
    xs = [p.centre[0] for p in grid.patches]
    ys = [p.centre[1] for p in grid.patches]
    x0, y0, x1, y1 = window
    pad = grid.pitch_px
    return (max(x0, int(x0 + min(xs) - pad)), max(y0, int(y0 + min(ys) - pad)),
            min(x1, int(np.ceil(x0 + max(xs) + pad))), min(y1, int(np.ceil(y0 + max(ys) + pad))))


def _shifted(grid: ChartGrid, dx: float, dy: float) -> ChartGrid:
    """The grid with its patch centres moved by (dx, dy) crop pixels (read in one box, kept for another)."""
    patches = [dataclasses.replace(p, centre=(p.centre[0] + dx, p.centre[1] + dy)) for p in grid.patches]
    return dataclasses.replace(grid, patches=patches)
