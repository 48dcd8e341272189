"""Regenerate the demo's sample frames (edge/samples/) with the synthetic generator.

    python -m training.make_samples [--out DIR]

Frames at capture resolution, as a station's camera writes them: 6000 px on the long side (about
24-26 MP), every stroke drawn at that size, never drawn small and enlarged. Three good sheets, a sheet
without its colour chart and a sheet out of focus (a defocus disc of 7 px radius at full resolution:
edges 6-8 px wide where the good sheets' are about 2 px); the demo also makes a truncated copy at run
time. Seeds are fixed so the files only change with the generator. JPEG quality 85 keeps the five
together under about 8 MB (they ship in the wheel); tests/test_demo_samples.py checks their size and
the verdict each one gets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from training.synth import generate

OUT = Path(__file__).resolve().parent.parent / "edge" / "samples"
LONG_SIDE = 6000
JPEG_QUALITY = 85
# (file name, seed, with_chart, defocus radius in pixels of the frame)
SAMPLES = (
    ("BM000100001.jpg", 27, True, 0.0),
    ("BM000100002.jpg", 25, True, 0.0),
    ("BM000100003_no_chart.jpg", 23, False, 0.0),
    ("BM000100004_out_of_focus.jpg", 14, True, 7.0),
    ("BM000100005.jpg", 20, True, 0.0),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.make_samples", description="Regenerate the demo samples.")
    ap.add_argument("--out", type=Path, default=OUT, help="folder to write to (default: edge/samples)")
    out: Path = ap.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, seed, with_chart, defocus in SAMPLES:
        sample = generate(seed, "herbarium_sheet", long_side=LONG_SIDE, with_chart=with_chart,
                          defocus_radius=defocus)
        ok, buf = cv2.imencode(".jpg", sample.image,
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        if not ok:
            raise RuntimeError(f"{name}: JPEG encoding failed")
        (out / name).write_bytes(buf.tobytes())
        h, w = sample.image.shape[:2]
        total += len(buf)
        print(f"{name}: {w}x{h} ({w * h / 1e6:.1f} MP), {len(buf) / 1e6:.2f} MB")
    print(f"together {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
