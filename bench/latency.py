"""File closed -> alert received, against a bare cv2.imread of the same file; plus throughput.

    python -m bench.latency [--frames 8] [--backlog 500] [--model PATH] [--frames-from DIR ...]

Generates frames with the synthetic generator, with sensor-like noise so they compress and
decode like photographs and without a colour chart so each raises an alert: 24 MP and 50 MP
JPEGs and 24 MP 16-bit TIFFs. Starts a local mosquitto and the daemon (`specimen-edge run`, its
own process, ONNX Runtime on the CPU), then, for each frame: times `cv2.imread` on it while the
daemon is idle, and the naive pipeline a team would write first (full decode, resize, the same
model, whole-frame Laplacian) on it; puts it into the hot folder under a temporary name and
renames it, as capture software does, and times from that rename until the alert arrives at an
MQTT subscriber. `--frames-from DIR` adds real camera JPEGs (every .jpg under DIR, copied, so the
folder is never touched), reported beside the generated ones; most of them are accepted, so for
every kind the time is taken to the first of the frame's alert and verdict messages (both leave
the same outbox transaction). Then drops a backlog of frames at once and measures frames per second and the
daemon's peak resident memory. Writes everything to bench/RESULTS.md.
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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.results_file import write_section
from edge.decode import decode_full, read_frame
from tests.broker import Broker


def make_frames(folder: Path, count: int, long_side: int, noise: float = 2.0, tiff16: bool = False,
                seed: int = 1000) -> list[Path]:
    """Generated sheets with sensor-like noise at full resolution: without it a drawn sheet
    compresses far better than a photograph, and decodes faster than a real frame would."""
    from training.synth import generate

    paths = []
    rng = np.random.default_rng(seed)
    for i in range(count):
        sample = generate(seed + i, "herbarium_sheet", long_side=long_side, with_chart=False)
        image = sample.image
        if noise > 0:
            grain = rng.normal(0.0, noise, image.shape).astype(np.float32)
            image = np.clip(image.astype(np.float32) + grain, 0, 255).astype(np.uint8)
        if tiff16:
            path = folder / f"frame{seed + i:05d}.tif"
            cv2.imwrite(str(path), image.astype(np.uint16) * 257)
        else:
            path = folder / f"frame{seed + i:05d}.jpg"
            cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


TABLE_HEAD = ("| frames | `cv2.imread` median / p95 ms | renamed -> alert or verdict median / p95 ms "
              "| ratio (budget 1.5) | the daemon's own read (file, SHA-256, header) and full decode, bare, median ms "
              "| naive pipeline median ms "
              "| naive / ours |\n|---|---|---|---|---|---|---|")
STAGE_HEAD = ("| frames | reduced decode | segmenter (tilt estimate included) | wait for the full decode | checks "
              "| total judging |\n|---|---|---|---|---|---|")
STAGES = ("decode_small", "segment", "decode_wait", "qc", "total")


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


class NaivePipeline:
    """What a team writes first: decode everything, shrink, run the model, Laplacian of the frame."""

    def __init__(self, model: str | None) -> None:
        import onnxruntime as ort

        from edge.segmentation.model_card import bundled_model_path, load_model_card

        self.card = load_model_card(Path(model) if model else bundled_model_path())
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(self.card.path), options, providers=["CPUExecutionProvider"])

    def run(self, path: Path) -> float:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert image is not None
        h, w = self.card.input_hw
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        tensor = (small[:, :, ::-1].astype(np.float32) / 255.0 - np.asarray(self.card.mean, np.float32)) \
            / np.asarray(self.card.std, np.float32)
        self.session.run(None, {self.card.input_name: np.ascontiguousarray(tensor.transpose(2, 0, 1)[None])})
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def copy_real_frames(source: Path, folder: Path, limit: int) -> list[Path]:
    """Real camera JPEGs from a folder (recursive), copied under unique names."""
    import shutil

    paths = []
    for i, path in enumerate(sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))[:limit]):
        target = folder / f"real{i:03d}_{path.stem}.jpg"
        shutil.copyfile(path, target)
        paths.append(target)
    return paths


@dataclass
class SetResult:
    name: str
    size_px: tuple[int, int]
    megapixels: tuple[float, float] = (0.0, 0.0)
    sizes: list[int] = field(default_factory=list)
    imread_ms: list[float] = field(default_factory=list)
    naive_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    own_decode_ms: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def timed_ms(fn: object, *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="frames per kind (24 MP, 50 MP, 16-bit TIFF)")
    parser.add_argument("--backlog", type=int, default=500, help="frames dropped at once for the throughput run")
    parser.add_argument("--model", help="ONNX model (default: the bundled segmenter)")
    parser.add_argument("--frames-from", type=Path, action="append", default=[],
                        help="a folder of real camera JPEGs to time beside the generated frames (repeatable)")
    parser.add_argument("--real-limit", type=int, default=30, help="at most this many frames from each folder")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    for source in args.frames_from:
        if not source.is_dir():
            parser.error(f"--frames-from {source}: no such folder")

    with tempfile.TemporaryDirectory(prefix="se-latency-") as tmp_name:
        tmp = Path(tmp_name)
        staging, hot, state = tmp / "staging", tmp / "hot", tmp / "state"
        for d in (staging, hot, state):
            d.mkdir()
        print("generating frames ...", file=sys.stderr)
        kinds = [("24 MP JPEG", make_frames(staging, args.frames, 6000, seed=1000)),
                 ("50 MP JPEG", make_frames(staging, args.frames, 8660, seed=2000)),
                 ("24 MP 16-bit TIFF",
                  make_frames(staging, max(2, args.frames // 2), 6000, tiff16=True, seed=3000))]
        for source in args.frames_from:
            real = copy_real_frames(source, staging, args.real_limit)
            if real:
                kinds.append((f"real camera JPEGs from `{source.name}`", real))
        naive = NaivePipeline(args.model)
        broker = Broker(tmp)
        broker.start()
        arrivals: dict[str, float] = {}
        got = threading.Condition()

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            name = Path(json.loads(msg.payload)["file"]).name
            with got:
                arrivals.setdefault(name, time.time())  # the first of alert and verdict
                got.notify_all()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("specimen-edge/bench/alert", qos=1)
        sub.subscribe("specimen-edge/bench/verdict", qos=1)
        sub.loop_start()
        config = tmp / "station.yaml"
        config.write_text("segmenter:\n  threads: 2\n" + (f"  model: '{args.model}'\n" if args.model else "")
                          + "decode:\n  max_megapixels: 100.0\n"
                          # the backlog takes minutes: keep its alerts from expiring on the way
                          + "mqtt:\n  alert_expiry_s: 7200\n")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config), "--watch", str(hot), "--station", "bench",
             "--mqtt", broker.url, "--state-dir", str(state)], stderr=open(tmp / "daemon.log", "w"))
        status = threading.Event()
        sub.message_callback_add("specimen-edge/bench/status", lambda c, u, m: status.set())
        sub.subscribe("specimen-edge/bench/status", qos=1)
        results: list[SetResult] = []
        try:
            if not status.wait(120):
                raise RuntimeError("daemon did not come online:\n" + (tmp / "daemon.log").read_text()[-2000:])
            for kind, frames in kinds:
                probes = [cv2.imread(str(f), cv2.IMREAD_REDUCED_GRAYSCALE_8) for f in frames]
                megapixels = [p.shape[0] * p.shape[1] * 64 / 1e6 for p in probes if p is not None]
                result = SetResult(kind, (probes[0].shape[1] * 8, probes[0].shape[0] * 8) if probes[0] is not None
                                   else (0, 0), (min(megapixels), max(megapixels)))
                for path in frames:
                    cv2.imread(str(path))  # page cache warm, like a frame the camera just wrote
                    result.imread_ms.append(timed_ms(cv2.imread, str(path)))
                    result.own_decode_ms.append(timed_ms(lambda p: decode_full(read_frame(p, 100.0)), path))
                    result.names.append(path.name)
                    result.naive_ms.append(timed_ms(naive.run, path))
                    result.sizes.append(path.stat().st_size)
                    temp = hot / f".{path.name}.part"  # a dot-name: ignored until renamed
                    os.rename(path, temp)
                    time.sleep(0.3)
                    t_renamed = time.time()
                    os.rename(temp, hot / path.name)
                    with got:
                        if not got.wait_for(partial(arrivals.__contains__, path.name), timeout=120):
                            raise RuntimeError(f"no alert for {path.name}")
                    result.latency_ms.append((arrivals[path.name] - t_renamed) * 1000)
                    time.sleep(0.3)
                results.append(result)
            timings = {Path(v["file"]).name: v["timings_ms"] for v in
                       map(json.loads, (state / "verdicts.jsonl").read_text().splitlines())}
            # throughput: a backlog of 24 MP frames appears at once (hard links: no extra disk)
            sources = sorted(hot.glob("frame01*.jpg"))
            backlog_dir = tmp / "backlog"
            backlog_dir.mkdir()
            for i in range(args.backlog):
                os.link(sources[i % len(sources)], backlog_dir / f"backlog{i:04d}.jpg")
            t0 = time.time()
            for i in range(args.backlog):
                os.rename(backlog_dir / f"backlog{i:04d}.jpg", hot / f"backlog{i:04d}.jpg")
            with got:
                done = got.wait_for(lambda: sum(1 for n in arrivals if n.startswith("backlog")) >= args.backlog,
                                    timeout=3600)
            elapsed = time.time() - t0
            if not done:
                raise RuntimeError("the backlog did not finish")
            peak_rss = 0.0
            for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_rss = int(line.split()[1]) / 1024
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
            sub.loop_stop()
            broker.stop()

    rows = []
    for r in results:
        med_read, med_lat, med_naive = (statistics.median(v) for v in (r.imread_ms, r.latency_ms, r.naive_ms))
        low, high = r.megapixels
        size = f"{r.size_px[0]} x {r.size_px[1]}" if high - low < 1 else f"{low:.0f}-{high:.0f} MP"
        rows.append(f"| {r.name} ({size}, {len(r.sizes)} frames, median {statistics.median(r.sizes) / 1e6:.1f} MB) "
                    f"| {med_read:.0f} / {p95(r.imread_ms):.0f} | {med_lat:.0f} / {p95(r.latency_ms):.0f} "
                    f"| **{med_lat / med_read:.2f}** | {statistics.median(r.own_decode_ms):.0f} "
                    f"| {med_naive:.0f} | {med_naive / med_lat:.2f} |")
    stage_rows = []
    for r in results:
        per_frame = [timings[name] for name in r.names if name in timings]
        medians = [statistics.median(t.get(k, 0.0) for t in per_frame) if per_frame else 0.0 for k in STAGES]
        stage_rows.append(f"| {r.name} | " + " | ".join(f"{m:.0f}" for m in medians) + " |")
    real_args = "".join(f" --frames-from {source.name}" for source in args.frames_from)
    body = f"""
Command: `python -m bench.latency --frames {args.frames} --backlog {args.backlog}{real_args}`

Synthetic herbarium sheets with sensor-like noise (sigma 2), no colour chart so each raises an alert; JPEG
quality 95; TIFFs uncompressed 16-bit RGB. The daemon runs as its own process (ONNX Runtime, CPU, 2
threads) with mosquitto on loopback. Latency runs from the rename into the hot folder to the alert
arriving at a subscriber. In the same run and on the same files: bare `cv2.imread` (the budget's
reference), the daemon's own read of the file (bytes, SHA-256, header) and full-resolution decode,
alone (libjpeg-turbo 3 through simplejpeg for JPEG,
OpenCV for TIFF), and the naive pipeline (full decode, resize to the model's input, the same model,
whole-frame Laplacian variance).

{TABLE_HEAD}
{chr(10).join(rows)}

Inside the daemon (median ms per frame, from the verdicts' `timings_ms`; the full decode runs on its
own thread beside the reduced decode and the segmenter):

{STAGE_HEAD}
{chr(10).join(stage_rows)}

Backlog: {args.backlog} 24 MP JPEGs dropped at once, every alert delivered in {elapsed:.0f} s:
**{args.backlog / elapsed:.2f} frames/s**. Daemon peak resident memory over the whole run: **{peak_rss:.0f} MiB**.
"""
    print(body)
    if not args.no_write:
        write_section("latency", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
