"""Home Assistant discovery, read the way Home Assistant's MQTT integration reads it.

The options each entity may carry are those Home Assistant documents for MQTT binary sensors and
sensors; templates are rendered with Jinja2 in a sandbox as Home Assistant renders them (`value` is
the payload, `value_json` the payload parsed as JSON), and the availability template's result is
compared with `payload_available` / `payload_not_available`, as the integration does.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge import __version__
from edge.config import Settings
from tests.broker import Broker
from tests.conftest import Running, Subscriber, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

NO_CHART = jpeg_bytes(draw_sheet(chart=False))

_COMMON_OPTIONS = {
    "availability", "availability_mode", "availability_template", "availability_topic", "default_entity_id",
    "device", "device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture",
    "expire_after", "force_update", "icon", "json_attributes_template", "json_attributes_topic", "name",
    "payload_available", "payload_not_available", "platform", "qos", "state_topic", "unique_id", "value_template",
}
DOCUMENTED_OPTIONS = {
    "binary_sensor": _COMMON_OPTIONS | {"off_delay", "payload_off", "payload_on"},
    "sensor": _COMMON_OPTIONS | {"last_reset_value_template", "options", "state_class",
                                 "suggested_display_precision", "unit_of_measurement"},
}
DEVICE_OPTIONS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
                  "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"}

_jinja = ImmutableSandboxedEnvironment()


def render(template: str, payload: bytes) -> str:
    value = payload.decode()
    try:
        value_json = json.loads(value)
    except ValueError:
        value_json = None
    return _jinja.from_string(template).render(value=value, value_json=value_json).strip()


def available(config: dict[str, Any], status_payload: bytes) -> bool | None:
    """Home Assistant's availability after this payload: True, False, or None (payload ignored)."""
    result = render(config["availability_template"], status_payload) if "availability_template" in config \
        else status_payload.decode()
    if result == config.get("payload_available", "online"):
        return True
    if result == config.get("payload_not_available", "offline"):
        return False
    return None


def test_discovery_configs_follow_home_assistant_and_a_stopped_station_is_unavailable(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    settings = station(station="ha-2", http={"enabled": True, "listen": "127.0.0.1:0"},
                       mqtt={"enabled": True, "url": broker.url, "client_id": "ha-2",
                             "homeassistant": {"enabled": True, "discovery_prefix": "homeassistant"}})
    sub = subscriber_factory(broker.port, ["homeassistant/+/specimen_edge_ha_2/+/config", "specimen-edge/ha-2/#"])
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: len(sub.on("/config")) == 3, 10)
    assert wait_for(lambda: any(s["frames"].get("retake") for s in sub.json_on("/state")), 15)
    configs = {t: json.loads(p) for t, p, _ in sub.messages if t.endswith("/config")}
    screen = r.daemon.station_server.link_url  # type: ignore[union-attr]
    for topic, config in configs.items():
        component = topic.split("/")[1]
        assert set(config) <= DOCUMENTED_OPTIONS[component], set(config) - DOCUMENTED_OPTIONS[component]
        assert "object_id" not in config
        assert re.fullmatch(rf"{component}\.[a-z0-9_]+", config["default_entity_id"])
        assert config["default_entity_id"] == f"{component}.{config['unique_id']}"
        assert set(config["device"]) <= DEVICE_OPTIONS
        assert config["device"]["sw_version"] == __version__
        assert config["device"]["configuration_url"] == screen
        assert available(config, b"online") is True
        assert available(config, b"offline") is False
    with urllib.request.urlopen(screen, timeout=10) as response:
        assert response.status == 200  # the device page's link opens the station screen

    retake = configs["homeassistant/binary_sensor/specimen_edge_ha_2/retake_needed/config"]
    state = sub.on("/state")[-1]
    assert render(retake["value_template"], state) == "ON"
    attributes = json.loads(render(retake["json_attributes_template"], state))
    assert attributes["last_file"] == "nochart.jpg" and attributes["last_verdict"] == "retake"
    assert attributes["last_reason"].startswith("Colour chart not found")

    r.stop()
    assert wait_for(lambda: sub.on("/status")[-1:] == [b"stopped"], 5)
    # the status topic keeps its word; Home Assistant reads it as unavailable
    for config in configs.values():
        assert available(config, sub.on("/status")[-1]) is False
