"""Per-profile settings of the quality checks (the `profiles:` section of a station file)."""

from __future__ import annotations

from pydantic import Field, field_validator

from edge.classes import CLASS_IDS
from edge.settings_base import Strict as _Strict


class BlurSettings(_Strict):
    enabled: bool
    fail_below: float = Field(ge=0, le=1)
    warn_below: float = Field(ge=0, le=1)
    classes: list[str]

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CLASS_IDS or name == "background":
                raise ValueError(f"unknown region class {name!r}; expected one of "
                                 + ", ".join(n for n in CLASS_IDS if n != "background"))
        return value


class ColourChartSettings(_Strict):
    required: bool
    min_area_fraction: float = Field(gt=0, lt=1)


class ProfileSettings(_Strict):
    blur: BlurSettings
    colour_chart: ColourChartSettings
