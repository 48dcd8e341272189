"""The synthetic frame generator: reproducible, well-formed, every class reachable, barcodes that decode."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.synth import Sample, generate, paper
from training.synth.__main__ import main as cli_main

zxingcpp = pytest.importorskip("zxingcpp")

SEEDS = range(30)


@cache
def sample(seed: int, kind: str = "auto", long_side: int = 512) -> Sample:
    return generate(seed, kind, long_side)


def test_same_seed_gives_identical_frames_and_different_seeds_differ() -> None:
    a = generate(11, long_side=384)
    b = generate(11, long_side=384)
    c = generate(12, long_side=384)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.mask.tobytes() == b.mask.tobytes()
    assert a.kind == b.kind and a.barcodes == b.barcodes
    assert a.image.shape != c.image.shape or a.image.tobytes() != c.image.tobytes()


@pytest.mark.parametrize("kind", ["herbarium_sheet", "microscope_slide"])
def test_shapes_dtypes_and_class_range(kind: str) -> None:
    for seed in range(4):
        s = generate(seed, kind, 640)
        assert s.kind == kind
        h, w = s.mask.shape
        assert s.image.shape == (h, w, 3)
        assert s.image.dtype == np.uint8 and s.mask.dtype == np.uint8
        assert max(h, w) == 640
        assert int(s.mask.max()) <= 7
        if kind == "herbarium_sheet":
            # portrait, or a sheet lying sideways in a landscape frame
            assert 0.55 < min(h, w) / max(h, w) < 0.8
        else:
            # landscape, or a close-up of an old slide standing upright (about 3:1 either way)
            assert w > h or 2.6 < h / w < 3.4


def test_auto_kind_mixes_sheets_and_slides() -> None:
    kinds = Counter(generate(seed, long_side=128).kind for seed in range(60))
    assert set(kinds) == {"herbarium_sheet", "microscope_slide"}
    assert 0.5 < kinds["herbarium_sheet"] / 60 < 0.9


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate(0, "insect_drawer")


def test_with_chart_forces_the_colour_chart_in_or_out() -> None:
    for seed in range(12):
        kind = "herbarium_sheet" if seed % 3 else "microscope_slide"
        on = generate(seed, kind, 512, with_chart=True)
        off = generate(seed, kind, 512, with_chart=False)
        assert (on.mask == 5).sum() > 20, f"seed {seed} {kind}: chart missing"
        assert not (off.mask == 5).any(), f"seed {seed} {kind}: chart present"


def test_every_class_appears_across_seeds() -> None:
    seen: Counter[int] = Counter()
    for seed in SEEDS:
        s = sample(seed)
        seen.update(int(v) for v in np.unique(s.mask))
    for cls in range(8):
        assert seen[cls] >= 2, f"class {cls} seen in only {seen[cls]} of {len(SEEDS)} frames"
    # Herbarium sheets nearly always carry a specimen and a label.
    sheets = [sample(seed) for seed in SEEDS if sample(seed).kind == "herbarium_sheet"]
    assert sum(bool((s.mask == 1).any()) for s in sheets) >= 0.9 * len(sheets)
    assert sum(bool((s.mask == 2).any() or (s.mask == 3).any()) for s in sheets) >= 0.9 * len(sheets)


def test_single_slides_are_wide() -> None:
    wide = 0
    for seed in range(20):
        s = generate(seed, "microscope_slide", 512)
        h, w = s.mask.shape
        assert s.kind == "microscope_slide"
        assert (s.mask == 1).any() and ((s.mask == 2).any() or (s.mask == 3).any())
        if w / h >= 2:
            wide += 1
    # Single slides are about 3:1, trays about 4:3; both occur.
    assert 4 <= wide <= 18


def test_blur_only_touches_the_image() -> None:
    sharp = generate(5, "herbarium_sheet", 512)
    soft = generate(5, "herbarium_sheet", 512, blur_sigma=3.0)
    assert sharp.mask.tobytes() == soft.mask.tobytes()

    def lap(img: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())

    assert lap(soft.image) < 0.5 * lap(sharp.image)


def test_barcode_boxes_decode_at_2048() -> None:
    total = decoded = 0
    formats: Counter[str] = Counter()
    # enough frames that the share does not hinge on a few seeds' thin, noisy codes
    for seed in range(30):
        s = generate(seed, "herbarium_sheet", 2048)
        h, w = s.mask.shape
        for b in s.barcodes:
            x0, y0, x1, y1 = b["bbox"]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            # The box is the code: mostly barcode class underneath.
            assert (s.mask[y0:y1, x0:x1] == 4).mean() > 0.7
            m = max(4, (x1 - x0) // 10)
            crop = s.image[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m]
            texts = {r.text for r in zxingcpp.read_barcodes(crop)}
            total += 1
            formats[b["format"]] += 1
            decoded += b["text"] in texts
    assert total >= 8
    assert len(formats) >= 2
    assert decoded >= 0.75 * total, f"decoded {decoded}/{total}"


def test_command_line_writes_images_masks_and_index(tmp_path: Path) -> None:
    assert cli_main(["--out", str(tmp_path), "--count", "3", "--seed", "40", "--long-side", "256"]) == 0
    lines = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    for rec in lines:
        img = cv2.imread(str(tmp_path / rec["image"]))
        mask = cv2.imread(str(tmp_path / rec["mask"]), cv2.IMREAD_UNCHANGED)
        assert img is not None and mask is not None
        assert img.shape[:2] == mask.shape and mask.dtype == np.uint8
        assert rec["kind"] in ("herbarium_sheet", "microscope_slide")
        expected = generate(rec["seed"], "auto", 256)
        assert np.array_equal(mask, expected.mask)


@pytest.mark.parametrize("seed", range(4))
def test_wooden_table_surround_is_brown_planks_with_dark_seams(seed: int) -> None:
    # a dark planked table at the frame edge is what real frames confuse with a colour chart
    wood = paper.surround(np.random.default_rng(seed), 600, 400, "wood").astype(np.float64)
    b, g, r = (float(wood[..., i].mean()) for i in range(3))
    assert r > g > b
    profiles = [wood.mean(axis=(1, 2)), wood.mean(axis=(0, 2))]  # per row, per column
    # seams: along one axis the profile has narrow dips well below its median
    dips = [int((p < 0.85 * np.median(p)).sum()) for p in profiles]
    assert max(dips) >= 2 and max(dips) < 0.2 * max(len(p) for p in profiles)


def test_cardboard_surround_is_plain_brown() -> None:
    board = paper.surround(np.random.default_rng(0), 300, 200, "board").astype(np.float64)
    b, g, r = (float(board[..., i].mean()) for i in range(3))
    assert r > g > b
    assert float(board.std(axis=(0, 1)).max()) < 15


def _edge_width_px(gray: np.ndarray) -> float:
    """Width of the sharpest strong edges (15th percentile) of a grey crop, both axes: each edge's
    contrast within 6 px either side over its steepest one-pixel step (a perfect step is 1 px)."""
    widths: list[np.ndarray] = []
    for g in (gray, np.ascontiguousarray(gray.T)):
        step = np.abs(np.diff(g, axis=1))
        kernel = np.ones((1, 13), np.uint8)
        spread = (cv2.dilate(g, kernel) - cv2.erode(g, kernel))[:, 1:]
        padded = np.pad(step, ((0, 0), (1, 1)))
        peak = (step >= padded[:, :-2]) & (step > padded[:, 2:]) & (step > 0)
        contrast, steepest = spread[peak], step[peak]
        strong = contrast >= max(20.0, 0.4 * float(np.percentile(contrast, 99.5)))
        widths.append(contrast[strong] / steepest[strong])
    every = np.concatenate(widths)
    assert every.size > 1000
    return float(np.percentile(every, 15))


def test_capture_size_frames_are_drawn_sharp_and_defocus_blurs_them() -> None:
    # 6000 px on the long side (about 26 MP): text and borders are drawn at that size, not enlarged,
    # so label edges are as narrow as a good camera gives; a defocus disc widens them, image only.
    sharp = generate(27, "herbarium_sheet", 6000)
    soft = generate(27, "herbarium_sheet", 6000, defocus_radius=7.0)
    assert max(sharp.image.shape[:2]) == 6000 and sharp.image.shape[0] * sharp.image.shape[1] >= 20_000_000
    assert sharp.mask.tobytes() == soft.mask.tobytes() and sharp.barcodes == soft.barcodes
    n, _, stats, _ = cv2.connectedComponentsWithStats((sharp.mask == 2).astype(np.uint8))
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    box = (slice(y + h // 8, y + h - h // 8), slice(x + w // 8, x + w - w // 8))

    def width(img: np.ndarray) -> float:
        return _edge_width_px(cv2.cvtColor(img[box], cv2.COLOR_BGR2GRAY).astype(np.float32))

    assert 1.2 < width(sharp.image) < 2.4
    assert width(soft.image) > 5.0
