"""A tiny cache of training samples, written where training looks for it, so it never runs the generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.dataset import CacheSpec

CANVAS = (128, 96)


def write_tiny_cache(
    root: Path, seed_base: int, samples: int, canvas_hw: tuple[int, int] = CANVAS, kind: str = "auto"
) -> Path:
    """PNG pairs under the folder `build_cache` would use, so training finds them all cached and
    never runs the generator: a textured canvas with one rectangle of every class."""
    folder = CacheSpec(root, canvas_hw, seed_base, samples, kind=kind).folder()
    folder.mkdir(parents=True, exist_ok=True)
    h, w = canvas_hw
    for seed in range(seed_base, seed_base + samples):
        rng = np.random.default_rng(seed)
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), np.uint8)
        for c in range(1, 8):
            y, x = int(rng.integers(0, h - 16)), int(rng.integers(0, w - 16))
            mask[y : y + 12, x : x + 12] = c
            image[y : y + 12, x : x + 12] = (30 * c, 255 - 30 * c, 128)
        cv2.imwrite(str(folder / f"{seed}.mask.png"), mask)
        cv2.imwrite(str(folder / f"{seed}.png"), image)
    return folder
