"""Barcode: present, decodable (zxing-cpp on the barcode regions), matching the catalogue-number
pattern, and not the same code as the previous accepted frame."""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np
import zxingcpp

from edge.qc.base import CheckResult, FrameContext
from edge.segmentation.regions import Region

# Regions are widened by this share of their size: the segmenter's box may clip the quiet zone.
_PAD = 0.15
# Small codes are enlarged to give the decoder at least this many pixels on the short side.
_MIN_SHORT_SIDE = 120
_MAX_REGIONS = 6


def _formats(names: list[str]) -> Any:
    return tuple(getattr(zxingcpp.BarcodeFormat, name) for name in names)


def decode_region(image: np.ndarray, region: Region, formats: Any) -> list[dict[str, Any]]:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = region.bbox
    px, py = int((x1 - x0) * _PAD) + 4, int((y1 - y0) * _PAD) + 4
    bx0, by0, bx1, by1 = max(0, x0 - px), max(0, y0 - py), min(w, x1 + px), min(h, y1 + py)
    crop = image[by0:by1, bx0:bx1]
    if crop.size == 0:
        return []
    gray = np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop)
    if gray.dtype == np.uint16:
        gray = (gray // 257).astype(np.uint8)
    zoom = 1.0
    if min(gray.shape) < _MIN_SHORT_SIDE:
        zoom = min(4.0, _MIN_SHORT_SIDE / max(1, min(gray.shape)))
        gray = cv2.resize(gray, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    found = []
    for code in zxingcpp.read_barcodes(np.ascontiguousarray(gray), formats=formats):
        if not code.valid or not code.text:
            continue
        pos = code.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        bbox = [bx0 + int(min(xs) / zoom), by0 + int(min(ys) / zoom),
                bx0 + int(np.ceil((max(xs) + 1) / zoom)), by0 + int(np.ceil((max(ys) + 1) / zoom))]
        found.append({"text": code.text, "format": code.format.name, "bbox": bbox, "region": region.id})
    return found


class BarcodeCheck:
    name = "barcode"

    def run(self, frame: FrameContext) -> CheckResult:
        settings = frame.profile.barcode
        regions = sorted(frame.regions_of("barcode"), key=lambda r: r.area_px, reverse=True)[:_MAX_REGIONS]
        formats = _formats(settings.formats)
        decoded: list[dict[str, Any]] = []
        for region in regions:
            for code in decode_region(frame.image, region, formats):
                if all(code["text"] != d["text"] for d in decoded):
                    decoded.append(code)
        frame.findings.barcodes = [{k: v for k, v in d.items() if k != "region"} for d in decoded]
        texts = [d["text"] for d in decoded]
        value = ", ".join(f"{d['text']} ({d['format']})" for d in decoded) or None
        ids = sorted({d["region"] for d in decoded}) or [r.id for r in regions]
        if settings.pattern is not None:
            pattern = re.compile(settings.pattern)
            if not any(pattern.search(t) for t in texts):
                what = (f"read {', '.join(texts)}" if texts else
                        "no barcode could be read" if regions else "no barcode in shot")
                return CheckResult(self.name, "fail",
                                   f"No catalogue barcode matching {settings.pattern} ({what}): put the "
                                   "specimen's barcode in shot, flat and sharp, and retake",
                                   value=value, threshold=settings.pattern, regions=ids)
        if not decoded:
            if regions:
                status = settings.unreadable
                return CheckResult(self.name, status,
                                   "Barcode cannot be read: make sure it is flat, sharp and not covered"
                                   + (", and retake" if status == "fail" else ""),
                                   value=None, regions=ids)
            if settings.required:
                return CheckResult(self.name, "fail", "Barcode not found: put the specimen's barcode in shot "
                                   "and retake")
            return CheckResult(self.name, "ok", "No barcode in shot (not required for this profile).")
        history = frame.history
        if (settings.warn_on_repeat and history is not None and history.previous_accepted
                and set(texts) & set(history.previous_barcodes)):
            repeated = sorted(set(texts) & set(history.previous_barcodes))
            return CheckResult(self.name, "warn",
                               f"Same barcode as the previous frame ({', '.join(repeated)}): possible duplicate, "
                               "check that the specimen was changed", value=value, regions=ids)
        return CheckResult(self.name, "ok", f"Barcode read: {value}.", value=value, regions=ids)
