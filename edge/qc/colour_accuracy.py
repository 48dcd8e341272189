"""Colour accuracy and white balance, measured on a ColorChecker Classic 24 when one is in shot."""

from __future__ import annotations

import numpy as np

from edge.qc.base import CheckResult, FrameContext, Status
from edge.qc.chart_analysis import chart_grids
from edge.qc.chart_grid import is_chart, read_colorchecker24
from edge.qc.colour_science import COLORCHECKER24_LAB_D50, COLORCHECKER24_NAMES, white_balance_error

# White to neutral 3.5: the black patch is too dark for a stable cast reading.
_WHITE_BALANCE_PATCHES = (18, 19, 20, 21, 22)


class ColourAccuracyCheck:
    name = "colour_accuracy"

    def run(self, frame: FrameContext) -> CheckResult:
        chart_settings = frame.profile.colour_chart
        settings = chart_settings.accuracy
        for region, grid in chart_grids(frame):
            if not is_chart(grid, chart_settings.min_patches):
                continue
            x0, y0, x1, y1 = region.bbox
            reading = read_colorchecker24(frame.image[y0:y1, x0:x1], grid)
            if reading is None:
                continue
            keep = [i for i, n in enumerate(COLORCHECKER24_NAMES) if n not in settings.exclude_patches]
            de = reading.delta_e[keep]
            mean, p90, worst = float(de.mean()), float(np.percentile(de, 90)), float(de.max())
            wb = float(white_balance_error(reading.lab[list(_WHITE_BALANCE_PATCHES)],
                                           COLORCHECKER24_LAB_D50[list(_WHITE_BALANCE_PATCHES)]).mean())
            details: dict[str, float | str] = {"mean_delta_e": mean, "p90_delta_e": p90, "max_delta_e": worst,
                                               "white_balance_delta_e": wb,
                                               "worst_patch": COLORCHECKER24_NAMES[keep[int(de.argmax())]]}
            status: Status = "ok"
            if wb > settings.fail_white_balance:
                return CheckResult(self.name, "fail",
                                   f"White balance is off (grey patches {wb:.1f} ΔE from neutral, limit "
                                   f"{settings.fail_white_balance:.1f}): set white balance on the chart's grey "
                                   "patch and retake", value=round(wb, 2), threshold=settings.fail_white_balance,
                                   regions=[region.id], details=details)
            if mean > settings.fail_mean_delta_e:
                return CheckResult(self.name, "fail",
                                   f"Colour is off (mean ΔE2000 {mean:.1f} on the ColorChecker, limit "
                                   f"{settings.fail_mean_delta_e:.1f}): check the lights and the camera's colour "
                                   "profile, then retake", value=round(mean, 2),
                                   threshold=settings.fail_mean_delta_e, regions=[region.id], details=details)
            problems = []
            if mean > settings.warn_mean_delta_e or p90 > settings.warn_p90_delta_e:
                problems.append(f"colour error mean ΔE2000 {mean:.1f}, 90th percentile {p90:.1f}")
            if wb > settings.warn_white_balance:
                problems.append(f"white balance {wb:.1f} ΔE from neutral")
            if problems:
                status = "warn"
                message = ("Colour accuracy is marginal (" + "; ".join(problems)
                           + "): check the lights and white balance")
            else:
                message = f"Colour accurate (mean ΔE2000 {mean:.1f}, white balance {wb:.1f})."
            return CheckResult(self.name, status, message, value=round(mean, 2),
                               threshold=settings.warn_mean_delta_e, regions=[region.id], details=details)
        return CheckResult(self.name, "ok", "No ColorChecker 24 in shot to measure colour accuracy on.")
