"""Settings of the label crops cut from accepted frames."""

from __future__ import annotations

from pydantic import Field

from edge.settings_base import Strict


class CropSettings(Strict):
    enabled: bool
    classes: list[str]
    jpeg_quality: int = Field(ge=50, le=100)
