"""Rulers and printed scale bars with cm/mm ticks and numbers."""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import InkCanvas, pick_font
from .layer import Layer

SCALE = 6

RULER_COLOURS: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = [
    ((242, 244, 244), (25, 25, 25)),  # white, black print (BGR)
    ((60, 210, 235), (20, 20, 20)),  # yellow
    ((25, 25, 25), (235, 235, 235)),  # black, white print
    ((200, 200, 200), (20, 20, 20)),  # grey
    ((225, 235, 238), (40, 30, 30)),  # cream card
    ((165, 168, 168), (15, 15, 15)),  # grey plastic
    ((235, 238, 238), (20, 20, 20)),  # clear plastic (drawn translucent)
    ((200, 140, 60), (25, 20, 20)),  # blue plastic (translucent too)
]
CLEAR = (6, 7)  # indices of the translucent plastics
CAPTIONS = [
    "copyright reserved",
    "cm",
    "Herbarium - copyright reserved",
    "mm",
    "RBG Kew",
    "Preserved Materials",
    "Natural History Museum",
    "scale 1:1",
    "",
]


def ruler(
    rng: np.random.Generator,
    px_per_mm: float,
    length_mm: float | None = None,
    colours: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None,
    inch: bool = False,
) -> Layer:
    """A horizontal ruler; rotate the layer for vertical placement. inch: an inch scale only, ticks at
    1/16" in five lengths (inch, half, quarter, eighth, sixteenth) and numbers at each inch."""
    if length_mm is None:
        length_mm = float(rng.choice([100, 100, 150, 200, 300]))
    width_mm = float(rng.uniform(10, 28))
    choice = int(rng.choice(len(RULER_COLOURS), p=[0.32, 0.11, 0.12, 0.1, 0.1, 0.11, 0.07, 0.07]))
    bg, ink_c = colours or RULER_COLOURS[choice]
    clear = (bg, ink_c) in [RULER_COLOURS[i] for i in CLEAR]
    both_edges = not inch and bool(rng.random() < 0.3)  # cm on one edge, inches (or mm again) on the other
    margin_mm = float(rng.uniform(2, 10))
    total_mm = length_mm + 2 * margin_mm
    # Supersample so millimetre ticks land on distinct pixels before area-averaging down.
    ss = max(1, int(np.ceil(5.0 / max(px_per_mm, 1e-3))))
    k = px_per_mm * ss
    W, H = max(int(round(total_mm * k)), 8), max(int(round(width_mm * k)), 4)
    ink = InkCanvas(H, W)
    arr = np.zeros((H, W), np.uint8)
    lw = max(1, int(round(0.15 * k)))
    top = bool(rng.random() < 0.7)
    n_mm = int(length_mm)
    if inch:
        sixteenth = 25.4 / 16
        for i in range(int(length_mm / sixteenth) + 1):
            x = int(round((margin_mm + i * sixteenth) * k))
            tl = 0.55 if i % 16 == 0 else 0.42 if i % 8 == 0 else 0.32 if i % 4 == 0 else 0.24 if i % 2 == 0 else 0.16
            tl_px = int(round(min(tl * 12, width_mm * tl * 1.2) * k))
            if top:
                cv2.line(arr, (x, 0), (x, tl_px), 255, lw)
            else:
                cv2.line(arr, (x, H - 1), (x, H - 1 - tl_px), 255, lw)
    for mm in range(0 if inch else n_mm + 1):
        x = int(round((margin_mm + mm) * k))
        tl = 0.5 if mm % 10 == 0 else 0.32 if mm % 5 == 0 else 0.2
        tl_px = int(round(min(tl * 12, width_mm * tl * 1.2) * k))
        if top:
            cv2.line(arr, (x, 0), (x, tl_px), 255, lw)
        else:
            cv2.line(arr, (x, H - 1), (x, H - 1 - tl_px), 255, lw)
    if both_edges:
        inch = bool(rng.random() < 0.6)
        step_mm = 25.4 / 16 if inch else 1.0
        n_ticks = int(length_mm / step_mm)
        for i in range(n_ticks + 1):
            x = int(round((margin_mm + i * step_mm) * k))
            major = i % 16 == 0 if inch else i % 10 == 0
            mid = i % 8 == 0 if inch else i % 5 == 0
            tl = 0.5 if major else 0.32 if mid else 0.2
            tl_px = int(round(min(tl * 12, width_mm * tl * 1.2) * k))
            if top:
                cv2.line(arr, (x, H - 1), (x, H - 1 - tl_px), 255, lw)
            else:
                cv2.line(arr, (x, 0), (x, tl_px), 255, lw)
    ink_arr = arr
    font = pick_font(rng, "sans" if rng.random() < 0.7 else "serif")
    size = max(int(min(3.5, width_mm * 0.25) * k), 4)
    ty = int(round(6.5 * k)) if top else H - int(round(6.5 * k)) - size
    ty = min(max(ty, 0), max(H - size, 0))
    step = 10 if length_mm <= 200 or rng.random() < 0.5 else 20
    tmp = InkCanvas(H, W)
    unit_mm = 25.4 if inch else 10.0
    for u in range(0, int(length_mm / unit_mm) + 1, 1 if inch else step // 10):
        x = int(round((margin_mm + u * unit_mm) * k))
        lab = str(u)
        tw, _ = tmp.text_size(lab, font, "sans", size)
        tmp.text(x - tw // 2, ty, lab, font, "sans", size)
    cap = "INCHES" if inch and rng.random() < 0.6 else CAPTIONS[int(rng.integers(len(CAPTIONS)))]
    if cap and width_mm > 14 and not both_edges:
        csize = max(int(2.2 * k), 4)
        cy = H - csize - int(1.5 * k) if top else int(1.5 * k)
        tmp.text(int(W * float(rng.uniform(0.3, 0.5))), cy, cap, font, "sans", csize)
    ink_arr = np.maximum(ink_arr, tmp.array())
    del ink
    lay = Layer.solid(H, W, bg, SCALE)
    a = ink_arr.astype(np.float32)[..., None] / 255.0
    lay.bgr = (lay.bgr * (1 - a) + np.array(ink_c, np.float32) * a).astype(np.uint8)
    cv2.rectangle(lay.bgr, (0, 0), (W - 1, H - 1), tuple(float(c) * 0.85 for c in bg), max(1, lw))
    if clear:
        # Clear or tinted plastic: what lies beneath shows through everywhere but the printed ticks and numbers.
        body = float(rng.uniform(0.15, 0.35))
        if bg[0] > bg[2] + 60:
            body = float(rng.uniform(0.45, 0.75))  # blue plastic is tinted well through
        lay.alpha[:] = np.maximum(body, ink_arr.astype(np.float32) / 255.0)
    if ss > 1:
        w1, h1 = max(int(round(W / ss)), 1), max(int(round(H / ss)), 1)
        lay = Layer(
            cv2.resize(lay.bgr, (w1, h1), interpolation=cv2.INTER_AREA),
            cv2.resize(lay.alpha, (w1, h1), interpolation=cv2.INTER_AREA),
            np.full((h1, w1), SCALE, np.uint8),
        )
    return lay


def scale_bar(
    rng: np.random.Generator,
    px_per_mm: float,
    ink_bgr: tuple[float, float, float],
    paper_bgr: tuple[float, float, float],
) -> Layer:
    """A printed scale bar (alternating black/white blocks with a '0 ... N cm' legend)."""
    n = int(rng.choice([2, 3, 5, 10]))
    seg_mm = float(rng.choice([5, 10]))
    bar_h_mm = float(rng.uniform(1.5, 3))
    k = px_per_mm
    W = max(int(round((n * seg_mm + 6) * k)), 8)
    text_h = max(int(round(3 * k)), 5)
    H = max(int(round(bar_h_mm * k)), 2) + text_h + 2
    lay = Layer.solid(H, W, paper_bgr, SCALE)
    x0 = int(round(3 * k))
    bh = max(int(round(bar_h_mm * k)), 2)
    for i in range(n):
        xa, xb = x0 + int(round(i * seg_mm * k)), x0 + int(round((i + 1) * seg_mm * k))
        col = ink_bgr if i % 2 == 0 else paper_bgr
        cv2.rectangle(lay.bgr, (xa, text_h), (xb, text_h + bh), col, -1)
    cv2.rectangle(lay.bgr, (x0, text_h), (x0 + int(round(n * seg_mm * k)), text_h + bh), ink_bgr, 1)
    tc = InkCanvas(text_h, W)
    font = pick_font(rng, "sans")
    tc.text(0, 0, "0", font, "sans", max(int(text_h * 0.8), 4))
    total = n * seg_mm
    lab = f"{int(total / 10)} cm" if total >= 10 else f"{int(total)} mm"
    tw, _ = tc.text_size(lab, font, "sans", max(int(text_h * 0.8), 4))
    tc.text(max(0, W - tw - 2), 0, lab, font, "sans", max(int(text_h * 0.8), 4))
    a = tc.array().astype(np.float32)[..., None] / 255.0
    sub = lay.bgr[:text_h]
    sub[:] = (sub * (1 - a) + np.array(ink_bgr, np.float32) * a).astype(np.uint8)
    return lay


def checker_ruler(rng: np.random.Generator, px_per_mm: float, length_mm: float = 100.0) -> Layer:
    """A printed 'copyright reserved' scale strip: a row of alternating cm blocks (mm blocks in the
    first cm) with tick lines, large cm numbers and a caption, usually white on black card."""
    dark = bool(rng.random() < 0.75)
    bg, ink_c = ((20, 20, 20), (235, 235, 235)) if dark else ((240, 242, 242), (20, 20, 20))
    height_mm = float(rng.uniform(16, 24))
    margin_mm = float(rng.uniform(2, 5))
    total_mm = length_mm + 2 * margin_mm
    ss = max(1, int(np.ceil(5.0 / max(px_per_mm, 1e-3))))
    k = px_per_mm * ss
    W, H = max(int(round(total_mm * k)), 8), max(int(round(height_mm * k)), 6)
    ink = np.zeros((H, W), np.uint8)
    band0, band1 = int(round(1.0 * k)), int(round(height_mm * 0.38 * k))
    x_at = lambda mm: int(round((margin_mm + mm) * k))  # noqa: E731
    cv2.rectangle(ink, (x_at(0), band0), (x_at(length_mm), band1), 255, max(1, int(0.2 * k)))
    row0, row1 = int(band0 + (band1 - band0) * 0.55), int(band0 + (band1 - band0) * 0.8)
    for cm in range(int(length_mm // 10)):
        if cm % 2 == 1:
            cv2.rectangle(ink, (x_at(cm * 10), row0), (x_at(cm * 10 + 10), row1), 255, -1)
        cv2.line(ink, (x_at(cm * 10), band0), (x_at(cm * 10), band1), 255, max(1, int(0.25 * k)))
    for mm in range(10):  # the first centimetre in millimetre blocks, two staggered rows
        y_a, y_b = (band0 + int((band1 - band0) * 0.1), row0) if mm % 2 == 0 else (row0, row1)
        cv2.rectangle(ink, (x_at(mm), y_a), (x_at(mm + 1), y_b), 255, -1)
    tmp = InkCanvas(H, W)
    font = pick_font(rng, "sans")
    size = max(int(height_mm * 0.22 * k), 4)
    for cm in range(int(length_mm // 10) + 1):
        lab = str(cm)
        tw, _ = tmp.text_size(lab, font, "sans", size)
        tmp.text(x_at(cm * 10) - tw // 2, band1 + int(0.8 * k), lab, font, "sans", size)
    csize = max(int(height_mm * 0.14 * k), 4)
    tmp.text(x_at(0), H - csize - int(1.2 * k), "cm", font, "sans", csize)
    cap = CAPTIONS[int(rng.integers(len(CAPTIONS)))] or "copyright reserved"
    tw, _ = tmp.text_size(cap, font, "sans", csize)
    tmp.text(max(x_at(length_mm) - tw, x_at(15)), H - csize - int(1.2 * k), cap, font, "sans", csize)
    ink = np.maximum(ink, tmp.array())
    lay = Layer.solid(H, W, bg, SCALE)
    a = ink.astype(np.float32)[..., None] / 255.0
    lay.bgr = (lay.bgr * (1 - a) + np.array(ink_c, np.float32) * a).astype(np.uint8)
    if ss > 1:
        w1, h1 = max(int(round(W / ss)), 1), max(int(round(H / ss)), 1)
        lay = Layer(
            cv2.resize(lay.bgr, (w1, h1), interpolation=cv2.INTER_AREA),
            np.ones((h1, w1), np.float32),
            np.full((h1, w1), SCALE, np.uint8),
        )
    return lay


def logo_card(rng: np.random.Generator, h: int, w: int, cls: int = 0) -> Layer:
    """The institution's card at the end of a scale strip: a crest and two lines of small print."""
    h, w = max(h, 8), max(w, 8)
    paper_c = (240, 242, 242) if rng.random() < 0.7 else (20, 20, 20)
    ink_c = np.array((25, 25, 25) if paper_c[0] > 128 else (235, 235, 235), np.float32)
    ink = np.zeros((h, w), np.uint8)
    cx, cy, r = w // 2, int(h * 0.38), max(int(min(w, h) * 0.28), 2)
    pts = np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r // 3], [cx, cy + r], [cx - r, cy + r // 3]])
    cv2.polylines(ink, [pts.astype(np.int32)], True, 255, max(1, r // 10), cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.uniform(cx - r * 0.7, cx + r * 0.3)), int(rng.uniform(cy - r * 0.7, cy + r * 0.2))
        cv2.rectangle(ink, (x0, y0), (x0 + max(r // 3, 1), y0 + max(r // 3, 1)), 255, -1)
    tmp = InkCanvas(h, w)
    font = pick_font(rng, "serif")
    size = max(int(h * 0.08), 4)
    for i, line in enumerate(("Provided by the Herbarium", "copyright reserved")):
        tw, _ = tmp.text_size(line, font, "serif", size)
        tmp.text(max((w - tw) // 2, 0), int(h * 0.75) + i * (size + 2), line, font, "serif", size)
    ink = np.maximum(ink, tmp.array())
    lay = Layer.solid(h, w, paper_c, cls)
    a = ink.astype(np.float32)[..., None] / 255.0
    lay.bgr = (lay.bgr * (1 - a) + ink_c * a).astype(np.uint8)
    return lay


def scale_strip(rng: np.random.Generator, px_per_mm: float, length_mm: float = 100.0) -> Layer:
    """A checker-bar ruler, often with a logo card butted to its right end (part of the strip or not)."""
    r = checker_ruler(rng, px_per_mm, length_mm)
    if rng.random() < 0.55:
        return r
    card_w = int(r.h * float(rng.uniform(1.0, 1.6)))
    part_of_strip = bool(rng.random() < 0.4)
    card = logo_card(rng, r.h, card_w, SCALE if part_of_strip else 0)
    out = Layer.solid(r.h, r.w + card_w, (0, 0, 0), SCALE)
    out.paste(r, 0, 0)
    out.paste(card, r.w, 0)
    return out


def line_scale(
    rng: np.random.Generator, px_per_mm: float, ink_bgr: tuple[float, float, float], cm: int | None = None
) -> Layer:
    """A bare scale line: a rule with end ticks and a legend such as "5 cm", printed or drawn on the sheet.
    The ink only is drawn (the paper shows through); the whole box of line, ticks and legend is scale bar."""
    n = int(rng.choice([1, 2, 5, 5, 10])) if cm is None else cm
    k = px_per_mm
    length = max(int(round(n * 10 * k)), 8)
    lw = max(1, int(round(k * float(rng.uniform(0.2, 0.5)))))
    tick = max(int(round(k * float(rng.uniform(1.5, 3.5)))), 3)
    text_h = max(int(round(k * float(rng.uniform(2.5, 4.5)))), 6)
    margin = lw + 2
    w, h = length + 2 * margin, text_h + tick + 2 * margin + 2
    ink = InkCanvas(h, w)
    legend = f"{n} cm" if rng.random() < 0.8 or n < 2 else f"{n * 10} mm"
    font = pick_font(rng, "sans" if rng.random() < 0.6 else "serif")
    size = max(int(text_h * 0.85), 4)
    tw, _ = ink.text_size(legend, font, "sans", size)
    ink.text(max((w - tw) // 2, 0), margin, legend, font, "sans", size)
    arr = ink.array()
    y = margin + text_h + tick // 2 + 1
    cv2.line(arr, (margin, y), (margin + length, y), 255, lw)
    for x in (margin, margin + length):
        cv2.line(arr, (x, y - tick // 2), (x, y + tick // 2), 255, lw)
    if rng.random() < 0.3:
        for i in range(1, n):  # centimetre ticks between the ends
            x = margin + int(round(i * 10 * k))
            cv2.line(arr, (x, y - tick // 4), (x, y), 255, lw)
    lay = Layer.solid(h, w, ink_bgr, SCALE)
    lay.alpha = arr.astype(np.float32) / 255.0
    return lay
