"""Blur: sharpness of the label, barcode and specimen regions at full resolution."""

from __future__ import annotations

from edge.qc.base import CheckResult, FrameContext
from edge.qc.sharpness import crop_for_sharpness, reblur_sharpness, to_gray_float

# Regions are judged in this order of importance; text must be legible above all.
_PRIORITY = ("label", "type_label", "barcode", "specimen")
_MAX_REGIONS_PER_CLASS = 3


class BlurCheck:
    name = "blur"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.blur
        wanted = [c for c in _PRIORITY if c in settings.classes]
        measured: list[tuple[float, int, str]] = []
        for class_name in wanted:
            regions = sorted(frame.regions_of(class_name), key=lambda r: r.area_px, reverse=True)
            for region in regions[:_MAX_REGIONS_PER_CLASS]:
                value = reblur_sharpness(to_gray_float(crop_for_sharpness(frame.image, region.bbox)))
                if value is not None:
                    measured.append((value, region.id, class_name))
        if not measured:
            return CheckResult(self.name, "ok", "No label or specimen region to measure sharpness on.",
                               value=None, threshold=settings.fail_below)
        # The text regions decide when there are any: a soft specimen with a sharp label is in focus.
        text = [m for m in measured if m[2] != "specimen"]
        judged = text or measured
        value, region_id, class_name = max(judged)
        what = "Label text" if class_name in ("label", "type_label") else class_name.capitalize()
        ids = [m[1] for m in judged]
        if value < settings.fail_below:
            return CheckResult(self.name, "fail",
                               f"{what} is blurred (sharpness {value:.2f}, needs {settings.fail_below:.2f}): "
                               "refocus and retake", value=value, threshold=settings.fail_below, regions=ids)
        if value < settings.warn_below:
            return CheckResult(self.name, "warn",
                               f"{what} is slightly soft (sharpness {value:.2f}): check focus",
                               value=value, threshold=settings.warn_below, regions=ids)
        return CheckResult(self.name, "ok", f"{what} is sharp (sharpness {value:.2f}).",
                           value=value, threshold=settings.fail_below, regions=[region_id])
