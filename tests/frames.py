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
        draw_chart(img, int(width * 0.05), int(height * 0.05), int(width * 0.3), int(height * 0.15))
    if blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
    return img


# Red-dominant patches (the toy model's chart colour) that still differ from each other, as a
# chart's patches do, on dark red grid lines.
_PATCHES_BGR = [(0, 0, 255), (0, 45, 205), (45, 0, 175), (0, 0, 150), (55, 55, 255), (25, 70, 235),
                (70, 20, 240), (0, 25, 190), (35, 35, 215), (0, 75, 255), (75, 0, 210), (20, 0, 165)]


def draw_chart(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, rows: int = 4, cols: int = 6) -> None:
    img[y0:y1, x0:x1] = CHART_BGR
    img[y0:y1, x0:x1] = (0, 0, 90)
    pw, ph = (x1 - x0) / cols, (y1 - y0) / rows
    gap = max(2, int(min(pw, ph) * 0.12))
    for r in range(rows):
        for c in range(cols):
            colour = _PATCHES_BGR[(r * cols + c) % len(_PATCHES_BGR)]
            px0, py0 = int(x0 + c * pw) + gap, int(y0 + r * ph) + gap
            px1, py1 = int(x0 + (c + 1) * pw) - gap, int(y0 + (r + 1) * ph) - gap
            img[py0:py1, px0:px1] = colour


def draw_old_slide(width: int = 700, height: int = 2100) -> np.ndarray:
    """An old slide photographed upright and close: a tan oval label written in script at the top, a
    varnished ring cell with a dark mount in the middle, a bordered yellow label in bold capitals below.
    Returns the image; the parts' boxes are OLD_SLIDE_BOXES (fractions of width and height)."""
    rng = np.random.default_rng(0)
    img = np.clip(228 + rng.normal(0, 2, (height, width, 3)), 0, 255).astype(np.uint8)
    cv2.ellipse(img, (width // 2, int(height * 0.11)), (int(width * 0.4), int(height * 0.085)), 0, 0, 360,
                (150, 195, 225), -1, cv2.LINE_AA)
    for i, text in enumerate(["Anatomy", "of Moth"]):
        cv2.putText(img, text, (int(width * 0.2), int(height * (0.095 + 0.055 * i))),
                    cv2.FONT_HERSHEY_SCRIPT_COMPLEX, width / 300, (40, 45, 70), max(2, width // 200), cv2.LINE_AA)
    centre, r = (width // 2, height // 2), int(width * 0.36)
    cv2.circle(img, centre, r, (40, 170, 215), -1, cv2.LINE_AA)
    cv2.circle(img, centre, int(r * 0.85), (25, 25, 25), -1, cv2.LINE_AA)
    cv2.circle(img, centre, int(r * 0.7), (60, 60, 60), -1, cv2.LINE_AA)
    for k in range(12):
        a = k / 12 * 2 * np.pi
        tip = (int(centre[0] + np.cos(a) * r * 0.4), int(centre[1] + np.sin(a) * r * 0.4))
        cv2.line(img, centre, tip, (120, 150, 170), 3)
    x0, y0, x1, y1 = int(width * 0.08), int(height * 0.72), int(width * 0.92), int(height * 0.95)
    img[y0:y1, x0:x1] = (80, 205, 238)
    cv2.rectangle(img, (x0 + 12, y0 + 12), (x1 - 12, y1 - 12), (40, 60, 80), 4)
    for i, text in enumerate(["POLLEN", "SELECTED", "L.S."]):
        cv2.putText(img, text, (x0 + int(width * 0.12), y0 + int(height * (0.06 + 0.06 * i))),
                    cv2.FONT_HERSHEY_DUPLEX, width / 330, (30, 40, 60), max(3, width // 120), cv2.LINE_AA)
    return img


OLD_SLIDE_BOXES = {
    "label": [(0.1, 0.025, 0.9, 0.195), (0.08, 0.72, 0.92, 0.95)],
    "specimen": [(0.14, 0.374, 0.86, 0.626)],
}


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
