"""Delivery under faults: broker outages, SIGKILL, failing HTTP endpoints, shares, TLS."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import Settings
from tests.broker import Broker, free_port
from tests.conftest import Running, Subscriber, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically
from tests.test_daemon import journal_rows

SMALL_GOOD = jpeg_bytes(draw_sheet(400, 600))
SMALL_BAD = jpeg_bytes(draw_sheet(400, 600, chart=False))


def journal_ids(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state / "journal.sqlite3") as db:
        return db.execute("SELECT path, verdict_id FROM frames ORDER BY id").fetchall()


def test_broker_down_for_30_s_while_200_frames_arrive(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker", persistent=True)
    broker.start()
    try:
        sub = subscriber_factory(broker.port, ["specimen-edge/outage/verdict"], session="outage-subscriber")
        settings = station(station="outage", mqtt={"enabled": True, "url": broker.url, "client_id": "outage"})
        hot, state = Path(settings.watch.folder), Path(settings.state_dir)
        r = run_daemon(settings)
        assert wait_for(lambda: r.daemon.publisher is not None and r.daemon.publisher.connected.is_set(), 10)
        broker.stop()
        down_at = time.monotonic()
        for i in range(200):
            write_atomically(hot / f"f{i:03d}.jpg", SMALL_BAD if i % 3 == 0 else SMALL_GOOD)
        assert wait_for(lambda: len(journal_rows(state)) == 200, 60)  # judging goes on without the broker
        assert r.daemon.journal is not None and r.daemon.journal.backlog("mqtt") >= 200
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
        broker.start()
        expected = journal_ids(state)
        assert wait_for(lambda: len({json.loads(p)["id"] for p in sub.on("/verdict")}) == 200, 90)
        received = sub.json_on("/verdict")
        first_seen: list[str] = []
        ids_by_file: dict[str, set[str]] = {}
        for v in received:
            ids_by_file.setdefault(v["file"], set()).add(v["id"])
            if v["id"] not in first_seen:
                first_seen.append(v["id"])
        assert all(len(ids) == 1 for ids in ids_by_file.values())  # repeats carry the same id
        assert first_seen == [vid for _, vid in expected]  # in the order the frames were judged
        assert wait_for(lambda: r.daemon.journal.backlog("mqtt") == 0, 10)  # type: ignore[union-attr]
    finally:
        broker.stop()


def write_config(tmp_path: Path, toy_model: Path, broker: Broker, **extra: Any) -> Path:
    data: dict[str, Any] = {"station": "kill-1", "segmenter": {"model": str(toy_model), "threads": 1},
                            "watch": {"stable_for_s": 0.3, "folder": str(tmp_path / "hot")},
                            "state_dir": str(tmp_path / "state"),
                            "mqtt": {"url": broker.url, "client_id": "kill-1"}}
    data.update(extra)
    p = tmp_path / "station.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_sigkill_in_a_burst_of_500_then_restart(
        tmp_path: Path, toy_model: Path, broker: Broker, subscriber_factory: Callable[..., Subscriber]) -> None:
    hot, state = tmp_path / "hot", tmp_path / "state"
    hot.mkdir()
    cfg = write_config(tmp_path, toy_model, broker)
    sub = subscriber_factory(broker.port, ["specimen-edge/kill-1/verdict", "specimen-edge/kill-1/status"])
    cmd = [sys.executable, "-m", "edge", "run", "--config", str(cfg)]
    log = open(tmp_path / "daemon.log", "ab")
    first = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        assert wait_for(lambda: b"online" in sub.on("/status"), 30)
        names = [f"k{i:03d}.jpg" for i in range(500)]
        for name in names:
            write_atomically(hot / name, SMALL_GOOD)
        assert wait_for(lambda: (state / "journal.sqlite3").exists() and len(journal_ids(state)) >= 100, 60)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    judged_before = len(journal_ids(state))
    assert judged_before < 500, "the burst finished before the kill; the test proves nothing"
    second = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        assert wait_for(lambda: len(journal_ids(state)) == 500, 120), len(journal_ids(state))
        rows = journal_ids(state)
        assert sorted(Path(p).name for p, _ in rows) == names  # exactly one verdict per frame
        want = {vid for _, vid in rows}
        assert wait_for(lambda: want <= {json.loads(p)["id"] for p in sub.on("/verdict")}, 60)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0


class FlakyUpstream(BaseHTTPRequestHandler):
    """Fails the first requests, then answers some only after the client gave up."""

    server: Any

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        srv = self.server
        with srv.lock:
            srv.requests += 1
            n = srv.requests
        if n <= srv.fail_first:
            self.send_response(503)
            self.end_headers()
            return
        if n in srv.slow_requests:
            time.sleep(srv.slow_s)  # the client's timeout is shorter: it will send again
        with srv.lock:
            if key in srv.store:
                srv.duplicates += 1
            else:
                srv.store[key] = json.loads(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_http_sink_retries_until_every_result_arrives(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyUpstream)
    server.lock, server.requests, server.store, server.duplicates = threading.Lock(), 0, {}, 0  # type: ignore
    server.fail_first, server.slow_requests, server.slow_s = 3, {5, 7}, 1.5  # type: ignore
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/frames"
        settings = station(upstream=[{"type": "http", "name": "pipeline", "url": url, "timeout_s": 0.5,
                                      "max_backoff_s": 0.5}])
        hot, state = Path(settings.watch.folder), Path(settings.state_dir)
        r = run_daemon(settings)
        for i in range(6):
            write_atomically(hot / f"h{i}.jpg", SMALL_GOOD)
        write_atomically(hot / "bad.jpg", SMALL_BAD)  # a retake is not sent upstream
        assert wait_for(lambda: len(journal_rows(state)) == 7, 20)
        accepted = {vid for p, vid in journal_ids(state) if not p.endswith("bad.jpg")}
        assert wait_for(lambda: set(server.store) == accepted, 30), (server.requests, len(server.store))  # type: ignore
        assert server.duplicates >= 1  # type: ignore[attr-defined]  # timeouts did cause repeats, dropped by key
        result = next(iter(server.store.values()))  # type: ignore[attr-defined]
        assert result["schema"] == "specimen-edge/accepted/1" and result["verdict"]["verdict"] == "accept"
        assert wait_for(lambda: r.daemon.journal.backlog("upstream:pipeline") == 0, 10)  # type: ignore[union-attr]
    finally:
        server.shutdown()


def test_http_sink_errors_never_show_a_password_in_its_url(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    url = f"http://edge:S3cret@127.0.0.1:{free_port()}/frames"  # nothing listens there
    settings = station(upstream=[{"type": "http", "name": "pipeline", "url": url, "timeout_s": 0.5,
                                  "max_backoff_s": 0.5}])
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "h.jpg", SMALL_GOOD)
    assert wait_for(lambda: r.daemon.state()["sinks"]["upstream:pipeline"]["error"], 15)
    error = r.daemon.state()["sinks"]["upstream:pipeline"]["error"]
    assert "unreachable" in error and "edge:***@127.0.0.1" in error
    assert "S3cret" not in error and "S3cret" not in caplog.text


def test_directory_sink_never_shows_a_partial_file(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    dest = tmp_path / "share"
    dest.mkdir()
    settings = station(upstream=[{"type": "directory", "path": str(dest)}],
                       crops={"enabled": True, "classes": ["label"]})
    hot = Path(settings.watch.folder)
    big = jpeg_bytes(draw_sheet(3000, 4500), quality=97)
    problems: list[str] = []
    stop = threading.Event()

    def watch_share() -> None:
        while not stop.is_set():
            for entry in os.scandir(dest):
                if entry.name.startswith("."):
                    continue  # temporary names: not yet published
                data = Path(entry.path).read_bytes()
                if entry.name.endswith(".json"):
                    try:
                        json.loads(data)
                    except ValueError:
                        problems.append(f"partial sidecar {entry.name}")
                elif not data.rstrip(b"\0").endswith(b"\xff\xd9"):
                    problems.append(f"partial image {entry.name}")

    watcher = threading.Thread(target=watch_share, daemon=True)
    watcher.start()
    r = run_daemon(settings)
    try:
        for i in range(5):
            write_atomically(hot / f"d{i}.jpg", big)
        assert wait_for(lambda: len(list(dest.glob("*.json"))) == 5, 60)
    finally:
        stop.set()
        watcher.join()
    assert problems == []
    for i in range(5):
        frame = dest / f"d{i}.jpg"
        assert frame.read_bytes() == big
        sidecar = json.loads((dest / f"d{i}.json").read_text())
        assert sidecar["frame_copied"] is True and sidecar["verdict"]["verdict"] == "accept"
        assert sidecar["crops"] and all((dest / c["path"]).is_file() for c in sidecar["crops"])
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]
    assert r.daemon.journal is not None


def make_tls_material(folder: Path) -> dict[str, Path]:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=specimen-edge test CA",
            "-keyout", str(ca_key), "-out", str(ca))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
            "-extfile", str(ext), "-out", str(cert))
    return {"ca": ca, "key": key, "cert": cert}


def test_tls_broker_with_private_ca(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], caplog: pytest.LogCaptureFixture) -> None:
    tls = make_tls_material(tmp_path)
    (tmp_path / "tlsbroker").mkdir()
    broker = Broker(tmp_path / "tlsbroker", extra_conf=f"cafile {tls['ca']}\ncertfile {tls['cert']}\n"
                                                       f"keyfile {tls['key']}\n")
    broker.start()
    try:
        url = f"mqtts://127.0.0.1:{broker.port}"
        sub = subscriber_factory(broker.port, ["specimen-edge/tls-1/#"], tls_ca=str(tls["ca"]))
        ok = run_daemon(station(station="tls-1", mqtt={"enabled": True, "url": url, "ca_file": str(tls["ca"]),
                                                       "client_id": "tls-ok"}))
        assert wait_for(lambda: b"online" in sub.on("/status"), 15)
        ok.stop()
        caplog.set_level("ERROR")
        bad = run_daemon(station(station="tls-2", state_dir=str(tmp_path / "state2"),
                                 mqtt={"enabled": True, "url": url, "client_id": "tls-bad"}))
        assert bad.daemon.publisher is not None
        assert not bad.daemon.publisher.connected.wait(2)
        message = bad.daemon.publisher.last_error or ""
        assert "could not be verified" in message and "mqtt.ca_file" in message
        assert "could not be verified" in caplog.text
        assert bad.daemon.state()["sinks"]["mqtt"]["error"] == message
    finally:
        broker.stop()


def test_stale_alerts_expire_but_verdicts_still_go(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    (tmp_path / "b").mkdir()
    broker = Broker(tmp_path / "b")
    settings = station(station="exp", mqtt={"enabled": True, "url": broker.url, "client_id": "exp",
                                            "alert_expiry_s": 1})
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "late.jpg", SMALL_BAD)
    assert wait_for(lambda: len(journal_rows(Path(settings.state_dir))) == 1, 10)
    time.sleep(2.0)  # the alert is now older than its expiry
    broker.start()
    try:
        sub = subscriber_factory(broker.port, ["specimen-edge/exp/#"])
        assert wait_for(lambda: len(sub.on("/verdict")) == 1, 40)
        time.sleep(0.5)
        assert sub.on("/alert") == []
        assert r.daemon.journal is not None and r.daemon.journal.backlog("mqtt") == 0
    finally:
        broker.stop()


def test_home_assistant_discovery(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    settings = station(station="ha-1", mqtt={"enabled": True, "url": broker.url, "client_id": "ha-1",
                                             "homeassistant": {"enabled": True, "discovery_prefix": "homeassistant"}})
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "x.jpg", SMALL_BAD)
    assert wait_for(lambda: r.daemon.counters.frames["retake"] == 1, 10)
    sub = subscriber_factory(broker.port, ["homeassistant/+/specimen_edge_ha_1/+/config", "specimen-edge/ha-1/state"])
    assert wait_for(lambda: len(sub.on("/config")) == 3, 10)
    configs = {json.loads(p)["unique_id"]: json.loads(p) for p in sub.on("/config")}
    assert set(configs) == {"specimen_edge_ha_1_retake_needed", "specimen_edge_ha_1_frames_per_hour",
                            "specimen_edge_ha_1_retake_rate"}
    assert all(c["state_topic"] == "specimen-edge/ha-1/state" for c in configs.values())
    assert wait_for(lambda: sub.on("/state"), 10)
    state = json.loads(sub.on("/state")[-1])
    assert state["retake_needed"] is True and state["frames_per_hour"] == 1 and state["retake_rate_percent"] == 100.0


def test_alerts_command_prints_each_alert_once(broker: Broker) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    proc = subprocess.Popen([sys.executable, "-m", "edge", "alerts", "--mqtt", broker.url, "--station", "al-1",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on specimen-edge/al-1/alert" in line
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        alert = {"id": "3f0c1e1e-0000-4000-8000-000000000001", "station": "al-1", "file": "/hot/a.jpg",
                 "verdict": "retake", "reasons": [{"check": "blur", "status": "fail", "message": "blurred"}]}
        for _ in range(2):  # at-least-once delivery: the same alert twice
            pub.publish("specimen-edge/al-1/alert", json.dumps(alert), qos=1).wait_for_publish(5)
        pub.publish("specimen-edge/other/alert", json.dumps({**alert, "id": "x"}), qos=1).wait_for_publish(5)
        pub.loop_stop()
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    lines = out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == alert["id"]
