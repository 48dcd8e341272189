"""Colour accuracy and white balance, measured on a ColorChecker Classic 24 when one is in shot.

The patches are read in the frame's own colour space and converted to sRGB through its embedded
ICC profile (Adobe RGB, eciRGB v2, ...) where it has one. Exposure is taken out first: the chart's
light is scaled so its grey row has the reference lightness, and the offset is reported on its
own. Only a grid recognised as a Classic 24 gets a colour verdict; any other target is named as
unknown. The figures are judged by the profile's guideline level (FADGI stars, Metamorfoze).
"""

from __future__ import annotations

import math

import numpy as np

from edge.qc.base import CheckResult, FrameContext, Status
from edge.qc.chart_analysis import chart_grids
from edge.qc.chart_grid import ChartGrid, ColorCheckerReading, is_chart, read_colorchecker24
from edge.qc.colour_science import (
    COLORCHECKER24_LAB_D50,
    COLORCHECKER24_NAMES,
    GuidelineLimits,
    delta_e_2000,
    exposure_scale,
    scale_exposure,
    white_balance_error,
)
from edge.qc.icc import ProfileConverter, UnusableProfile, profile_converter
from edge.qc.settings import ColourAccuracySettings
from edge.segmentation.regions import Region

# White to neutral 3.5: the black patch is too dark for a stable cast reading.
_WHITE_BALANCE_PATCHES = (18, 19, 20, 21, 22)
# Greys that set the exposure: neutral 8 to 3.5, and the white where it is not clipped; a grey with
# a channel this close to full scale is clipped.
_EXPOSURE_PATCHES = (18, 19, 20, 21, 22)
_CLIPPED_L = 99.0
UNKNOWN_TARGET = "Unknown colour target: no colour verdict"


class ColourAccuracyCheck:
    name = "colour_accuracy"

    def run(self, frame: FrameContext) -> CheckResult:
        chart_settings = frame.profile.colour_chart
        settings = chart_settings.accuracy
        converter, profile_note = _converter(frame.icc_profile)
        unknown: tuple[Region, str] | None = None
        for region, grid in chart_grids(frame):
            if not is_chart(grid, chart_settings.min_patches):
                continue
            x0, y0, x1, y1 = region.bbox
            reading = read_colorchecker24(frame.image[y0:y1, x0:x1], grid,
                                          converter.to_srgb if converter is not None else None)
            if reading is None:
                unknown = unknown or (region, _grid_shape(grid))
                continue
            if not reading.match.is_classic24:
                unknown = unknown or (region, "a 4 x 6 grid, but " + "; ".join(reading.match.reasons))
                continue
            return self._judge(reading, region, settings, profile_note)
        if unknown is not None:
            region, why = unknown
            return CheckResult(self.name, settings.unknown_target,
                               f"{UNKNOWN_TARGET} (the chart in shot is not a ColorChecker Classic 24: {why}). "
                               "Use a Classic 24 for a colour verdict.", regions=[region.id])
        return CheckResult(self.name, "ok", "No ColorChecker Classic 24 in shot to measure colour accuracy on.")

    def _judge(self, reading: ColorCheckerReading, region: Region, settings: ColourAccuracySettings,
               profile_note: str) -> CheckResult:
        limits = settings.limits()
        reference = COLORCHECKER24_LAB_D50
        lab = reading.lab
        grey_delta_l = lab[list(_EXPOSURE_PATCHES), 0] - reference[list(_EXPOSURE_PATCHES), 0]
        scale = _exposure_scale(lab) if settings.normalise_exposure else 1.0
        if scale != 1.0:
            lab = scale_exposure(lab, scale)
        offset = -math.log2(scale)  # stops: positive where the chart came out brighter than the reference
        keep = [i for i, n in enumerate(COLORCHECKER24_NAMES) if n not in settings.exclude_patches]
        de = delta_e_2000(lab, reference, limits.unit_lightness_weight)[keep]
        mean, p90, worst = float(de.mean()), float(np.percentile(de, 90)), float(de.max())
        wb = float(white_balance_error(lab[list(_WHITE_BALANCE_PATCHES)],
                                       reference[list(_WHITE_BALANCE_PATCHES)]).mean())
        tone = float(np.abs(lab[list(_EXPOSURE_PATCHES), 0] - reference[list(_EXPOSURE_PATCHES), 0]).max())
        worst_patch = COLORCHECKER24_NAMES[keep[int(de.argmax())]]
        details: dict[str, float | str] = {
            "mean_delta_e": mean, "p90_delta_e": p90, "max_delta_e": worst, "worst_patch": worst_patch,
            "white_balance_delta_e": wb,
            # before normalisation: how far the greys' lightness was from the reference, and the
            # exposure change (stops) that the measurement took out
            "exposure_delta_l": float(grey_delta_l.mean()), "exposure_offset_ev": offset,
            # after normalisation: the largest lightness error left on the greys (tone curve)
            "tone_delta_l": tone,
            "guideline": settings.guideline, "colour_profile": profile_note,
            "target_agreement": reading.match.colour_agreement,
        }
        if reading.match.patch_fraction is not None:
            details["patch_fraction"] = reading.match.patch_fraction
        for key, limit in (("limit_mean_delta_e", limits.mean_delta_e), ("limit_p90_delta_e", limits.p90_delta_e),
                           ("limit_max_delta_e", limits.max_delta_e),
                           ("limit_white_balance", limits.white_balance)):
            if limit is not None:
                details[key] = limit
        colour_problems = _over(limits, mean, p90, worst, worst_patch)
        wb_over = limits.white_balance is not None and wb > limits.white_balance
        exposure = _exposure_words(offset) if settings.normalise_exposure else ""
        threshold = limits.mean_delta_e
        if not colour_problems and not wb_over:
            return CheckResult(self.name, "ok",
                               f"Colour accurate to {limits.title} (mean ΔE2000 {mean:.1f}, white balance "
                               f"{wb:.1f}{'; ' + exposure if exposure else ''}).", value=round(mean, 2),
                               threshold=threshold,
                               regions=[region.id], details=details)
        status: Status = settings.severity
        retake = ", then retake" if status == "fail" else ""
        parts = []
        if wb_over:
            parts.append(f"white balance is off (grey patches {wb:.1f} ΔE2000 from neutral, limit "
                         f"{limits.white_balance:g})")
        if colour_problems:
            parts.append("colour is off (" + ", ".join(colour_problems) + ")")
        fixes = []
        if wb_over:
            fixes.append("set white balance on the chart's grey patch")
        if colour_problems:
            fixes.append("check the lights and the camera's colour profile")
        message = f"Not within {limits.title}: " + "; ".join(parts) + ": " + " and ".join(fixes) + retake + "."
        if exposure:
            message += f" {exposure[0].upper()}{exposure[1:]}."
        value = round(wb, 2) if wb_over and not colour_problems else round(mean, 2)
        if wb_over and not colour_problems:
            threshold = limits.white_balance
        return CheckResult(self.name, status, message, value=value, threshold=threshold, regions=[region.id],
                           details=details)


def _converter(icc_profile: bytes | None) -> tuple[ProfileConverter | None, str]:
    """The frame's profile converter, and words for the details: which profile, or why none."""
    if icc_profile is None:
        return None, "none (read as sRGB)"
    try:
        converter = profile_converter(icc_profile)
    except UnusableProfile as exc:
        return None, f"{exc}; read as sRGB"
    return converter, converter.description


def _exposure_scale(lab: np.ndarray) -> float:
    usable = [i for i in _EXPOSURE_PATCHES if lab[i, 0] < _CLIPPED_L]
    if len(usable) < 2:
        return 1.0
    return exposure_scale(lab[usable], COLORCHECKER24_LAB_D50[usable])


def _over(limits: GuidelineLimits, mean: float, p90: float, worst: float, worst_patch: str) -> list[str]:
    out = []
    if limits.mean_delta_e is not None and mean > limits.mean_delta_e:
        out.append(f"mean ΔE2000 {mean:.1f}, limit {limits.mean_delta_e:g}")
    if limits.p90_delta_e is not None and p90 > limits.p90_delta_e:
        out.append(f"90th percentile {p90:.1f}, limit {limits.p90_delta_e:g}")
    if limits.max_delta_e is not None and worst > limits.max_delta_e:
        out.append(f"{worst_patch} {worst:.1f}, limit {limits.max_delta_e:g}")
    return out


def _exposure_words(offset_ev: float) -> str:
    if abs(offset_ev) < 0.05:
        return ""
    side = "brighter" if offset_ev > 0 else "darker"
    return f"chart {abs(offset_ev):.1f} EV {side} than its reference, not counted as colour error"


def _grid_shape(grid: ChartGrid) -> str:
    return f"{grid.count} patches, not in the Classic 24's 4 x 6 layout"
