"""Quality-check registry: the checks in the order they run, and the order their reasons are listed in."""

from __future__ import annotations

from edge.qc.barcode import BarcodeCheck
from edge.qc.base import QualityCheck
from edge.qc.blur import BlurCheck
from edge.qc.colour_accuracy import ColourAccuracyCheck
from edge.qc.colour_chart import ColourChartCheck
from edge.qc.exposure import ExposureCheck
from edge.qc.framing import FramingCheck
from edge.qc.required_elements import RequiredElementsCheck
from edge.qc.settings import ProfileSettings

# The checks, in the order a verdict lists them. What one check finds for another (chart grids,
# the scale) is computed once per frame, under a lock, by whichever asks first.
CHECKS: tuple[type[QualityCheck], ...] = (
    RequiredElementsCheck,
    BarcodeCheck,
    ColourChartCheck,
    ColourAccuracyCheck,
    ExposureCheck,
    BlurCheck,
    FramingCheck,
)

# Checks started first on the pipeline's two QC threads: the two longest (the chart's patch
# analysis and the tiled edge-width measure), so that neither thread is left finishing a long one
# while the other idles. The verdict still lists checks in the order of CHECKS.
START_FIRST: tuple[str, ...] = ("colour_chart", "blur")


def start_rank(check: str) -> int:
    """When a check is handed to the QC threads (lower first)."""
    return START_FIRST.index(check) if check in START_FIRST else len(START_FIRST)


# The order of a verdict's reasons: the order a photographer acts on them. Causes come first
# (an unreadable file, focus, exposure, framing and tilt), then what they bring about (elements not
# found, a chart not found or unreadable, colour error, a barcode not read): a blurred or tilted
# frame also loses its chart and label, and fixing the cause brings them back. Checks not named
# here follow, in the order they ran.
REASON_ORDER: tuple[str, ...] = (
    "readable",
    "blur",
    "exposure",
    "framing",
    "required_elements",
    "colour_chart",
    "colour_accuracy",
    "barcode",
)


def reason_rank(check: str) -> int:
    """Where a failing check's reason goes in the verdict's list (lower first)."""
    return REASON_ORDER.index(check) if check in REASON_ORDER else len(REASON_ORDER)


def checks_for(profile: ProfileSettings) -> list[QualityCheck]:
    enabled = {
        "blur": profile.blur.enabled,
        "barcode": profile.barcode.enabled,
        "colour_accuracy": profile.colour_chart.accuracy.enabled,
        "exposure": profile.exposure.enabled,
        "framing": profile.framing.enabled,
        "required_elements": profile.required_elements.enabled,
    }
    return [cls() for cls in CHECKS if enabled.get(cls.name, True)]
