"""`specimen-edge demo`: the daemon judging sample frames as a capture station would deliver them.

Creates a temporary hot folder, starts a local mosquitto when one is installed (otherwise runs
without MQTT and says so), starts the daemon, drops in the bundled sample frames (generated,
not photographs) the way capture software writes them, prints each verdict and alert as it
arrives, and exits.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from edge.config import load_settings
from edge.daemon import Daemon
from edge.image_files import image_files
from edge.verdict import summary_line

RED, GREEN, YELLOW, RESET = "\033[1;31m", "\033[1;32m", "\033[1;33m", "\033[0m"


def _say(text: str, colour: str = "") -> None:
    use = colour if sys.stdout.isatty() else ""
    print(f"{use}{text}{RESET if use else ''}", flush=True)


def sample_frames() -> list[Path]:
    return image_files([Path(str(resources.files("edge.samples")))])[0]


def _start_mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    return None


def _subscribe_alerts(port: int, prefix: str, station: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(c: Any, u: Any, msg: Any) -> None:
        verdict = json.loads(msg.payload)
        _say(f"  MQTT {msg.topic}: {summary_line(verdict)}", RED)

    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", port)
    client.subscribe(f"{prefix}/{station}/alert", qos=1)
    client.loop_start()
    ready.wait(5)
    return client


def _deliver(src: Path, hot: Path) -> None:
    """Temp name, then rename: how most capture software hands over a finished frame."""
    tmp = hot / f".{src.name}.part"
    shutil.copyfile(src, tmp)
    tmp.rename(hot / src.name)


def run_demo(keep: bool = False) -> int:
    frames = sample_frames()
    tmp = Path(tempfile.mkdtemp(prefix="specimen-edge-demo-"))
    hot, state = tmp / "hotfolder", tmp / "state"
    hot.mkdir()
    broker = _start_mosquitto(tmp)
    overrides: dict[str, Any] = {"station": "demo", "watch": {"folder": str(hot), "stable_for_s": 0.5},
                                 "state_dir": str(state)}
    if broker is None:
        _say("mosquitto is not installed: running without MQTT (verdicts go to verdicts.jsonl only)", YELLOW)
        overrides["mqtt"] = {"enabled": False}
    else:
        overrides["mqtt"] = {"enabled": True, "url": f"mqtt://127.0.0.1:{broker[1]}", "client_id": "demo"}
        _say(f"local mosquitto on 127.0.0.1:{broker[1]}; alerts arrive on specimen-edge/demo/alert")
    settings = load_settings(None, overrides)
    daemon = Daemon(settings)
    subscriber = None
    try:
        _say(f"hot folder: {hot}")
        daemon.start()
        worker = threading.Thread(target=daemon.work, daemon=True)
        worker.start()
        if broker is not None:
            subscriber = _subscribe_alerts(broker[1], settings.mqtt.topic_prefix, settings.station)
        expected = len(frames) + 1
        for src in frames:
            _say(f"capture: {src.name}")
            _deliver(src, hot)
            time.sleep(1.0)
        broken = hot / "BM000100006_interrupted.jpg"
        _say(f"capture: {broken.name} (the transfer is cut off half way)")
        broken.write_bytes(frames[0].read_bytes()[: frames[0].stat().st_size // 2])
        # the samples are capture-sized (24-26 MP): allow for a slow or busy two-core machine
        deadline = time.monotonic() + 30 + 15 * expected
        while daemon.counters.snapshot()[3] < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        counts = daemon.counters.snapshot()[0]
        _say("")
        _say("verdicts (from the journal, also in verdicts.jsonl):")
        for line in (state / "verdicts.jsonl").read_text().splitlines() if (state / "verdicts.jsonl").exists() else []:
            verdict = json.loads(line)
            colour = GREEN if verdict["verdict"] == "accept" else RED
            _say("  " + summary_line(verdict), colour)
        _say(f"accepted {counts.get('accept', 0)}, retake {counts.get('retake', 0)}, "
             f"unreadable {counts.get('error', 0)}")
        daemon.stop_requested.set()
        worker.join(timeout=30)
    finally:
        daemon.shutdown()
        if subscriber is not None:
            subscriber.disconnect()
            subscriber.loop_stop()
        if broker is not None:
            broker[0].terminate()
            broker[0].wait(timeout=10)
        if keep:
            _say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
