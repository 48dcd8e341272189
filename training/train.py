"""Train the segmenter on synthetic samples, on CPU (default) or on a CUDA GPU.

    python -m training.train --samples 3000 --epochs 12 --out runs/seg        # see training/README.md
    python -m training.train --device cuda --loader-workers 12 ...           # on a GPU machine

Steps: build (or reuse) the seeded sample cache, then train on crops of the canvas at canvas scale
(the network is fully convolutional, so a crop costs a quarter of a full canvas and the pixels are
the same size as at inference), with crops drawn towards the small classes. The last epochs run on
whole canvases so batch-norm statistics and the global-context branch see what inference sees.
Loss: class-weighted cross-entropy plus soft dice over the foreground classes, so a barcode of a
few hundred pixels counts as much as the specimen; `--lovasz W` adds the Lovasz-softmax IoU loss
(used for fine-tuning). The weighting biases the argmax towards rare classes, which
`training.calibrate` corrects afterwards.

Deterministic for a given seed, cache and thread count (up to floating-point reduction order).
`--loader-workers N` prepares batches in N processes (for a GPU, which the in-process loader
cannot keep busy): each batch then draws its crops and augmentation from its own generator, seeded
from the run's seed, the epoch and the batch index, so a run is the same for any N >= 1 but differs
from the in-process loader (N = 0, the default). `--device cuda` keeps checkpoints on CPU tensors,
so export and calibration load them as before.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import platform
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import yaml
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from edge.classes import CLASS_NAMES
from edge.segmentation.letterbox import canvas_to_tensor
from training.dataset import (
    DEFAULT_CACHE_ROOT,
    DEFAULT_GENERATOR,
    SCENE_KINDS,
    TRAIN_SEED_BASE,
    VALIDATION_SEED_BASE,
    CacheSpec,
    augment,
    build_cache,
    cached_seeds,
    choose_crop,
    class_pixel_frequency,
    load_sample,
)
from training.evaluate import confusion, iou_from_confusion
from training.model import NUM_CLASSES, apply_logit_offsets, build_model, count_parameters
from training.onnx_import import load_folded_onnx
from training.widen import HeldWeights, hold_batch_norms, widen

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# The parts of `training.model.Segmenter` that --freeze-encoder keeps as they are.
ENCODER_MODULES = ("stem", "stage8", "stage16")


def parse_hw(text: str) -> tuple[int, int]:
    h, w = (int(v) for v in text.lower().split("x"))
    return h, w


def class_weights(freq: np.ndarray, cap: float = 10.0) -> torch.Tensor:
    """Inverse square-root frequency, normalised to mean 1 and capped: rare classes count more
    without a near-absent class (type labels) blowing the loss up."""
    w = 1.0 / np.sqrt(np.maximum(freq, 1e-5))
    w = w / w.mean()
    return torch.tensor(np.minimum(w, cap), dtype=torch.float32)


def to_batch(images: list[np.ndarray], masks: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.concatenate([canvas_to_tensor(im, MEAN, STD) for im in images])
    y = np.stack(masks).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def augmented_samples(
    folder: Path, sample_seeds: Sequence[int], crop_hw: tuple[int, int] | None, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load, crop and augment the given samples, drawing from `rng` in sample order."""
    ims, ms = [], []
    for seed in sample_seeds:
        image, mask = load_sample(folder, seed)
        if crop_hw is not None:
            y0, x0 = choose_crop(mask, crop_hw, rng)
            image = image[y0 : y0 + crop_hw[0], x0 : x0 + crop_hw[1]]
            mask = mask[y0 : y0 + crop_hw[0], x0 : x0 + crop_hw[1]]
        image, mask = augment(image, mask, rng)
        ims.append(image)
        ms.append(mask)
    return ims, ms


def batches(
    folder: Path, seeds: list[int], batch: int, crop_hw: tuple[int, int] | None, rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of batches, prepared in this process from the shared generator."""
    order = rng.permutation(len(seeds))
    for i in range(0, len(order) - batch + 1, batch):
        yield to_batch(*augmented_samples(folder, [seeds[int(k)] for k in order[i : i + batch]], crop_hw, rng))


class EpochBatches(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Batch i of one epoch as uint8 tensors (images B x H x W x 3 BGR, masks B x H x W), from a
    generator seeded with (epoch seed, i): the same batch whichever worker process builds it.
    uint8 is a fifth of the float batch to pass between processes and to the GPU."""

    def __init__(
        self, folder: Path, seeds: list[int], batch: int, crop_hw: tuple[int, int] | None, rng: np.random.Generator
    ) -> None:
        self.folder, self.crop_hw, self.batch = folder, crop_hw, batch
        order = rng.permutation(len(seeds))
        self.epoch_seed = int(rng.integers(2**63 - 1))
        self.groups = [[seeds[int(k)] for k in order[i : i + batch]] for i in range(0, len(order) - batch + 1, batch)]

    def __len__(self) -> int:
        return len(self.groups)

    def generator(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.epoch_seed, i])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        ims, ms = augmented_samples(self.folder, self.groups[i], self.crop_hw, self.generator(i))
        return torch.from_numpy(np.stack(ims)), torch.from_numpy(np.stack(ms))


def normalisation_table() -> torch.Tensor:
    """`canvas_to_tensor`'s value for every uint8 level, per RGB channel (3 x 256)."""
    levels = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # a 1 x 256 canvas
    return torch.from_numpy(canvas_to_tensor(levels, MEAN, STD)[0, :, 0, :].copy())


def uint8_to_batch(images: torch.Tensor, masks: torch.Tensor, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """EpochBatches' uint8 tensors -> the tensors `to_batch` makes (the same values), on their device."""
    levels = images.long()
    x = torch.stack([table[c][levels[..., 2 - c]] for c in range(3)], dim=1)  # BGR planes -> RGB channels
    return x, masks.long()


def _loader_worker_init(_: int) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def loader_batches(
    folder: Path,
    seeds: list[int],
    batch: int,
    crop_hw: tuple[int, int] | None,
    rng: np.random.Generator,
    workers: int,
    device: torch.device | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of batches prepared ahead in `workers` processes, in order, normalised on `device`.

    The workers are forked from a fresh server process, not from this one: a process that has run
    OpenCV's or torch's thread pools (augmentation, training steps, CUDA) can hang a plain fork."""
    device = device or torch.device("cpu")
    context: BaseContext
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        # The server imports what training.train needs once (not training.train itself, which a
        # worker runs as its main module when training runs as `python -m training.train`).
        mp.set_forkserver_preload(["training.dataset", "training.evaluate", "training.model", "training.onnx_import"])
    else:
        context = mp.get_context("spawn")
    cuda = device.type == "cuda"
    loader = DataLoader(
        EpochBatches(folder, seeds, batch, crop_hw, rng),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        pin_memory=cuda,
        prefetch_factor=4,
        worker_init_fn=_loader_worker_init,
        multiprocessing_context=context,
    )
    table = normalisation_table().to(device)
    for images, masks in loader:
        yield uint8_to_batch(images.to(device, non_blocking=cuda), masks.to(device, non_blocking=cuda), table)


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when torch sees a GPU, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device cuda: torch {torch.__version__} sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)


def device_record(device: torch.device) -> dict[str, Any]:
    """What train_info.json says about the hardware."""
    if device.type != "cuda":
        return {"device": "cpu"}
    return {"device": "cuda", "gpu": torch.cuda.get_device_name(device), "cuda": torch.version.cuda}


def autocast(device: torch.device, amp: bool) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA when asked for; a no-op otherwise."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def lovasz_softmax(probs: torch.Tensor, target: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """Lovasz-softmax (Berman et al., CVPR 2018): a convex surrogate of 1 - IoU per class, averaged
    over the given classes present in the batch. Sorting each class's errors and weighting them by
    the IoU lost at each rank optimises the very measure the model is judged on."""
    losses = []
    for c in classes:
        fg = (target == c).reshape(-1).float()
        total = fg.sum()
        if total == 0:
            continue
        errors = (fg - probs[:, c].reshape(-1)).abs()
        errors_sorted, order = torch.sort(errors, descending=True)
        fg_sorted = fg[order]
        inter = total - fg_sorted.cumsum(0)
        union = total + (1.0 - fg_sorted).cumsum(0)
        jaccard = 1.0 - inter / union
        grad = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(errors_sorted, grad))
    return torch.stack(losses).mean() if losses else probs.new_zeros(())


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    dice_weight: float = 0.5,
    lovasz_weight: float = 0.0,
) -> torch.Tensor:
    """Weighted cross-entropy at input resolution plus soft dice at output resolution, and
    optionally Lovasz-softmax over the foreground classes at half input resolution."""
    # Cross-entropy on upsampled logits: a thin ruler or barcode can vanish from a nearest-downsampled mask.
    up = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(up, target, weight=weights)
    if lovasz_weight > 0:
        # At half the input resolution (stride 2 against the canvas): the sort is the cost, and
        # barcodes and ruler ticks are still several pixels wide there.
        half = F.interpolate(logits, scale_factor=2.0, mode="bilinear", align_corners=False)
        loss = loss + lovasz_weight * lovasz_softmax(half.softmax(dim=1), target[:, 1::2, 1::2], range(1, NUM_CLASSES))
    if dice_weight <= 0:
        return loss
    # Dice against area-averaged one-hot targets at the logits' resolution: the same signal for a
    # fraction of the cost of a full-resolution softmax.
    onehot = F.one_hot(target, NUM_CLASSES).permute(0, 3, 1, 2).float()
    soft = F.adaptive_avg_pool2d(onehot, (int(logits.shape[-2]), int(logits.shape[-1])))
    prob = logits.softmax(dim=1)
    inter = (prob * soft).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + soft.sum(dim=(0, 2, 3))
    dice = 1.0 - (2 * inter + 1.0) / (denom + 1.0)
    present = soft.sum(dim=(0, 2, 3)) > 0
    present[0] = False  # background is already well served by cross-entropy
    dice_term = dice[present].mean() if bool(present.any()) else logits.new_zeros(())
    return loss + dice_weight * dice_term


@torch.no_grad()
def validation_iou(
    model: torch.nn.Module, folder: Path, seeds: list[int], device: torch.device | None = None, amp: bool = False
) -> np.ndarray:
    """Per-class IoU over the validation samples (whole canvases, no augmentation)."""
    device = device or torch.device("cpu")
    model.eval()
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for s in seeds:
        image, mask = load_sample(folder, s)
        x, _ = to_batch([image], [mask])
        with autocast(device, amp):
            logits = model(x.to(device)).float()
        up = F.interpolate(logits, size=mask.shape, mode="bilinear", align_corners=False)
        pred = up.argmax(1)[0].cpu().numpy()
        cm += confusion(mask.ravel().astype(np.int64), pred.ravel().astype(np.int64), NUM_CLASSES)
    model.train()
    return iou_from_confusion(cm)


def freeze_encoder(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Stops training the encoder (stem and the 1/8 and 1/16 stages): what the network has learnt to
    see stays as it is, and only the context gate, decoder and head learn. Returns the frozen modules,
    which must be kept in eval mode so their batch norms keep the starting statistics."""
    frozen = [getattr(model, name) for name in ENCODER_MODULES]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return frozen


def previous_training_record(init: Path) -> Any:
    """How the starting weights were made: the run's train_info.json, or the model card's record."""
    if init.suffix == ".onnx":
        card = init.with_suffix(".yaml")
        if card.exists():
            data = yaml.safe_load(card.read_text())
            if isinstance(data, dict) and "training" in data:
                return {"model": f"{data.get('name')} {data.get('version')}"} | dict(data["training"])
        return init.name
    prev = init.parent / "train_info.json"
    return json.loads(prev.read_text()) if prev.exists() else init.name


def card_logit_offsets(init: Path) -> dict[str, float] | None:
    """The calibration offsets folded into an exported model's head bias, from its model card."""
    card = init.with_suffix(".yaml")
    if init.suffix != ".onnx" or not card.exists():
        return None
    data = yaml.safe_load(card.read_text())
    offsets = (data.get("calibration") or {}).get("offsets") if isinstance(data, dict) else None
    return {str(k): float(v) for k, v in offsets.items()} if offsets else None


def cache_seeds(folder: Path) -> list[int]:
    """The seeds of the complete samples (image and mask) in a cache folder."""
    masks = (p.name.split(".", 1)[0] for p in folder.glob("*.mask.png"))
    return sorted(int(s) for s in masks if s.isdigit() and (folder / f"{s}.png").exists())


def mixed_sample_folder(target: Path, sources: Sequence[tuple[Path, Sequence[int]]]) -> Path:
    """One folder of links to the samples of several cache folders, so that training draws from all
    of them as from one cache. Their seed ranges must not overlap (each cache has its own seed base)."""
    target.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    for folder, seeds in sources:
        clash = seen.intersection(seeds)
        if clash:
            raise SystemExit(f"{folder}: seed {min(clash)} is also in another cache; give each its own --seed-base")
        seen.update(seeds)
        for s in seeds:
            for name in (f"{s}.png", f"{s}.mask.png"):
                link = target / name
                if not link.exists():
                    link.symlink_to((folder / name).resolve())
    return target


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the segmenter on synthetic samples (CPU or CUDA).")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE_ROOT)
    ap.add_argument("--generator", default=DEFAULT_GENERATOR, help="module:function")
    ap.add_argument(
        "--kind", default="auto", choices=SCENE_KINDS, help="scene kind trained on: auto (the generator's mix) or one"
    )
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument(
        "--also-cache",
        type=Path,
        action="append",
        default=[],
        help="a further pre-generated cache folder (e.g. an earlier generator's, own seed base) trained on too",
    )
    ap.add_argument("--val-samples", type=int, default=48)
    ap.add_argument("--long-side", type=int, default=1536, help="generator output long side (px)")
    ap.add_argument("--canvas", type=parse_hw, default=(768, 512))
    ap.add_argument("--crop", type=parse_hw, default=(384, 256))
    ap.add_argument("--epochs", type=int, default=10, help="crop epochs")
    ap.add_argument("--full-epochs", type=int, default=1, help="whole-canvas epochs at the end")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--full-batch", type=int, default=4)
    ap.add_argument("--full-samples", type=int, default=0, help="samples per whole-canvas epoch (0: all)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--dice", type=float, default=0.5)
    ap.add_argument("--lovasz", type=float, default=0.0, help="weight of the Lovasz-softmax IoU loss")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="processes generating the cache")
    ap.add_argument(
        "--init", type=Path, default=None, help="start from this checkpoint (.pt) or exported model (.onnx)"
    )
    ap.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="with --init: train only the context gate, decoder and head; the encoder keeps the starting weights",
    )
    ap.add_argument(
        "--widen-to",
        type=int,
        default=0,
        help="with --init: add channels up to this width; the starting network is kept inside (training.widen)",
    )
    ap.add_argument(
        "--hold-start",
        action="store_true",
        help="with --widen-to: only the added channels learn; the starting network's weights stay as they are",
    )
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop crop epochs after this (0: no limit)")
    ap.add_argument(
        "--lr-by-time",
        action="store_true",
        help="with --max-minutes: the cosine decay follows wall time, reaching its end at the limit",
    )
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="auto: CUDA if available")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast for the forward pass (CUDA only)")
    ap.add_argument(
        "--loader-workers", type=int, default=0, help="processes preparing batches ahead (0: in this process)"
    )
    ap.add_argument("--out", type=Path, default=Path("runs/segmenter"))
    a = ap.parse_args(argv)
    if a.lr_by_time and not a.max_minutes:
        ap.error("--lr-by-time needs --max-minutes")
    if a.widen_to and a.init is None:
        ap.error("--widen-to needs --init")
    if a.hold_start and not a.widen_to:
        ap.error("--hold-start needs --widen-to")
    if a.widen_to and a.freeze_encoder:
        ap.error("--widen-to and --freeze-encoder do not go together")
    device = resolve_device(a.device)
    amp = bool(a.amp and device.type == "cuda")
    if a.amp and not amp:
        print("--amp applies on CUDA only; training in float32", flush=True)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    rng = np.random.default_rng(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    train_spec = CacheSpec(a.cache, a.canvas, TRAIN_SEED_BASE, a.samples, a.generator, a.long_side, a.kind)
    val_spec = CacheSpec(a.cache, a.canvas, VALIDATION_SEED_BASE, a.val_samples, a.generator, a.long_side, a.kind)
    folder = build_cache(train_spec, a.workers)
    val_folder = build_cache(val_spec, a.workers)
    seeds = cached_seeds(folder, range(TRAIN_SEED_BASE, TRAIN_SEED_BASE + a.samples))
    val_seeds = cached_seeds(val_folder, range(VALIDATION_SEED_BASE, VALIDATION_SEED_BASE + a.val_samples))
    cache_minutes = (time.monotonic() - started) / 60
    # class weights from the generator's own cache; the further caches only add samples
    freq = class_pixel_frequency(folder, seeds)
    primary_folder = folder
    full_pool = seeds
    also = [(d, cache_seeds(d)) for d in a.also_cache]
    if also:
        for d, extra in also:
            print(f"also training on {len(extra)} samples of {d.name}", flush=True)
        folder = mixed_sample_folder(a.out / "mixed_samples", [(folder, seeds), *also])
        seeds = seeds + [s for _, extra in also for s in extra]
        # the whole-canvas epochs draw from every cache alike
        full_pool = random.Random(a.seed).sample(seeds, len(seeds))
    weights = class_weights(freq)
    print("pixel share", dict(zip(CLASS_NAMES, np.round(freq, 4).tolist(), strict=True)), flush=True)
    print(
        "class weights",
        dict(zip(CLASS_NAMES, np.round(weights.numpy(), 2).tolist(), strict=True)),
        flush=True,
    )

    model = build_model(a.width)
    if a.init is not None and a.init.suffix == ".onnx":
        # An exported model (BN folded): re-calibrate its batch norms on a batch of whole canvases.
        calibration, _ = next(batches(folder, seeds[:16], 16, None, np.random.default_rng(a.seed)))
        load_folded_onnx(model, a.init, calibration)
    elif a.init is not None:
        model.load_state_dict(torch.load(a.init, map_location="cpu")["model"])
    held: HeldWeights | None = None
    unfolded: dict[str, float] | None = None
    if a.widen_to:
        assert a.init is not None
        unfolded = card_logit_offsets(a.init)
        if unfolded is not None:
            # The added channels must learn against the raw logits the starting network was trained
            # on; export folds the offsets back in (--calibration).
            apply_logit_offsets(model, {c: -v for c, v in unfolded.items()})
            print(f"logit offsets of {a.init.name} taken out of the head bias: {unfolded}", flush=True)
        start_width = model.head.in_channels
        model, slices = widen(model, a.widen_to, seed=a.seed)
        if a.hold_start:
            held = HeldWeights(model, slices)
            hold_batch_norms(model, slices)
        print(
            f"widened from {start_width} to {a.widen_to} channels"
            + (f"; {held.entries():,} starting weights held" if held else ""),
            flush=True,
        )
    width = int(model.head.in_channels)
    model.to(device)
    weights = weights.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop and canvas sizes
    print("device", json.dumps(device_record(device) | {"amp": amp, "loader_workers": a.loader_workers}), flush=True)
    print(
        f"parameters {count_parameters(model):,}; {len(seeds)} train / {len(val_seeds)} val samples",
        flush=True,
    )
    frozen = freeze_encoder(model) if a.freeze_encoder else []
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, weight_decay=1e-4)
    crop_steps = a.epochs * (len(seeds) // a.batch)
    full_seeds = full_pool[: a.full_samples] if a.full_samples > 0 else seeds
    full_steps = a.full_epochs * (len(full_seeds) // a.full_batch)
    total = max(1, crop_steps + full_steps)
    warmup = min(200, total // 10)

    def lr_at(step: int) -> float:  # linear warm-up, cosine decay to 2 % over the whole run
        if step < warmup:
            return a.lr * (step + 1) / warmup
        if a.lr_by_time:  # crop epochs span the time limit; whole-canvas epochs run at the end value
            t = 1.0 if step >= crop_steps else (time.monotonic() - train_start) / (60 * a.max_minutes)
        else:
            t = (step - warmup) / max(1, total - warmup)
        return a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    history: list[dict[str, Any]] = []
    step = 0
    train_start = time.monotonic()
    schedule = [(e, a.crop, a.batch) for e in range(a.epochs)]
    schedule += [(a.epochs + e, None, a.full_batch) for e in range(a.full_epochs)]
    epochs_done = 0
    stop_file = a.out / "STOP"  # `touch OUT/STOP` ends the run after the current step, records kept
    for epoch, crop, batch in schedule:
        if stop_file.exists():
            break
        if crop is not None and a.max_minutes and (time.monotonic() - train_start) / 60 > a.max_minutes:
            if step != crop_steps:
                print(f"time limit reached; skipping crop epochs {epoch}..{a.epochs - 1}", flush=True)
            step = crop_steps  # jump the schedule to the whole-canvas phase
            continue
        model.train()
        for module in frozen:  # batch norms of a frozen part keep the starting statistics
            module.eval()
        losses: list[float] = []
        device_losses: list[torch.Tensor] = []  # on a GPU, read back once per epoch, not per step
        t0 = time.monotonic()
        epoch_seeds = seeds if crop is not None else full_seeds
        if a.loader_workers > 0:
            epoch_batches = loader_batches(folder, epoch_seeds, batch, crop, rng, a.loader_workers, device)
        else:
            epoch_batches = batches(folder, epoch_seeds, batch, crop, rng)
        for x, y in epoch_batches:
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            if device.type == "cpu":
                loss = segmentation_loss(model(x), y, weights, a.dice, a.lovasz)
            else:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                with autocast(device, amp):
                    logits = model(x)
                loss = segmentation_loss(logits.float(), y, weights, a.dice, a.lovasz)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if held is not None:
                held.restore()
            if device.type == "cpu":
                losses.append(loss.item())
            else:
                device_losses.append(loss.detach())
            step += 1
            if step % 10 == 0 and stop_file.exists():
                print(f"stop file found; ending at step {step}", flush=True)
                break
        if device_losses:
            losses = torch.stack(device_losses).float().cpu().tolist()
        iou = validation_iou(model, val_folder, val_seeds, device, amp)
        fg = float(np.nanmean(iou[1:]))
        rec = {
            "epoch": epoch,
            "phase": "crop" if crop else "full",
            "loss": float(np.mean(losses)),
            "val_iou": [None if math.isnan(v) else round(float(v), 4) for v in iou],
            "val_fg_miou": round(fg, 4),
            "seconds": round(time.monotonic() - t0, 1),
        }
        history.append(rec)
        epochs_done += 1
        print(json.dumps(rec), flush=True)
        torch.save(
            {
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "width": width,
                "epoch": epoch,
                "args": vars(a)
                | {
                    "cache": str(a.cache),
                    "out": str(a.out),
                    "init": str(a.init),
                    "also_cache": [str(d) for d in a.also_cache],  # plain types: checkpoints load weights-only
                    "canvas": list(a.canvas),
                    "crop": list(a.crop),
                },
            },
            a.out / "last.pt",
        )

    wall = (time.monotonic() - started) / 60
    command = "python -m training.train " + " ".join(sys.argv[1:] if argv is None else argv)
    info = {
        "command": command,
        "seed": a.seed,
        "samples": len(seeds),
        "long_side": a.long_side,
        "crop_epochs": a.epochs,
        "full_epochs": a.full_epochs,
        "epochs_run": epochs_done,
        "steps": step,
        "stopped_early": stop_file.exists(),
        "crop": list(a.crop),
        "batch": a.batch,
        "lr": a.lr,
        "width": width,
        "widened_from": start_width if a.widen_to else None,
        "held_start": bool(held),
        "logit_offsets_unfolded": unfolded,
        "dice": a.dice,
        "lovasz": a.lovasz,
        "frozen": list(ENCODER_MODULES) if a.freeze_encoder else [],
        "generator": a.generator,
        "generator_fingerprint": primary_folder.name.split("_")[0],
        "kind": a.kind,
        "also_caches": {d.name: len(extra) for d, extra in also},
        "cache_minutes": round(cache_minutes, 1),
        "wall_minutes": round(wall, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": a.threads,
        **device_record(device),
        "amp": amp,
        "loader_workers": a.loader_workers,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "history": history,
    }
    if a.init is not None:
        info["initialised_from"] = previous_training_record(a.init)
    (a.out / "train_info.json").write_text(json.dumps(info, indent=1))
    print(f"done in {wall:.1f} min; checkpoint {a.out / 'last.pt'}", flush=True)


if __name__ == "__main__":
    main()
