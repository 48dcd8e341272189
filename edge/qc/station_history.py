"""What a station remembers between frames: the sharpness each camera set-up usually gives, and the
last barcodes.

Kept in memory by the pipeline, and seeded from the journal when the daemon starts, so the first
frames after a restart are judged like the rest. Only accepted frames feed the baseline, so a run
of blurred frames cannot drag the station's idea of "sharp" down with it. Each camera set-up
(make, model, serial and image size) has its own baseline: frames from another camera, or a
folder of frames from several institutions, are never compared with each other.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any


class StationHistory:
    def __init__(self, baseline_frames: int = 50) -> None:
        self._baseline_frames = baseline_frames
        self._edge_width: dict[tuple[str, str], deque[float]] = {}
        # codes of the previous frame, and whether that frame was accepted
        self.previous_barcodes: tuple[str, ...] = ()
        self.previous_accepted = False

    def edge_width_baseline(self, camera: str, class_name: str, min_frames: int) -> float | None:
        """Median edge width of this region class over this camera's recent accepted frames, once
        there are enough of them."""
        values = self._edge_width.get((camera, class_name))
        if not values or len(values) < min_frames:
            return None
        return statistics.median(values)

    def baseline_count(self, camera: str, class_name: str) -> int:
        return len(self._edge_width.get((camera, class_name), ()))

    def remember_sharpness(self, camera: str, edge_width: Mapping[str, float]) -> None:
        """Add an accepted frame's edge widths (per region class) to its camera's baseline."""
        for class_name, value in edge_width.items():
            key = (camera, class_name)
            self._edge_width.setdefault(key, deque(maxlen=self._baseline_frames)).append(value)

    def record(self, *, accepted: bool, camera: str, edge_width: Mapping[str, float],
               barcodes: Iterable[str]) -> None:
        if accepted:
            self.remember_sharpness(camera, edge_width)
        self.previous_barcodes = tuple(barcodes)
        self.previous_accepted = accepted


def accepted_edge_widths(verdict: Mapping[str, Any]) -> tuple[str, dict[str, float]] | None:
    """(camera, edge width per region class) that an accepted verdict adds to its camera's baseline,
    read from its blur check; None for a retake, an error or a frame whose focus was not measured."""
    if verdict.get("verdict") != "accept":
        return None
    for check in verdict.get("checks", []):
        details = check.get("details") or {}
        if check.get("check") != "blur" or "camera" not in details:
            continue
        prefix = "edge_width_px_"
        widths = {k[len(prefix):]: float(v) for k, v in details.items() if k.startswith(prefix)}
        return (str(details["camera"]), widths) if widths else None
    return None
