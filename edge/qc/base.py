"""What every quality check receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from edge.qc.settings import ProfileSettings
from edge.qc.station_history import StationHistory
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
    # measured figures behind the value (e.g. per-class sharpness, mean and p90 colour error)
    details: dict[str, float | str] | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"check": self.check, "status": self.status}
        if self.value is not None:
            out["value"] = round(self.value, 4) if isinstance(self.value, float) else self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out["regions"] = list(self.regions)
        if self.details:
            out["details"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.details.items()}
        out["message"] = self.message
        return out


@dataclass
class FrameFindings:
    """Facts a frame yields besides pass/fail: decoded barcodes, edge width per region class, scale."""

    barcodes: list[dict[str, Any]] = field(default_factory=list)
    # width of the sharpest edges, pixels, per region class that was measured
    edge_width: dict[str, float] = field(default_factory=dict)
    px_per_mm: float | None = None
    # regions the checks found that the segmenter did not (a chart card beside the ruler), with ids
    # after the segmenter's; the verdict reports them with the others
    found_regions: list[Region] = field(default_factory=list)


@dataclass(frozen=True)
class FrameContext:
    """A decoded frame at full resolution with the segmenter's regions."""

    image: np.ndarray  # H x W x 3 BGR, uint8 or uint16
    regions: Sequence[Region]
    profile: ProfileSettings
    # what this station saw before (sharpness baseline, previous barcodes); None: no memory
    history: StationHistory | None = None
    # the camera set-up that took the frame (decode.camera_set_up): whose sharpness baseline applies
    camera: str = ""
    # the ICC profile embedded in the file (None: none, read as sRGB); colour is measured through it
    icc_profile: bytes | None = None
    # what the checks found in this frame, for the verdict and for later checks
    findings: FrameFindings = field(default_factory=lambda: FrameFindings())
    # measurements shared between checks (chart grids, scale), computed once per frame
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def full_scale(self) -> float:
        return 65535.0 if self.image.dtype == np.uint16 else 255.0

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
