"""Synthetic training data: a seeded on-disk cache of canvas-placed samples plus train-time augmentation.

Samples come from the synthetic generator (`training.synth.generate` by default). Each one is placed
on the segmenter's canvas with the runtime's own letterbox functions (edge.segmentation.letterbox),
so training sees frames prepared exactly as the service prepares them, and is stored as two PNGs
(image, class-id mask) under a cache folder outside the repository. Generating is the slow part,
so it runs once, in parallel, and training then only reads PNGs.

The cache folder's name carries the generator's source hash, the canvas size, the seed range and the
scene kind when one is asked for, so a changed generator or canvas gets a fresh cache instead of
silently reusing stale samples.

    python -m training.dataset --samples 4000 --workers 2      # build (or complete) the cache
    python -m training.dataset --samples 2400 --kind microscope_slide   # slides only (a slide model)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.segmentation.letterbox import place_on_canvas

DEFAULT_CANVAS_HW = (768, 512)
DEFAULT_GENERATOR = "training.synth:generate"
DEFAULT_CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "specimen-edge" / "synth"
TRAIN_SEED_BASE = 0
VALIDATION_SEED_BASE = 10_000_000  # disjoint from any training seed range we use
CALIBRATION_SEED_BASE = 20_000_000  # logit offsets are fitted here, apart from training and validation
# scene kinds a cache can hold: the generator's own mix, or one kind of the default generator's
SCENE_KINDS = ("auto", "herbarium_sheet", "microscope_slide")
SMALL_CLASSES = (3, 4, 5, 6, 7)  # type_label, barcode, colour_chart, scale_bar, stamp


def load_generator(spec: str = DEFAULT_GENERATOR) -> Callable[..., Any]:
    """`module:function` -> the generator callable."""
    module_name, _, attr = spec.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module_name), attr or "generate")
    return fn


def generator_fingerprint(spec: str = DEFAULT_GENERATOR) -> str:
    """Hash of the generator package's source files: changes whenever the generator does."""
    module = importlib.import_module(spec.partition(":")[0])
    files = sorted(Path(p) for p in (getattr(module, "__path__", None) or [module.__file__]))
    digest = hashlib.sha256()
    for root in files:
        paths = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for p in paths:
            digest.update(p.name.encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class CacheSpec:
    root: Path
    canvas_hw: tuple[int, int] = DEFAULT_CANVAS_HW
    seed_base: int = TRAIN_SEED_BASE
    samples: int = 2000
    generator: str = DEFAULT_GENERATOR
    long_side: int = 1536
    # "auto": the generator's own mix of scenes; a kind (e.g. "microscope_slide"): that kind only
    kind: str = "auto"

    def folder(self) -> Path:
        h, w = self.canvas_hw
        name = f"{generator_fingerprint(self.generator)}_{h}x{w}_ls{self.long_side}_s{self.seed_base}"
        # the mixed cache keeps its old name; a cache of one kind is told apart by it
        return self.root / (name if self.kind == "auto" else f"{name}_{self.kind}")


def _sample_kwargs(seed: int) -> dict[str, Any]:
    """Per-seed generator options: a share of frames get capture blur so the model learns to
    segment soft frames too (the service must still find the label to call it blurred)."""
    rng = np.random.default_rng(seed + 7_919)
    return {"blur_sigma": float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0.5, 2.5)]))}


def _make_one(args: tuple[str, int, tuple[int, int], int, str, str]) -> tuple[int, str]:
    generator_spec, seed, canvas_hw, long_side, folder, kind = args
    out = Path(folder)
    img_path, mask_path = out / f"{seed}.png", out / f"{seed}.mask.png"
    if img_path.exists() and mask_path.exists():
        return seed, "cached"
    generate = load_generator(generator_spec)
    sample = generate(seed, kind, long_side, **_sample_kwargs(seed))
    canvas, _ = place_on_canvas(sample.image, canvas_hw)
    mask, _ = place_on_canvas(sample.mask, canvas_hw, pad_value=0, interpolation=cv2.INTER_NEAREST)
    # Write the mask first and the image last under a temporary name, so a killed run never leaves
    # an image without its mask that a later run would take as complete.
    cv2.imwrite(str(mask_path), mask)
    tmp = out / f"{seed}.tmp.png"
    cv2.imwrite(str(tmp), canvas, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    os.replace(tmp, img_path)
    return seed, str(getattr(sample, "kind", ""))


def build_cache(spec: CacheSpec, workers: int = 2, log: Callable[[str], None] = print) -> Path:
    """Generate every missing sample of `spec`; returns the cache folder."""
    folder = spec.folder()
    folder.mkdir(parents=True, exist_ok=True)
    seeds = range(spec.seed_base, spec.seed_base + spec.samples)
    jobs = [(spec.generator, s, spec.canvas_hw, spec.long_side, str(folder), spec.kind) for s in seeds]
    start, done = time.monotonic(), 0
    # Fork would share the parent's torch threads; spawn keeps each worker a plain numpy/cv2 process.
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, workers), initializer=_worker_init) as pool:
        for done, _ in enumerate(pool.imap_unordered(_make_one, jobs, chunksize=4), start=1):
            if done % 200 == 0 or done == len(jobs):
                log(f"cache {done}/{len(jobs)} ({time.monotonic() - start:.0f} s) in {folder}")
    meta = {
        "generator": spec.generator,
        "fingerprint": generator_fingerprint(spec.generator),
        "canvas_hw": list(spec.canvas_hw),
        "long_side": spec.long_side,
        "kind": spec.kind,
    }
    (folder / "cache.json").write_text(json.dumps(meta, indent=1))
    return folder


def _worker_init() -> None:
    cv2.setNumThreads(1)


def cached_seeds(folder: Path, seeds: Sequence[int]) -> list[int]:
    return [s for s in seeds if (folder / f"{s}.png").exists() and (folder / f"{s}.mask.png").exists()]


def load_sample(folder: Path, seed: int) -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(folder / f"{seed}.png"), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(folder / f"{seed}.mask.png"), cv2.IMREAD_UNCHANGED)
    if image is None or mask is None:
        raise FileNotFoundError(f"cached sample {seed} missing in {folder}")
    return image, mask


# --------------------------------------------------------------------------- augmentation


def _jitter_scale(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, lo: float = 0.85, hi: float = 1.2
) -> tuple[np.ndarray, np.ndarray]:
    """Zoom in or out around a random point, keeping the canvas size; pads with the letterbox grey."""
    h, w = mask.shape
    s = float(rng.uniform(lo, hi))
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    m = np.array([[s, 0, cx - s * cx], [0, s, cy - s * cy]], dtype=np.float32)
    image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
    mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return image, mask


def _colour_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    img *= rng.uniform(0.9, 1.1, size=3).astype(np.float32)  # white balance
    img = (img - 128.0) * rng.uniform(0.75, 1.25) + 128.0 + rng.uniform(-25, 25)  # contrast, brightness
    if rng.random() < 0.5:  # saturation
        grey = img.mean(axis=2, keepdims=True)
        img = grey + (img - grey) * rng.uniform(0.6, 1.4)
    img = np.clip(img, 0, 255)
    if rng.random() < 0.3:  # gamma: under- and over-exposed captures
        img = 255.0 * (img / 255.0) ** rng.uniform(0.7, 1.4)
    return img.astype(np.uint8)


def augment(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Capture variation the generator may not cover: orientation, framing, exposure, focus, noise, JPEG."""
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if rng.random() < 0.3:  # sheets are sometimes shot upside down
        image, mask = image[::-1, ::-1], mask[::-1, ::-1]
    image, mask = np.ascontiguousarray(image), np.ascontiguousarray(mask)
    if rng.random() < 0.6:
        image, mask = _jitter_scale(image, mask, rng)
    image = _colour_jitter(image, rng)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.4, 1.6)))
    if rng.random() < 0.3:
        noise = rng.normal(0.0, rng.uniform(2, 8), image.shape).astype(np.float32)
        image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            image = decoded
    return image, mask


def choose_crop(
    mask: np.ndarray, crop_hw: tuple[int, int], rng: np.random.Generator, focus: float = 0.6
) -> tuple[int, int]:
    """Top-left of a crop; with probability `focus` centred on a pixel of a small class, so the rare,
    small parts (charts, barcodes, rulers) are seen far more often than their pixel share."""
    h, w = mask.shape
    ch, cw = crop_hw
    cy, cx = rng.integers(0, h), rng.integers(0, w)
    if rng.random() < focus:
        present = [c for c in SMALL_CLASSES if (mask == c).any()]
        if present:
            ys, xs = np.nonzero(mask == int(rng.choice(present)))
            k = int(rng.integers(0, len(ys)))
            cy, cx = ys[k], xs[k]
    y0 = int(np.clip(cy - ch // 2 + rng.integers(-ch // 4, ch // 4 + 1), 0, h - ch))
    x0 = int(np.clip(cx - cw // 2 + rng.integers(-cw // 4, cw // 4 + 1), 0, w - cw))
    return y0, x0


def class_pixel_frequency(folder: Path, seeds: Sequence[int], num_classes: int = 8, limit: int = 200) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.float64)
    for s in list(seeds)[:limit]:
        _, mask = load_sample(folder, s)
        counts += np.bincount(mask.ravel(), minlength=num_classes)[:num_classes]
    return counts / max(1.0, counts.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the synthetic sample cache.")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE_ROOT)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed-base", type=int, default=TRAIN_SEED_BASE)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--canvas", default="768x512", help="H x W")
    ap.add_argument("--long-side", type=int, default=1536)
    ap.add_argument("--generator", default=DEFAULT_GENERATOR, help="module:function")
    ap.add_argument("--kind", default="auto", choices=SCENE_KINDS, help="scene kind (auto: the generator's mix)")
    a = ap.parse_args()
    h, w = (int(v) for v in a.canvas.lower().split("x"))
    spec = CacheSpec(a.cache, (h, w), a.seed_base, a.samples, a.generator, a.long_side, a.kind)
    print(build_cache(spec, a.workers))


if __name__ == "__main__":
    main()
