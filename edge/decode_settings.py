"""Settings of decoding a frame."""

from __future__ import annotations

from pydantic import Field

from edge.settings_base import Strict


class DecodeSettings(Strict):
    max_megapixels: float = Field(gt=0)
