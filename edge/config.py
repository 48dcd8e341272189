"""Station configuration: YAML in, validated settings out.

The station file is merged over the built-in defaults (configs/default.yaml) and then
validated strictly: an unknown key, a wrong type or a missing folder is an error naming the
file, the key and what was expected. Each part's settings live beside the code they configure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import Field, ValidationError, field_validator

from edge.config_files import ConfigError, default_config_text, parse_yaml
from edge.crop_settings import CropSettings
from edge.decode_settings import DecodeSettings
from edge.journal_settings import OutboxSettings
from edge.qc.settings import ProfileSettings
from edge.segmentation.model_card import bundled_model_names, bundled_model_path
from edge.segmentation.settings import SegmenterSettings
from edge.settings_base import Strict
from edge.sinks.settings import MqttSettings, UpstreamSettings, mask_password, upstream_name
from edge.station.settings import HttpSettings
from edge.watch_settings import QueueSettings, WatchSettings


class Settings(Strict):
    config_version: Literal[1]
    station: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    profile: str
    watch: WatchSettings
    state_dir: str
    decode: DecodeSettings
    segmenter: SegmenterSettings
    mqtt: MqttSettings
    http: HttpSettings
    queues: QueueSettings
    outbox: OutboxSettings
    upstream: list[UpstreamSettings]
    crops: CropSettings
    profiles: dict[str, ProfileSettings]

    @field_validator("upstream")
    @classmethod
    def _unique_names(cls, value: list[Any]) -> list[Any]:
        names = [upstream_name(i, sink) for i, sink in enumerate(value)]
        if len(set(names)) != len(names):
            raise ValueError("upstream sinks need distinct names (set name: on each)")
        return value

    @property
    def active_profile(self) -> ProfileSettings:
        return self.profiles[self.profile]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _has_path(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _has_password(url: Any) -> bool:
    try:
        return isinstance(url, str) and urlsplit(url).password is not None
    except ValueError:
        return False


def _inline_passwords(data: dict[str, Any]) -> list[str]:
    """Keys of a configuration file that carry a broker password inside their URL."""
    keys = []
    mqtt = data.get("mqtt")
    if isinstance(mqtt, dict) and _has_password(mqtt.get("url")):
        keys.append("mqtt.url")
    upstream = data.get("upstream")
    for index, sink in enumerate(upstream if isinstance(upstream, list) else []):
        broker = sink.get("broker") if isinstance(sink, dict) else None
        if isinstance(broker, dict) and _has_password(broker.get("url")):
            keys.append(f"upstream.{index}.broker.url")
    return keys


def _describe(errors: list[Any], sources: list[tuple[str, dict[str, Any]]]) -> str:
    lines = []
    for err in errors:
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        origin = next((name for name, data in reversed(sources) if _has_path(data, loc)), sources[-1][0])
        expected = err["msg"]
        if err["type"] == "extra_forbidden":
            expected = "unknown key (check the spelling; see configs/default.yaml)"
        got = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {err['input']!r})"
        lines.append(mask_password(f"{origin}: {key}: {expected}{got}"))
    return "\n".join(lines)


def load_settings(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults, then the station file, then command-line overrides; validated together."""
    sources: list[tuple[str, dict[str, Any]]] = [("built-in defaults", parse_yaml(default_config_text()))]
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read configuration: {exc.strerror or exc}") from exc
        try:
            data = parse_yaml(text, str(p))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a mapping of settings at the top level")
        for key in _inline_passwords(data):
            # a file is copied, backed up and shown around; the command line is not kept
            raise ConfigError(f"{p}: {key}: a password must not be written in the configuration file; "
                              "set mqtt.password_env, mqtt.password_file or a systemd credential "
                              "(LoadCredential=mqtt_password) instead")
        sources.append((str(p), data))
    if overrides:
        sources.append(("command line", overrides))
    merged: dict[str, Any] = {}
    for _, data in sources:
        merged = _merge(merged, data)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors(), sources)) from None
    if settings.profile not in settings.profiles:
        origin = next((n for n, d in reversed(sources) if "profile" in d), sources[-1][0])
        raise ConfigError(f"{origin}: profile: unknown profile {settings.profile!r}; expected one of "
                          + ", ".join(sorted(settings.profiles)))
    _check_profile_models(settings, sources)
    return settings


def _check_profile_models(settings: Settings, sources: list[tuple[str, dict[str, Any]]]) -> None:
    """A profile's bundled model must be one the package ships (checked for every profile, so a
    mistyped name is found before a station switches to that profile)."""
    for name, profile in settings.profiles.items():
        wanted = profile.segmenter_model
        if wanted is None or bundled_model_path(wanted).is_file():
            continue
        loc = ("profiles", name, "segmenter_model")
        origin = next((n for n, d in reversed(sources) if _has_path(d, loc)), sources[-1][0])
        raise ConfigError(f"{origin}: profiles.{name}.segmenter_model: no bundled model {wanted!r}; the package "
                          "ships " + ", ".join(bundled_model_names()))
