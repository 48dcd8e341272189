from __future__ import annotations

import pytest

from edge.config import load_settings
from edge.qc.settings import ProfileSettings


@pytest.fixture(scope="session")
def herbarium() -> ProfileSettings:
    return load_settings(None).profiles["herbarium_sheet"]
