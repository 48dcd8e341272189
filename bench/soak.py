"""Soak: thousands of frames through the daemon while the broker is restarted again and again.

    python -m bench.soak [--frames 10000] [--restart-every 60] [--down-for 5]

Small generated frames are delivered into the hot folder at a steady pace; the daemon runs as
its own process (bundled model, ONNX Runtime) against a local mosquitto with persistence, and
a subscriber with a persistent session counts what arrives. The broker is stopped for
`--down-for` seconds every `--restart-every` seconds. At the end it reports lost messages
(judged frames whose verdict never arrived), duplicates, peak outbox depth and the daemon's
resident memory, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.results_file import write_section
from tests.broker import Broker


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample_frames(count: int) -> list[bytes]:
    from training.synth import generate

    out = []
    for i in range(count):
        s = generate(500 + i, "auto", long_side=640)
        ok, buf = cv2.imencode(".jpg", s.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(buf.tobytes())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--restart-every", type=float, default=60.0)
    parser.add_argument("--down-for", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="se-soak-"))
    hot, state = tmp / "hot", tmp / "state"
    hot.mkdir()
    (tmp / "broker").mkdir()
    broker = Broker(tmp / "broker", persistent=True)
    broker.start()
    received: list[str] = []
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            received.append(json.loads(msg.payload)["id"])

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-subscriber", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.on_connect = lambda c, *a: c.subscribe("specimen-edge/soak/verdict", qos=1)
    sub.reconnect_delay_set(1, 2)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 24 * 3600
    sub.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    sub.loop_start()

    frames = sample_frames(20)
    config = tmp / "station.yaml"
    config.write_text("watch:\n  stable_for_s: 0.5\n  reconcile_interval_s: 30.0\n")
    log = open(tmp / "daemon.log", "w")
    daemon = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(config), "--watch", str(hot),
                               "--station", "soak", "--mqtt", broker.url, "--state-dir", str(state)],
                              stdout=log, stderr=log)
    db_path = state / "journal.sqlite3"
    restarts = 0
    peak_outbox = 0
    rss: list[tuple[int, float]] = []
    try:
        while not db_path.exists():
            time.sleep(0.2)
        time.sleep(3)
        rss_start = rss_mib(daemon.pid)
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        written = 0
        next_restart = time.monotonic() + args.restart_every
        t0 = time.monotonic()
        judged = 0
        while True:
            judged = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
            if written < args.frames and written - judged < 50:  # keep a steady backlog, like a busy line
                for _ in range(10):
                    if written >= args.frames:
                        break
                    tmp_name = hot / f".f{written:05d}.part"
                    tmp_name.write_bytes(frames[written % len(frames)])
                    tmp_name.rename(hot / f"f{written:05d}.jpg")
                    written += 1
            depth = db.execute("SELECT COUNT(*) FROM outbox WHERE sink='mqtt' AND delivered_at IS NULL").fetchone()[0]
            peak_outbox = max(peak_outbox, depth)
            if time.monotonic() >= next_restart and judged < args.frames:
                broker.stop()
                time.sleep(args.down_for)
                broker.start()
                restarts += 1
                next_restart = time.monotonic() + args.restart_every
            if len(rss) == 0 or judged - rss[-1][0] >= 500:
                rss.append((judged, rss_mib(daemon.pid)))
            if judged >= args.frames and depth == 0:
                break
            if daemon.poll() is not None:
                raise RuntimeError("the daemon exited: " + (tmp / "daemon.log").read_text()[-2000:])
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        ids = [r[0] for r in db.execute("SELECT verdict_id FROM frames")]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if set(ids) <= set(received):
                    break
            time.sleep(0.2)
        rss_end = rss_mib(daemon.pid)
        rss_peak = max(v for _, v in rss)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        sub.loop_stop()
        broker.stop()
    with lock:
        got = list(received)
    lost = len(set(ids) - set(got))
    duplicates = len(got) - len(set(got))
    curve = ", ".join(f"{n}: {v:.0f}" for n, v in rss[:: max(1, len(rss) // 10)])
    body = f"""
Command: `python -m bench.soak --frames {args.frames} --restart-every {args.restart_every:g} \
--down-for {args.down_for:g}`

{len(ids)} frames judged in {elapsed / 60:.1f} min ({len(ids) / elapsed:.1f} frames/s, 640 px generated sheets and
slides, bundled model), broker (mosquitto, persistence on) stopped for {args.down_for:g} s {restarts} times;
subscriber with a persistent session.

| measure | value |
|---|---|
| frames judged / verdicts in the journal | {len(ids)} |
| verdict messages lost | **{lost}** |
| duplicate deliveries (same verdict id again) | {duplicates} |
| peak MQTT outbox depth | {peak_outbox} |
| daemon resident memory at start / end / peak | {rss_start:.0f} / {rss_end:.0f} / {rss_peak:.0f} MiB |

Resident memory (MiB) by frames judged: {curve}.
"""
    print(body)
    if not args.no_write:
        write_section("soak", body)
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
