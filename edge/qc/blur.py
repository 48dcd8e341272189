"""Blur: the width of the sharpest edges of the label, barcode or specimen region at native
resolution, judged against an absolute limit and against what this camera usually gives."""

from __future__ import annotations

from edge.qc.base import CheckResult, FrameContext, Status
from edge.qc.scale import frame_px_per_mm
from edge.qc.sharpness import region_edge_width

# Region groups in order of importance; text must be legible above all. Labels and type labels
# are one group: the sheet is flat, so its best-focused text tells the focus.
_GROUPS = (("label", ("label", "type_label")), ("barcode", ("barcode",)), ("specimen", ("specimen",)))
_MAX_REGIONS_PER_GROUP = 3
_WHAT = {"label": "Label text", "barcode": "Barcode", "specimen": "Specimen"}


class BlurCheck:
    name = "blur"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.blur
        measured: tuple[str, float, int] | None = None  # (group, edge width px, region id)
        for group, members in _GROUPS:
            wanted = [c for c in members if c in settings.classes]
            regions = sorted(frame.regions_of(*wanted), key=lambda r: r.area_px, reverse=True)
            for region in regions[:_MAX_REGIONS_PER_GROUP]:
                width = region_edge_width(frame.image, region.bbox)
                if width is not None:
                    # The largest measurable region decides: the main label's text is what must
                    # be legible, and a sharp scrap of text beside it must not vouch for it. Crops
                    # with too few strong edges (blank paper) are passed over. The first group
                    # that has one decides: a specimen soft in depth with a sharp label is in focus.
                    measured = (group, width.width_px, region.id)
                    break
            if measured is not None:
                break
        if measured is None:
            return CheckResult(self.name, "ok", "No label or specimen region with enough detail to judge focus on.",
                               threshold=settings.fail_above_px)
        group, width_px, region_id = measured
        frame.findings.edge_width[group] = width_px
        details: dict[str, float | str] = {f"edge_width_px_{group}": width_px, "camera": frame.camera}
        px_per_mm = frame_px_per_mm(frame)
        if px_per_mm:
            details["px_per_mm"] = px_per_mm
            details[f"edge_width_mm_{group}"] = width_px / px_per_mm
        status, message, value, threshold = self._judge(frame, group, width_px, details)
        return CheckResult(self.name, status, message, value=value, threshold=threshold, regions=[region_id],
                           details=details)

    @staticmethod
    def _judge(frame: FrameContext, group: str, width_px: float,
               details: dict[str, float | str]) -> tuple[Status, str, float, float]:
        settings = frame.profile.blur
        what = _WHAT[group]
        baseline = (frame.history.edge_width_baseline(frame.camera, group, settings.baseline_min_frames)
                    if frame.history is not None else None)
        if baseline:
            details["baseline_edge_width_px"] = baseline
        edges = f"edges {width_px:.1f} px wide"
        if width_px > settings.fail_above_px:
            return ("fail", f"{what} is blurred ({edges}, limit {settings.fail_above_px:.1f} px): refocus and retake",
                    width_px, settings.fail_above_px)
        if baseline:
            ratio = width_px / baseline
            usual = f"{edges}, {ratio:.2f} times this camera's usual {baseline:.1f} px"
            if ratio > settings.baseline_fail_ratio:
                return ("fail", f"{what} is blurred ({usual}): refocus and retake", width_px,
                        settings.baseline_fail_ratio * baseline)
            if ratio > settings.baseline_warn_ratio:
                return ("warn", f"{what} is slightly soft ({usual}): check focus", width_px,
                        settings.baseline_warn_ratio * baseline)
        if width_px > settings.warn_above_px:
            return ("warn", f"{what} is slightly soft ({edges}): check focus", width_px, settings.warn_above_px)
        return ("ok", f"{what} is sharp ({edges}).", width_px, settings.fail_above_px)
