"""The station server's endpoints against a daemon judging real frames."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from edge.config import Settings
from edge.station import server as server_module
from tests.conftest import wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically
from tests.station.conftest import GOOD, NO_CHART, NO_CHART_REASON, Served
from tests.station.test_metrics import parse_exposition, sample

BLURRED = jpeg_bytes(draw_sheet(blur_sigma=4.0))


class EventStream:
    """Reads /events on a thread of its own and keeps every event it receives."""

    def __init__(self, url: str, last_event_id: str | None = None) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        self.connection.request("GET", "/events", headers={"Last-Event-ID": last_event_id} if last_event_id else {})
        self.response = self.connection.getresponse()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.raw: list[str] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                self.raw.append(line)
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    self.events.append((event, json.loads(data)))
                    event, data = "message", ""
        except OSError:
            pass
        self.closed.set()

    def verdicts(self) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == "verdict"]


def test_state_before_any_frame(served: Served) -> None:
    status, content_type, body = served.get("/state.json")
    assert status == 200 and content_type == "application/json"
    state = json.loads(body)
    assert state["station"] == "test-1" and state["ready"] is True and state["unhealthy"] == []
    assert state["latest"] is None and state["history"] == []
    assert state["model"]["backend"] == "onnxruntime" and len(state["model"]["sha256"]) == 64
    assert state["class_colours"]["colour_chart"].startswith("#")


def test_events_metrics_and_thumbnail_follow_a_dropped_frame(served: Served) -> None:
    stream = EventStream(served.url)
    assert stream.response.status == 200
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    wait_for(lambda: served.server._clients, 5)  # subscribed before the frame lands
    write_atomically(served.hot / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: stream.verdicts(), 15), "no verdict event"
    event = stream.verdicts()[0]
    assert event["verdict"] == "retake" and event["file"] == "nochart.jpg"
    assert event["reasons"][0]["check"] == "colour_chart"
    assert event["reasons"][0]["message"].startswith(NO_CHART_REASON)
    assert event["stats"]["frames"] == {"retake": 1}

    state = json.loads(served.get("/state.json")[2])
    assert state["latest"]["id"] == event["id"] and [h["id"] for h in state["history"]] == [event["id"]]

    status, content_type, body = served.get("/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")  # what Prometheus 2 reads
    samples = parse_exposition(body.decode())
    assert sample(samples, "specimen_edge_frames_total", verdict="retake") == 1
    assert sample(samples, "specimen_edge_frames_total", verdict="accept") == 0
    assert sample(samples, "specimen_edge_reasons_total", verdict="retake", check="colour_chart") == 1
    assert sample(samples, "specimen_edge_stage_duration_seconds_count", stage="segment") == 1
    assert sample(samples, "specimen_edge_queue_depth") == 0
    assert sample(samples, "specimen_edge_ready") == 1
    assert sample(samples, "specimen_edge_retake_needed") == 1
    info = served.daemon.pipeline.segmenter.info  # type: ignore[union-attr]
    assert sample(samples, "specimen_edge_model_info", backend="onnxruntime", sha256=info.sha256 or "") == 1
    assert sample(samples, "specimen_edge_sink_backlog", sink="jsonl") is not None

    status, content_type, body = served.get(f"/thumbnail.jpg?id={event['id']}")
    assert status == 200 and content_type == "image/jpeg"
    thumb = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert thumb is not None and thumb.shape[:2] == (1800 // 4, 1200 // 4)  # quarter-size decode, unscaled
    assert served.get("/thumbnail.jpg?id=no-such-verdict")[0] == 404

    write_atomically(served.hot / "good.jpg", GOOD)
    assert wait_for(lambda: len(stream.verdicts()) == 2, 15)
    assert stream.verdicts()[1]["verdict"] == "accept" and stream.verdicts()[1]["reasons"] == []
    samples = parse_exposition(served.get("/metrics")[2].decode())
    assert sample(samples, "specimen_edge_frames_total", verdict="accept") == 1
    assert sample(samples, "specimen_edge_retake_needed") == 0

    # a stop closes open streams at once instead of leaving them to the keep-alive timeout
    started = time.monotonic()
    served.stop()
    assert stream.closed.wait(5) and time.monotonic() - started < 8


def test_page_is_self_contained_and_other_paths_are_not_found(served: Served) -> None:
    status, content_type, body = served.get("/")
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    assert "EventSource" in page and "AudioContext" in page
    # works offline: nothing is fetched from another origin
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "external asset"
    assert "url(http" not in page and "@import" not in page
    assert served.get("/healthz")[0] == 200
    assert served.get("/nothing-here")[0] == 404


def test_idle_connections_are_bounded_and_closed_after_a_timeout(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "REQUEST_TIMEOUT_S", 1.0)
    before = threading.active_count()
    idle = [socket.create_connection(served.server.address, timeout=10) for _ in range(100)]
    try:
        time.sleep(0.5)  # the server has accepted them all by now
        assert threading.active_count() - before <= server_module.MAX_CONNECTIONS
        for connection in idle:  # each is closed by the server: at once past the limit, else on the timeout
            assert connection.recv(1) == b""
        assert wait_for(lambda: served.get("/healthz")[0] == 200, 10)
    finally:
        for connection in idle:
            connection.close()


def test_thumbnail_is_refused_for_a_frame_swapped_for_a_link(served: Served, tmp_path: Path) -> None:
    stream = EventStream(served.url)
    wait_for(lambda: served.server._clients, 5)
    write_atomically(served.hot / "kept.jpg", GOOD)
    write_atomically(served.hot / "swapped.jpg", GOOD)
    assert wait_for(lambda: len(stream.verdicts()) == 2, 15)
    ids = {event["file"]: event["id"] for event in stream.verdicts()}
    # the same size, other bytes, outside the hot folder; then the judged path becomes a link to it
    other = bytearray(GOOD)
    other[len(other) // 2] ^= 0xFF
    (tmp_path / "elsewhere.jpg").write_bytes(bytes(other))
    (served.hot / "swapped.jpg").unlink()
    (served.hot / "swapped.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    assert served.get(f"/thumbnail.jpg?id={ids['swapped.jpg']}")[0] == 404
    assert served.get(f"/thumbnail.jpg?id={ids['kept.jpg']}")[0] == 200
    # the same size in place, other bytes: not what was judged either
    (served.hot / "kept.jpg").write_bytes(bytes(other))
    served.server._thumbnails.clear()
    assert served.get(f"/thumbnail.jpg?id={ids['kept.jpg']}")[0] == 404


def test_listening_beyond_loopback_is_warned_about(
        station: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    running = Served(station(http={"enabled": True, "listen": "0.0.0.0:0"}))
    try:
        assert "reachable from other machines" in caplog.text
        assert served_status(running) == 200
    finally:
        running.stop()
    caplog.clear()
    running = Served(station(http={"enabled": True, "listen": "127.0.0.1:0"}))
    running.stop()
    assert "reachable from other machines" not in caplog.text


def served_status(running: Served) -> int:
    port = running.server.address[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return int(response.status)


def test_head_answers_like_get_without_a_body(served: Served) -> None:
    host, port = served.server.address
    for path in ("/metrics", "/", "/healthz", "/state.json", "/events"):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("HEAD", path)
        response = connection.getresponse()
        assert response.status == 200, path
        assert response.read() == b"", path
        connection.close()
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("HEAD", "/metrics")
    response = connection.getresponse()
    assert response.headers["Content-Type"].startswith("text/plain") and int(response.headers["Content-Length"]) > 0
    connection.close()


def test_a_reconnecting_screen_gets_the_verdicts_it_missed(served: Served) -> None:
    stream = EventStream(served.url)
    wait_for(lambda: served.server._clients, 5)
    write_atomically(served.hot / "first.jpg", GOOD)
    assert wait_for(lambda: stream.verdicts(), 15)
    seen = stream.verdicts()[0]["id"]
    raw = [line for line in stream.raw if line.startswith("id: ")]
    assert raw == [f"id: {seen}"], "verdict events carry their id"
    stream.connection.close()  # the screen loses its connection ...
    wait_for(lambda: not served.server._clients, 5)
    write_atomically(served.hot / "second.jpg", NO_CHART)
    write_atomically(served.hot / "third.jpg", GOOD)
    assert wait_for(lambda: len(served.server.history) == 3, 15)
    # ... and comes back, saying what it saw last, as EventSource does
    again = EventStream(served.url, last_event_id=seen)
    assert wait_for(lambda: len(again.verdicts()) == 2, 5), again.events
    assert [v["file"] for v in again.verdicts()] == ["second.jpg", "third.jpg"]
    fresh = EventStream(served.url)  # a first connection gets no replay: it reads /state.json
    time.sleep(0.5)
    assert fresh.verdicts() == []


def test_the_failing_region_is_served_pixel_for_pixel(served: Served) -> None:
    stream = EventStream(served.url)
    wait_for(lambda: served.server._clients, 5)
    write_atomically(served.hot / "blurred.jpg", BLURRED)
    assert wait_for(lambda: stream.verdicts(), 15)
    event = stream.verdicts()[0]
    failing = [region for reason in event["reasons"] for region in reason["regions"]]
    assert failing, "the toy frame's blurred label fails"
    verdict = served.server._verdicts[event["id"]]
    region = next(r for r in verdict["regions"] if r["id"] == failing[0])
    status, content_type, body = served.get(f"/crop.jpg?id={event['id']}&region={failing[0]}")
    assert status == 200 and content_type == "image/jpeg"
    crop = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    x0, y0, x1, y1 = region["bbox"]
    assert crop.shape[1] <= min(x1 - x0, 640) and crop.shape[0] <= min(y1 - y0, 640)
    assert crop.shape[1] >= min(x1 - x0, 640) - 1 and crop.shape[0] >= min(y1 - y0, 640) - 1  # not scaled down
    # the same pixels as the frame's, at the region's centre (JPEG re-encoding aside)
    frame = cv2.imdecode(np.frombuffer(BLURRED, np.uint8), cv2.IMREAD_COLOR)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    h, w = crop.shape[:2]
    original = frame[cy - h // 2:cy - h // 2 + h, cx - w // 2:cx - w // 2 + w]
    assert np.abs(original.astype(int) - crop.astype(int)).mean() < 4
    ok_region = next(r["id"] for r in verdict["regions"] if r["id"] not in failing)
    assert served.get(f"/crop.jpg?id={event['id']}&region={ok_region}")[0] == 404  # only what failed
    assert served.get(f"/crop.jpg?id={event['id']}&region=x")[0] == 404
