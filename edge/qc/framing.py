"""Framing: specimen, labels and barcode wholly in shot, and the sheet square to the frame."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from edge.classes import CLASS_IDS
from edge.qc.base import CheckResult, FrameContext
from edge.segmentation.regions import Region

_SIDES = ("left", "top", "right", "bottom")
_WHAT = {"specimen": "Specimen", "label": "Label", "type_label": "Type label", "barcode": "Barcode",
         "colour_chart": "Colour chart", "scale_bar": "Scale bar", "stamp": "Stamp"}
# A region smaller than this share of the frame, and than a tenth of the largest region of its
# class, is a fragment (a segmenter's stray pixels), not a specimen or label running out of shot.
_FRAGMENT_FRACTION = 0.002
# The skew estimate looks at the frame at about this many pixels on the long side, for straight
# segments at least this share of it long.
_SKEW_LONG_SIDE = 600
_MIN_LINE_FRACTION = 0.06
_HOUGH_VOTES = 50
# The agreeing segments must make up at least this share of all straight segments' length.
_MIN_SKEW_SHARE = 0.15
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


# Print on a station's imaging bar (a project's credit line, an institution's name beside the
# ruler) reads as label or barcode and joins the label above it. Such a region is not cut where every
# piece of it on the frame's edge lies across a scale bar or chart along that edge: it reaches the
# edge through the bar. Told on the segmenter's class map, whose edge cells show where it does.
_PRINTED = frozenset({"label", "type_label", "barcode"})
_BARS = ("scale_bar", "colour_chart")
# where the pipeline leaves the class map (output-map cells, in the frame's orientation)
CLASS_MAP_KEY = "class_map"


def sides_cut(region: Region, bars: Sequence[Region], width: int, height: int, margin_fraction: float,
              class_map: np.ndarray | None = None) -> list[str]:
    """The frame edges a region runs out of: those its box touches, less, for a printed class with
    the class map at hand, an edge where all its cells on the map's edge lie across a bar along it."""
    sides = touched_sides(region.bbox, width, height, margin_fraction)
    if region.class_name not in _PRINTED or class_map is None or not sides:
        return sides
    map_h, map_w = class_map.shape
    class_id = CLASS_IDS[region.class_name]
    edge_cells = {"left": class_map[:, 0], "top": class_map[0], "right": class_map[:, -1], "bottom": class_map[-1]}
    cut = []
    for side in sides:
        along_x = side in ("top", "bottom")
        cell = width / map_w if along_x else height / map_h  # frame pixels per map cell along the edge
        lo, hi = (region.bbox[0], region.bbox[2]) if along_x else (region.bbox[1], region.bbox[3])
        first, last = int(lo // cell), min(int(np.ceil(hi / cell)), len(edge_cells[side]))
        on_edge = first + np.flatnonzero(edge_cells[side][first:last] == class_id)
        spans = [(b.bbox[0], b.bbox[2]) if along_x else (b.bbox[1], b.bbox[3])
                 for b in bars if side in touched_sides(b.bbox, width, height, margin_fraction)]
        # a cell lies across a bar when the bar spans it, give or take half a cell
        across = [any(b0 - cell / 2 <= c * cell and (c + 1) * cell <= b1 + cell / 2 for b0, b1 in spans)
                  for c in on_edge]
        # no cell of it on the map's edge: only its box says it is cut, and the box is believed
        if not on_edge.size or not all(across):
            cut.append(side)
    return cut


def skew_degrees(image: np.ndarray) -> tuple[float, float]:
    """Rotation of the frame's long straight edges (sheet, label, ruler and chart borders) from the
    frame axes, in degrees in [-45, 45), and the share of their length that agrees with it (0..1).

    Straight segments are found with a probabilistic Hough transform on the frame reduced to
    _SKEW_LONG_SIDE pixels; a plant's edges rarely make long straight lines, and on a copy reduced by
    JPEG DCT scaling (the segmenter's) the blocks' own axis-aligned steps do not either, where an
    edge-direction histogram was pulled towards 0 degrees by them."""
    h, w = image.shape[:2]
    # a full frame is first thinned to twice the working size (area-averaging all of it costs tens
    # of milliseconds; long lines survive the thinning)
    stride = max(1, int(max(h, w) / (2 * _SKEW_LONG_SIDE)))
    image = image[::stride, ::stride]
    # green alone (close to luminance), taken before resizing: a third of the work, the same pixels
    image = np.ascontiguousarray(image[..., 1]) if image.ndim == 3 else image
    h, w = image.shape[:2]
    scale = _SKEW_LONG_SIDE / max(h, w)
    gray = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA) if scale < 1 else image
    if gray.dtype == np.uint16:
        gray = (gray // 257).astype(np.uint8)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (0, 0), 1.0), 40, 120)
    min_length = max(10, int(_MIN_LINE_FRACTION * max(gray.shape)))
    # votes a line needs, in proportion to the working size (a smaller copy has shorter lines)
    votes = max(15, round(_HOUGH_VOTES * max(gray.shape) / _SKEW_LONG_SIDE))
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=votes, minLineLength=min_length, maxLineGap=3)
    if lines is None:
        return 0.0, 0.0
    x0, y0, x1, y1 = (lines[:, 0, i].astype(np.float64) for i in range(4))
    direction = np.degrees(np.arctan2(y1 - y0, x1 - x0)) % 180.0
    # directions folded onto one quarter turn: horizontal and vertical edges agree
    angle = (direction + 45.0) % 90.0 - 45.0
    across = ((direction + 45.0) % 180.0) >= 90.0  # nearer vertical than horizontal
    length = np.hypot(x1 - x0, y1 - y0)
    # a sheet, a label, a ruler or a chart is a rectangle: its tilt shows in edges of both directions.
    # Many parallel lines of one direction alone (grass blades, ruled lines, hatching) are no tilt.
    support = []
    for family in (~across, across):
        hist, bin_edges = np.histogram(angle[family], bins=180, range=(-45, 45), weights=length[family])
        support.append(np.convolve(np.concatenate([hist[-1:], hist, hist[:1]]), np.ones(3), mode="same")[1:-1])
    smooth = np.sqrt(support[0] * support[1])
    if smooth.max() <= 0:
        return 0.0, 0.0
    peak = int(np.argmax(smooth))
    centre = float(bin_edges[peak] + bin_edges[peak + 1]) / 2
    offset = (angle - centre + 45.0) % 90.0 - 45.0
    near = np.abs(offset) <= 1.5
    # the transform's angles come in whole degrees: the brightness gradients of the pixels along the
    # agreeing segments give the direction to a small fraction of one
    along = np.zeros(gray.shape, np.uint8)
    for index in np.flatnonzero(near):
        cv2.line(along, (int(x0[index]), int(y0[index])), (int(x1[index]), int(y1[index])), 1, 3)
    smooth_gray = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(smooth_gray, cv2.CV_32F, 1, 0, ksize=3)[along > 0]
    gy = cv2.Sobel(smooth_gray, cv2.CV_32F, 0, 1, ksize=3)[along > 0]
    magnitude = np.hypot(gx, gy)
    # a gradient is square to its edge: fold its direction the same way as the segments'
    gradient_angle = (np.degrees(np.arctan2(gy, gx)) + 45.0) % 90.0 - 45.0
    gradient_offset = (gradient_angle - centre + 45.0) % 90.0 - 45.0
    keep = (np.abs(gradient_offset) <= 2.0) & (magnitude > 0)
    share = float(length[near].sum() / length.sum())
    if share < _MIN_SKEW_SHARE:
        return 0.0, share  # no direction stands out: no tilt can be told
    refined = centre + (float(np.average(gradient_offset[keep], weights=magnitude[keep])) if keep.any()
                        else float(np.average(offset[near], weights=length[near])))
    return (refined + 45.0) % 90.0 - 45.0, share


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
        subject = settings.subject
        angle = frame_skew(frame)
        value = round(angle, 2)
        # A tilt is the cause to fix first: a tilted sheet's corners run towards the frame edges, and
        # straightening it changes what is cut off.
        if abs(angle) > settings.rotation_fail_deg:
            return CheckResult(self.name, "fail",
                               f"{subject.capitalize()} is tilted by {abs(angle):.0f}° "
                               f"(limit {settings.rotation_fail_deg:.1f}°): "
                               "straighten it square to the frame and retake", value=value,
                               threshold=settings.rotation_fail_deg)
        cut_warning: CheckResult | None = None
        bars = frame.regions_of(*_BARS)
        class_map = frame.cache.get(CLASS_MAP_KEY)
        for status, classes in (("fail", settings.keep_inside_fail), ("warn", settings.keep_inside_warn)):
            for class_name in classes:
                for region in _substantial(frame.regions_of(class_name), frame.width * frame.height):
                    sides = sides_cut(region, bars, frame.width, frame.height, settings.edge_margin_fraction,
                                      class_map)
                    if not sides:
                        continue
                    message = f"{_WHAT[class_name]} is cut off at the {' and '.join(sides)} edge: move the " \
                              f"{subject} fully into shot" + (" and retake" if status == "fail" else "")
                    result = CheckResult(self.name, status, message, value=class_name,  # type: ignore[arg-type]
                                         regions=[region.id])
                    if status == "fail":
                        return result
                    cut_warning = cut_warning or result
        if cut_warning is not None:
            return cut_warning
        if abs(angle) > settings.rotation_warn_deg:
            return CheckResult(self.name, "warn",
                               f"{subject.capitalize()} is tilted by {abs(angle):.1f}°: "
                               "straighten it square to the frame",
                               value=value, threshold=settings.rotation_warn_deg)
        return CheckResult(self.name, "ok", f"Specimen and labels in shot, {subject} square ({angle:+.1f}°).",
                           value=value, threshold=settings.rotation_fail_deg)


def reframed_across_bars(result: CheckResult, frame: FrameContext, regions: Sequence[Region]) -> CheckResult:
    """The framing result again with `regions` in place of the frame's (the scale bars grown along
    their rulers, which the checks run beside): the network often finds a ruler bar in part only, and
    its whole extent tells a label running out of shot from a credit line on the bar. Only a printed
    region's cut is judged again; any other result stands as it was."""
    if result.status == "ok" or result.value not in _PRINTED:
        return result
    return FramingCheck().run(dataclasses.replace(frame, regions=list(regions)))
