"""Contact sheet of generated frames, each beside its class-map overlay, for eyeballing realism and alignment.

python -m training.synth.preview --out synth_preview.png --count 12 [--seed 0] [--kind auto]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from .compose import generate

# BGR colour per class: background, specimen, label, type_label, barcode, colour_chart, scale_bar, stamp.
PALETTE = np.array(
    [
        [0, 0, 0],
        [0, 200, 0],
        [255, 160, 0],
        [255, 0, 255],
        [0, 0, 255],
        [0, 255, 255],
        [255, 255, 0],
        [0, 128, 255],
    ],
    np.uint8,
)


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    col = PALETTE[np.clip(mask, 0, 7)]
    out = image.copy()
    fg = mask > 0
    out[fg] = (image[fg] * (1 - alpha) + col[fg] * alpha).astype(np.uint8)
    return out


def contact_sheet(seeds: list[int], kind: str, tile: int, long_side: int) -> np.ndarray:
    tiles = []
    for s in seeds:
        smp = generate(s, kind, long_side)
        pair = []
        for im in (smp.image, overlay(smp.image, smp.mask)):
            h, w = im.shape[:2]
            k = tile / max(h, w)
            im = cv2.resize(im, (max(1, int(w * k)), max(1, int(h * k))), interpolation=cv2.INTER_AREA)
            t = np.full((tile, tile, 3), 90, np.uint8)
            t[: im.shape[0], : im.shape[1]] = im
            cv2.putText(t, str(s), (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1, cv2.LINE_AA)
            pair.append(t)
        tiles.append(np.hstack(pair))
    cols = 3
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 90))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kind", default="auto")
    ap.add_argument("--tile", type=int, default=300)
    ap.add_argument("--long-side", type=int, default=1024)
    a = ap.parse_args(argv)
    sheet = contact_sheet(list(range(a.seed, a.seed + a.count)), a.kind, a.tile, a.long_side)
    cv2.imwrite(a.out, sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
