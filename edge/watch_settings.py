"""Settings of the intake: the hot folder that is watched, and the queue of frames waiting to be judged."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from edge.config_files import ConfigError
from edge.settings_base import Strict


class WatchSettings(Strict):
    folder: str
    recursive: bool
    polling: bool
    poll_interval_s: float = Field(gt=0)
    stable_for_s: float = Field(ge=0)
    reconcile_interval_s: float = Field(gt=0)
    extensions: list[str]
    ignore_dirs: list[str]

    @field_validator("extensions")
    @classmethod
    def _lower_dotted(cls, value: list[str]) -> list[str]:
        for ext in value:
            if not ext.startswith("."):
                raise ValueError(f"extension {ext!r} must start with a dot, e.g. '.jpg'")
        return [ext.lower() for ext in value]


class QueueSettings(Strict):
    frames: int = Field(ge=1, le=100_000)


def require_watch_folder(watch: WatchSettings) -> Path:
    folder = Path(watch.folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"watch.folder: the hot folder {str(folder)!r} does not exist or is not a folder")
    return folder.resolve()
