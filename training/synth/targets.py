"""Long imaging target strips laid along a frame edge, and separate grey step cards.

A target strip carries colour patch blocks at both ends, a grey ramp between them and millimetre tick bands
along its long edges. Only the patch blocks are colour_chart and only the tick bands are scale_bar; the ramp
and the strip's own card stay background, so a network learns that a strip is two charts and a ruler, not
one long chart, and that a grey ramp alone is not a chart.
"""

from __future__ import annotations

import cv2
import numpy as np

from .charts import CHART, COLORCHECKER_SRGB, _bgr, _vary, q13_greys
from .fonts import InkCanvas, pick_font
from .layer import Layer

SCALE = 6


def _ticks(rng: np.random.Generator, w: int, h: int, ppm: float, ink: float, top: bool, numbers: bool) -> np.ndarray:
    """A band of millimetre ticks (long at cm, middle at 5 mm) as an ink mask of h×w, ticks at the strip edge."""
    arr = np.zeros((h, w), np.uint8)
    lw = max(1, int(round(0.12 * ppm)))
    off = float(rng.uniform(0, 10 * ppm))
    n = int((w - off) / max(ppm, 1e-3)) + 1
    for mm in range(n):
        x = int(round(off + mm * ppm))
        tl = 0.85 if mm % 10 == 0 else 0.55 if mm % 5 == 0 else 0.35
        if ppm < 2.5 and mm % 5:
            continue  # millimetre ticks under 2.5 px apart merge into grey; the print shows only 5 mm ones
        tl_px = max(1, int(round(h * tl * (0.6 if numbers else 1.0))))
        if top:
            cv2.line(arr, (x, 0), (x, tl_px), 255, lw)
        else:
            cv2.line(arr, (x, h - 1), (x, h - 1 - tl_px), 255, lw)
    if numbers and h >= 10:
        tc = InkCanvas(h, w)
        font = pick_font(rng, "sans")
        size = max(int(h * 0.36), 4)
        y = h - size - 1 if top else 1
        for cm in range(0, n // 10 + 1):
            x = int(round(off + cm * 10 * ppm))
            tc.text(x + 2, y, str(cm), font, "sans", size)
        arr = np.maximum(arr, tc.array())
    return arr


def _patch_block(
    rng: np.random.Generator, h: int, w: int, rows: int, cols: int, frame_bgr: tuple[float, float, float]
) -> Layer:
    """A block of rows×cols colour and neutral patches on the strip's card (the whole block is chart)."""
    lay = Layer.solid(h, w, frame_bgr, CHART)
    gap = max(1, int(round(min(h / rows, w / cols) * float(rng.uniform(0.04, 0.12)))))
    picks = rng.choice(24, rows * cols, replace=rows * cols > 24)
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        x0, x1 = int(round(c * w / cols)) + gap, int(round((c + 1) * w / cols)) - gap
        y0, y1 = int(round(r * h / rows)) + gap, int(round((r + 1) * h / rows)) - gap
        cv2.rectangle(
            lay.bgr,
            (x0, y0),
            (max(x0, x1 - 1), max(y0, y1 - 1)),
            _vary(rng, _bgr(COLORCHECKER_SRGB[int(picks[k])])),
            -1,
        )
    return lay


def target_strip(rng: np.random.Generator, length_px: int, ppm: float, max_h: float | None = None) -> Layer:
    """A horizontal target strip length_px long: colour patch blocks at both ends, a grey ramp between,
    tick bands along one or both long edges. Class map: blocks 5, tick bands 6, the rest 0."""
    height_mm = float(rng.uniform(22, 45))
    h = max(int(round(min(height_mm * ppm, max_h or 1e9))), 12)
    w = max(length_px, 4 * h)
    dark = bool(rng.random() < 0.6)
    card = _vary(rng, (28, 28, 28) if dark else (225, 228, 228))
    lay = Layer.solid(h, w, card, 0)
    bands = str(rng.choice(["both", "top", "bottom"], p=[0.6, 0.2, 0.2]))
    band_h = max(int(round(h * float(rng.uniform(0.14, 0.22)))), 3)
    top_band = band_h if bands in ("both", "top") else 0
    bot_band = band_h if bands in ("both", "bottom") else 0
    inner0, inner1 = top_band + max(1, h // 30), h - bot_band - max(1, h // 30)
    ih = max(inner1 - inner0, 4)
    # Patch blocks: one to three rows of colour patches at each end, roughly square patches.
    rows = int(rng.integers(1, 4))
    cols = int(rng.integers(2, 7))
    patch = ih / rows
    bw = min(int(round(patch * cols)), w // 4)
    margin = max(1, int(round(h * 0.1)))
    for x in (margin, w - margin - bw):
        blk = _patch_block(rng, ih, bw, rows, cols, card)
        lay.paste(blk, x, inner0)
    # Grey ramp: steps from white to black (or a smooth wedge) between the blocks; background.
    r0, r1 = margin + bw + margin, w - margin - bw - margin
    if r1 - r0 > 8:
        if rng.random() < 0.7:
            greys = q13_greys()
            n = int(rng.choice([10, 12, 20]))
            vals = [greys[int(round(i * 19 / max(n - 1, 1)))] for i in range(n)]
            if rng.random() < 0.5:
                vals = vals[::-1]
            step = (r1 - r0) / n
            for i, g in enumerate(vals):
                xa, xb = int(round(r0 + i * step)), int(round(r0 + (i + 1) * step))
                cv2.rectangle(lay.bgr, (xa, inner0), (xb - 1, inner0 + ih - 1), _vary(rng, (g, g, g)), -1)
        else:
            ramp = np.linspace(245, 20, r1 - r0, dtype=np.float32)
            if rng.random() < 0.5:
                ramp = ramp[::-1]
            lay.bgr[inner0 : inner0 + ih, r0:r1] = np.clip(ramp, 0, 255).astype(np.uint8)[None, :, None]
    # Tick bands along the long edges: scale bar over their whole length.
    ink_v = 235.0 if dark else 25.0
    numbers = bool(rng.random() < 0.5)
    for y0, hh, top in ((0, top_band, True), (h - bot_band, bot_band, False)):
        if hh <= 0:
            continue
        ink = _ticks(rng, w, hh, ppm, ink_v, top, numbers).astype(np.float32)[..., None] / 255.0
        sub = lay.bgr[y0 : y0 + hh]
        sub[:] = (sub * (1 - ink) + ink_v * ink).astype(np.uint8)
        lay.cls[y0 : y0 + hh] = SCALE
    return lay


def grey_card(rng: np.random.Generator, length_px: int) -> Layer:
    """A separate grey step card (6-12 neutral steps, sometimes numbered, on a white or black card): a whole
    target, so all of it is colour_chart."""
    n = int(rng.choice([6, 7, 10, 11, 12]))
    w = max(length_px, 3 * n)
    step_w = w / n
    ph = max(int(round(step_w * float(rng.uniform(0.8, 2.5)))), 4)
    rim = max(1, int(round(step_w * 0.15)))
    numbered = bool(rng.random() < 0.5)
    th = max(int(step_w * 0.5), 4) if numbered else 0
    h = ph + 2 * rim + th
    card = _vary(rng, (240, 240, 240) if rng.random() < 0.6 else (25, 25, 25))
    lay = Layer.solid(h, w + 2 * rim, card, CHART)
    greys = np.linspace(245, 20, n)
    if rng.random() < 0.5:
        greys = greys[::-1]
    for i, g in enumerate(greys):
        xa, xb = rim + int(round(i * step_w)), rim + int(round((i + 1) * step_w))
        cv2.rectangle(lay.bgr, (xa, rim), (xb - 1, rim + ph - 1), _vary(rng, (float(g),) * 3), -1)
    if numbered:
        tc = InkCanvas(th, lay.w)
        font = pick_font(rng, "sans")
        for i in range(n):
            tc.text(rim + int(i * step_w + step_w * 0.3), 0, str(i), font, "sans", max(int(th * 0.8), 4))
        ink = tc.array().astype(np.float32)[..., None] / 255.0
        sub = lay.bgr[rim + ph : rim + ph + th]
        ink_v = 20.0 if card[0] > 128 else 235.0
        sub[:] = (sub * (1 - ink) + ink_v * ink).astype(np.uint8)
    return lay


def along_edge(
    rng: np.random.Generator, canvas: Layer, frame: tuple[int, int, int, int], strip: Layer, side: str
) -> None:
    """Lay a horizontal strip along one frame edge (turned for left/right), often flush with or cut by it."""
    fx0, fy0, fx1, fy1 = frame
    inset = float(rng.uniform(-0.25, 0.6))  # negative: part of the strip hangs outside the frame
    if side in ("top", "bottom"):
        y = fy0 + strip.h * (0.5 + inset) if side == "top" else fy1 - strip.h * (0.5 + inset)
        canvas.place(strip, (fx0 + fx1) / 2 + rng.normal(0, (fx1 - fx0) * 0.01), y, float(rng.normal(0, 0.4)))
    else:
        x = fx0 + strip.h * (0.5 + inset) if side == "left" else fx1 - strip.h * (0.5 + inset)
        canvas.place(strip, x, (fy0 + fy1) / 2 + rng.normal(0, (fy1 - fy0) * 0.01), 90.0)
