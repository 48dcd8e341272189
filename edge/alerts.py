"""`specimen-edge alerts`: print retake alerts as they arrive, for a terminal at the station.

Delivery is at least once, so alerts are deduplicated on their verdict id.
"""

from __future__ import annotations

import json
import signal
import ssl
import sys
import threading
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import Settings, parse_mqtt_url, resolve_mqtt_password
from edge.verdict import summary_line


def follow_alerts(settings: Settings, station: str | None, as_json: bool, stop: threading.Event | None = None) -> int:
    cfg = settings.mqtt
    target = parse_mqtt_url(cfg.url)
    stop = stop or threading.Event()
    seen: deque[str] = deque(maxlen=1000)
    alert_topic = f"{cfg.topic_prefix}/{station or '+'}/alert"

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            print(f"specimen-edge alerts: broker refused the connection: {reason_code}", file=sys.stderr)
            return
        client.subscribe(alert_topic, qos=1)

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        print(f"specimen-edge alerts: listening on {alert_topic}", file=sys.stderr, flush=True)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
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
            sys.stdout.write(f"[{verdict.get('station', '?')}] {summary_line(verdict)}\n")
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
        client.disconnect()
        client.loop_stop()
    return 0
