"""Health that tells the truth: each broken part shows on /healthz, in the metrics, on the state
topic and in the systemd watchdog pings, against a real daemon, a real broker and a real socket."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import Settings
from tests.broker import Broker, free_port
from tests.conftest import Subscriber, daemons_stopped_after, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically
from tests.station.conftest import Served
from tests.station.test_metrics import parse_exposition, sample
from tests.test_systemd import NotifySocket

GOOD = jpeg_bytes(draw_sheet(400, 600))


@pytest.fixture
def watchdog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    path = str(tmp_path / "notify.sock")
    sock = NotifySocket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")  # pinged every second
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    yield sock
    sock.close()


@pytest.fixture
def start_served() -> Iterator[Callable[[Settings], Served]]:
    yield from daemons_stopped_after(Served)


def health(served: Served) -> tuple[int, dict[str, Any]]:
    status, _, body = served.get("/healthz")
    return status, json.loads(body)


def unhealthy_with(served: Served, words: str) -> bool:
    status, body = health(served)
    return status == 503 and any(words in problem for problem in body["problems"])


def ready_metric(served: Served) -> float | None:
    return sample(parse_exposition(served.get("/metrics")[2].decode()), "specimen_edge_ready")


def pings_stop(watchdog: NotifySocket) -> bool:
    """No WATCHDOG=1 for three periods after a STATUS that says unhealthy."""
    def unhealthy() -> list[float]:
        return [t for t, m in list(watchdog.messages) if m.get("STATUS", "").startswith("unhealthy")]

    if not wait_for(unhealthy, 5):
        return False
    time.sleep(3.0)
    return watchdog.keys("WATCHDOG", since=unhealthy()[0] + 0.01) == []


def state_with(sub: Subscriber, words: str) -> bool:
    return any(not s["health"]["ok"] and any(words in p for p in s["health"]["problems"])
               for s in sub.json_on("/state"))


def test_a_stopped_file_watcher_is_reported_everywhere(
        broker: Broker, station: Callable[..., Settings], start_served: Callable[[Settings], Served],
        subscriber_factory: Callable[..., Subscriber], watchdog: NotifySocket) -> None:
    settings = station(station="health-1", http={"enabled": True, "listen": "127.0.0.1:0"},
                       mqtt={"enabled": True, "url": broker.url, "client_id": "t-health-1"})
    sub = subscriber_factory(broker.port, ["specimen-edge/health-1/state"])
    served = start_served(settings)
    assert wait_for(lambda: health(served)[0] == 200, 10) and ready_metric(served) == 1
    assert wait_for(lambda: any(s["health"] == {"ok": True, "problems": []} for s in sub.json_on("/state")), 15)
    assert wait_for(lambda: watchdog.keys("WATCHDOG"), 5)
    observer = served.daemon.intake.observer  # type: ignore[union-attr]
    assert observer is not None
    for emitter in list(observer.emitters):  # the watcher's thread ends; the observer's lives on
        emitter.stop()
        emitter.join(5)
    assert wait_for(lambda: unhealthy_with(served, "file watcher has stopped"), 5), health(served)
    assert ready_metric(served) == 0
    assert wait_for(lambda: state_with(sub, "file watcher has stopped"), 15)
    assert pings_stop(watchdog)


def test_a_journal_that_cannot_be_written_is_reported(
        station: Callable[..., Settings], start_served: Callable[[Settings], Served], watchdog: NotifySocket) -> None:
    served = start_served(station(http={"enabled": True, "listen": "127.0.0.1:0"}))
    journal = served.daemon.journal
    assert journal is not None and wait_for(lambda: health(served)[0] == 200, 10)
    # the database may grow no more: SQLite answers "database or disk is full", as on a full disk
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count={pages}")
    for i in range(3):
        write_atomically(served.hot / f"frame{i}.jpg", GOOD)
    assert wait_for(lambda: unhealthy_with(served, "database or disk is full"), 15), health(served)
    assert pings_stop(watchdog)
    assert served.thread.is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_mqtt_network_thread_is_reported(
        broker: Broker, station: Callable[..., Settings], start_served: Callable[[Settings], Served],
        watchdog: NotifySocket) -> None:
    settings = station(station="health-3", http={"enabled": True, "listen": "127.0.0.1:0"},
                       mqtt={"enabled": True, "url": broker.url, "client_id": "t-health-3"})
    served = start_served(settings)
    publisher = served.daemon.publisher
    assert publisher is not None and wait_for(publisher.connected.is_set, 10)
    assert wait_for(lambda: health(served)[0] == 200, 10)

    def broken_callback(*args: Any) -> None:
        raise RuntimeError("a callback that raises ends paho's network thread")

    publisher._client.on_publish = broken_callback  # the next acknowledgement kills the thread
    write_atomically(served.hot / "frame.jpg", GOOD)
    assert wait_for(lambda: unhealthy_with(served, "MQTT network thread has stopped"), 15), health(served)
    assert ready_metric(served) == 0
    assert pings_stop(watchdog)


def test_a_broker_refusing_every_connection_is_reported_but_not_fatal(
        station: Callable[..., Settings], start_served: Callable[[Settings], Served], watchdog: NotifySocket) -> None:
    port = free_port()  # nothing listens there: every connection is refused
    settings = station(http={"enabled": True, "listen": "127.0.0.1:0"},
                       mqtt={"enabled": True, "url": f"mqtt://127.0.0.1:{port}", "client_id": "t-health-4"})
    served = start_served(settings)
    assert wait_for(lambda: unhealthy_with(served, f"127.0.0.1:{port}"), 10), health(served)
    assert ready_metric(served) == 0
    # verdicts still wait in the outbox: a restart would not help, so the watchdog is still pinged
    since = time.monotonic()
    assert wait_for(lambda: watchdog.keys("WATCHDOG", since=since), 5)
    assert any(m.get("STATUS", "").startswith("degraded") for m in watchdog.keys("STATUS", since=since))
