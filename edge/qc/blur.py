"""Blur: sharpness of the label, barcode and specimen regions at full resolution, judged against an
absolute floor and against this station's usual sharpness for the same kind of region."""

from __future__ import annotations

from edge.qc.base import CheckResult, FrameContext, Status
from edge.qc.chart_analysis import chart_grids
from edge.qc.scale import frame_px_per_mm
from edge.qc.sharpness import crop_for_sharpness, reblur_measure, resample_to_scale, to_gray_float

# Region groups in order of importance; text must be legible above all. Labels and type labels
# are one group: the sheet is flat, so its best-focused text tells the focus.
_GROUPS = (("label", ("label", "type_label")), ("barcode", ("barcode",)), ("specimen", ("specimen",)))
_MAX_REGIONS_PER_GROUP = 3
_WHAT = {"label": "Label text", "barcode": "Barcode", "specimen": "Specimen"}
_RANK: dict[Status, int] = {"ok": 0, "warn": 1, "fail": 2}


class BlurCheck:
    name = "blur"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.blur
        px_per_mm = frame_px_per_mm(frame, chart_grids(frame))
        by_class: dict[str, tuple[float, list[int]]] = {}
        for class_name, members in _GROUPS:
            wanted = [c for c in members if c in settings.classes]
            regions = sorted(frame.regions_of(*wanted), key=lambda r: r.area_px, reverse=True)
            measured: list[tuple[float, float]] = []
            ids: list[int] = []
            for region in regions[:_MAX_REGIONS_PER_GROUP]:
                gray = to_gray_float(crop_for_sharpness(frame.image, region.bbox))
                result = reblur_measure(resample_to_scale(gray, px_per_mm, settings.normalise_px_per_mm))
                if result is not None:
                    measured.append(result)
                    ids.append(region.id)
            if measured:
                # The largest measurable region decides: the main label's text is what must be
                # legible, and smaller label regions (a printed name, a slip, text the segmenter
                # picked out beside it) must not vouch for it. Near-blank crops, where JPEG blocks
                # would read as sharp, are not measured at all. The first group that has one
                # decides: a specimen soft in depth with a sharp label is in focus. The rest is not
                # measured (time budget).
                by_class[class_name] = (measured[0][0], ids)
                break
        if not by_class:
            return CheckResult(self.name, "ok", "No label or specimen region to measure sharpness on.",
                               threshold=settings.fail_below)
        frame.findings.sharpness.update({c: v for c, (v, _) in by_class.items()})
        judged = list(by_class)
        details: dict[str, float | str] = {f"sharpness_{c}": v for c, (v, _) in by_class.items()}
        if px_per_mm:
            details["px_per_mm"] = px_per_mm
        worst: tuple[Status, str, str, float, float] | None = None
        for class_name in judged:
            status, message, value, threshold = self._judge(frame, class_name, by_class[class_name][0])
            if worst is None or _RANK[status] > _RANK[worst[0]]:
                worst = (status, class_name, message, value, threshold)
        assert worst is not None
        status, class_name, message, value, threshold = worst
        ids = by_class[class_name][1] if status != "ok" else [i for c in judged for i in by_class[c][1]]
        return CheckResult(self.name, status, message, value=value, threshold=threshold, regions=ids,
                           details=details)

    @staticmethod
    def _judge(frame: FrameContext, class_name: str, value: float) -> tuple[Status, str, float, float]:
        settings = frame.profile.blur
        what = _WHAT[class_name]
        baseline = (frame.history.sharpness_baseline(class_name, settings.baseline_min_frames)
                    if frame.history is not None else None)
        if value < settings.fail_below:
            return ("fail", f"{what} is blurred (sharpness {value:.2f}, needs {settings.fail_below:.2f}): "
                    "refocus and retake", value, settings.fail_below)
        if baseline:
            ratio = value / baseline
            if ratio < settings.baseline_fail_ratio:
                return ("fail", f"{what} is blurred (sharpness {ratio:.2f} of this station's usual): "
                        "refocus and retake", ratio, settings.baseline_fail_ratio)
            if ratio < settings.baseline_warn_ratio:
                return ("warn", f"{what} is slightly soft (sharpness {ratio:.2f} of this station's usual): "
                        "check focus", ratio, settings.baseline_warn_ratio)
        if value < settings.warn_below:
            return ("warn", f"{what} is slightly soft (sharpness {value:.2f}): check focus", value,
                    settings.warn_below)
        if baseline:
            return ("ok", f"{what} is sharp ({value / baseline:.2f} of this station's usual).", value / baseline,
                    settings.baseline_fail_ratio)
        return ("ok", f"{what} is sharp (sharpness {value:.2f}).", value, settings.fail_below)
