"""`specimen-edge alerts`: print retake alerts as they arrive, for a terminal at the station.

Delivery is at least once, so alerts are deduplicated on their verdict id. Each line starts with
the local time (the frame's judging time for an alert). The stations' status topic is followed
too, so a daemon that stops or drops off the network shows as a line, not as silence.
"""

from __future__ import annotations

import json
import signal
import ssl
import sys
import threading
from collections import deque
from datetime import datetime
from typing import Any, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import Settings
from edge.sinks.settings import parse_mqtt_url, resolve_mqtt_password
from edge.verdict import summary_line

# What a station's status means to the person at the terminal.
STATUS_WORDS = {
    "online": "ONLINE  the station is watching its hot folder",
    "stopped": "STOPPED the station's daemon was stopped: frames are not judged until it starts again",
    "offline": "OFFLINE the station dropped off (daemon or its machine down, or the network): frames are "
               "not judged",
}


def local_time(iso: str | None = None) -> str:
    """'YYYY-MM-DD HH:MM:SS' in local time, of an ISO 8601 instant (a verdict's processed_at) or now."""
    when = None
    if iso:
        try:
            when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            when = None
    return (when or datetime.now()).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def follow_alerts(settings: Settings, station: str | None, as_json: bool, stop: threading.Event | None = None) -> int:
    cfg = settings.mqtt
    target = parse_mqtt_url(cfg.url)
    stop = stop or threading.Event()
    seen: deque[str] = deque(maxlen=1000)
    alert_topic = f"{cfg.topic_prefix}/{station or '+'}/alert"
    status_topic = f"{cfg.topic_prefix}/{station or '+'}/status"
    last_status: dict[str, str] = {}
    # in --json mode stdout carries verdicts only; station status lines go to stderr
    status_out: TextIO = sys.stderr if as_json else sys.stdout

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            print(f"{local_time()} specimen-edge alerts: broker refused the connection: {reason_code}",
                  file=sys.stderr, flush=True)
            return
        client.subscribe([(alert_topic, 1), (status_topic, 1)])

    def on_disconnect(client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if not stop.is_set():
            print(f"{local_time()} specimen-edge alerts: lost the broker connection ({reason_code}); "
                  "reconnecting, alerts meanwhile are not shown", file=sys.stderr, flush=True)

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        print(f"{local_time()} specimen-edge alerts: listening on {alert_topic} and {status_topic}",
              file=sys.stderr, flush=True)

    def on_status(msg: mqtt.MQTTMessage) -> None:
        name = msg.topic.split("/")[-2]
        status = msg.payload.decode("utf-8", "replace").strip()
        if last_status.get(name) == status:
            return
        last_status[name] = status
        words = STATUS_WORDS.get(status, f"status {status!r}")
        status_out.write(f"{local_time()} [{name}] {words}\n")
        status_out.flush()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/status"):
            on_status(msg)
            return
        try:
            verdict = json.loads(msg.payload)
            verdict_id = str(verdict["id"])
        except (ValueError, KeyError, TypeError):
            print(f"specimen-edge alerts: ignored a malformed message on {msg.topic}", file=sys.stderr)
            return
        if verdict_id in seen:
            return
        seen.append(verdict_id)
        if as_json:
            sys.stdout.write(json.dumps(verdict, separators=(",", ":")) + "\n")
        else:
            stamp = local_time(verdict.get("processed_at") if isinstance(verdict.get("processed_at"), str) else None)
            sys.stdout.write(f"{stamp} [{verdict.get('station', '?')}] {summary_line(verdict)}\n")
        sys.stdout.flush()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    username = target.username or cfg.username
    if username:
        client.username_pw_set(username, target.password or resolve_mqtt_password(cfg))
    if target.tls:
        client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file,
                       cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect_async(target.host, target.port, keepalive=cfg.keepalive_s)
    client.loop_start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        client.disconnect()
        client.loop_stop()
    return 0
