"""How cheaply can the segmenter get its small copy of a 24 MP JPEG?

    python -m bench.decode [--frames 5] [--long-side 6000]

Compares, on generated frames in one run: full decode (`cv2.imread`), full decode then
INTER_AREA resize to the segmenter's size, and libjpeg's reduced-size decoding at 1/2, 1/4
and 1/8 (`IMREAD_REDUCED_COLOR_*`). Writes medians to bench/RESULTS.md.
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

from bench.latency import make_frames
from bench.results_file import write_section

SEGMENTER_LONG_SIDE = 768


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--long-side", type=int, default=6000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="se-decode-") as tmp:
        frames = make_frames(Path(tmp), args.frames, args.long_side)

        def full_then_resize(p: Path) -> object:
            img = cv2.imread(str(p))
            assert img is not None
            scale = SEGMENTER_LONG_SIDE / max(img.shape[:2])
            return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

        methods: dict[str, Callable[[Path], object]] = {
            "full decode (`cv2.imread`)": lambda p: cv2.imread(str(p)),
            "full decode + INTER_AREA resize": full_then_resize,
            "reduced decode 1/2": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_2),
            "reduced decode 1/4": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_4),
            "reduced decode 1/8": lambda p: cv2.imread(str(p), cv2.IMREAD_REDUCED_COLOR_8),
        }
        results = {name: statistics.median(timed(partial(fn, p)) for p in frames) for name, fn in methods.items()}
    base = results["full decode (`cv2.imread`)"]
    rows = "\n".join(f"| {name} | {ms:.1f} | {ms / base:.2f} |" for name, ms in results.items())
    body = f"""
Command: `python -m bench.decode --frames {args.frames} --long-side {args.long_side}`

Median over {args.frames} generated sheets ({args.long_side} px long side, JPEG quality 95), each the median
of 3 runs, one thread.

| method | median ms | vs full decode |
|---|---|---|
{rows}

The daemon uses the reduced decode (the largest factor that keeps the long side at or above the
segmenter's canvas) for the segmenter while the full decode for the checks runs on a second thread.
"""
    print(body)
    if not args.no_write:
        write_section("decode", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
