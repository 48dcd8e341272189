"""Quality-check registry: one line per check, in order of importance for the reasons list."""

from __future__ import annotations

from edge.qc.base import QualityCheck
from edge.qc.blur import BlurCheck
from edge.qc.colour_chart import ColourChartCheck
from edge.qc.settings import ProfileSettings

CHECKS: tuple[type[QualityCheck], ...] = (
    ColourChartCheck,
    BlurCheck,
)


def checks_for(profile: ProfileSettings) -> list[QualityCheck]:
    enabled = {"blur": profile.blur.enabled}
    return [cls() for cls in CHECKS if enabled.get(cls.name, True)]
