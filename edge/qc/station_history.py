"""What a station remembers between frames: the sharpness it usually gets and the last barcodes.

Kept in memory by the pipeline. Only accepted frames feed the baseline, so a run of blurred
frames cannot drag the station's idea of "sharp" down with it.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping


class StationHistory:
    def __init__(self, baseline_frames: int = 50) -> None:
        self._baseline_frames = baseline_frames
        self._sharpness: dict[str, deque[float]] = {}
        # codes of the previous frame, and whether that frame was accepted
        self.previous_barcodes: tuple[str, ...] = ()
        self.previous_accepted = False

    def sharpness_baseline(self, class_name: str, min_frames: int) -> float | None:
        """Median sharpness of this region class over recent accepted frames, once there are enough."""
        values = self._sharpness.get(class_name)
        if not values or len(values) < min_frames:
            return None
        return statistics.median(values)

    def baseline_count(self, class_name: str) -> int:
        return len(self._sharpness.get(class_name, ()))

    def record(self, *, accepted: bool, sharpness: Mapping[str, float], barcodes: Iterable[str]) -> None:
        if accepted:
            for class_name, value in sharpness.items():
                self._sharpness.setdefault(class_name, deque(maxlen=self._baseline_frames)).append(value)
        self.previous_barcodes = tuple(barcodes)
        self.previous_accepted = accepted
