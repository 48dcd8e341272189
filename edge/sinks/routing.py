"""The station's sinks, and the messages a verdict or an operator override puts in their outbox.

Every sink is built before any starts, so configuration errors surface first. A verdict goes to
verdicts.jsonl and the station's MQTT topics (an alert too when it is not an accept); an accepted
frame also goes upstream as the accepted-result document, with its label crops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import Settings
from edge.journal import Journal, NewMessage
from edge.sinks import jsonl, mqtt
from edge.sinks.base import OutboxSink
from edge.sinks.directory import DirectorySink
from edge.sinks.homeassistant import discovery_messages
from edge.sinks.http import HttpSink
from edge.sinks.settings import (
    BrokerSettings,
    DirectoryUpstream,
    HttpUpstream,
    MqttTarget,
    MqttUpstream,
    parse_mqtt_url,
    resolve_mqtt_password,
    upstream_name,
)
from edge.sinks.topics import topic
from edge.verdict import Verdict

ACCEPTED_SCHEMA = "specimen-edge/accepted/1"


@dataclass
class StationSinks:
    sinks: list[OutboxSink | mqtt.MqttPublisher] = field(default_factory=list)
    # the station's own MQTT connection (status, state, commands), when MQTT is enabled
    publisher: mqtt.MqttPublisher | None = None


def _broker(broker: BrokerSettings) -> tuple[MqttTarget, str | None]:
    return parse_mqtt_url(broker.url), resolve_mqtt_password(broker)


def build_sinks(settings: Settings, state_dir: Path, journal: Journal, *,
                state_provider: Callable[[], dict[str, Any]], on_command: Callable[[str, bytes], None],
                screen_link: Callable[[], str | None]) -> StationSinks:
    """`screen_link`: the station screen's address for Home Assistant, asked for on every connect."""
    station = settings.station
    built = StationSinks([jsonl.JsonLinesSink(journal, state_dir / "verdicts.jsonl")])
    cfg = settings.mqtt
    if cfg.enabled:
        target, password = _broker(cfg)
        prefix = cfg.topic_prefix
        discovery = (lambda: discovery_messages(cfg.homeassistant.discovery_prefix, prefix, station,
                                                screen_link())) if cfg.homeassistant.enabled else None
        built.publisher = mqtt.MqttPublisher(
            mqtt.SINK, cfg, target, password, cfg.client_id or f"specimen-edge-{station}", journal,
            status_topic=topic(prefix, station, "status"), state_topic=topic(prefix, station, "state"),
            state_provider=state_provider, retained_on_connect=discovery,
            command_topic=topic(prefix, station, "set/+"), on_command=on_command)
        built.sinks.append(built.publisher)
    for index, up in enumerate(settings.upstream):
        name = upstream_name(index, up)
        if isinstance(up, MqttUpstream):
            broker = up.broker or cfg
            target, password = _broker(broker)
            client_id = (broker.client_id or f"specimen-edge-{station}") + f"-{name.split(':', 1)[1]}"
            built.sinks.append(mqtt.MqttPublisher(name, broker, target, password, client_id, journal))
        elif isinstance(up, HttpUpstream):
            built.sinks.append(HttpSink(journal, name, up))
        elif isinstance(up, DirectoryUpstream):
            built.sinks.append(DirectorySink(journal, name, up))
    return built


def _upstream_messages(settings: Settings, payload: bytes) -> list[NewMessage]:
    return [NewMessage(upstream_name(index, up), up.topic if isinstance(up, MqttUpstream) else up.type, payload)
            for index, up in enumerate(settings.upstream)]


def verdict_messages(settings: Settings, verdict: Verdict, crops: list[dict[str, Any]]) -> list[NewMessage]:
    payload = json.dumps(verdict, separators=(",", ":")).encode()
    messages = [NewMessage(jsonl.SINK, "verdicts.jsonl", payload)]
    cfg = settings.mqtt
    if cfg.enabled:
        prefix, station = cfg.topic_prefix, settings.station
        if verdict["verdict"] != "accept":
            messages.append(NewMessage(mqtt.SINK, topic(prefix, station, "alert"), payload,
                                       ttl_s=cfg.alert_expiry_s))
        messages.append(NewMessage(mqtt.SINK, topic(prefix, station, "verdict"), payload))
    if verdict["verdict"] == "accept" and settings.upstream:
        accepted = json.dumps({
            "schema": ACCEPTED_SCHEMA, "id": verdict["id"], "station": verdict["station"],
            "file": verdict["file"], "sha256": verdict["sha256"], "barcodes": verdict["barcodes"],
            "crops": crops, "verdict": verdict}, separators=(",", ":")).encode()
        messages += _upstream_messages(settings, accepted)
    return messages


def override_messages(settings: Settings, override: dict[str, Any]) -> list[NewMessage]:
    payload = json.dumps(override, separators=(",", ":")).encode()
    messages = []
    cfg = settings.mqtt
    if cfg.enabled:
        messages.append(NewMessage(mqtt.SINK, topic(cfg.topic_prefix, settings.station, "override"), payload))
    return messages + _upstream_messages(settings, payload)
