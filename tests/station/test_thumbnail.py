"""Thumbnails: regions scaled from original pixels, failing regions highlighted, stale frames refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.station.thumbnail import CLASS_COLOURS, FAILING_COLOUR, draw_regions, hex_to_bgr, render_thumbnail
from tests.frames import draw_sheet, write_jpeg


def close_to(pixel: np.ndarray, colour: str, tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(hex_to_bgr(colour))) <= tolerance))


def retake_verdict(path: Path, size_bytes: int | None, width: int = 1200, height: int = 1800) -> dict[str, Any]:
    return {
        "file": str(path), "size_bytes": size_bytes, "width": width, "height": height,
        "regions": [{"id": 0, "class": "label", "bbox": [200, 400, 1000, 1000]},
                    {"id": 1, "class": "barcode", "bbox": [100, 1200, 500, 1600]}],
        "checks": [{"check": "barcode", "status": "fail", "regions": [1]},
                   {"check": "blur", "status": "ok", "regions": [0]}],
    }


def test_regions_are_scaled_and_the_failing_one_is_red() -> None:
    frame_at_quarter = np.zeros((450, 300, 3), np.uint8)  # a 1200 x 1800 frame decoded at 1/4
    drawn = draw_regions(frame_at_quarter, retake_verdict(Path("x.jpg"), None))
    assert drawn.shape == (450, 300, 3)
    # label [200, 400, 1000, 1000] in original pixels is [50, 100, 250, 250] here
    assert close_to(drawn[175, 50], CLASS_COLOURS["label"]) and close_to(drawn[100, 150], CLASS_COLOURS["label"])
    assert not drawn[175, 150].any(), "an ordinary region is outlined, not filled"
    # barcode [100, 1200, 500, 1600] -> [25, 300, 125, 400]: red outline and a red tint inside
    assert close_to(drawn[350, 25], FAILING_COLOUR)
    inside = drawn[350, 75]
    assert inside[2] > 40 and inside[0] < 10 and inside[1] < 10
    assert not frame_at_quarter.any(), "the decoded frame is left as it was"


def test_large_frames_are_fitted_into_the_thumbnail() -> None:
    drawn = draw_regions(np.zeros((3000, 2000, 3), np.uint8), retake_verdict(Path("x.jpg"), None, 8000, 12000),
                         max_side=600)
    assert drawn.shape == (600, 400, 3)
    assert close_to(drawn[35, 10], CLASS_COLOURS["label"])  # label bbox / 20: left edge x 10, y 20..50


def test_render_reads_the_frame_at_a_quarter_and_refuses_a_replaced_one(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "sheet.jpg", draw_sheet())
    size = path.stat().st_size
    jpeg = render_thumbnail(retake_verdict(path, size))
    assert jpeg is not None
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape == (450, 300, 3)
    assert close_to(thumb[350, 25], FAILING_COLOUR, tolerance=60)
    assert render_thumbnail(retake_verdict(path, size + 1)) is None, "another frame now has that name"
    assert render_thumbnail(retake_verdict(tmp_path / "gone.jpg", size)) is None
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert render_thumbnail(retake_verdict(tmp_path / "broken.jpg", None)) is None
