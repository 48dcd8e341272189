"""Exposure: clipped highlights, crushed shadows and dark paper, measured on the paper, labels and
specimen only. The black surround of a copy stand would otherwise read as crushed shadows."""

from __future__ import annotations

import numpy as np

from edge.qc.base import CheckResult, FrameContext

# Pixels sampled per frame at most; a strided view costs no copy of the full frame.
_MAX_SAMPLES = 200_000


def sample_regions(frame: FrameContext, classes: list[str]) -> tuple[np.ndarray, list[int]]:
    """Pixels (N x 3, original dtype) from the regions of these classes, evenly strided."""
    regions = frame.regions_of(*classes)
    total = sum((r.bbox[2] - r.bbox[0]) * (r.bbox[3] - r.bbox[1]) for r in regions)
    if total == 0:
        return np.empty((0, 3), frame.image.dtype), []
    stride = max(1, int(np.ceil(np.sqrt(total / _MAX_SAMPLES))))
    parts = [frame.image[y0:y1:stride, x0:x1:stride].reshape(-1, 3) for x0, y0, x1, y1 in (r.bbox for r in regions)]
    return np.concatenate(parts), [r.id for r in regions]


class ExposureCheck:
    name = "exposure"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.exposure
        pixels, ids = sample_regions(frame, settings.classes)
        if len(pixels) == 0:
            return CheckResult(self.name, "ok", "No paper, label or specimen region to judge exposure on.")
        full = frame.full_scale
        top = 65000 if frame.image.dtype == np.uint16 else 254
        bottom = 257 if frame.image.dtype == np.uint16 else 1
        # clipped to white in every channel: detail gone (one clipped channel on tinted paper is not)
        # channel by channel: numpy reduces a short last axis slowly
        b, g, r = pixels[:, 0], pixels[:, 1], pixels[:, 2]
        darkest, brightest = np.minimum(np.minimum(b, g), r), np.maximum(np.maximum(b, g), r)
        clipped = float((darkest >= top).mean())
        crushed = float((brightest <= bottom).mean())
        # a partial sort finds the 99th percentile in linear time (a full sort costs tens of ms)
        k = int(0.99 * (brightest.size - 1))
        paper = float(np.partition(brightest, k)[k]) / full
        details: dict[str, float | str] = {"clipped_fraction": clipped, "crushed_fraction": crushed,
                                           "paper_level": paper}
        if clipped > settings.clipped_fail:
            return CheckResult(self.name, "fail",
                               f"Overexposed: {clipped:.1%} of the paper, labels and specimen are clipped to white "
                               "(detail lost): reduce exposure and retake", value=round(clipped, 4),
                               threshold=settings.clipped_fail, regions=ids, details=details)
        if paper < settings.paper_min_level:
            return CheckResult(self.name, "fail",
                               f"Underexposed: the paper is dark ({paper:.0%} of full scale, needs "
                               f"{settings.paper_min_level:.0%}): increase exposure and retake", value=round(paper, 4),
                               threshold=settings.paper_min_level, regions=ids, details=details)
        if crushed > settings.crushed_fail:
            return CheckResult(self.name, "fail",
                               f"Underexposed: {crushed:.1%} of the labels and specimen are crushed to black: "
                               "increase exposure and retake", value=round(crushed, 4),
                               threshold=settings.crushed_fail, regions=ids, details=details)
        warnings = []
        if clipped > settings.clipped_warn:
            warnings.append(f"{clipped:.1%} of highlights clipped")
        if crushed > settings.crushed_warn:
            warnings.append(f"{crushed:.1%} of shadows crushed")
        if paper < settings.paper_warn_level:
            warnings.append(f"paper at {paper:.0%} of full scale")
        if warnings:
            return CheckResult(self.name, "warn", "Exposure is marginal (" + "; ".join(warnings) + "): check the "
                               "exposure", value=round(clipped, 4), threshold=settings.clipped_warn, regions=ids,
                               details=details)
        return CheckResult(self.name, "ok", f"Exposure is good (paper at {paper:.0%} of full scale).",
                           value=round(clipped, 4), threshold=settings.clipped_fail, regions=ids, details=details)
