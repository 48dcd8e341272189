"""Settings of the journal's outbox."""

from __future__ import annotations

from pydantic import Field

from edge.settings_base import Strict


class OutboxSettings(Strict):
    keep_delivered_s: float = Field(gt=0)
