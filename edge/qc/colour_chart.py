"""Colour chart missing: no colour_chart region of plausible size."""

from __future__ import annotations

from edge.qc.base import CheckResult, FrameContext


class ColourChartCheck:
    name = "colour_chart"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.colour_chart
        frame_area = frame.width * frame.height
        charts = frame.regions_of("colour_chart")
        plausible = [r for r in charts if r.area_px >= settings.min_area_fraction * frame_area]
        largest = max((r.area_px / frame_area for r in charts), default=0.0)
        if plausible:
            best = max(plausible, key=lambda r: r.area_px)
            return CheckResult(self.name, "ok", "Colour chart in shot.", value=round(largest, 5),
                               threshold=settings.min_area_fraction, regions=[best.id])
        if not settings.required:
            return CheckResult(self.name, "ok", "No colour chart (not required for this profile).",
                               value=round(largest, 5), threshold=settings.min_area_fraction)
        if charts:
            return CheckResult(self.name, "fail",
                               "Colour chart too small to measure: move it closer or use a larger chart, "
                               "and retake", value=round(largest, 5), threshold=settings.min_area_fraction,
                               regions=[r.id for r in charts])
        return CheckResult(self.name, "fail", "Colour chart not found: place the chart in shot and retake",
                           value=0.0, threshold=settings.min_area_fraction)
