"""Colour targets drawn from published patch values: ColorChecker Classic and mini, Kodak Q-13 grey scale with
colour bars, and small CameraTrax-like cards."""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import InkCanvas, pick_font
from .layer import Layer

CHART = 5

# ColorChecker Classic, X-Rite published sRGB (D65) values for charts made after November 2014, row by row.
COLORCHECKER_SRGB: list[tuple[int, int, int]] = [
    (115, 82, 68),
    (194, 150, 130),
    (98, 122, 157),
    (87, 108, 67),
    (133, 128, 177),
    (103, 189, 170),
    (214, 126, 44),
    (80, 91, 166),
    (193, 90, 99),
    (94, 60, 108),
    (157, 188, 64),
    (224, 163, 46),
    (56, 61, 150),
    (70, 148, 73),
    (175, 54, 60),
    (231, 199, 31),
    (187, 86, 149),
    (8, 133, 161),
    (243, 243, 242),
    (200, 200, 200),
    (160, 160, 160),
    (122, 122, 121),
    (85, 85, 85),
    (52, 52, 52),
]

# Kodak colour control patches (approximate sRGB of the printed inks).
KODAK_BARS_SRGB: list[tuple[int, int, int]] = [
    (30, 60, 150),
    (20, 150, 200),
    (30, 140, 70),
    (245, 215, 30),
    (200, 40, 40),
    (190, 50, 130),
    (245, 245, 240),
    (100, 90, 80),
    (20, 20, 20),
]


def _srgb_encode(y: float) -> float:
    return 12.92 * y if y <= 0.0031308 else 1.055 * y ** (1 / 2.4) - 0.055


def q13_greys() -> list[int]:
    """Kodak Q-13 steps: density D = 0.05 + 0.10 i, L* = 116 (10^-D)^(1/3) - 16, shown as sRGB grey."""
    out = []
    for i in range(20):
        d = 0.05 + 0.10 * i
        lstar = 116 * (10**-d) ** (1 / 3) - 16
        y = ((lstar + 16) / 116) ** 3
        out.append(int(round(255 * _srgb_encode(y))))
    return out


def _bgr(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return float(rgb[2]), float(rgb[1]), float(rgb[0])


def _vary(rng: np.random.Generator, c: tuple[float, float, float]) -> tuple[float, float, float]:
    # Print and ageing differences between individual cards.
    v = np.clip(np.array(c) * rng.uniform(0.96, 1.04) + rng.normal(0, 2, 3), 0, 255)
    return float(v[0]), float(v[1]), float(v[2])


# Pocket cards put the neutral patches in the middle, the colours around them.
CENTRE_NEUTRAL_CELLS = [(1, 1), (1, 2), (1, 3), (1, 4), (2, 2), (2, 3)]


def colorchecker(rng: np.random.Generator, width_px: int, centre_neutrals: bool = False) -> Layer:
    """A 6×4 ColorChecker on its black frame, landscape, width_px wide (classic or mini: same layout;
    centre_neutrals: the pocket-card arrangement)."""
    w = max(width_px, 24)
    h = int(round(w * 0.75))
    lay = Layer.solid(h, w, _vary(rng, (25, 25, 25)), CHART)
    border = w * 0.035
    cell_w = (w - 2 * border) / 6
    cell_h = (h - 2 * border) / 4
    gap = cell_w * float(rng.uniform(0.12, 0.2))
    cells = [divmod(i, 6) for i in range(24)]
    if centre_neutrals:
        others = [rc for rc in cells if rc not in CENTRE_NEUTRAL_CELLS]
        cells = others[:18] + CENTRE_NEUTRAL_CELLS  # colours 0-17 around, neutrals 18-23 inside
    for (r, c), rgb in zip(cells, COLORCHECKER_SRGB, strict=True):
        x0 = int(round(border + c * cell_w + gap / 2))
        y0 = int(round(border + r * cell_h + gap / 2))
        x1 = int(round(border + (c + 1) * cell_w - gap / 2))
        y1 = int(round(border + (r + 1) * cell_h - gap / 2))
        cv2.rectangle(lay.bgr, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), _vary(rng, _bgr(rgb)), -1)
    return lay


def q13(rng: np.random.Generator, length_px: int, colour_bars: bool) -> Layer:
    """Kodak grey scale (20 steps, horizontal), optionally with the colour-bar strip below it."""
    greys = q13_greys()
    step_w = length_px / 20
    patch_h = max(int(round(step_w * float(rng.uniform(2.0, 3.5)))), 6)
    label_h = max(int(round(step_w * 0.9)), 4)
    bars_h = patch_h if colour_bars else 0
    h = patch_h + label_h + bars_h
    lay = Layer.solid(h, length_px, _vary(rng, (235, 235, 235)), CHART)
    for i, g in enumerate(greys):
        x0, x1 = int(round(i * step_w)), int(round((i + 1) * step_w))
        gg = float(g)
        cv2.rectangle(lay.bgr, (x0, 0), (x1 - 1, patch_h - 1), _vary(rng, (gg, gg, gg)), -1)
    # Step numbers under the patches.
    tc = InkCanvas(label_h, length_px)
    font = pick_font(rng, "sans")
    size = max(int(label_h * 0.8), 4)
    for i in range(20):
        lab = "A" if i == 0 else "M" if i == 6 else "B" if i == 19 else str(i)
        tc.text(int(i * step_w + step_w * 0.25), 0, lab, font, "sans", size)
    ink = tc.array().astype(np.float32)[..., None] / 255.0
    sub = lay.bgr[patch_h : patch_h + label_h]
    sub[:] = (sub * (1 - ink) + 20 * ink).astype(np.uint8)
    if colour_bars:
        n = len(KODAK_BARS_SRGB)
        bw = length_px / n
        for i, rgb in enumerate(KODAK_BARS_SRGB):
            x0, x1 = int(round(i * bw)), int(round((i + 1) * bw))
            cv2.rectangle(lay.bgr, (x0, patch_h + label_h), (x1 - 1, h - 1), _vary(rng, _bgr(rgb)), -1)
    return lay


def small_card(rng: np.random.Generator, width_px: int) -> Layer:
    """A CameraTrax-like pocket card: 2×3 or 4×6 patches on a grey or black card."""
    rows, cols = (2, 3) if rng.random() < 0.5 else (4, 6)
    w = max(width_px, 12)
    h = int(round(w * rows / cols * float(rng.uniform(1.0, 1.3))))
    lay = Layer.solid(h, w, _vary(rng, (40, 40, 40) if rng.random() < 0.6 else (128, 128, 128)), CHART)
    idx = rng.choice(24, rows * cols, replace=False) if rows * cols < 24 else np.arange(24)
    if rows * cols == 6:
        idx = np.array([18, 20, 23, 14, 13, 12])  # white, grey, black, red, green, blue
    pad = w * 0.06
    cw, ch = (w - 2 * pad) / cols, (h - 2 * pad) / rows
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        x0, y0 = int(pad + c * cw + cw * 0.06), int(pad + r * ch + ch * 0.06)
        x1, y1 = int(pad + (c + 1) * cw - cw * 0.06), int(pad + (r + 1) * ch - ch * 0.06)
        cv2.rectangle(
            lay.bgr, (x0, y0), (max(x0, x1), max(y0, y1)), _vary(rng, _bgr(COLORCHECKER_SRGB[int(i)])), -1
        )
    return lay


def patch_column(rng: np.random.Generator, width_px: int, length_px: int) -> Layer:
    """A strip of colour and grey patches, as printed alongside some rulers (NSII-style strips)."""
    n = int(rng.integers(8, 16))
    lay = Layer.solid(length_px, width_px, _vary(rng, (240, 240, 240)), CHART)
    step = length_px / n
    picks = rng.choice(24, n, replace=n > 24)
    for k in range(n):
        y0, y1 = int(round(k * step + step * 0.05)), int(round((k + 1) * step - step * 0.05))
        cv2.rectangle(
            lay.bgr,
            (0, y0),
            (width_px - 1, max(y0, y1 - 1)),
            _vary(rng, _bgr(COLORCHECKER_SRGB[int(picks[k])])),
            -1,
        )
    return lay


def random_chart(rng: np.random.Generator, px_per_mm: float, small: bool) -> Layer:
    """One of the chart families at a plausible physical size; small = the pocket/mini sizes."""
    r = rng.random()
    if small:
        if r < 0.3:
            # Tiny cards beside the ruler on a copy-stand strip: about 2 cm across.
            return colorchecker(rng, int(px_per_mm * float(rng.uniform(18, 40))), bool(rng.random() < 0.5))
        if r < 0.65:
            return colorchecker(rng, int(px_per_mm * float(rng.uniform(40, 110))))
        return small_card(rng, int(px_per_mm * float(rng.uniform(25, 70))))
    if r < 0.5:
        return colorchecker(rng, int(px_per_mm * float(rng.uniform(110, 280))))
    if r < 0.85:
        return q13(rng, int(px_per_mm * float(rng.uniform(150, 205))), bool(rng.random() < 0.5))
    return small_card(rng, int(px_per_mm * float(rng.uniform(50, 90))))
