"""File closed -> alert received, against a bare cv2.imread of the same file.

    python -m bench.latency [--frames 12] [--long-side 6000] [--model PATH]

Generates frames with the synthetic generator (24 MP by default: 6000 px long side,
no colour chart, so every frame raises an alert), starts a local mosquitto and the daemon
(`specimen-edge run`, a separate process, ONNX Runtime on the CPU), then for each frame:
times `cv2.imread` on it while the daemon is idle, puts it into the hot folder under a temporary
name and renames it, as capture software does, and times from that rename until the alert arrives
at an MQTT subscriber. Writes medians, p95 and their ratio to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.results_file import write_section
from tests.broker import Broker


def make_frames(folder: Path, count: int, long_side: int, noise: float = 2.0) -> list[Path]:
    """Generated sheets with sensor-like noise at full resolution: without it a drawn sheet
    compresses far better than a photograph, and decodes faster than a real frame would."""
    from training.synth import generate

    paths = []
    rng = np.random.default_rng(7)
    for i in range(count):
        sample = generate(1000 + i, "herbarium_sheet", long_side=long_side, with_chart=False)
        image = sample.image
        if noise > 0:
            grain = rng.normal(0.0, noise, image.shape).astype(np.float32)
            image = np.clip(image.astype(np.float32) + grain, 0, 255).astype(np.uint8)
        path = folder / f"frame{i:03d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--long-side", type=int, default=6000)
    parser.add_argument("--model", help="ONNX model (default: the bundled segmenter)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="se-latency-") as tmp_name:
        tmp = Path(tmp_name)
        staging, hot, state = tmp / "staging", tmp / "hot", tmp / "state"
        for d in (staging, hot, state):
            d.mkdir()
        print(f"generating {args.frames} frames ...", file=sys.stderr)
        frames = make_frames(staging, args.frames, args.long_side)
        probe = cv2.imread(str(frames[0]), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        assert probe is not None
        h, w = probe.shape[:2]
        broker = Broker(tmp)
        broker.start()
        arrivals: dict[str, float] = {}
        got = threading.Condition()

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            name = Path(json.loads(msg.payload)["file"]).name
            with got:
                arrivals[name] = time.time()
                got.notify_all()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("specimen-edge/bench/alert", qos=1)
        sub.loop_start()
        config = tmp / "station.yaml"
        config.write_text("segmenter:\n  threads: 2\n" + (f"  model: '{args.model}'\n" if args.model else ""))
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config), "--watch", str(hot), "--station", "bench",
             "--mqtt", broker.url, "--state-dir", str(state)], stderr=open(tmp / "daemon.log", "w"))
        status = threading.Event()
        sub.message_callback_add("specimen-edge/bench/status", lambda c, u, m: status.set())
        sub.subscribe("specimen-edge/bench/status", qos=1)
        try:
            if not status.wait(120):
                raise RuntimeError("daemon did not come online:\n" + (tmp / "daemon.log").read_text()[-2000:])
            imread_ms, latency_ms, sizes = [], [], []
            timings: list[dict[str, float]] = []
            for path in frames:
                for _ in range(2):  # page cache warm, like a frame the camera just wrote
                    t0 = time.perf_counter()
                    cv2.imread(str(path))
                    elapsed = (time.perf_counter() - t0) * 1000
                imread_ms.append(elapsed)
                sizes.append(path.stat().st_size)
                # as capture software delivers: written under a temporary name in the hot folder
                # (ignored: a dot-name), then renamed to its final name
                temp = hot / f".{path.name}.part"
                os.rename(path, temp)
                time.sleep(0.3)
                t_renamed = time.time()
                os.rename(temp, hot / path.name)
                with got:
                    if not got.wait_for(partial(arrivals.__contains__, path.name), timeout=60):
                        raise RuntimeError(f"no alert for {path.name}")
                latency_ms.append((arrivals[path.name] - t_renamed) * 1000)
                time.sleep(0.3)
            for line in (state / "verdicts.jsonl").read_text().splitlines():
                timings.append(json.loads(line)["timings_ms"])
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
            sub.loop_stop()
            broker.stop()

    med_read, med_lat = statistics.median(imread_ms), statistics.median(latency_ms)
    stage = {k: statistics.median(t[k] for t in timings if k in t)
             for k in ("decode_small", "segment", "decode_wait", "qc", "total")}
    ratio = med_lat / med_read
    body = f"""
Command: `python -m bench.latency --frames {args.frames} --long-side {args.long_side}`

{len(frames)} synthetic herbarium sheets with sensor-like noise (sigma 2), {w * 8} x {h * 8} px JPEG (quality 95, median
{statistics.median(sizes) / 1e6:.1f} MB), no colour chart so each raises an alert. The daemon runs as its own
process (ONNX Runtime, CPU, 2 threads) with mosquitto on loopback. Latency runs from the rename into the hot
folder to the alert arriving at a subscriber; `cv2.imread` is timed on the same file in the same run.

| measure | median ms | p95 ms |
|---|---|---|
| `cv2.imread` (bare decode) | {med_read:.1f} | {p95(imread_ms):.1f} |
| file renamed in -> alert received | {med_lat:.1f} | {p95(latency_ms):.1f} |

**Ratio of medians: {ratio:.2f}** (budget: at most 1.5).

Inside the daemon (median ms per frame, from the verdicts' `timings_ms`): reduced JPEG decode
{stage['decode_small']:.1f}, segmenter {stage['segment']:.1f}, wait for the full decode {stage['decode_wait']:.1f},
QC {stage['qc']:.1f}, total judging {stage['total']:.1f}.
"""
    print(body)
    if not args.no_write:
        write_section("latency", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
