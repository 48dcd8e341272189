"""The chart regions of a frame, each with its patch grid: measured once, used by several checks."""

from __future__ import annotations

import dataclasses

from edge.qc.base import FrameContext
from edge.qc.chart_grid import ChartGrid, find_patch_grid, is_chart
from edge.segmentation.regions import Region

# When a region shows no grid, it may be a piece of the chart (a segmenter often finds only part
# of one): look again in a box this much larger on every side, as a share of its longer side.
_WIDEN = 0.5


def chart_grids(frame: FrameContext) -> list[tuple[Region, ChartGrid]]:
    """Chart regions with their patch grids; a region whose grid was found only in a widened box
    comes back with that box."""
    cached = frame.cache.get("chart_grids")
    if cached is not None:
        return cached
    min_patches = frame.profile.colour_chart.min_patches
    found: list[tuple[Region, ChartGrid]] = []
    for region in sorted(frame.regions_of("colour_chart"), key=lambda r: r.area_px, reverse=True)[:4]:
        grid = _grid_in(frame, region.bbox)
        if not is_chart(grid, min_patches):
            box = _widened(region.bbox, frame.width, frame.height)
            wider = _grid_in(frame, box)
            if is_chart(wider, min_patches):
                region, grid = dataclasses.replace(region, bbox=box), wider
        found.append((region, grid))
    frame.cache["chart_grids"] = found
    return found


def grid_area_px(grid: ChartGrid) -> float:
    """Area the patch grid covers, a patch pitch around the outer patch centres."""
    if not grid.patches:
        return 0.0
    xs = [p.centre[0] for p in grid.patches]
    ys = [p.centre[1] for p in grid.patches]
    return (max(xs) - min(xs) + grid.pitch_px) * (max(ys) - min(ys) + grid.pitch_px)


def _grid_in(frame: FrameContext, box: tuple[int, int, int, int]) -> ChartGrid:
    x0, y0, x1, y1 = box
    crop = frame.image[y0:y1, x0:x1]
    return find_patch_grid(crop) if crop.size else ChartGrid([], 0, 0.0)


def _widened(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    pad = int(_WIDEN * max(x1 - x0, y1 - y0)) + 8
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
