"""Hard negatives for the scale bar and the chart: things with ticks, rules or bold lettering that are
neither. Their class map is KEEP throughout: they are drawn on the surround or on the sheet paper, before
labels and specimens, so they stay background.

- institution logos and wordmarks printed on the imaging bar beside the sheet;
- ruled forms printed straight on the sheet ("Collector ____ No. ____"), outside any label;
- single lines of handwriting with an underline, written on the sheet.
"""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import InkCanvas, pick_font, text_patch
from .labels import handwriting
from .layer import KEEP, Layer
from .stamps import INSTITUTIONS

WORDS = ["HERBARIUM", "MUSEUM", "BOTANIC GARDEN", "NATURAL HISTORY", "DIGITISATION", "Imaging Station"]
FORM_FIELDS = ["Collector", "No.", "Date", "Locality", "Habitat", "Det.", "Alt.", "Lat.", "Long.", "Notes"]


def _ink_layer(ink: np.ndarray, colour: tuple[float, float, float], alpha: float) -> Layer:
    """Ink only (the ground shows through); the class underneath is kept."""
    h, w = ink.shape
    bgr = np.empty((h, w, 3), np.uint8)
    bgr[:] = np.array(colour, np.uint8)
    return Layer(bgr, (ink.astype(np.float32) / 255.0 * alpha).astype(np.float32), np.full((h, w), KEEP, np.uint8))


def wordmark(rng: np.random.Generator, height: int, on_dark: bool) -> Layer:
    """An institution's logo (crest, roundel or letter block) with its name beside it, as printed on the
    imaging bar. Bold letters and a striped emblem are what a network takes for a ruler; background."""
    h = max(height, 10)
    name = INSTITUTIONS[int(rng.integers(len(INSTITUTIONS)))]
    if rng.random() < 0.4:
        name = str(rng.choice(WORDS))
    style = str(rng.choice(["sans_bold", "serif_bold", "sans"]))
    font = pick_font(rng, style)
    lines = [name] if rng.random() < 0.6 or " " not in name else name.split(" ", 1)
    size = max(int(h * (0.55 if len(lines) == 1 else 0.36)), 5)
    pats = [text_patch(t, font, style, size) for t in lines]
    tw = max(p.shape[1] for p in pats)
    emblem = h
    w = emblem + int(h * 0.3) + tw + 4
    ink = np.zeros((h, w), np.uint8)
    kind = rng.random()
    c, r = (emblem // 2, h // 2), max(emblem // 2 - 2, 3)
    if kind < 0.35:  # roundel with bars
        cv2.circle(ink, c, r, 255, max(1, r // 6), cv2.LINE_AA)
        for i in range(-2, 3):
            y = c[1] + i * r // 3
            cv2.line(ink, (c[0] - r // 2, y), (c[0] + r // 2, y), 255, max(1, r // 8))
    elif kind < 0.7:  # crest
        pts = np.array(
            [[c[0] - r, c[1] - r], [c[0] + r, c[1] - r], [c[0] + r, c[1]], [c[0], c[1] + r], [c[0] - r, c[1]]]
        )
        cv2.fillPoly(ink, [pts.astype(np.int32)], 255, cv2.LINE_AA)
        cv2.line(ink, (c[0], c[1] - r), (c[0], c[1] + r), 0, max(1, r // 5))
        cv2.line(ink, (c[0] - r, c[1] - r // 3), (c[0] + r, c[1] - r // 3), 0, max(1, r // 5))
    else:  # letter block
        cv2.rectangle(ink, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), 255, -1)
        ini = text_patch("".join(wd[0] for wd in name.split()[:3]).upper(), font, style, max(r, 5))
        ph, pw = min(ini.shape[0], h), min(ini.shape[1], emblem)
        y0, x0 = max(c[1] - ph // 2, 0), max(c[0] - pw // 2, 0)
        sub = ink[y0 : y0 + ph, x0 : x0 + pw]
        sub[:] = np.where(ini[: sub.shape[0], : sub.shape[1]] > 127, 0, sub)
    x = emblem + int(h * 0.3)
    y = (h - sum(p.shape[0] for p in pats)) // 2
    for p in pats:
        ph, pw = min(p.shape[0], h - max(y, 0)), min(p.shape[1], w - x)
        if ph > 0 and pw > 0:
            ink[max(y, 0) : max(y, 0) + ph, x : x + pw] = np.maximum(
                ink[max(y, 0) : max(y, 0) + ph, x : x + pw], p[:ph, :pw]
            )
        y += p.shape[0]
    colour = (235.0, 235.0, 235.0) if on_dark else (30.0, 30.0, 30.0)
    if rng.random() < 0.3:
        colour = (60.0, 40.0, 150.0) if rng.random() < 0.5 else (120.0, 70.0, 20.0)
    return _ink_layer(ink, colour, float(rng.uniform(0.8, 1.0)))


def ruled_form(rng: np.random.Generator, w: int, h: int) -> Layer:
    """A form printed on the sheet itself: field names followed by rules, sometimes filled in by hand.
    Evenly spaced parallel rules are not a ruler, and outside a label this is sheet, so background."""
    w, h = max(w, 40), max(h, 12)
    n = max(1, min(int(rng.integers(1, 6)), h // 12))
    row = h / n
    ic = InkCanvas(h, w)
    style = str(rng.choice(["serif", "sans", "serif_italic"]))
    font = pick_font(rng, style)
    size = max(int(row * 0.45), 4)
    rules = np.zeros((h, w), np.uint8)
    filled = np.zeros((h, w), np.float32)
    lw = max(1, int(round(row * 0.04)))
    for i in range(n):
        y = int(i * row + row * 0.2)
        x = 2
        for _ in range(int(rng.integers(1, 3))):
            field = str(rng.choice(FORM_FIELDS))
            tw, _ = ic.text_size(field, font, style, size)
            ic.text(x, y, field, font, style, size)
            end = min(w - 2, x + tw + int(w * float(rng.uniform(0.25, 0.6))))
            yl = int(y + size * 1.05)
            if rng.random() < 0.6:
                cv2.line(rules, (x + tw + 3, yl), (end, yl), 255, lw)
            else:  # dotted rule
                for xd in range(x + tw + 3, end, max(3, size // 3)):
                    cv2.circle(rules, (xd, yl), max(1, lw // 2), 255, -1)
            if rng.random() < 0.5 and end - x - tw > size * 3:
                handwriting(filled, rng, x + tw + 6, y - size * 0.1, end - x - tw - 8, size * 1.1)
            x = end + size
            if x > w - size * 4:
                break
    ink = np.maximum(np.maximum(ic.array(), rules).astype(np.float32) / 255.0, np.clip(filled, 0, 1))
    lay = _ink_layer((ink * 255).astype(np.uint8), (40.0, 35.0, 30.0), float(rng.uniform(0.6, 0.95)))
    return lay


def handwriting_line(rng: np.random.Generator, w: int, h: int) -> Layer:
    """One line of ink handwriting written on the sheet, often underlined; background."""
    w, h = max(w, 20), max(h, 6)
    ink = np.zeros((h, w), np.float32)
    handwriting(ink, rng, 1, 1, w - 2, h * 0.75)
    if rng.random() < 0.5:
        y = int(h * 0.88)
        cv2.line(ink, (2, y), (w - 3, y + int(rng.integers(-2, 3))), 1.0, max(1, h // 14), cv2.LINE_AA)
    colour: tuple[float, float, float] = [(120.0, 40.0, 30.0), (30.0, 30.0, 30.0), (60.0, 70.0, 90.0)][
        int(rng.integers(3))
    ]
    return _ink_layer((np.clip(ink, 0, 1) * 255).astype(np.uint8), colour, float(rng.uniform(0.6, 0.95)))
