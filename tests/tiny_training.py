"""Tiny training fixtures: a sample cache written where training looks for it (so it never runs the
generator), a short training run on it, and a network whose batch norms are not at their start."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from training.dataset import TRAIN_SEED_BASE, VALIDATION_SEED_BASE, CacheSpec
from training.model import Segmenter, build_model
from training.train import main

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


def run_tiny_training(tmp_path: Path, start: torch.nn.Module, width: int, *args: str) -> Path:
    """Two crop epochs of `training.train` from `start` (of `width`) on a tiny cache, with `args`
    added; returns the run's folder."""
    cache, out = tmp_path / "cache", tmp_path / "run"
    write_tiny_cache(cache, TRAIN_SEED_BASE, 8)
    write_tiny_cache(cache, VALIDATION_SEED_BASE, 2)
    torch.save({"model": start.state_dict()}, tmp_path / "start.pt")
    main(
        [
            "--cache", str(cache), "--samples", "8", "--val-samples", "2", "--canvas", "128x96",
            "--crop", "64x64", "--epochs", "2", "--full-epochs", "0", "--batch", "4", "--width", str(width),
            "--workers", "1", "--threads", "1", "--init", str(tmp_path / "start.pt"), *args, "--out", str(out),
        ]
    )  # fmt: skip
    return out


def with_random_batch_norms(width: int, seed: int = 0) -> Segmenter:
    """A network in eval mode whose batch norms are away from their identity start, so that folding
    or copying them wrongly shows."""
    torch.manual_seed(seed)
    model = build_model(width)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return model.eval()
