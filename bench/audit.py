"""Audit throughput: `specimen-edge audit` on a local Ray against a plain loop of `check`, same frames.

    python -m bench.audit [--frames 1000] [--chunks 4] [--distinct 50] [--long-side 2000] [--full-res 40]
                          [--node-cores 16]

Generated herbarium sheets (the synthetic generator; some without a colour chart, some out of
focus), `--distinct` different ones copied to `--frames` files in ten top-level folders, judged by
the bundled segmenter on ONNX Runtime: `check --json` over the files, one process (the plain loop),
and `audit` on a local Ray with one worker per CPU (the default) into a fresh results folder. The
frames are taken in `--chunks` parts, each judged by `check` and then by `audit`, so that a change in
what else the machine runs weighs on both alike; then the same on `--full-res` copies of the bundled
24-26 MP samples.

Rates are measured end to end (start-up included) and steady-state (first to last verdict of each
part). Ray's cost per frame is the time a worker spends between the end of one frame's pipeline and
the start of the next (the gap between consecutive verdicts of one worker, less the next frame's own
`timings_ms.total`), against the same gap in the `check` loop. The workers' resident memory is read
from each worker process at the end of each part. From the measured rate per core, a table projects
1 M and 10 M frames on 1, 8 and 64 nodes of `--node-cores` cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
    gap_ms: float  # mean time between one frame's pipeline and the next's, per worker
    cpu_ms: float = float("nan")  # processor time per frame, every process of the run together
    steady_cpu_ms: float = float("nan")  # the same from the first batch back to the last (no start-up)

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


def _measured(verdicts: list[dict[str, Any]], wall_s: float, workers: list[str] | None = None) -> Measured:
    """`workers[i]` names the worker of `verdicts[i]` (None: one process judged them all, in turn)."""
    stamps = sorted(_stamp(str(v["processed_at"])) for v in verdicts)
    totals = [float(v["timings_ms"]["total"]) for v in verdicts]
    streams: dict[str, list[tuple[float, float]]] = {}
    for i, v in enumerate(verdicts):
        streams.setdefault(workers[i] if workers else "", []).append((_stamp(str(v["processed_at"])), totals[i]))
    gaps = []
    for stream in streams.values():
        stream.sort()
        gaps += [(t - t_prev) * 1000 - total for (t_prev, _), (t, total) in zip(stream, stream[1:], strict=False)]
    return Measured(len(verdicts), wall_s, stamps[-1] - stamps[0], statistics.median(totals),
                    statistics.fmean(gaps) if gaps else float("nan"))


def combined(parts: list[Measured]) -> Measured:
    """Parts judged one after another, as one measurement: rates over the summed times."""
    frames = sum(p.frames for p in parts)
    return Measured(frames, sum(p.wall_s for p in parts),
                    sum(p.steady_s for p in parts) * (frames - 1) / sum(p.frames - 1 for p in parts),
                    statistics.median([p.pipeline_ms for p in parts]),
                    sum(p.gap_ms * (p.frames - 1) for p in parts) / sum(p.frames - 1 for p in parts),
                    sum(p.cpu_ms * p.frames for p in parts) / frames,
                    statistics.fmean(p.steady_cpu_ms for p in parts))


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


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def descendants_cpu_seconds(root: int) -> float:
    """Processor time of every living process below `root` (Ray's processes and its workers)."""
    parent: dict[int, int] = {}
    spent: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parent[int(entry.name)] = int(fields[1])
        spent[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid in spent:
        ancestor = parent.get(pid, 0)
        while ancestor > 1 and ancestor != root:
            ancestor = parent.get(ancestor, 0)
        if ancestor == root:
            total += spent[pid]
    return total


def run_check(files: list[Path]) -> Measured:
    started = time.monotonic()
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    p = subprocess.run([sys.executable, "-m", "edge", "check", "--json", "--no-progress", *map(str, files)],
                       capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - started
    verdicts = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(verdicts) == len(files), p.stderr[-2000:]
    measured = _measured(verdicts, wall)
    measured.cpu_ms = 1000 * (cpu_seconds(resource.RUSAGE_CHILDREN) - cpu) / len(files)
    return measured


def run_audit_measured(files: list[Path], out: Path, workers: int | None) -> tuple[Measured, list[dict[str, float]],
                                                                                 int]:
    from edge.audit.runner import run_audit
    from edge.audit.sources import expand_sources
    from edge.audit.store import ResultStore
    from edge.config import load_settings

    settings = load_settings()
    started = time.monotonic()
    frames = expand_sources([str(f) for f in files], settings.watch)
    # this process drives; Ray's processes and the workers, all started by it, are read after each batch
    samples: list[tuple[int, float, float]] = []  # (frames judged, this process, Ray's processes)

    def sample(judged: int) -> None:
        samples.append((judged, cpu_seconds(resource.RUSAGE_SELF), descendants_cpu_seconds(os.getpid())))

    cpu = cpu_seconds(resource.RUSAGE_SELF)
    with open(os.devnull, "w") as quiet:
        run = run_audit(frames, settings, out, workers=workers, stream=quiet, on_batch=sample)
    cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu + samples[-1][2]
    wall = time.monotonic() - started
    table = ResultStore(out).read(["verdict_json", "worker"])
    verdicts = [json.loads(v) for v in table.column("verdict_json").to_pylist()]
    assert len(verdicts) == len(files) and run.judged == len(files)
    measured = _measured(verdicts, wall, table.column("worker").to_pylist())
    measured.cpu_ms = 1000 * cpu / len(files)
    (n0, self0, ray0), (n1, self1, ray1) = samples[0], samples[-1]
    if n1 > n0:
        measured.steady_cpu_ms = 1000 * (self1 - self0 + ray1 - ray0) / (n1 - n0)
    return measured, run.worker_memory, run.workers


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
    parser.add_argument("--chunks", type=int, default=4, help="parts judged by check then audit in turn")
    parser.add_argument("--distinct", type=int, default=50, help="different generated sheets among the frames")
    parser.add_argument("--long-side", type=int, default=2000, help="pixels on the long side of a generated frame")
    parser.add_argument("--full-res", type=int, default=40, help="copies of the 24-26 MP samples (0: none)")
    parser.add_argument("--node-cores", type=int, default=16, help="cores of a node in the projection")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    checks: list[Measured] = []
    audits: list[Measured] = []
    memory: list[dict[str, float]] = []
    workers = 0
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        files = make_frames(root / "collection", args.frames, args.distinct, args.long_side)
        print(f"{len(files)} frames generated in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        size = -(-len(files) // args.chunks)
        for k in range(0, len(files), size):
            part = files[k:k + size]
            checks.append(run_check(part))
            measured, part_memory, workers = run_audit_measured(part, root / f"out-{k}", None)
            audits.append(measured)
            memory += part_memory
            print(f"frames {k}-{k + len(part) - 1}: check {checks[-1]}\n  audit {audits[-1]}, {part_memory}",
                  file=sys.stderr)
        full: tuple[Measured, Measured] | None = None
        if args.full_res:
            big = copy_samples(root / "full", args.full_res)
            full = (run_check(big), run_audit_measured(big, root / "out-full", None)[0])
            print(f"24 MP: check {full[0]}, audit {full[1]}", file=sys.stderr)
    load_after = os.getloadavg()
    check, audit = combined(checks), combined(audits)
    rate_per_core = audit.steady_rate / cores
    body = [
        f"Command: `python -m bench.audit --frames {args.frames} --chunks {args.chunks} --distinct {args.distinct} "
        f"--long-side {args.long_side} --full-res {args.full_res}`",
        "",
        f"{args.frames} generated herbarium sheets ({args.distinct} different ones, {args.long_side} px on the long "
        f"side, JPEG), bundled segmenter on ONNX Runtime (CPU), default configuration. `check` is one process "
        f"judging the files in turn; `audit` runs on a local Ray started by the command with one worker per CPU "
        f"({workers} here), batches of 16 frames, a Parquet part per batch. The frames were judged in "
        f"{len(checks)} parts, each by `check` and then by `audit`. End to end includes start-up (model load; for "
        f"`audit` also Ray and its workers, once per part); steady state runs from the first verdict of a part to "
        f"its last. Load average (1 min) {load_before[0]:.1f} before and {load_after[0]:.1f} after: other work "
        f"shared the machine's {cores} cores during the run.",
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
    per_part = ", ".join(f"{c.steady_rate:.2f} / {a.steady_rate:.2f}" for c, a in zip(checks, audits, strict=True))
    body += [
        "",
        f"Steady frames/s per part, check / audit: {per_part}.",
        "",
        f"Ray's cost per frame: a worker spends **{audit.gap_ms:.1f} ms** per frame outside the pipeline (between "
        f"one frame's verdict and the start of the next: rows, Parquet, Ray's calls), against "
        f"{check.gap_ms:.1f} ms in the `check` loop (printing the verdict), **{audit.gap_ms - check.gap_ms:+.1f} ms "
        f"per frame**. Start-up before the first verdict: `check` "
        f"{statistics.median(c.wall_s - c.steady_s for c in checks):.1f} s, `audit` "
        f"{statistics.median(a.wall_s - a.steady_s for a in audits):.1f} s (Ray, the workers, the model), "
        f"medians over the parts. Processor time per frame, every process together (start-up included): "
        f"`check` {check.cpu_ms:.0f} ms, `audit` {audit.cpu_ms:.0f} ms (the command, Ray's own processes and "
        f"the workers), **{audit.cpu_ms - check.cpu_ms:+.0f} ms per frame**; from the first batch back to the "
        f"last, without Ray's start-up, `audit` {audit.steady_cpu_ms:.0f} ms per frame.",
        "",
        "Worker memory at the end of each part (resident / peak, MiB): "
        + ", ".join(f"{m['rss_mib']:.0f} / {m['peak_mib']:.0f}" for m in memory) + ".",
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
