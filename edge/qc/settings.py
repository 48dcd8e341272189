"""Per-profile settings of the quality checks (the `profiles:` section of a station file)."""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.classes import CLASS_IDS
from edge.qc.colour_science import COLORCHECKER24_NAMES, GUIDELINES, ColourGuideline, GuidelineLimits
from edge.settings_base import Strict as _Strict

Severity = Literal["fail", "warn", "off"]
BARCODE_FORMATS = ("Code128", "Code39", "DataMatrix", "QRCode", "Code93", "Codabar", "ITF", "EAN13", "PDF417",
                   "Aztec", "MicroQRCode")


def _check_classes(value: list[str]) -> list[str]:
    for name in value:
        if name not in CLASS_IDS or name == "background":
            raise ValueError(f"unknown region class {name!r}; expected one of "
                             + ", ".join(n for n in CLASS_IDS if n != "background"))
    return value


class BlurSettings(_Strict):
    enabled: bool
    # The width of the sharpest strong edges of the deciding region, in pixels of the stored frame
    # (a perfect step is 1 px; a Gaussian blur of sigma s adds about 2.5 s px). Absolute limits,
    # whatever this station usually gives.
    fail_above_px: float = Field(gt=1)
    warn_above_px: float = Field(gt=1)
    classes: list[str]
    # Judged against the median of the recent accepted frames of the same camera set-up (EXIF
    # make, model, serial and image size), per region class: edges this many times as wide fail.
    baseline_fail_ratio: float = Field(default=1.35, ge=1)
    baseline_warn_ratio: float = Field(default=1.2, ge=1)
    baseline_frames: int = Field(default=50, ge=1)
    baseline_min_frames: int = Field(default=5, ge=1)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        return _check_classes(value)


class ColourAccuracySettings(_Strict):
    """Colour accuracy on a ColorChecker Classic 24, judged by a named guideline level (FADGI stars,
    Metamorfoze levels); past its tolerances the check gives `severity` (warn: accept with a note)."""

    enabled: bool = True
    guideline: ColourGuideline = "fadgi_3_star"
    severity: Literal["warn", "fail"] = "warn"
    # Explicit limits replacing the guideline's (null: the guideline's own, which may set none).
    max_mean_delta_e: float | None = Field(default=None, gt=0)
    max_p90_delta_e: float | None = Field(default=None, gt=0)
    max_delta_e: float | None = Field(default=None, gt=0)
    max_white_balance: float | None = Field(default=None, gt=0)
    # Scale the chart's light to its grey row's reference lightness before measuring colour, so an
    # exposure difference is reported as such, not counted as colour error.
    normalise_exposure: bool = True
    # A colour target in shot that is not a Classic 24 (a CameraTrax card, a Q-13 strip, ...):
    # no colour verdict, and this status.
    unknown_target: Literal["ok", "warn"] = "ok"
    # Patches left out of the figures; cyan lies outside the sRGB gamut.
    exclude_patches: list[str] = Field(default_factory=lambda: ["cyan"])

    @field_validator("exclude_patches")
    @classmethod
    def _known_patches(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in COLORCHECKER24_NAMES:
                raise ValueError(f"unknown ColorChecker patch {name!r}; expected one of "
                                 + ", ".join(COLORCHECKER24_NAMES))
        return value

    def limits(self) -> GuidelineLimits:
        """The guideline's tolerances with the explicit limits applied."""
        level = GUIDELINES[self.guideline]
        return dataclasses.replace(
            level,
            mean_delta_e=self.max_mean_delta_e if self.max_mean_delta_e is not None else level.mean_delta_e,
            p90_delta_e=self.max_p90_delta_e if self.max_p90_delta_e is not None else level.p90_delta_e,
            max_delta_e=self.max_delta_e if self.max_delta_e is not None else level.max_delta_e,
            white_balance=self.max_white_balance if self.max_white_balance is not None else level.white_balance)


class ColourChartSettings(_Strict):
    required: bool
    min_area_fraction: float = Field(gt=0, lt=1)
    # A chart region only counts when it shows a grid of at least this many uniform patches.
    confirm_patches: bool = True
    min_patches: int = Field(default=6, ge=2)
    # Centre-to-centre distance of the ColorChecker's patches in mm, to derive the scale
    # (27 mm for the Classic 24, 11.4 for the Passport); null: not used for scale.
    patch_pitch_mm: float | None = Field(default=None, gt=0)
    accuracy: ColourAccuracySettings = Field(default_factory=ColourAccuracySettings)


class BarcodeSettings(_Strict):
    enabled: bool = True
    # No barcode region and nothing decoded: fail when required, otherwise a note.
    required: bool = False
    # A barcode region that does not decode.
    unreadable: Literal["fail", "warn"] = "warn"
    formats: list[str] = Field(default_factory=lambda: ["Code128", "Code39", "DataMatrix", "QRCode"])
    # Catalogue-number pattern, e.g. '^BM\d{9}$': the frame fails when no decoded code matches.
    pattern: str | None = None
    # The same code as the previous accepted frame: a possible duplicate.
    warn_on_repeat: bool = True

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in BARCODE_FORMATS:
                raise ValueError(f"unknown barcode format {name!r}; expected one of " + ", ".join(BARCODE_FORMATS))
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class ExposureSettings(_Strict):
    enabled: bool = True
    # Measured inside these regions (paper around the specimen, labels), never on the surround.
    classes: list[str] = Field(default_factory=lambda: ["label", "type_label", "specimen"])
    # Shares of the measured pixels with a channel at the top (clipped) or all at the bottom (crushed).
    clipped_warn: float = Field(default=0.01, ge=0, le=1)
    clipped_fail: float = Field(default=0.5, ge=0, le=1)
    crushed_warn: float = Field(default=0.005, ge=0, le=1)
    crushed_fail: float = Field(default=0.02, ge=0, le=1)
    # The brightest paper (99th percentile of lightness, 0..1) must reach this: under-exposure.
    paper_min_level: float = Field(default=0.68, ge=0, le=1)
    paper_warn_level: float = Field(default=0.72, ge=0, le=1)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        return _check_classes(value)


class FramingSettings(_Strict):
    enabled: bool = True
    # Regions touching the frame edge are cut off: a retake for these, a warning for those
    # (the colour chart is judged by its own check).
    keep_inside_fail: list[str] = Field(default_factory=lambda: ["specimen"])
    keep_inside_warn: list[str] = Field(default_factory=lambda: ["label", "type_label", "barcode"])
    # Within this share of the frame side of the edge counts as touching it.
    edge_margin_fraction: float = Field(default=0.002, ge=0, lt=0.5)
    rotation_warn_deg: float = Field(default=2.0, ge=0, le=45)
    rotation_fail_deg: float = Field(default=4.0, ge=0, le=45)
    # what the photographer straightens or moves into shot, as the messages name it
    subject: Literal["sheet", "slide", "tray", "drawer"] = "sheet"

    @field_validator("keep_inside_fail", "keep_inside_warn")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        return _check_classes(value)


class RequiredElementsSettings(_Strict):
    """What a frame must show; 'label' is satisfied by a label or a type label."""

    enabled: bool = True
    specimen: Severity = "fail"
    label: Severity = "fail"
    scale_bar: Severity = "warn"


class ScaleSettings(_Strict):
    """How the frame's scale (pixels per mm) is read from the ruler."""

    # The physical length of the frame's long side this profile's frames span, in mm [min, max]:
    # a ruler's tick period is read as 1, 5 or 10 mm, whichever puts the frame inside this range.
    frame_long_side_mm: list[float] = Field(default_factory=lambda: [250.0, 750.0], min_length=2, max_length=2)

    @field_validator("frame_long_side_mm")
    @classmethod
    def _ordered(cls, value: list[float]) -> list[float]:
        if not 0 < value[0] < value[1]:
            raise ValueError("frame_long_side_mm must be [min, max] with 0 < min < max")
        return value


class ProfileSettings(_Strict):
    # a model bundled with the package (a file name in its engines folder) that segments this
    # profile's frames when segmenter.model is null; null: the general model
    segmenter_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+\.onnx$")
    blur: BlurSettings
    colour_chart: ColourChartSettings
    barcode: BarcodeSettings = Field(default_factory=BarcodeSettings)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    framing: FramingSettings = Field(default_factory=FramingSettings)
    required_elements: RequiredElementsSettings = Field(default_factory=RequiredElementsSettings)
    scale: ScaleSettings = Field(default_factory=ScaleSettings)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ProfileSettings:
        if self.blur.warn_above_px > self.blur.fail_above_px:
            raise ValueError("blur.warn_above_px must not exceed blur.fail_above_px")
        if self.blur.baseline_warn_ratio > self.blur.baseline_fail_ratio:
            raise ValueError("blur.baseline_warn_ratio must not exceed blur.baseline_fail_ratio")
        if self.framing.rotation_warn_deg > self.framing.rotation_fail_deg:
            raise ValueError("framing.rotation_warn_deg must not exceed framing.rotation_fail_deg")
        return self
