"""Tilted frames: segmented upright, regions and class map reported in the frame's own pixels."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.config import Settings, load_settings
from edge.qc.framing import skew_degrees
from edge.segmentation.deskew import segment_square, upright
from edge.segmentation.registry import create_segmenter
from tests.frames import draw_sheet, write_jpeg
from tests.test_pipeline import judge

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "dev"


def tilted(image: np.ndarray, angle: float, surround: tuple[int, int, int] = (40, 40, 40)) -> tuple[
        np.ndarray, np.ndarray]:
    """`image` turned by `angle` degrees (OpenCV: counter-clockwise) on a canvas grown to hold it,
    and the matrix taking its pixels to the tilted frame's."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += out_w / 2 - w / 2
    m[1, 2] += out_h / 2 - h / 2
    return cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=surround), m


def moved_box(m: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ m.T
    return pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()


@pytest.mark.parametrize("angle", [-30.0, 12.0, 40.0])
def test_turned_upright_and_back_describes_the_frame_as_given(station: Callable[..., Settings], angle: float) -> None:
    # the toy network labels pixels by colour alone, so the class map of the frame segmented as it
    # is and the one segmented upright and turned back must agree
    frame, _ = tilted(draw_sheet(600, 900), angle)
    frame = cv2.resize(frame, None, fx=768 / max(frame.shape[:2]), fy=768 / max(frame.shape[:2]),
                       interpolation=cv2.INTER_AREA)
    segmenter = create_segmenter(station().segmenter)
    try:
        tilt, _ = skew_degrees(frame)
        assert tilt == pytest.approx(-angle, abs=1.0)
        direct = segmenter.segment(frame)
        turned = segment_square(segmenter, frame, tilt, 1.5)
    finally:
        segmenter.close()
    hw = frame.shape[:2]
    direct_map = direct.placement.to_size(direct.classes, *hw)
    turned_map = turned.placement.to_size(turned.classes, *hw)
    assert turned.placement.source_hw == hw
    for class_id in (1, 2, 5):  # specimen, label, chart
        a, b = direct_map == class_id, turned_map == class_id
        assert (a & b).sum() / (a | b).sum() > 0.8, class_id
    # the scores are turned back too (for the fine class map), background where the turned image
    # had no pixels of the frame: their argmax is the turned-back class map but at outlines
    assert turned.logits is not None and turned.logits.shape[1:] == turned.classes.shape
    assert (turned.logits.argmax(axis=0) == turned.classes).mean() > 0.97


def test_small_tilts_are_segmented_as_they_are(station: Callable[..., Settings]) -> None:
    frame = draw_sheet(400, 600)
    segmenter = create_segmenter(station().segmenter)
    try:
        as_is = segment_square(segmenter, frame, 1.0, 1.5)
    finally:
        segmenter.close()
    # the segmenter's own placement on its canvas, not a turned-back map
    assert as_is.placement.source_hw == (600, 400) and as_is.placement.canvas_hw == segmenter.canvas_hw


def test_upright_grows_the_canvas_and_back_to_frame_inverts_it() -> None:
    image = np.zeros((300, 200, 3), np.uint8)
    image[100:140, 50:150] = 255
    turned, m = upright(image, 30.0)
    assert turned.shape[0] > 300 and turned.shape[1] > 200
    corners = np.array([[0, 0, 1], [199, 0, 1], [0, 299, 1], [199, 299, 1]], np.float64) @ m.T
    assert corners.min() >= -1 and corners[:, 0].max() <= turned.shape[1] and corners[:, 1].max() <= turned.shape[0]
    # the surround colour fills the new corners
    assert tuple(turned[0, 0]) == (0, 0, 0)


def test_tilted_frame_regions_are_in_original_pixels_and_tilt_is_the_one_reason(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    sheet = draw_sheet(1200, 1800)
    frame, m = tilted(sheet, 30.0, surround=(235, 235, 235))
    path = write_jpeg(tmp_path / "tilted.jpg", frame)
    j = judge(station(), path, want_class_map=True)
    v = j.verdict
    verdict_schema(v)
    assert (v["width"], v["height"]) == (frame.shape[1], frame.shape[0])
    assert v["verdict"] == "retake"
    assert v["reasons"][0]["check"] == "framing"
    assert v["reasons"][0]["message"].startswith("Sheet is tilted by 30°")
    # the label (painted at 50-92 % x 72-90 % of the sheet) is found where it lies in the tilted frame
    labels = [r["bbox"] for r in v["regions"] if r["class"] == "label"]
    assert labels
    expected = moved_box(m, (600, int(1800 * 0.72), int(1200 * 0.92), int(1800 * 0.9)))
    x0, y0, x1, y1 = max(labels, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    tol = 0.03 * max(frame.shape[:2])
    assert abs(x0 - expected[0]) < tol and abs(y0 - expected[1]) < tol
    assert abs(x1 - expected[2]) < tol and abs(y1 - expected[3]) < tol
    cmap = j.class_map
    assert cmap is not None and cmap.shape == frame.shape[:2]
    painted = cv2.warpAffine(np.where((sheet == (255, 0, 0)).all(axis=2), 255, 0).astype(np.uint8), m,
                             (frame.shape[1], frame.shape[0]), flags=cv2.INTER_NEAREST) > 0
    found = cmap == 2
    assert (found & painted).sum() / painted.sum() > 0.7


def _clean_real_sheet() -> Path | None:
    labels = REAL_DEV / "labels.jsonl"
    if not labels.is_file():
        return None
    for line in labels.read_text().splitlines():
        row = json.loads(line)
        if row["file"].startswith("leafmachine2/") and row["kind"] == "herbarium_sheet" \
                and row.get("colour_chart") == "full" and row.get("sharpness") == "sharp":
            return REAL_DEV / row["file"]
    return None


@pytest.mark.parametrize("angle", [30.0, -40.0])
def test_real_sheet_tilted_gets_one_reason_with_the_bundled_model(tmp_path: Path, angle: float) -> None:
    source = _clean_real_sheet()
    if source is None:
        pytest.skip("real labelled sheets not present")
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    assert image is not None
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    frame, _ = tilted(image, angle, tuple(int(v) for v in np.median(border, axis=0)))  # type: ignore[arg-type]
    path = write_jpeg(tmp_path / "tilted.jpg", frame)
    v = judge(load_settings(None, {"mqtt": {"enabled": False}}), path).verdict
    assert [r["check"] for r in v["reasons"]] == ["framing"], [r["message"] for r in v["reasons"]]
    told = re.search(r"tilted by (\d+)°", v["reasons"][0]["message"])
    assert told is not None and abs(int(told.group(1)) - abs(angle)) <= 2
    found = {r["class"] for r in v["regions"]}
    assert {"specimen", "label", "colour_chart"} <= found
