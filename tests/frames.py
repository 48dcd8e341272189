"""Test frames drawn with known content, for the toy segmenter (see toy_model.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.toy_model import CHART_BGR, LABEL_BGR, LABEL_DARK_BGR, SPECIMEN_BGR


def draw_sheet(width: int = 1200, height: int = 1800, *, chart: bool = True, blur_sigma: float = 0.0,
               seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img: np.ndarray = np.full((height, width, 3), 235, np.uint8)
    # specimen: a green branch-like blob with a fine vein texture
    cy, cx = height // 3, width // 2
    cv2.ellipse(img, (cx, cy), (width // 5, height // 5), 20, 0, 360, SPECIMEN_BGR, -1)
    for i in range(0, width // 5, 6):
        cv2.line(img, (cx - i, cy - height // 6), (cx - i + 40, cy + height // 6), (0, 140, 0), 2)
    # label: blue card with sharp dark-blue stripes standing in for text
    x0, y0, x1, y1 = width // 2, int(height * 0.72), int(width * 0.92), int(height * 0.9)
    img[y0:y1, x0:x1] = LABEL_BGR
    for y in range(y0 + 10, y1 - 10, 14):
        for x in range(x0 + 10, x1 - 40, int(rng.integers(30, 60))):
            cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 25)), y + 6), LABEL_DARK_BGR, -1)
    if chart:
        img[int(height * 0.05):int(height * 0.15), int(width * 0.05):int(width * 0.3)] = CHART_BGR
    if blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
    return img


def write_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> Path:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def write_atomically(path: Path, data: bytes) -> Path:
    """The way most capture software delivers: a temp name, then a rename."""
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_bytes(data)
    tmp.rename(path)
    return path


def jpeg_bytes(image: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()
