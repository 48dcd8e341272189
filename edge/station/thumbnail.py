"""A small JPEG of a judged frame with its regions drawn in, for the station screen.

Rendered on request from the file on disk, on an HTTP thread, never while a frame is judged.
Only what was judged is shown: a path swapped for a link since, or a file whose size or SHA-256
is no longer the verdict's, gets no thumbnail.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

# Per-class outline colours as CSS hex, shared with the page's legend. Red is kept for failing
# regions so a problem never looks like an ordinary class.
CLASS_COLOURS = {
    "specimen": "#2ecc40",
    "label": "#3d9dff",
    "type_label": "#ff4fd8",
    "barcode": "#ffdc00",
    "colour_chart": "#ff9f1a",
    "scale_bar": "#39e6e6",
    "stamp": "#b388ff",
}
FAILING_COLOUR = "#ff1f1f"
_OTHER_COLOUR = "#dddddd"
THUMBNAIL_MAX_SIDE = 900
JPEG_QUALITY = 85


def hex_to_bgr(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    red, green, blue = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return blue, green, red


def failing_region_ids(verdict: Mapping[str, Any]) -> set[int]:
    """Regions that failing checks name: the ones the photographer must look at."""
    return {int(region) for check in verdict.get("checks", []) if check.get("status") == "fail"
            for region in check.get("regions", [])}


def read_reduced(data: bytes) -> np.ndarray | None:
    """The frame at a quarter of its size (JPEG decodes that directly, at a fraction of the cost)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    if image is None or image.size == 0:
        return None
    return image


def read_judged_bytes(verdict: Mapping[str, Any]) -> bytes | None:
    """The bytes of the verdict's file if they are still the ones judged; None otherwise.

    The path is opened without following a final link (a link put there since judging could lead
    anywhere) and without blocking (a FIFO put there would hold the thread), then checked against
    the size and SHA-256 the verdict recorded.
    """
    try:
        fd = os.open(verdict["file"], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # gone, a link, or not ours to read
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        if verdict.get("size_bytes") is not None and st.st_size != verdict["size_bytes"]:
            return None  # a retake saved under the same name: these regions belong to the old frame
        data = fh.read(st.st_size)
    if verdict.get("sha256") and hashlib.sha256(data).hexdigest() != verdict["sha256"]:
        return None
    return data


def draw_regions(image: np.ndarray, verdict: Mapping[str, Any], max_side: int = THUMBNAIL_MAX_SIDE) -> np.ndarray:
    """Fit `image` (the frame at any scale) into max_side and outline the verdict's regions on it."""
    height, width = image.shape[:2]
    fit = min(1.0, max_side / max(height, width))
    if fit < 1.0:
        image = cv2.resize(image, (max(1, round(width * fit)), max(1, round(height * fit))),
                           interpolation=cv2.INTER_AREA)
    else:
        image = image.copy()
    height, width = image.shape[:2]
    # regions are in pixels of the original frame; the verdict says how large that was
    scale_x = width / float(verdict.get("width") or width)
    scale_y = height / float(verdict.get("height") or height)
    failing = failing_region_ids(verdict)
    thickness = max(2, round(max(height, width) / 250))
    regions = sorted(verdict.get("regions", []), key=lambda r: r["id"] in failing)  # failing ones drawn on top
    for region in regions:
        x0, y0, x1, y1 = region["bbox"]
        p0 = (int(x0 * scale_x), int(y0 * scale_y))
        p1 = (max(p0[0] + 1, int(x1 * scale_x) - 1), max(p0[1] + 1, int(y1 * scale_y) - 1))
        if region["id"] in failing:
            shade = image.copy()
            cv2.rectangle(shade, p0, p1, hex_to_bgr(FAILING_COLOUR), -1)
            cv2.addWeighted(shade, 0.3, image, 0.7, 0, dst=image)
            cv2.rectangle(image, p0, p1, hex_to_bgr(FAILING_COLOUR), thickness * 2)
        else:
            cv2.rectangle(image, p0, p1, hex_to_bgr(CLASS_COLOURS.get(region["class"], _OTHER_COLOUR)), thickness)
    return image


def render_thumbnail(verdict: Mapping[str, Any], max_side: int = THUMBNAIL_MAX_SIDE) -> bytes | None:
    """JPEG bytes, or None when the frame is gone, replaced since it was judged, or unreadable."""
    data = read_judged_bytes(verdict)
    image = None if data is None else read_reduced(data)
    if image is None:
        return None
    ok, buffer = cv2.imencode(".jpg", draw_regions(image, verdict, max_side), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buffer.tobytes() if ok else None


# The evidence crop is shown pixel for pixel: at most this large, around the region's centre.
CROP_MAX_SIDE = 640


def render_crop(verdict: Mapping[str, Any], region_id: int, max_side: int = CROP_MAX_SIDE) -> bytes | None:
    """JPEG of a region at 100 % (full resolution, not scaled), the part around its centre where the
    region is larger than max_side; None when the frame is gone, changed or unreadable."""
    region = next((r for r in verdict.get("regions", []) if r["id"] == region_id), None)
    data = read_judged_bytes(verdict) if region is not None else None
    if region is None or data is None:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        return None
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in region["bbox"])
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    half_w, half_h = min(x1 - x0, max_side) // 2, min(y1 - y0, max_side) // 2
    left, top = max(0, min(cx - half_w, width - 2 * half_w)), max(0, min(cy - half_h, height - 2 * half_h))
    crop = image[top:top + max(1, 2 * half_h), left:left + max(1, 2 * half_w)]
    ok, buffer = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return buffer.tobytes() if ok else None
