"""JPEG decoding: OpenCV's libjpeg against libjpeg-turbo 3 (simplejpeg), full and reduced size.

    python -m bench.decode [--frames 5] [--long-side 6000] [--frames-from DIR]

Compares, on generated frames and (with --frames-from) real camera JPEGs, in one run: the full
decode with `cv2.imread` (the latency budget's reference) and with simplejpeg (what the daemon
uses), the full decode then INTER_AREA resize to the segmenter's size, and DCT-scaled decoding at
1/2, 1/4 and 1/8 with both libraries; both return the same pixels. Writes medians to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

from bench.latency import copy_real_frames, make_frames
from bench.results_file import write_section

SEGMENTER_LONG_SIDE = 768
REFERENCE = "full decode, `cv2.imread`"


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def full_then_resize(p: Path) -> object:
    img = cv2.imread(str(p))
    assert img is not None
    scale = SEGMENTER_LONG_SIDE / max(img.shape[:2])
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def turbo(p: Path, factor: int = 1) -> np.ndarray:
    data = p.read_bytes()
    h, w, _, _ = simplejpeg.decode_jpeg_header(data)
    return simplejpeg.decode_jpeg(data, colorspace="BGR", min_factor=factor,
                                  min_height=-(-h // factor), min_width=-(-w // factor))


METHODS: dict[str, Callable[[Path], object]] = {
    REFERENCE: lambda p: cv2.imread(str(p)),
    "full decode, simplejpeg": turbo,
    "full decode + INTER_AREA resize (OpenCV)": full_then_resize,
    "reduced 1/2, OpenCV": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_2),
    "reduced 1/2, simplejpeg": partial(turbo, factor=2),
    "reduced 1/4, OpenCV": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_4),
    "reduced 1/4, simplejpeg": partial(turbo, factor=4),
    "reduced 1/8, OpenCV": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_8),
    "reduced 1/8, simplejpeg": partial(turbo, factor=8),
}


def measure(frames: list[Path]) -> dict[str, float]:
    for p in frames:  # both libraries decode the same pixels (EXIF orientation aside)
        ours, theirs = turbo(p), cv2.imread(str(p), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert theirs is not None and ours.shape == theirs.shape, p
    return {name: statistics.median(timed(partial(fn, p)) for p in frames) for name, fn in METHODS.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--long-side", type=int, default=6000)
    parser.add_argument("--frames-from", type=Path, action="append", default=[],
                        help="also real camera JPEGs from this folder (recursive; copied, never changed)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sets: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="se-decode-") as tmp:
        generated = make_frames(Path(tmp), args.frames, args.long_side)
        sets.append((f"{args.frames} generated sheets, {args.long_side} px long side, quality 95",
                     measure(generated)))
        for source in args.frames_from:
            real = copy_real_frames(source, Path(tmp), 30)
            if real:
                sets.append((f"{len(real)} real camera JPEGs from `{source.name}`", measure(real)))
    head = "| method | " + " | ".join(f"{name}: median ms (vs `cv2.imread`)" for name, _ in sets) + " |"
    rows = [head, "|---|" + "---|" * len(sets)]
    for method in METHODS:
        cells = [f"{r[method]:.1f} ({r[method] / r[REFERENCE]:.2f})" for _, r in sets]
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    real_args = "".join(f" --frames-from {source.name}" for source in args.frames_from)
    body = f"""
Command: `python -m bench.decode --frames {args.frames} --long-side {args.long_side}{real_args}`

Each figure is the median over the frames of each frame's median of 3 runs, one thread.

{chr(10).join(rows)}

The daemon decodes JPEG with simplejpeg: the reduced decode (the largest factor that keeps the long
side at or above the segmenter's canvas) for the segmenter, while the full decode for the checks runs
on a second thread.
"""
    print(body)
    if not args.no_write:
        write_section("decode", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
