"""Home Assistant MQTT discovery: a line controller gets a dashboard without writing code.

Three entities per station, all read from the retained `state` topic. The station's `status`
topic keeps its own words (`online`, `stopped`, `offline`); an availability template maps every
word but `online` to `offline`, so after a clean stop Home Assistant shows the entities as
unavailable instead of keeping a stale "retake needed".
"""

from __future__ import annotations

import json
import re

from edge import __version__
from edge.sinks.topics import topic

# Home Assistant compares what this renders with payload_available / payload_not_available.
AVAILABILITY_TEMPLATE = "{{ 'online' if value == 'online' else 'offline' }}"
# The last frame's file and first reason, as entity attributes (a JSON object, as Home Assistant requires).
LAST_FRAME_ATTRIBUTES_TEMPLATE = (
    "{% set last = value_json.last or {} %}"
    "{{ {'last_file': last.file | default(none), 'last_verdict': last.verdict | default(none), "
    "'last_reason': (last.reasons or [none])[0], 'last_reasons': last.reasons or []} | tojson }}")


def node_id(station: str) -> str:
    return "specimen_edge_" + re.sub(r"[^a-zA-Z0-9_]", "_", station)


def discovery_messages(discovery_prefix: str, topic_prefix: str, station: str,
                       configuration_url: str | None = None) -> list[tuple[str, bytes]]:
    """(topic, retained payload) of each entity's discovery config. `configuration_url`: the
    station screen, linked from the device page."""
    node = node_id(station)
    state_topic = topic(topic_prefix, station, "state")
    device: dict[str, object] = {"identifiers": [node], "name": f"specimen-edge {station}",
                                 "manufacturer": "specimen-edge", "model": "digitisation quality control",
                                 "sw_version": __version__}
    if configuration_url:
        device["configuration_url"] = configuration_url
    common = {
        "state_topic": state_topic,
        "availability_topic": topic(topic_prefix, station, "status"),
        "availability_template": AVAILABILITY_TEMPLATE,
        "payload_available": "online",
        "payload_not_available": "offline",
        "json_attributes_topic": state_topic,
        "json_attributes_template": LAST_FRAME_ATTRIBUTES_TEMPLATE,
        "device": device,
    }
    entities = [
        ("binary_sensor", "retake_needed", {
            "name": "Retake needed", "device_class": "problem",
            "value_template": "{{ 'ON' if value_json.retake_needed else 'OFF' }}"}),
        ("sensor", "frames_per_hour", {
            "name": "Frames per hour", "unit_of_measurement": "frames/h", "state_class": "measurement",
            "value_template": "{{ value_json.frames_per_hour }}"}),
        ("sensor", "retake_rate", {
            "name": "Retake rate", "unit_of_measurement": "%", "state_class": "measurement",
            "value_template": "{{ value_json.retake_rate_percent }}"}),
    ]
    out = []
    for component, object_id, fields in entities:
        # default_entity_id (domain.object id) replaces object_id, which Home Assistant no longer accepts
        config = {**common, **fields, "unique_id": f"{node}_{object_id}",
                  "default_entity_id": f"{component}.{node}_{object_id}"}
        out.append((f"{discovery_prefix}/{component}/{node}/{object_id}/config",
                    json.dumps(config, separators=(",", ":")).encode()))
    return out
