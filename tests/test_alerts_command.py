"""`specimen-edge alerts` against a real broker: stamped lines, and stations going offline shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import Broker
from tests.conftest import wait_for


class Lines:
    """Collects a process stream's lines on a thread, so the test can wait for one."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def publisher(broker: Broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def start_alerts(broker: Broker, *extra: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    env = {**os.environ, "TZ": "UTC"}
    proc = subprocess.Popen([sys.executable, "-m", "edge", "alerts", "--mqtt", broker.url, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


ALERT = {"id": "3f0c1e1e-0000-4000-8000-0000000000a1", "station": "st-a", "file": "/hot/BM000100004.jpg",
         "processed_at": "2026-11-28T10:00:00.123Z", "verdict": "retake",
         "reasons": [{"check": "blur", "status": "fail", "message": "Label text is blurred"}]}


def test_alert_lines_carry_the_judging_time_and_status_changes_are_shown(broker: Broker) -> None:
    pub = publisher(broker)
    try:
        # a retained status from before the terminal started is shown at once
        pub.publish("specimen-edge/st-a/status", "online", qos=1, retain=True).wait_for_publish(5)
        proc, out, err = start_alerts(broker, "--station", "st-a")
        try:
            assert wait_for(lambda: err.matching("listening on specimen-edge/st-a/alert"), 15), err.lines
            assert wait_for(lambda: out.matching("[st-a] ONLINE"), 10), out.lines
            pub.publish("specimen-edge/st-a/alert", json.dumps(ALERT), qos=1).wait_for_publish(5)
            assert wait_for(lambda: out.matching("BM000100004.jpg"), 10), out.lines
            # the same status again (a reconnect re-sends the retained one) is not a change
            pub.publish("specimen-edge/st-a/status", "online", qos=1, retain=True).wait_for_publish(5)
            pub.publish("specimen-edge/st-a/status", "offline", qos=1, retain=True).wait_for_publish(5)
            assert wait_for(lambda: out.matching("[st-a] OFFLINE"), 10), out.lines
            pub.publish("specimen-edge/st-a/status", "stopped", qos=1, retain=True).wait_for_publish(5)
            assert wait_for(lambda: out.matching("[st-a] STOPPED"), 10), out.lines
        finally:
            stop(proc)
    finally:
        pub.publish("specimen-edge/st-a/status", b"", qos=1, retain=True).wait_for_publish(5)  # clear
        pub.loop_stop()
    alert_line = out.matching("BM000100004.jpg")[0]
    assert alert_line.startswith("2026-11-28 10:00:00 [st-a] RETAKE  BM000100004.jpg: Label text is blurred")
    assert len(out.matching("ONLINE")) == 1
    for line in out.lines:  # every line is stamped
        time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
    assert "frames are not judged" in out.matching("OFFLINE")[0]


def test_json_mode_keeps_stdout_to_verdicts(broker: Broker) -> None:
    pub = publisher(broker)
    try:
        proc, out, err = start_alerts(broker, "--station", "st-b", "--json")
        try:
            assert wait_for(lambda: err.matching("listening on"), 15), err.lines
            pub.publish("specimen-edge/st-b/status", "offline", qos=1).wait_for_publish(5)
            pub.publish("specimen-edge/st-b/alert", json.dumps({**ALERT, "station": "st-b"}),
                        qos=1).wait_for_publish(5)
            assert wait_for(lambda: out.lines, 10)
            assert wait_for(lambda: err.matching("[st-b] OFFLINE"), 10), err.lines
        finally:
            stop(proc)
    finally:
        pub.loop_stop()
    assert [json.loads(line)["id"] for line in out.lines] == [ALERT["id"]]
