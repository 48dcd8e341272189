"""Station configuration: YAML in, validated settings out.

The station file is merged over the built-in defaults (configs/default.yaml) and then
validated strictly: an unknown key, a wrong type or a missing folder is an error naming the
file, the key and what was expected. YAML 1.1 quirks are switched off: `on`/`no`/`yes` stay
strings, `0755` and `22:30` stay strings, and only `true`/`false` are booleans.
"""

from __future__ import annotations

import io
import os
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from edge.classes import CLASS_NAMES
from edge.qc.settings import ProfileSettings
from edge.settings_base import Strict as _Strict


class ConfigError(Exception):
    """A configuration problem a person must fix; the message says where and what."""


class _StrictLoader(yaml.SafeLoader):
    """safe_load with YAML 1.2-like scalars, so nothing silently turns into a bool or a number."""


_StrictLoader.yaml_implicit_resolvers = {}
for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    kept = [(tag, rx) for tag, rx in _resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    _StrictLoader.yaml_implicit_resolvers[_first] = kept
_BOOL = re.compile(r"^(?:true|false)$")
# Decimal ints only: no leading zeros (octal), no colons (base 60), no underscores.
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
                    r"|^[-+]?(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+$")
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tf"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _scalar(loader: Any, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor("tag:yaml.org,2002:bool", lambda loader, node: _scalar(loader, node) == "true")
_StrictLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(_scalar(loader, node)))
_StrictLoader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: float(_scalar(loader, node)))


def parse_yaml(text: str, name: str | None = None) -> Any:
    """`name` (the file) is what a syntax error names, instead of "<unicode string>"."""
    stream = io.StringIO(text)
    stream.name = name or "<configuration>"
    return yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


class WatchSettings(_Strict):
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


class DecodeSettings(_Strict):
    max_megapixels: float = Field(gt=0)


# per-class settings of the segmenter: what each value is, and its bounds
_PER_CLASS_BOUNDS = {"region_join_gap": ("gap", 0, 32, " map pixels"), "min_region_score_by_class": ("score", 0, 1, "")}


class SegmenterSettings(_Strict):
    # auto: TensorRT where it imports and a GPU exists, else ONNX Runtime
    backend: Literal["onnxruntime", "tensorrt", "auto"]
    model: str | None
    threads: int = Field(ge=1, le=64)
    min_region_fraction: float = Field(ge=0, lt=1)
    # parts whose mean class probability is below this are dropped: the network was unsure
    min_region_score: float = Field(default=0.0, ge=0, le=1)
    # per class, replacing min_region_score for that class
    min_region_score_by_class: dict[str, float] = Field(default_factory=dict)
    # per class: parts closer than this many output-map pixels (4 canvas pixels each) are one object
    region_join_gap: dict[str, int] = Field(default_factory=dict)

    @field_validator("region_join_gap", "min_region_score_by_class")
    @classmethod
    def _per_class(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        what, low, high, unit = _PER_CLASS_BOUNDS[str(info.field_name)]
        for name, v in value.items():
            if name not in CLASS_NAMES[1:]:
                raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASS_NAMES[1:])}")
            if not low <= v <= high:
                raise ValueError(f"{name}: {what} {v} must be between {low} and {high}{unit}")
        return value
    # ONNX Runtime execution provider; auto takes CUDA when onnxruntime-gpu offers it
    onnxruntime_provider: Literal["auto", "cpu", "cuda"] = "auto"
    # CUDA device index, for TensorRT and ONNX Runtime's CUDA provider alike
    gpu: int = Field(default=0, ge=0)
    # TensorRT engine precision; fp16 on TensorRT 11 needs the model's float16 ONNX
    precision: Literal["fp32", "fp16"] = "fp32"
    # null: $CACHE_DIRECTORY/engines under systemd, else ~/.cache/specimen-edge/engines
    engine_dir: str | None = None
    # build the engine at start-up when it is missing or was built for another setup
    rebuild_engine: bool = False
    workspace_gib: float = Field(default=2.0, gt=0, le=256)
    # auto: pycuda when it imports, else cuda-python (cuda.bindings)
    cuda_library: Literal["auto", "pycuda", "cuda-python"] = "auto"


class BrokerSettings(_Strict):
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


def _check_topic_prefix(value: str) -> str:
    # a wildcard or a '$' topic is refused by the broker only when published to, which would stop
    # the MQTT connection long after start-up: refuse it here instead
    if any(c in value for c in "#+\0") or value.startswith(("/", "$")) or value.endswith("/"):
        raise ValueError("topic must not contain '#', '+' or NUL, start with '$' or '/', nor end with '/'")
    return value


class HomeAssistantSettings(_Strict):
    enabled: bool
    discovery_prefix: str = Field(min_length=1)

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_topic_prefix(value)


class MqttSettings(BrokerSettings):
    enabled: bool
    topic_prefix: str = Field(min_length=1)
    # Alerts older than this are not worth a photographer's attention: not sent after an outage.
    alert_expiry_s: int | None = Field(ge=1)
    homeassistant: HomeAssistantSettings

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_topic_prefix(value)


class MqttUpstream(_Strict):
    type: Literal["mqtt"]
    name: str | None = None
    topic: str = Field(min_length=1)
    # None: the station's own broker (mqtt:)
    broker: BrokerSettings | None = None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return _check_topic_prefix(value)


class HttpUpstream(_Strict):
    type: Literal["http"]
    name: str | None = None
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=10.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    ca_file: str | None = None
    # A bearer token read from this environment variable, never written inline.
    token_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class DirectoryUpstream(_Strict):
    type: Literal["directory"]
    name: str | None = None
    path: str
    copy_frame: bool = True


UpstreamSettings = Annotated[MqttUpstream | HttpUpstream | DirectoryUpstream, Field(discriminator="type")]


def upstream_name(index: int, sink: MqttUpstream | HttpUpstream | DirectoryUpstream) -> str:
    """The sink's outbox name: keep it stable, or its undelivered messages are orphaned."""
    return f"upstream:{sink.name or f'{sink.type}-{index}'}"


class CropSettings(_Strict):
    enabled: bool
    classes: list[str]
    jpeg_quality: int = Field(ge=50, le=100)


class OutboxSettings(_Strict):
    keep_delivered_s: float = Field(gt=0)


class HttpSettings(_Strict):
    """The station screen and /metrics."""

    enabled: bool
    # host:port; loopback by default: the screen beside the camera needs nothing more
    listen: str = Field(pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")

    @field_validator("listen")
    @classmethod
    def _port(cls, value: str) -> str:
        if int(value.rpartition(":")[2]) > 65535:
            raise ValueError("port must be between 0 and 65535")
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class QueueSettings(_Strict):
    frames: int = Field(ge=1, le=100_000)


class Settings(_Strict):
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


def default_config_text() -> str:
    return _packaged_file("configs", "default.yaml").read_text()


def _packaged_file(folder: str, name: str) -> Path:
    """A file shipped with the package (installed) or beside it in a source checkout."""
    try:
        candidate = Path(str(resources.files(f"edge.{folder}").joinpath(name)))
        if candidate.is_file():
            return candidate
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / folder / name


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


# the password part of `scheme://user:password@host`
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:'\"]*:)[^/@\s'\"]*@")


def mask_password(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***: for messages and logs."""
    return _URL_PASSWORD.sub(r"\1***@", text)


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
    return settings


def require_watch_folder(settings: Settings) -> Path:
    folder = Path(settings.watch.folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"watch.folder: the hot folder {str(folder)!r} does not exist or is not a folder")
    return folder.resolve()


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
