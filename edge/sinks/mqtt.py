"""MQTT delivery from the durable outbox: the station's topics, and upstream MQTT sinks.

paho-mqtt keeps unacknowledged messages in memory only, so the outbox is the record: a row
is marked delivered when the broker acknowledges it (QoS 1 PUBACK, seen in on_publish), and
anything not acknowledged before a crash is sent again after restart. Messages are sent only
while connected, so an outage never piles them up in memory.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.health import Problem
from edge.journal import Journal
from edge.sinks.base import wait_until_delivered
from edge.sinks.settings import BrokerSettings, MqttTarget

log = logging.getLogger(__name__)

SINK = "mqtt"
_MAX_IN_FLIGHT = 100
# A message paho has not confirmed within this long, while connected, is sent again.
_RESEND_AFTER_S = 60.0
# Not connected for this long (with no error to tell) is worth reporting: more than a reconnect.
_DISCONNECTED_REPORTED_AFTER_S = 30.0
# How often the retained state is looked at; it is published again only when it has changed.
STATE_CHECK_S = 10.0
# parts of the state that change by themselves with time: no reason to publish it again
_VOLATILE_STATE_KEYS = ("updated_at", "uptime_s")
RECONNECT_MAX_S = 30


def reconnect_delay_s(attempt: int, rng: random.Random | None = None) -> int:
    """Seconds before reconnect attempt `attempt` (1, 2, ...): exponential up to RECONNECT_MAX_S, drawn
    at random below that bound ("full jitter"), so the stations of a line do not all come back to a
    restarted broker in the same second."""
    bound = min(RECONNECT_MAX_S, 2 ** min(max(attempt, 1), 16))
    return (rng or random).randint(1, bound)


def explain_connect_error(exc: BaseException, target: MqttTarget) -> str:
    where = f"{target.host}:{target.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the broker {where} presented a certificate that could not be verified "
                f"({exc.verify_message}); set mqtt.ca_file to the CA that signed it")
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed ({exc.reason or exc}); check mqtts:// and the port"
    if isinstance(exc, ConnectionRefusedError):
        return f"broker {where} refused the connection (not running, or wrong port)"
    return f"cannot reach broker {where}: {exc}"


class MqttPublisher(threading.Thread):
    """Drains one outbox sink to one broker connection.

    The station's own publisher also announces `status` (online on every connect, offline as
    last will, stopped on a clean exit) and keeps the retained `state` fresh.
    """

    def __init__(self, sink: str, broker: BrokerSettings, target: MqttTarget, password: str | None, client_id: str,
                 journal: Journal, *, status_topic: str | None = None, state_topic: str | None = None,
                 state_provider: Callable[[], dict[str, Any]] | None = None,
                 retained_on_connect: Callable[[], list[tuple[str, bytes]]] | None = None,
                 command_topic: str | None = None, on_command: Callable[[str, bytes], None] | None = None) -> None:
        super().__init__(name=f"sink-{sink}", daemon=True)
        self.sink = sink
        self.broker = broker
        self.target = target
        self.journal = journal
        self.status_topic = status_topic
        self.state_topic = state_topic
        self.state_provider = state_provider
        self.retained_on_connect = retained_on_connect
        self.command_topic = command_topic  # e.g. <prefix>/<station>/set/+ : the last level is the command
        self.on_command = on_command
        self.wake = threading.Event()
        self.state_changed = threading.Event()
        self.connected = threading.Event()
        self.last_error: str | None = None
        self._disconnected_since: float | None = time.monotonic()
        self._network: threading.Thread | None = None  # paho's network thread, once started
        self._stop_event = threading.Event()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._in_flight: dict[int, tuple[int, float]] = {}  # mid -> (outbox seq, sent at)
        self._in_flight_seqs: set[int] = set()
        self._last_state: dict[str, Any] | None = None  # what the state topic holds, less _VOLATILE_STATE_KEYS
        self._reconnect_attempts = 0
        self._client = self._make_client(password, client_id)

    def _make_client(self, password: str | None, client_id: str) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if self.status_topic:
            client.will_set(self.status_topic, "offline", qos=1, retain=True)
        username = self.target.username or self.broker.username
        if username:
            client.username_pw_set(username, self.target.password or password)
        if self.target.tls:
            client.tls_set(ca_certs=self.broker.ca_file, certfile=self.broker.cert_file,
                           keyfile=self.broker.key_file, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        client.max_inflight_messages_set(_MAX_IN_FLIGHT)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    # -- paho callbacks (network thread): keep them short, no locks of ours ------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            log.warning("MQTT %s: %s", self.sink, self.last_error)
            return
        try:
            for retained_topic, payload in self.retained_on_connect() if self.retained_on_connect else []:
                client.publish(retained_topic, payload, qos=1, retain=True)
            if self.status_topic:
                client.publish(self.status_topic, "online", qos=1, retain=True)
            if self.command_topic and self.on_command:
                client.subscribe(self.command_topic, qos=1)
        except Exception as exc:
            # raised out of a callback, it would end paho's network thread and all delivery with it
            self.last_error = f"could not announce the station: {exc}"
            log.exception("MQTT %s: could not announce the station", self.sink)
            return
        self.last_error = None
        self._disconnected_since = None
        self._reconnect_attempts = 0
        log.info("MQTT %s connected to %s:%d", self.sink, self.target.host, self.target.port)
        self.connected.set()
        self.state_changed.set()
        self.wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if self.last_error is None:  # keep the first attempt's explanation (a TLS or port problem)
            self.last_error = f"cannot connect to the broker {self.target.host}:{self.target.port}"
        self._schedule_reconnect(client)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if self._stop_event.is_set():
            log.info("MQTT %s disconnected", self.sink)  # our own clean stop: nothing to reconnect
        elif self.connected.is_set():
            log.warning("MQTT %s disconnected (%s); reconnecting", self.sink, reason_code)
            self._disconnected_since = time.monotonic()
            self._schedule_reconnect(client)
        self.connected.clear()

    def _schedule_reconnect(self, client: mqtt.Client) -> None:
        """paho waits min_delay before its next attempt (its own back-off has no jitter)."""
        self._reconnect_attempts += 1
        delay = reconnect_delay_s(self._reconnect_attempts)
        client.reconnect_delay_set(min_delay=delay, max_delay=delay)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.on_command is None or msg.retain:
            return  # a retained command is an old one: never acted on again
        try:
            self.on_command(msg.topic.rsplit("/", 1)[-1], bytes(msg.payload))
        except Exception:
            # raised out of a callback, it would end paho's network thread
            log.exception("MQTT %s: command on %s failed", self.sink, msg.topic)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        # 0x10 "no matching subscribers" is a success for us: the broker has the message.
        if not reason_code.is_failure:
            self._acks.put(mid)
        self.wake.set()

    # -- publisher thread ------------------------------------------------------------------
    def start(self) -> None:
        try:
            # The first attempt is made here so a wrong CA or port is explained in words.
            self._client.connect(self.target.host, self.target.port, keepalive=self.broker.keepalive_s)
        except (OSError, ssl.SSLError) as exc:
            self.last_error = explain_connect_error(exc, self.target)
            log.error("MQTT %s: %s; retrying in the background", self.sink, self.last_error)
            self._client.connect_async(self.target.host, self.target.port, keepalive=self.broker.keepalive_s)
        self._client.loop_start()
        # paho offers no public handle on its network thread; without one a dead thread (every
        # message then waits for good) would look like a healthy one
        self._network = getattr(self._client, "_thread", None)
        super().start()

    def problems(self) -> list[Problem]:
        """Why this sink is not delivering now; empty while it is connected and working."""
        if self._network is not None and not self._network.is_alive() and not self._stop_event.is_set():
            return [Problem(f"{self.sink}: the MQTT network thread has stopped; nothing is delivered", fatal=True)]
        if self.connected.is_set():
            return []
        since = self._disconnected_since
        if self.last_error:
            # the outbox keeps every message until the broker takes it: waited out, not fatal
            return [Problem(f"{self.sink}: not connected: {self.last_error}", fatal=False)]
        if since is not None and time.monotonic() - since > _DISCONNECTED_REPORTED_AFTER_S:
            return [Problem(f"{self.sink}: not connected to {self.target.host}:{self.target.port}", fatal=False)]
        return []

    def _settle_acks(self) -> None:
        delivered = []
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            entry = self._in_flight.pop(mid, None)
            if entry is not None:
                self._in_flight_seqs.discard(entry[0])
                delivered.append(entry[0])
        self.journal.mark_delivered(delivered)

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for mid, (seq, sent_at) in list(self._in_flight.items()):
            if now - sent_at > _RESEND_AFTER_S:
                del self._in_flight[mid]
                self._in_flight_seqs.discard(seq)

    def _send_pending(self) -> None:
        room = _MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        batch = [m for m in self.journal.pending(self.sink, limit=room + len(self._in_flight_seqs))
                 if m.seq not in self._in_flight_seqs][:room]
        for msg in batch:
            if not self.connected.is_set():
                return
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = "application/json"
            props.UserProperty = ("verdict_id", msg.verdict_id)
            if msg.expires_at is not None:
                remaining = int(msg.expires_at - time.time())
                if remaining <= 0:
                    self.journal.mark_delivered([msg.seq])  # stale alert: nobody should act on it now
                    continue
                props.MessageExpiryInterval = remaining
            info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain, properties=props)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                return
            self.journal.note_attempt(msg.seq)
            self._in_flight[info.mid] = (msg.seq, time.monotonic())
            self._in_flight_seqs.add(msg.seq)

    def publish_state(self, force: bool = True) -> None:
        """Publish the retained state; unless forced, only when it differs from what the topic holds."""
        if self.state_provider is None or self.state_topic is None or not self.connected.is_set():
            return
        state = self.state_provider()
        essence = {key: value for key, value in state.items() if key not in _VOLATILE_STATE_KEYS}
        if not force and essence == self._last_state:
            return
        self._client.publish(self.state_topic, json.dumps(state, separators=(",", ":")), qos=1, retain=True)
        self._last_state = essence

    def run(self) -> None:
        last_check = time.monotonic()
        while not self._stop_event.is_set():
            self.wake.wait(1.0)
            self.wake.clear()
            try:
                self._settle_acks()
                if self.connected.is_set():
                    self._forget_stale()
                    self._send_pending()
                    if self.state_changed.is_set():
                        self.state_changed.clear()
                        self.publish_state()
                        last_check = time.monotonic()
                    elif time.monotonic() - last_check > STATE_CHECK_S:
                        # the hour's window, queue and outbox move without any event telling us
                        self.publish_state(force=False)
                        last_check = time.monotonic()
            except Exception:
                log.exception("MQTT %s publisher error; retrying", self.sink)

    def flush(self, timeout: float) -> bool:
        """Wait until this sink's outbox is empty (for a clean stop), up to timeout."""
        return wait_until_delivered(self.journal, self.sink, self.wake, self.connected.is_set, timeout)

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Send what is pending, then `stopped` (acknowledged), then disconnect."""
        self.flush(drain_timeout)
        self._stop_event.set()
        self.wake.set()
        self.join(timeout=5)
        self._settle_acks()
        if self.connected.is_set():
            self.publish_state()
            if self.status_topic:
                info = self._client.publish(self.status_topic, "stopped", qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout=5)
                except (RuntimeError, ValueError):
                    log.warning("could not confirm the 'stopped' status with the broker")
            time.sleep(0.05)
            self._settle_acks()
        self._client.disconnect()
        self._client.loop_stop()
