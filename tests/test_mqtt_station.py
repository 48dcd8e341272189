"""The station's own MQTT connection: the retained state, a clean stop, reconnecting."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import Settings
from edge.sinks import mqtt as mqtt_sink
from tests.broker import Broker
from tests.conftest import Running, Subscriber, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

NO_CHART = jpeg_bytes(draw_sheet(chart=False))


def test_state_is_published_again_only_when_it_changed(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt_sink, "STATE_CHECK_S", 0.2)  # looked at five times a second
    settings = station(station="st-1", mqtt={"enabled": True, "url": broker.url, "client_id": "st-1"})
    sub = subscriber_factory(broker.port, ["specimen-edge/st-1/state"])
    r = run_daemon(settings)
    assert wait_for(lambda: any(s["health"]["ok"] for s in sub.json_on("/state")), 10)
    published = len(sub.on("/state"))
    time.sleep(2.0)  # ten looks, nothing changed (updated_at and uptime_s move by themselves)
    assert len(sub.on("/state")) == published
    write_atomically(Path(settings.watch.folder) / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: any(s["frames"].get("retake") == 1 for s in sub.json_on("/state")), 15)
    r.stop()


def test_a_clean_stop_logs_no_reconnect_warning(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], caplog: pytest.LogCaptureFixture) -> None:
    settings = station(station="cs-1", mqtt={"enabled": True, "url": broker.url, "client_id": "cs-1"})
    sub = subscriber_factory(broker.port, ["specimen-edge/cs-1/status"])
    r = run_daemon(settings)
    assert wait_for(lambda: b"online" in sub.on("/status"), 10)
    caplog.set_level(logging.INFO, logger="edge.sinks.mqtt")
    r.stop()
    assert wait_for(lambda: sub.on("/status")[-1:] == [b"stopped"], 5)
    assert "MQTT mqtt disconnected" in caplog.text
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING], caplog.text


def test_reconnect_delays_grow_and_are_spread_at_random() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        bound = min(mqtt_sink.RECONNECT_MAX_S, 2 ** attempt)
        draws = [mqtt_sink.reconnect_delay_s(attempt, rng) for _ in range(200)]
        assert all(1 <= d <= bound for d in draws)
        if bound > 1:
            assert len(set(draws)) > 1, "every station would come back in the same second"
    late = [mqtt_sink.reconnect_delay_s(10, rng) for _ in range(200)]
    assert max(late) > 20 and min(late) < 10


def test_a_lost_broker_is_reconnected_after_a_jittered_delay(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[int] = []
    real = mqtt_sink.reconnect_delay_s

    def recorded(attempt: int, rng: random.Random | None = None) -> int:
        delays.append(real(attempt, rng))
        return delays[-1]

    monkeypatch.setattr(mqtt_sink, "reconnect_delay_s", recorded)
    (tmp_path / "b").mkdir()
    broker = Broker(tmp_path / "b")
    broker.start()
    settings = station(station="rc-1", mqtt={"enabled": True, "url": broker.url, "client_id": "rc-1"})
    r = run_daemon(settings)
    publisher = r.daemon.publisher
    assert publisher is not None and wait_for(publisher.connected.is_set, 10)
    broker.stop()
    assert wait_for(lambda: delays, 10), "the disconnect scheduled no reconnect"
    broker.start()
    try:
        assert wait_for(publisher.connected.is_set, 20), "not reconnected"
    finally:
        r.stop()
        broker.stop()
