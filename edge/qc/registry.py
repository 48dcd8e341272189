"""Quality-check registry: one line per check, in order of importance for the reasons list."""

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

CHECKS: tuple[type[QualityCheck], ...] = (
    RequiredElementsCheck,
    BarcodeCheck,
    ColourChartCheck,
    ColourAccuracyCheck,
    ExposureCheck,
    BlurCheck,
    FramingCheck,
)


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
