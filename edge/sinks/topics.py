"""The station's MQTT topics: `<prefix>/<station>/<leaf>`, one spelling for every part that names them."""

from __future__ import annotations


def topic(prefix: str, station: str, leaf: str) -> str:
    return f"{prefix}/{station}/{leaf}"
