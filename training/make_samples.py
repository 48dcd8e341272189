"""Regenerate the demo's sample frames (edge/samples/) with the synthetic generator.

    python -m training.make_samples

Good sheets, a sheet without its colour chart and a sheet out of focus; the demo also makes
a truncated copy at run time. Seeds are fixed so the files only change with the generator.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from training.synth import generate

OUT = Path(__file__).resolve().parent.parent / "edge" / "samples"
LONG_SIDE = 2400
# (file name, seed, with_chart, blur sigma at this resolution)
SAMPLES = (
    ("BM000100001.jpg", 27, True, 0.0),
    ("BM000100002.jpg", 11, True, 0.0),
    ("BM000100003_no_chart.jpg", 13, False, 0.0),
    ("BM000100004_out_of_focus.jpg", 14, True, 3.0),
    ("BM000100005.jpg", 20, True, 0.0),
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, seed, with_chart, blur in SAMPLES:
        sample = generate(seed, "herbarium_sheet", long_side=LONG_SIDE, with_chart=with_chart, blur_sigma=blur)
        cv2.imwrite(str(OUT / name), sample.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"{name}: {sample.image.shape[1]}x{sample.image.shape[0]}")


if __name__ == "__main__":
    main()
