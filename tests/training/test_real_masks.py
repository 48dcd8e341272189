"""Specimen IoU from pixel masks, and the stored masks against the labelled real frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.classes import CLASS_IDS
from training.evaluate import (
    DEFAULT_MASKS,
    MASK_SUFFIX,
    REPO,
    SOURCE_PART,
    iou_summary,
    load_mask,
    mask_path,
    specimen_iou,
)

REALDATA = REPO.parent / "shared" / "realdata"
SPECIMEN = CLASS_IDS["specimen"]


def test_specimen_iou_counts_only_the_specimen_class() -> None:
    truth = np.zeros((8, 8), bool)
    truth[0:4, 0:4] = True  # 16 pixels
    classes = np.zeros((8, 8), np.uint8)
    classes[0:4, 2:6] = SPECIMEN  # 16 pixels, 8 of them inside the mask
    classes[6:8, 6:8] = CLASS_IDS["label"]  # another class is not specimen
    assert specimen_iou(truth, classes) == (8, 24)
    assert specimen_iou(truth, np.zeros((8, 8), np.uint8)) == (0, 16)


def test_specimen_iou_scales_a_smaller_class_map_to_the_mask() -> None:
    truth = np.zeros((8, 8), bool)
    truth[0:4, 0:4] = True
    small = np.zeros((4, 4), np.uint8)
    small[0:2, 0:2] = SPECIMEN  # the same square at half size: a perfect match
    assert specimen_iou(truth, small) == (16, 16)


def test_iou_summary_reports_the_mean_of_frames_and_the_pooled_figure() -> None:
    s = iou_summary([(8, 24), (16, 16), (0, 0)])
    assert s is not None
    assert s["frames"] == 3
    assert s["mean"] == pytest.approx(round((1 / 3 + 1 + 1) / 3, 3))  # nothing to find, nothing found: 1
    assert s["pooled"] == pytest.approx(round(24 / 40, 3))
    assert s["min"] == pytest.approx(0.333)
    assert iou_summary([]) is None


def test_masks_load_as_booleans_and_are_keyed_by_the_frame(tmp_path: Path) -> None:
    folder = tmp_path / "dev"
    path = mask_path(tmp_path / "masks", folder, "some-source/IMG_1.JPG")
    assert path == tmp_path / "masks" / "dev" / "some-source" / "IMG_1.specimen-mask.png"
    path.parent.mkdir(parents=True)
    m = np.zeros((3, 5), np.uint8)
    m[1, 2] = 255
    cv2.imwrite(str(path), m)
    loaded = load_mask(path)
    assert loaded is not None and loaded.dtype == bool and loaded.sum() == 1 and loaded[1, 2]
    assert load_mask(tmp_path / "absent.png") is None


def test_every_source_folder_of_dev_has_a_part() -> None:
    assert set(SOURCE_PART.values()) == {"calibration", "held-out"}
    dev = REALDATA / "dev"
    if not (dev / "labels.jsonl").exists():
        pytest.skip("real dev set absent")
    sources = {json.loads(x)["file"].split("/")[0] for x in (dev / "labels.jsonl").read_text().splitlines() if x}
    assert sources <= set(SOURCE_PART)


@pytest.mark.parametrize("folder", sorted(p.name for p in DEFAULT_MASKS.iterdir() if p.is_dir()))
def test_every_mask_names_a_labelled_frame(folder: str) -> None:
    labels = REALDATA / folder / "labels.jsonl"
    if not labels.exists():
        pytest.skip(f"real set {folder} absent")
    rows = [json.loads(x) for x in labels.read_text().splitlines() if x.strip()]
    by_key = {str(Path(r["file"]).with_suffix(MASK_SUFFIX)): r for r in rows}
    masks = sorted((DEFAULT_MASKS / folder).rglob("*" + MASK_SUFFIX))
    assert masks
    for m in masks:
        key = str(m.relative_to(DEFAULT_MASKS / folder))
        assert key in by_key, f"{folder}/{key} names no labelled frame"
        r = by_key[key]
        assert any(b["class"] == "specimen" for b in r["boxes"]), f"{key}: frame has no specimen"
        mask = cv2.imread(str(m), cv2.IMREAD_GRAYSCALE)
        assert mask is not None and set(np.unique(mask)) <= {0, 255}
        h, w = mask.shape
        # stored at the frame's size or a fixed downscale: the same shape
        assert abs(w / h - r["width"] / r["height"]) < 0.01 * r["width"] / r["height"]
