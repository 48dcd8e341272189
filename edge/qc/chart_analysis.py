"""The chart regions of a frame, each with its patch grid: measured once, used by several checks."""

from __future__ import annotations

from edge.qc.base import FrameContext
from edge.qc.chart_grid import ChartGrid, find_patch_grid
from edge.segmentation.regions import Region


def chart_grids(frame: FrameContext) -> list[tuple[Region, ChartGrid]]:
    cached = frame.cache.get("chart_grids")
    if cached is not None:
        return cached
    found: list[tuple[Region, ChartGrid]] = []
    for region in sorted(frame.regions_of("colour_chart"), key=lambda r: r.area_px, reverse=True)[:4]:
        x0, y0, x1, y1 = region.bbox
        crop = frame.image[y0:y1, x0:x1]
        if crop.size:
            found.append((region, find_patch_grid(crop)))
    frame.cache["chart_grids"] = found
    return found
