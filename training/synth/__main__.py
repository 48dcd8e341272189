"""Write a batch of synthetic frames to a folder.

    python -m training.synth --out DIR --count N --seed S [--long-side L] [--kind K]

K is auto (default), herbarium_sheet or microscope_slide.

Writes DIR/<name>.jpg, DIR/<name>.mask.png (8-bit class ids) and DIR/index.jsonl (one line per frame).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from .compose import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.synth", description="Generate synthetic training frames."
    )
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="first seed; frame i uses seed + i")
    ap.add_argument("--long-side", type=int, default=1024)
    ap.add_argument("--kind", default="auto", choices=["auto", "herbarium_sheet", "microscope_slide"])
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "index.jsonl", "a", encoding="utf-8") as index:
        for i in range(a.count):
            seed = a.seed + i
            s = generate(seed, a.kind, a.long_side)
            name = f"synth_{seed:08d}"
            q = int(np.random.default_rng(seed + 7919).integers(85, 96))
            cv2.imwrite(str(a.out / f"{name}.jpg"), s.image, [cv2.IMWRITE_JPEG_QUALITY, q])
            cv2.imwrite(str(a.out / f"{name}.mask.png"), s.mask)
            rec = {
                "name": name,
                "image": f"{name}.jpg",
                "mask": f"{name}.mask.png",
                "seed": seed,
                "kind": s.kind,
                "width": int(s.image.shape[1]),
                "height": int(s.image.shape[0]),
                "barcodes": s.barcodes,
            }
            index.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
