"""Operator overrides: over MQTT command topics and from the station screen, recorded in the journal,
published, forwarded upstream, counted, and reported."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import Settings
from edge.journal import OutboxMessage
from edge.overrides import OverrideError, decode_command, request_from
from edge.sinks.http import message_id
from tests.broker import Broker
from tests.conftest import Running, Subscriber, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically
from tests.station.test_metrics import parse_exposition, sample

GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))


def publish(port: int, topic: str, payload: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def override_rows(state_dir: Path) -> list[tuple[str, str, str, str | None, str]]:
    with sqlite3.connect(state_dir / "journal.sqlite3") as db:
        return db.execute("SELECT verdict_id, action, checks, note, source FROM overrides ORDER BY at").fetchall()


def post(url: str, body: Any, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + "/override", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_mqtt_command_accepts_a_frame_anyway(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], verdict_schema: Callable[[dict[str, Any]], None],
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    share = tmp_path / "share"
    share.mkdir()
    settings = station(station="ov-1", http={"enabled": True, "listen": "127.0.0.1:0"},
                       mqtt={"enabled": True, "url": broker.url, "client_id": "ov-1"},
                       upstream=[{"type": "directory", "name": "share", "path": str(share)}])
    sub = subscriber_factory(broker.port, ["specimen-edge/ov-1/#"])
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: sub.json_on("/alert"), 15)
    verdict = sub.json_on("/alert")[0]
    assert r.daemon.state()["retake_needed"] is True

    publish(broker.port, "specimen-edge/ov-1/set/accept",
            json.dumps({"verdict_id": verdict["id"], "note": "the chart is there, under the label"}))
    assert wait_for(lambda: sub.json_on("/override"), 10), "no override message"
    override = sub.json_on("/override")[0]
    assert override["schema"] == "specimen-edge/override/1" and override["verdict_id"] == verdict["id"]
    assert override["action"] == "accept" and override["checks"] == ["colour_chart"]
    assert override["note"] == "the chart is there, under the label" and override["source"] == "mqtt"
    assert override["original_verdict"] == "retake"
    verdict_schema(override["verdict"])
    state_dir = Path(settings.state_dir)
    assert override_rows(state_dir) == [(verdict["id"], "accept", '["colour_chart"]',
                                         "the chart is there, under the label", "mqtt")]
    # the pending retake is over, and the state says which check was overridden
    assert wait_for(lambda: any(not s["retake_needed"] and s["overrides"] == {"colour_chart": {"accept": 1}}
                                for s in sub.json_on("/state")), 10)
    assert r.daemon.state()["last"]["overrides"] == ["accept"]
    # forwarded upstream: the frame accepted anyway, with the operator's answer beside it
    sidecars = wait_for(lambda: list(share.glob("nochart.override-*.json")), 10)
    assert len(sidecars) == 1 and json.loads(sidecars[0].read_text())["id"] == override["id"]
    assert (share / "nochart.jpg").read_bytes() == NO_CHART
    metrics = parse_exposition(urllib.request.urlopen(r.daemon.station_server.url + "/metrics",  # type: ignore
                                                      timeout=10).read().decode())
    assert sample(metrics, "specimen_edge_overrides_total", action="accept", check="colour_chart") == 1

    # a repeated command changes nothing; a command naming no known verdict is refused in the log
    caplog.set_level(logging.INFO, logger="edge.daemon")
    publish(broker.port, "specimen-edge/ov-1/set/accept", verdict["id"])
    publish(broker.port, "specimen-edge/ov-1/set/wrong", json.dumps({"verdict_id": "no-such-verdict"}))
    assert wait_for(lambda: "refused" in caplog.text and "already" in caplog.text, 10), caplog.text
    assert len(sub.json_on("/override")) == 1 and len(override_rows(state_dir)) == 1


def test_the_screen_marks_a_verdict_wrong_and_the_report_ranks_the_checks(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station(http={"enabled": True, "listen": "127.0.0.1:0"})
    r = run_daemon(settings)
    hot = Path(settings.watch.folder)
    for name, data in (("good.jpg", GOOD), ("nochart-1.jpg", NO_CHART), ("nochart-2.jpg", NO_CHART)):
        write_atomically(hot / name, data)
    assert wait_for(lambda: sum(r.daemon.counters.frames.values()) == 3, 20)
    server = r.daemon.station_server
    assert server is not None
    ids = {item["file"]: item["id"] for item in server.state_document()["history"]}

    assert post(server.url, {"action": "wrong", "verdict_id": ids["good.jpg"], "checks": ["blur"],
                             "note": "label soft at the left"})[0] == 200
    assert post(server.url, {"action": "accept", "verdict_id": ids["nochart-1.jpg"]})[0] == 200
    assert post(server.url, {"action": "accept", "verdict_id": ids["nochart-1.jpg"]})[0] == 409
    assert post(server.url, {"action": "accept", "verdict_id": ids["good.jpg"]})[0] == 400  # accepted already
    assert post(server.url, {"action": "accept", "verdict_id": "0" * 36})[0] == 404
    assert post(server.url, {"action": "accept", "verdict_id": ids["nochart-2.jpg"]}, "text/plain")[0] == 403
    history = {item["file"]: item for item in server.state_document()["history"]}
    assert [o["action"] for o in history["good.jpg"]["overrides"]] == ["wrong"]
    assert history["good.jpg"]["overrides"][0]["note"] == "label soft at the left"
    assert [o["action"] for o in history["nochart-1.jpg"]["overrides"]] == ["accept"]
    assert history["nochart-2.jpg"]["overrides"] == []
    assert r.daemon.state()["overrides"] == {"blur": {"wrong": 1}, "colour_chart": {"accept": 1}}
    r.stop()

    out = subprocess.run([sys.executable, "-m", "edge", "report", "--state-dir", settings.state_dir],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0].split() == ["check", "failed", "accepted", "anyway", "marked", "wrong", "overridden"]
    assert out[1].split() == ["colour_chart", "2", "1", "0", "50", "%"]  # overridden most: first
    assert out[2].split() == ["blur", "0", "0", "1", "-"]
    rows = json.loads(subprocess.run([sys.executable, "-m", "edge", "report", "--state-dir", settings.state_dir,
                                      "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    assert rows[0] == {"check": "colour_chart", "failed": 2, "accepted_anyway": 1, "marked_wrong": 0,
                       "share_overridden": 0.5}


def test_override_requests_are_checked() -> None:
    assert decode_command("accept", b" 1234 ").verdict_id == "1234"
    request = decode_command("wrong", b'{"verdict_id": "v", "note": "  ", "checks": ["blur"]}')
    assert request.note is None and request.checks == ("blur",) and request.source == "mqtt"
    for action, body, words in (("delete", {"verdict_id": "v"}, "unknown action"),
                                ("accept", {}, "verdict_id"),
                                ("accept", {"verdict_id": "v", "extra": 1}, "unknown field"),
                                ("accept", {"verdict_id": "v", "note": "x" * 501}, "at most"),
                                ("accept", {"verdict_id": "v", "checks": "blur"}, "list")):
        with pytest.raises(OverrideError, match=words):
            request_from(action, body, "screen")


def test_an_http_upstream_keys_each_message_by_its_own_id() -> None:
    accepted = OutboxMessage(1, "upstream:p", "v-1", "http", b'{"schema":"specimen-edge/accepted/1","id":"v-1"}',
                             1, False, None)
    override = OutboxMessage(2, "upstream:p", "v-1", "http", b'{"schema":"specimen-edge/override/1","id":"o-9"}',
                             1, False, None)
    assert message_id(accepted) == "v-1"
    assert message_id(override) == "o-9"  # not the verdict's: the server would drop it as a repeat
