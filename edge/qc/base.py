"""What every quality check receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from edge.qc.settings import ProfileSettings
from edge.segmentation.regions import Region

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    message: str
    value: float | str | bool | None = None
    threshold: float | str | None = None
    regions: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"check": self.check, "status": self.status}
        if self.value is not None:
            out["value"] = round(self.value, 4) if isinstance(self.value, float) else self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out["regions"] = list(self.regions)
        out["message"] = self.message
        return out


@dataclass(frozen=True)
class FrameContext:
    """A decoded frame at full resolution with the segmenter's regions."""

    image: np.ndarray  # H x W x 3 BGR, uint8 or uint16
    regions: Sequence[Region]
    profile: ProfileSettings

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def regions_of(self, *class_names: str) -> list[Region]:
        return [r for r in self.regions if r.class_name in class_names]


class QualityCheck(Protocol):
    name: str

    def run(self, frame: FrameContext) -> CheckResult: ...
