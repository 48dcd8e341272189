"""Framing: specimen, labels and barcode wholly in shot, and the sheet square to the frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge.qc.base import CheckResult, FrameContext
from edge.segmentation.regions import Region

_SIDES = ("left", "top", "right", "bottom")
_WHAT = {"specimen": "Specimen", "label": "Label", "type_label": "Type label", "barcode": "Barcode",
         "colour_chart": "Colour chart", "scale_bar": "Scale bar", "stamp": "Stamp"}
# A region smaller than this share of the frame, and than a tenth of the largest region of its
# class, is a fragment (a segmenter's stray pixels), not a specimen or label running out of shot.
_FRAGMENT_FRACTION = 0.002
# The skew estimate looks at the frame at about this many pixels on the long side.
_SKEW_LONG_SIDE = 800
# Where the pipeline leaves the (angle, strength) it measured on the segmenter's small copy of the
# frame, which it resampled properly: the check then reuses it rather than measure again.
SKEW_CACHE_KEY = "skew_degrees"


def touched_sides(bbox: tuple[int, int, int, int], width: int, height: int, margin_fraction: float) -> list[str]:
    x0, y0, x1, y1 = bbox
    mx, my = max(1, int(margin_fraction * width)), max(1, int(margin_fraction * height))
    hits = (x0 < mx, y0 < my, x1 > width - mx, y1 > height - my)
    return [side for side, hit in zip(_SIDES, hits, strict=True) if hit]


def touches_edge(bbox: tuple[int, int, int, int], width: int, height: int, margin_fraction: float) -> bool:
    return bool(touched_sides(bbox, width, height, margin_fraction))


def skew_degrees(image: np.ndarray) -> tuple[float, float]:
    """Rotation of the frame's dominant straight edges (sheet, label and ruler borders, text lines)
    from the frame axes, in degrees in [-45, 45), and how dominant that direction is (0..1)."""
    step = max(1, int(np.ceil(max(image.shape[:2]) / _SKEW_LONG_SIDE)))
    gray = cv2.GaussianBlur(image[::step, ::step, 1].astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    flat_magnitude = magnitude.ravel()
    k = int(0.9 * (flat_magnitude.size - 1))
    strong = magnitude > np.partition(flat_magnitude, k)[k]
    if strong.sum() < 50:
        return 0.0, 0.0
    # edge directions folded onto one quarter turn: horizontal and vertical edges agree
    angle = (np.degrees(np.arctan2(gy[strong], gx[strong])) + 45.0) % 90.0 - 45.0
    hist, edges = np.histogram(angle, bins=180, range=(-45, 45), weights=magnitude[strong])
    hist = np.convolve(np.concatenate([hist[-3:], hist, hist[:3]]), np.ones(5) / 5, mode="same")[3:-3]
    peak = int(np.argmax(hist))
    left, right = hist[peak - 1], hist[(peak + 1) % hist.size]
    offset = 0.5 * (left - right) / (left - 2 * hist[peak] + right) if left - 2 * hist[peak] + right != 0 else 0.0
    centre = float(edges[peak] + (0.5 + offset) * (edges[1] - edges[0]))
    return centre, float(hist[peak] / max(1e-9, hist.sum()))


def frame_skew(frame: FrameContext) -> float:
    """The frame's skew in degrees: the pipeline's estimate when it left one, else measured here
    (and left for the checks after this one)."""
    cached = frame.cache.get(SKEW_CACHE_KEY)
    if cached is None:
        cached = frame.cache[SKEW_CACHE_KEY] = skew_degrees(frame.image)
    return float(cached[0])


def tilted_past_limit(frame: FrameContext) -> bool:
    """Whether the framing check fails this frame as tilted."""
    settings = frame.profile.framing
    return settings.enabled and abs(frame_skew(frame)) > settings.rotation_fail_deg


def _substantial(regions: list[Region], frame_area: int) -> list[Region]:
    largest = max((r.area_px for r in regions), default=0)
    return [r for r in regions if r.area_px >= _FRAGMENT_FRACTION * frame_area or r.area_px >= 0.1 * largest]


class FramingCheck:
    name = "framing"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.framing
        angle = frame_skew(frame)
        value = round(angle, 2)
        # A tilt is the cause to fix first: a tilted sheet's corners run towards the frame edges, and
        # straightening it changes what is cut off.
        if abs(angle) > settings.rotation_fail_deg:
            return CheckResult(self.name, "fail",
                               f"Sheet is tilted by {abs(angle):.0f}° (limit {settings.rotation_fail_deg:.1f}°): "
                               "straighten it square to the frame and retake", value=value,
                               threshold=settings.rotation_fail_deg)
        cut_warning: CheckResult | None = None
        for status, classes in (("fail", settings.keep_inside_fail), ("warn", settings.keep_inside_warn)):
            for class_name in classes:
                for region in _substantial(frame.regions_of(class_name), frame.width * frame.height):
                    sides = touched_sides(region.bbox, frame.width, frame.height, settings.edge_margin_fraction)
                    if not sides:
                        continue
                    message = f"{_WHAT[class_name]} is cut off at the {' and '.join(sides)} edge: move the sheet " \
                              "fully into shot" + (" and retake" if status == "fail" else "")
                    result = CheckResult(self.name, status, message, value=class_name,  # type: ignore[arg-type]
                                         regions=[region.id])
                    if status == "fail":
                        return result
                    cut_warning = cut_warning or result
        if cut_warning is not None:
            return cut_warning
        if abs(angle) > settings.rotation_warn_deg:
            return CheckResult(self.name, "warn",
                               f"Sheet is tilted by {abs(angle):.1f}°: straighten it square to the frame",
                               value=value, threshold=settings.rotation_warn_deg)
        return CheckResult(self.name, "ok", f"Specimen and labels in shot, sheet square ({angle:+.1f}°).",
                           value=value, threshold=settings.rotation_fail_deg)
