"""From a class map to the verdict's regions: connected parts per class, in original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.classes import CLASS_NAMES
from edge.segmentation.base import Segmentation


@dataclass(frozen=True)
class Region:
    id: int
    class_name: str
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 in original pixels, x1/y1 exclusive
    area_px: int
    score: float

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "class": self.class_name, "bbox": list(self.bbox),
                "area_px": self.area_px, "score": round(self.score, 4)}


def extract_regions(seg: Segmentation, frame_hw: tuple[int, int], min_fraction: float, min_score: float = 0.0,
                    join_gap: dict[str, int] | None = None,
                    class_min_score: dict[str, float] | None = None) -> list[Region]:
    """Connected components of every foreground class, scaled to the frame's full size.

    min_fraction: parts smaller than this share of the map are noise. min_score: parts whose mean
    winning-class probability is lower are dropped (the network was unsure what they are).
    join_gap: per class, parts closer than this many map pixels are one object (a plant's leaves
    and stems cut apart by tape or a label are still one specimen). class_min_score: per class, a
    score floor that replaces min_score for that class."""
    classes = seg.placement.crop_to_source_orientation(seg.classes)
    confidence = seg.placement.crop_to_source_orientation(seg.confidence)
    map_h, map_w = classes.shape
    frame_h, frame_w = frame_hw
    sy, sx = frame_h / map_h, frame_w / map_w
    min_pixels = max(1, int(round(min_fraction * map_h * map_w)))
    regions: list[Region] = []
    for class_id in range(1, len(CLASS_NAMES)):
        mask = (classes == class_id).astype(np.uint8)
        if not mask.any():
            continue
        gap = (join_gap or {}).get(CLASS_NAMES[class_id], 0)
        floor = (class_min_score or {}).get(CLASS_NAMES[class_id], min_score)
        # Specks, and lines one map pixel thick lying along the frame edge (a scanner's border,
        # the edge of the surround), go before parts are joined, so they cannot stretch an object's
        # box out to the edge.
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        x0s, y0s = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        ws, hs = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
        edge_line = (((ws == 1) & ((x0s == 0) | (x0s == map_w - 1)))
                     | ((hs == 1) & ((y0s == 0) | (y0s == map_h - 1))))
        keep = (stats[:, cv2.CC_STAT_AREA] >= min_pixels) & ~edge_line
        keep[0] = False
        mask = keep.astype(np.uint8)[labels]
        if not mask.any():
            continue
        grouping = mask
        if gap > 0:
            # Dilation, not closing: it always contains the parts, so every part falls in exactly
            # one group (closing with an even kernel shifts by a pixel and could miss parts or make
            # groups without any), and parts up to `gap` pixels apart touch.
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (gap + 1, gap + 1))
            grouping = cv2.dilate(mask, kernel)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(grouping, connectivity=8)
        for comp in range(1, count):
            x, y, w, h, _ = (int(v) for v in stats[comp])
            own = (labels[y:y + h, x:x + w] == comp) & (mask[y:y + h, x:x + w] > 0)
            area = int(own.sum())  # every part left is at least min_pixels
            score = float(confidence[y:y + h, x:x + w][own].mean())
            if score < floor:
                continue
            if gap > 0:
                # the box of the group's own pixels, not of its dilation
                rows, cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
                x, w = x + int(cols[0]), int(cols[-1] - cols[0] + 1)
                y, h = y + int(rows[0]), int(rows[-1] - rows[0] + 1)
            bbox = (int(np.floor(x * sx)), int(np.floor(y * sy)),
                    min(frame_w, int(np.ceil((x + w) * sx))), min(frame_h, int(np.ceil((y + h) * sy))))
            regions.append(Region(id=len(regions), class_name=CLASS_NAMES[class_id], bbox=bbox,
                                  area_px=int(round(area * sx * sy)), score=min(1.0, max(0.0, score))))
    return regions
