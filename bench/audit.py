"""Audit throughput: `specimen-edge audit` on a local Ray against a plain loop of `check`, same frames.

    python -m bench.audit [--frames 1000] [--distinct 50] [--long-side 2000] [--full-res 40]
                          [--overhead-frames 200] [--node-cores 16]

Generated herbarium sheets (the synthetic generator; some without a colour chart, some out of
focus), `--distinct` different ones copied to `--frames` files in ten top-level folders, judged by
the bundled segmenter on ONNX Runtime:

- `check --json` over every file, one process (the plain loop);
- `audit` on a local Ray with one worker per CPU (the default), into a fresh results folder;
- `audit` with one worker over the first `--overhead-frames` files: per frame, the steady-state
  interval between rows minus `check`'s interval between verdicts is what Ray and the Parquet
  writing add to a frame;
- the same comparison on `--full-res` copies of the bundled 24-26 MP samples.

Rates are measured end to end (start-up included) and steady-state (first to last verdict). The
workers' resident memory is read from each worker process at the end. From the measured rate per
core, a table projects 1 M and 10 M frames on 1, 8 and 64 nodes of `--node-cores` cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2

from bench.results_file import write_section

# local Ray on loopback, no token written to the home folder
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

SAMPLES = Path(__file__).resolve().parent.parent / "edge" / "samples"


@dataclass
class Measured:
    frames: int
    wall_s: float
    steady_s: float  # first to last verdict
    pipeline_ms: float  # median of the verdicts' own timings_ms.total

    @property
    def rate(self) -> float:
        return self.frames / self.wall_s

    @property
    def steady_rate(self) -> float:
        return (self.frames - 1) / self.steady_s if self.steady_s > 0 else float("nan")

    @property
    def interval_ms(self) -> float:
        return 1000 * self.steady_s / (self.frames - 1) if self.frames > 1 else float("nan")


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def _measured(verdicts: list[dict[str, object]], wall_s: float) -> Measured:
    stamps = sorted(_stamp(str(v["processed_at"])) for v in verdicts)
    totals = [float(v["timings_ms"]["total"]) for v in verdicts]  # type: ignore[index]
    return Measured(len(verdicts), wall_s, stamps[-1] - stamps[0], statistics.median(totals))


def make_frames(folder: Path, count: int, distinct: int, long_side: int) -> list[Path]:
    from training.synth import generate

    sheets = []
    for i in range(distinct):
        sample = generate(700 + i, "herbarium_sheet", long_side, with_chart=i % 5 != 0,
                          defocus_radius=4.0 if i % 7 == 0 else 0.0)
        ok, buf = cv2.imencode(".jpg", sample.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        sheets.append(buf.tobytes())
    files = []
    for n in range(count):
        box = folder / f"box{n % 10:02d}"
        box.mkdir(parents=True, exist_ok=True)
        files.append(box / f"sheet{n:06d}.jpg")
        files[-1].write_bytes(sheets[n % distinct])
    return files


def copy_samples(folder: Path, count: int) -> list[Path]:
    samples = sorted(SAMPLES.glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        files.append(folder / f"frame{n:04d}.jpg")
        shutil.copyfile(samples[n % len(samples)], files[-1])
    return files


def run_check(files: list[Path]) -> Measured:
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "edge", "check", "--json", "--no-progress", *map(str, files)],
                       capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - started
    verdicts = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(verdicts) == len(files), p.stderr[-2000:]
    return _measured(verdicts, wall)


def run_audit_measured(files: list[Path], out: Path, workers: int | None) -> tuple[Measured, list[dict[str, float]],
                                                                                 int]:
    from edge.audit.runner import run_audit
    from edge.audit.sources import expand_sources
    from edge.audit.store import ResultStore
    from edge.config import load_settings

    settings = load_settings()
    started = time.monotonic()
    frames = expand_sources([str(f) for f in files], settings.watch)
    with open(os.devnull, "w") as quiet:
        run = run_audit(frames, settings, out, workers=workers, stream=quiet)
    wall = time.monotonic() - started
    verdicts = [json.loads(v) for v in ResultStore(out).read(["verdict_json"]).column("verdict_json").to_pylist()]
    assert len(verdicts) == len(files) and run.judged == len(files)
    return _measured(verdicts, wall), run.worker_memory, run.workers


def projection(rate_per_core: float, node_cores: int) -> list[str]:
    lines = ["| frames | 1 node | 8 nodes | 64 nodes |", "|---|---|---|---|"]
    for frames in (1_000_000, 10_000_000):
        cells = []
        for nodes in (1, 8, 64):
            hours = frames / (rate_per_core * node_cores * nodes) / 3600
            cells.append(f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h" if hours >= 1
                         else f"{hours * 60:.0f} min")
        lines.append(f"| {frames:,} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=50, help="different generated sheets among the frames")
    parser.add_argument("--long-side", type=int, default=2000, help="pixels on the long side of a generated frame")
    parser.add_argument("--overhead-frames", type=int, default=200, help="frames of the one-worker audit")
    parser.add_argument("--full-res", type=int, default=40, help="copies of the 24-26 MP samples (0: none)")
    parser.add_argument("--node-cores", type=int, default=16, help="cores of a node in the projection")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        files = make_frames(root / "collection", args.frames, args.distinct, args.long_side)
        print(f"{len(files)} frames generated in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        check = run_check(files)
        print(f"check: {check}", file=sys.stderr)
        audit, memory, workers = run_audit_measured(files, root / "out", None)
        print(f"audit: {audit}, {workers} workers, memory {memory}", file=sys.stderr)
        subset = files[: args.overhead_frames]
        check_one = run_check(subset)
        audit_one, _, _ = run_audit_measured(subset, root / "out-one", 1)
        print(f"one worker: check {check_one}, audit {audit_one}", file=sys.stderr)
        full: tuple[Measured, Measured] | None = None
        if args.full_res:
            big = copy_samples(root / "full", args.full_res)
            full = (run_check(big), run_audit_measured(big, root / "out-full", None)[0])
            print(f"24 MP: check {full[0]}, audit {full[1]}", file=sys.stderr)

    overhead_ms = audit_one.interval_ms - check_one.interval_ms
    rate_per_core = audit.steady_rate / cores
    rss = [m["rss_mib"] for m in memory]
    peak = [m["peak_mib"] for m in memory]
    body = [
        f"Command: `python -m bench.audit --frames {args.frames} --distinct {args.distinct} --long-side "
        f"{args.long_side} --overhead-frames {args.overhead_frames} --full-res {args.full_res}`",
        "",
        f"{args.frames} generated herbarium sheets ({args.distinct} different ones, {args.long_side} px on the long "
        f"side, JPEG), bundled segmenter on ONNX Runtime (CPU), default configuration. `check` is one process "
        f"judging the files in turn; `audit` runs on a local Ray started by the command with one worker per CPU "
        f"({workers} here), batches of 16 frames, a Parquet part per batch. End to end includes start-up (model "
        f"load; for `audit` also Ray and its workers); steady state runs from the first verdict to the last.",
        "",
        "| frames | `check` loop frames/s: end to end / steady | `audit` frames/s: end to end / steady | "
        "audit / check (steady) | median pipeline ms per frame: check / audit |",
        "|---|---|---|---|---|",
        f"| {args.frames} generated, {args.long_side} px | {check.rate:.2f} / {check.steady_rate:.2f} | "
        f"{audit.rate:.2f} / {audit.steady_rate:.2f} | **{audit.steady_rate / check.steady_rate:.2f}** | "
        f"{check.pipeline_ms:.0f} / {audit.pipeline_ms:.0f} |",
    ]
    if full is not None:
        body.append(f"| {args.full_res} copies of the 24-26 MP samples | "
                    f"{full[0].rate:.2f} / {full[0].steady_rate:.2f} | "
                    f"{full[1].rate:.2f} / {full[1].steady_rate:.2f} | "
                    f"**{full[1].steady_rate / full[0].steady_rate:.2f}** | "
                    f"{full[0].pipeline_ms:.0f} / {full[1].pipeline_ms:.0f} |")
    body += [
        "",
        f"Ray's cost per frame, one worker against `check` on the first {len(subset)} frames (steady state, "
        f"interval between verdicts): {audit_one.interval_ms:.1f} ms against {check_one.interval_ms:.1f} ms, "
        f"**{overhead_ms:+.1f} ms per frame** (scheduling, moving rows to the driver, Parquet). Start-up: "
        f"`check` {check_one.wall_s - check_one.steady_s:.1f} s, `audit` {audit_one.wall_s - audit_one.steady_s:.1f} s "
        f"before the first verdict (Ray, a worker, the model).",
        "",
        f"Worker memory at the end of the {args.frames}-frame run (resident / peak, MiB): "
        + ", ".join(f"{r:.0f} / {p:.0f}" for r, p in zip(rss, peak, strict=True)) + ".",
        "",
        f"**Projection, not a measurement.** The steady audit rate here is {audit.steady_rate:.2f} frames/s on "
        f"{cores} cores, {rate_per_core:.2f} frames/s per core for {args.long_side} px frames"
        + (f" ({full[1].steady_rate / cores:.2f} per core for 24-26 MP frames)" if full is not None else "")
        + f". Assuming nodes of {args.node_cores} cores, one worker per core, the rate per core unchanged and "
        f"storage that keeps up (no measurement here covers any of these):",
        "",
        f"{args.long_side} px frames:",
        "",
        *projection(rate_per_core, args.node_cores),
    ]
    if full is not None:
        body += ["", "24-26 MP frames:", "", *projection(full[1].steady_rate / cores, args.node_cores)]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("audit", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
