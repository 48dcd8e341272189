"""Home Assistant MQTT discovery: a line controller gets a dashboard without writing code.

Three entities per station, all read from the retained `state` topic and available while the
station's `status` is `online`.
"""

from __future__ import annotations

import json
import re


def discovery_messages(discovery_prefix: str, topic_prefix: str, station: str) -> list[tuple[str, bytes]]:
    node = "specimen_edge_" + re.sub(r"[^a-zA-Z0-9_]", "_", station)
    state_topic = f"{topic_prefix}/{station}/state"
    common = {
        "state_topic": state_topic,
        "availability_topic": f"{topic_prefix}/{station}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": [node], "name": f"specimen-edge {station}", "manufacturer": "specimen-edge",
                   "model": "digitisation quality control"},
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
        config = {**common, **fields, "unique_id": f"{node}_{object_id}", "object_id": f"{node}_{object_id}"}
        out.append((f"{discovery_prefix}/{component}/{node}/{object_id}/config",
                    json.dumps(config, separators=(",", ":")).encode()))
    return out
