"""Colour chart: in shot, a real chart (a grid of patches), whole, and big enough to measure."""

from __future__ import annotations

import numpy as np

from edge.qc.base import CheckResult, FrameContext
from edge.qc.chart_analysis import chart_grids, grid_area_px
from edge.qc.chart_grid import ChartGrid, is_chart
from edge.qc.framing import tilted_past_limit, touches_edge
from edge.segmentation.regions import Region

NOT_FOUND = "Colour chart not found: place the chart in shot and retake"
# The segmenter sees a chart but no grid of patches can be confirmed in it: the chart is there, but
# blurred, glared, too dark or turned too far to read.
UNREADABLE = "Colour chart in shot but its patches cannot be read: check focus and lighting, and retake"


def chart_cut_off(region: Region, grid: ChartGrid, width: int, height: int, margin_fraction: float) -> bool:
    """A chart whose region meets the frame edge is cut off when a patch runs right up to that edge
    (its flat area continues out of shot); a chart lying flush with the edge keeps a rim."""
    if not touches_edge(region.bbox, width, height, margin_fraction) or not grid.patches:
        return False
    x0, y0, x1, y1 = region.bbox
    # patch areas are found one eroded pixel inside their edges
    clearance = 1.5 * grid.analysed_scale + 0.5
    colours = np.array([p.colour_bgr for p in grid.patches])
    for patch, colour in zip(grid.patches, colours, strict=True):
        # a colour seen three times or more is the chart's card or ruler showing between marks;
        # the patches themselves all differ
        if int((np.linalg.norm(colours - colour, axis=1) < 18.0).sum()) >= 3:
            continue
        cx, cy = x0 + patch.centre[0], y0 + patch.centre[1]
        half_w, half_h = patch.size[0] / 2, patch.size[1] / 2
        left, top, right, bottom = cx - half_w, cy - half_h, cx + half_w, cy + half_h
        # a flat area cut by the region's own box inside the frame is chart background, not a patch
        if ((x0 > 0 and left - x0 < clearance) or (y0 > 0 and top - y0 < clearance)
                or (x1 < width and x1 - right < clearance) or (y1 < height and y1 - bottom < clearance)):
            continue
        if left < clearance or top < clearance or right > width - clearance or bottom > height - clearance:
            return True
    return False


class ColourChartCheck:
    name = "colour_chart"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.colour_chart
        frame_area = frame.width * frame.height
        grids = chart_grids(frame)
        if settings.confirm_patches:
            confirmed = [(r, g) for r, g in grids if is_chart(g, settings.min_patches)]
        else:
            confirmed = list(grids)
        margin = frame.profile.framing.edge_margin_fraction
        whole = [(r, g) for r, g in confirmed if not chart_cut_off(r, g, frame.width, frame.height, margin)]
        # the grid's own extent measures a chart the segmenter found only a piece of
        big = [(r, g) for r, g in whole if max(r.area_px, grid_area_px(g)) >= settings.min_area_fraction * frame_area]
        largest = max((max(r.area_px, grid_area_px(g)) / frame_area for r, g in confirmed), default=0.0)
        threshold = settings.min_area_fraction
        if big:
            region, grid = max(big, key=lambda rg: grid_area_px(rg[1]))
            return CheckResult(self.name, "ok", f"Colour chart in shot ({grid.count} patches found).",
                               value=round(largest, 5), threshold=threshold, regions=[region.id])
        if not settings.required:
            return CheckResult(self.name, "ok", "No usable colour chart (not required for this profile).",
                               value=round(largest, 5), threshold=threshold)
        if whole:
            return CheckResult(self.name, "fail",
                               "Colour chart too small to measure: move it closer or use a larger chart, "
                               "and retake", value=round(largest, 5), threshold=threshold,
                               regions=[r.id for r, _ in whole])
        if confirmed:
            return CheckResult(self.name, "fail",
                               "Colour chart is cut off by the frame edge: move it fully into shot and retake",
                               value=round(largest, 5), threshold=threshold, regions=[r.id for r, _ in confirmed])
        if grids and tilted_past_limit(frame):
            # the patch grid is looked for square to the frame: on a tilted sheet it cannot be, and
            # the framing check already asks for the one retake that fixes it
            return CheckResult(self.name, "warn", "Colour chart in shot; its patches are read once the sheet is "
                               "straight", value=0.0, threshold=threshold, regions=[r.id for r, _ in grids])
        if grids:
            # the segmenter found a chart, but no patch grid can be confirmed in it
            return CheckResult(self.name, "fail", UNREADABLE, value=0.0, threshold=threshold,
                               regions=[r.id for r, _ in grids])
        return CheckResult(self.name, "fail", NOT_FOUND, value=0.0, threshold=threshold)
