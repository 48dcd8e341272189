"""Settings of the sinks: the station's MQTT broker, Home Assistant discovery and the upstream
sinks; reading a broker's URL and password."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from edge.config_files import ConfigError
from edge.settings_base import Strict


class BrokerSettings(Strict):
    """How to reach an MQTT broker (the station's own, or an upstream one)."""

    url: str
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value


def _check_topic(value: str) -> str:
    # a wildcard or a '$' topic is refused by the broker only when published to, which would stop
    # the MQTT connection long after start-up: refuse it here instead
    if any(c in value for c in "#+\0") or value.startswith(("/", "$")) or value.endswith("/"):
        raise ValueError("topic must not contain '#', '+' or NUL, start with '$' or '/', nor end with '/'")
    return value


# a topic or the start of one, as written in the configuration
Topic = Annotated[str, Field(min_length=1), AfterValidator(_check_topic)]


class HomeAssistantSettings(Strict):
    enabled: bool
    discovery_prefix: Topic


class MqttSettings(BrokerSettings):
    enabled: bool
    topic_prefix: Topic
    # Alerts older than this are not worth a photographer's attention: not sent after an outage.
    alert_expiry_s: int | None = Field(ge=1)
    homeassistant: HomeAssistantSettings


class MqttUpstream(Strict):
    type: Literal["mqtt"]
    name: str | None = None
    topic: Topic
    # None: the station's own broker (mqtt:)
    broker: BrokerSettings | None = None


class HttpUpstream(Strict):
    type: Literal["http"]
    name: str | None = None
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=10.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    ca_file: str | None = None
    # A bearer token read from this environment variable, never written inline.
    token_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class DirectoryUpstream(Strict):
    type: Literal["directory"]
    name: str | None = None
    path: str
    copy_frame: bool = True


UpstreamSettings = Annotated[MqttUpstream | HttpUpstream | DirectoryUpstream, Field(discriminator="type")]


def upstream_name(index: int, sink: MqttUpstream | HttpUpstream | DirectoryUpstream) -> str:
    """The sink's outbox name: keep it stable, or its undelivered messages are orphaned."""
    return f"upstream:{sink.name or f'{sink.type}-{index}'}"


# the password part of `scheme://user:password@host`
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:'\"]*:)[^/@\s'\"]*@")


def mask_password(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***: for messages and logs."""
    return _URL_PASSWORD.sub(r"\1***@", text)


class MqttTarget(BaseModel):
    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = Field(default=None, repr=False)


def parse_mqtt_url(url: str) -> MqttTarget:
    """`mqtt://[user:pass@]host[:port]` or `mqtts://...`; port defaults to 1883 / 8883."""
    parts = urlsplit(url)
    url = mask_password(url)  # from here on only for messages
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} names no host")
    if parts.path not in ("", "/"):
        raise ValueError(f"MQTT URL {url!r} must not have a path")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname, port=port or (8883 if tls else 1883), tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None)


def resolve_mqtt_password(settings: BrokerSettings) -> str | None:
    """From the named environment variable, the named file, or a systemd credential."""
    if settings.password_env:
        value = os.environ.get(settings.password_env)
        if value is None:
            raise ConfigError(f"mqtt.password_env: environment variable {settings.password_env} is not set")
        return value
    if settings.password_file:
        try:
            return Path(settings.password_file).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"mqtt.password_file: cannot read {settings.password_file}: "
                              f"{exc.strerror or exc}") from None
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / "mqtt_password").is_file():
        return (Path(cred_dir) / "mqtt_password").read_text().strip()
    return None
