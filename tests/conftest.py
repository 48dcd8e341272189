"""Shared fixtures: a real mosquitto broker on loopback, the toy ONNX model, station settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import Settings, load_settings
from edge.daemon import Daemon
from tests.broker import Broker
from tests.toy_model import build_toy_model

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "edge" / "contracts" / "verdict.schema.json"


def jsonl_verdicts(state_dir: Path) -> list[dict[str, Any]]:
    """The verdicts a daemon wrote to its state folder's verdicts.jsonl, in order."""
    p = state_dir / "verdicts.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


class Subscriber:
    """Collects messages from a real broker connection."""

    def __init__(self, port: int, topics: list[str], session: str | None = None, tls_ca: str | None = None) -> None:
        """With `session`, a persistent MQTT 5 session: the broker queues messages while we are away."""
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=session or "", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca)
        props = None
        if session:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=session is None, properties=props)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscription not confirmed"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def on(self, suffix: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def json_on(self, suffix: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.on(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(port: int, topics: list[str], **kw: Any) -> Subscriber:
        s = Subscriber(port, topics, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def toy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_toy_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def verdict_schema() -> Callable[[dict[str, Any]], None]:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)

    def validate(verdict: dict[str, Any]) -> None:
        validator.validate(verdict)

    return validate


@pytest.fixture
def station(tmp_path: Path, toy_model: Path) -> Callable[..., Settings]:
    """Settings for a station in tmp_path, with the toy model and fast intake timings."""
    hot = tmp_path / "hot"
    hot.mkdir(exist_ok=True)

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "station": "test-1",
            "watch": {"folder": str(hot), "stable_for_s": 0.4, "reconcile_interval_s": 2.0, "poll_interval_s": 0.2},
            "state_dir": str(tmp_path / "state"),
            "segmenter": {"model": str(toy_model), "threads": 1},
            "mqtt": {"enabled": False},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return load_settings(None, base)

    return make


class Running:
    def __init__(self, settings: Settings) -> None:
        self.daemon = Daemon(settings)
        self.daemon.start()
        self.thread = threading.Thread(target=self.daemon.work, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.daemon.stop_requested.set()
        self.thread.join(timeout=10)
        self.daemon.shutdown()


RunningKind = TypeVar("RunningKind", bound=Running)


def daemons_stopped_after(kind: type[RunningKind]) -> Iterator[Callable[[Settings], RunningKind]]:
    """A fixture's body: a function that starts daemons of `kind`, each stopped when the test ends."""
    started: list[RunningKind] = []

    def start(settings: Settings) -> RunningKind:
        running = kind(settings)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


@pytest.fixture
def run_daemon() -> Iterator[Callable[[Settings], Running]]:
    yield from daemons_stopped_after(Running)
