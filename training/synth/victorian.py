"""Victorian and early 20th-century microscope slides photographed close up: the slide fills the frame, often
upright (a portrait frame with the labels' writing across the slide), with large labels of tan, buff or
yellow paper (oval handwritten labels, bordered printed labels in bold capitals, round labels ruled as
tables), decorative paper covering the whole slide around a round window, and varnished ring cells.

Class rules as on every slide: paper labels (maker's seals included) are label; the mount is specimen (a
ring cell and everything inside it, a coverslip disc of mountant, or only the tiny mount in clear medium);
the glass and a decorative cover paper are background.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import camera, labels
from .fonts import InkCanvas, pick_font
from .layer import KEEP, Layer, grain, lowfreq, rotated
from .slides import SPECIMEN, STAINS, _c, _cut, _mount, _organism, _sections, _tiny_mount, maker_seal

LABEL = labels.LABEL

# Paper of old slide labels (BGR): tan, buff, strong yellow, cream, and now and then white.
PAPERS: list[tuple[float, float, float]] = [
    (150, 195, 225),
    (170, 205, 232),
    (120, 185, 215),
    (95, 205, 238),
    (60, 200, 240),
    (195, 225, 240),
    (225, 235, 242),
]
INKS: list[tuple[float, float, float]] = [(25, 25, 30), (30, 45, 70), (70, 40, 30), (120, 60, 35), (40, 40, 110)]
# Cover papers (BGR): maroon, crimson, gold, green, blue, black, marbled brown.
COVERS: list[tuple[float, float, float]] = [
    (50, 40, 120),
    (60, 50, 170),
    (40, 150, 200),
    (70, 110, 60),
    (130, 70, 40),
    (30, 30, 30),
    (60, 90, 130),
]
PRINTED_WORDS = [
    "DIATOMS", "FOSSIL", "FORAMINIFERA", "POLYCYSTINA", "BUTTERFLY", "SCALES", "EXHIBITION", "SECTION",
    "SPICULES", "POLLEN", "PROBOSCIS", "TONGUE", "BLOW FLY", "FOOT OF FLY", "WING", "CRYSTALS", "ROOT TIP",
    "SPIRACLE", "ANTENNA", "T.S.", "L.S.", "100 PARTS", "SELECTED", "ARRANGED", "FROM", "PREPARED BY",
    "CALIFORNIA", "BARBADOS", "NOTTINGHAM", "OAMARU", "SPONGE", "FLEA", "MITE", "STEM", "LEAF",
]


def _paper(rng: np.random.Generator, h: int, w: int) -> Layer:
    lay = Layer.solid(h, w, _c(rng, PAPERS, 10), LABEL)
    f = lowfreq(rng, h, w, 4) * float(rng.uniform(3, 9)) + grain(rng, h, w, 2.0)
    img = lay.bgr.astype(np.float32) + f[..., None]
    for _ in range(int(rng.integers(0, 6))):  # foxing: small brown spots
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        cv2.circle(img, (cx, cy), max(1, int(min(h, w) * float(rng.uniform(0.005, 0.02)))), (70, 110, 150), -1)
    lay.bgr = np.clip(img, 0, 255).astype(np.uint8)
    return lay


def _fit_lines(ic: InkCanvas, lines: list[str], font: str | None, style: str, w: int, h: int) -> int:
    """The largest text size at which the lines fit w by h (line pitch 1.2 sizes)."""
    size = max(int(h / (len(lines) * 1.2 + 0.2)), 4)
    while size > 4 and max(ic.text_size(t, font, style, size)[0] for t in lines) > w:
        size = int(size * 0.9)
    return size


def _write_block(
    ic: InkCanvas, rng: np.random.Generator, lines: list[str], style: str, x0: int, y0: int, w: int, h: int
) -> None:
    font = pick_font(rng, style)
    size = _fit_lines(ic, lines, font, style, w, h)
    block = len(lines) * size * 1.2
    y = y0 + (h - block) / 2
    for t in lines:
        tw, _ = ic.text_size(t, font, style, size)
        ic.text(int(x0 + (w - tw) / 2), int(y), t, font, style, size)
        y += size * 1.2


def old_label(rng: np.random.Generator, w: int, h: int) -> Layer:
    """One upright label (writing along w): oval handwritten, bordered print, round table or a mix."""
    w, h = max(w, 12), max(h, 12)
    lay = _paper(rng, h, w)
    ink_col = np.array(_c(rng, INKS, 8), np.float32)
    ic = InkCanvas(h, w)
    ink_extra = np.zeros((h, w), np.float32)
    pick = rng.random()
    shape = "rect"
    if pick < 0.35:  # oval, one to three handwritten lines (taxon, part, preparer)
        shape = "oval" if rng.random() < 0.75 else "round"
        n = int(rng.choice([1, 2, 2, 3]))
        words = labels.taxon(rng).split()[:n] + [str(rng.choice(PRINTED_WORDS)).title()]
        lines = words[:n]
        if rng.random() < 0.8:
            _write_block(ic, rng, lines, "script", int(w * 0.16), int(h * 0.14), int(w * 0.68), int(h * 0.72))
        else:
            pitch = h * 0.72 / n
            for i in range(n):
                labels.handwriting(ink_extra, rng, w * 0.18, h * 0.14 + i * pitch, w * 0.64, pitch * 0.45)
        if rng.random() < 0.4:  # a printed oval rule inside the edge
            cv2.ellipse(ink_extra, (w // 2, h // 2), (int(w * 0.45), int(h * 0.45)), 0, 0, 360, 1.0,
                        max(1, int(min(w, h) * 0.012)), cv2.LINE_AA)
    elif pick < 0.75:  # printed: two to four lines of bold capitals in a ruled frame, maybe a dark band
        n = int(rng.integers(2, 5))
        lines = [str(rng.choice(PRINTED_WORDS)) for _ in range(n)]
        style = str(rng.choice(["sans_bold", "serif_bold", "serif", "sans"]))
        m = int(min(w, h) * float(rng.uniform(0.06, 0.12)))
        frame = np.zeros((h, w), np.float32)
        lw = max(1, int(min(w, h) * float(rng.uniform(0.008, 0.02))))
        if rng.random() < 0.5:
            cv2.rectangle(frame, (m // 2, m // 2), (w - 1 - m // 2, h - 1 - m // 2), 1.0, lw)
            if rng.random() < 0.5:
                cv2.rectangle(frame, (m, m), (w - 1 - m, h - 1 - m), 1.0, lw)
        else:  # corner brackets
            k = int(min(w, h) * 0.15)
            for cx, cy, sx, sy in ((m, m, 1, 1), (w - 1 - m, m, -1, 1), (m, h - 1 - m, 1, -1),
                                   (w - 1 - m, h - 1 - m, -1, -1)):
                cv2.line(frame, (cx, cy), (cx + sx * k, cy), 1.0, lw)
                cv2.line(frame, (cx, cy), (cx, cy + sy * k), 1.0, lw)
        ink_extra = np.maximum(ink_extra, frame)
        inner_x, inner_y, inner_w, inner_h = int(m * 1.6), int(m * 1.6), w - int(m * 3.2), h - int(m * 3.2)
        if rng.random() < 0.4 and n >= 2:  # the first line reversed out of a dark printed band
            bh = int(inner_h / n)
            band = np.zeros((h, w), np.float32)
            band[inner_y : inner_y + bh, inner_x : inner_x + inner_w] = 1.0
            text = InkCanvas(h, w)
            _write_block(text, rng, lines[:1], style, inner_x + 2, inner_y + 1, inner_w - 4, bh - 2)
            ink_extra = np.maximum(ink_extra, band * (1 - text.array().astype(np.float32) / 255.0))
            lines, inner_y, inner_h = lines[1:], inner_y + bh, inner_h - bh
        _write_block(ic, rng, lines, style, inner_x, inner_y, inner_w, inner_h)
    elif pick < 0.87:  # round label ruled as a table, numbers in ink
        shape = "round"
        rows, cols = int(rng.integers(3, 7)), int(rng.integers(3, 6))
        grid = np.zeros((h, w), np.float32)
        for r in range(1, rows):
            y = int(h * r / rows)
            cv2.line(grid, (0, y), (w - 1, y), 1.0, max(1, h // 120))
        for c in range(1, cols):
            x = int(w * c / cols)
            cv2.line(grid, (x, 0), (x, h - 1), 1.0, max(1, w // 120))
        ink_extra = np.maximum(ink_extra, grid)
        font = pick_font(rng, "script")
        size = max(int(h / rows * 0.55), 4)
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.8:
                    ic.text(int(w * (c + 0.15) / cols), int(h * (r + 0.15) / rows),
                            str(int(rng.integers(1, 60))), font, "script", size)
    else:  # a plain slip: a printed dealer's line along one edge and handwriting across the rest
        lines = [str(rng.choice(PRINTED_WORDS)).title() for _ in range(int(rng.integers(2, 5)))]
        if rng.random() < 0.7:
            _write_block(ic, rng, lines, "script", int(w * 0.08), int(h * 0.08), int(w * 0.84), int(h * 0.66))
        else:
            pitch = h * 0.6 / len(lines)
            for i in range(len(lines)):
                labels.handwriting(ink_extra, rng, w * 0.1, h * 0.1 + i * pitch, w * 0.8, pitch * 0.45)
        strip = InkCanvas(h, w)
        _write_block(strip, rng, ["Ward's Nat. Sci. Estab." if rng.random() < 0.5 else "No."], "serif",
                     int(w * 0.05), int(h * 0.8), int(w * 0.9), int(h * 0.15))
        ink_extra = np.maximum(ink_extra, strip.array().astype(np.float32) / 255.0)
        cv2.rectangle(ink_extra, (2, 2), (w - 3, h - 3), 0.9, max(1, int(min(w, h) * 0.01)))
    ink = np.clip(np.maximum(ic.array().astype(np.float32) / 255.0, ink_extra), 0, 1)
    a = ink[..., None] * float(rng.uniform(0.7, 0.95))
    lay.bgr = (lay.bgr * (1 - a) + ink_col * a).astype(np.uint8)
    if shape == "round":
        d = min(w, h)
        sq = Layer(lay.bgr[(h - d) // 2 : (h - d) // 2 + d, (w - d) // 2 : (w - d) // 2 + d].copy(),
                   np.ones((d, d), np.float32), np.full((d, d), LABEL, np.uint8))
        out = Layer(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32), np.full((h, w), KEEP, np.uint8))
        out.paste(_cut(sq, "round"), (w - d) // 2, (h - d) // 2)
        return out
    return _cut(lay, shape)


def ring_cell(rng: np.random.Generator, d: int, oval: float = 1.0) -> Layer:
    """A varnished ring cell: black, gold or brown rings of varnish with the mount in the middle. The whole
    cell is specimen (as the mountant disc of a coverslip is)."""
    d = max(d, 10)
    h = max(int(d * oval), 10)
    lay = Layer(np.zeros((h, d, 3), np.uint8), np.zeros((h, d), np.float32), np.full((h, d), KEEP, np.uint8))
    cx, cy = d // 2, h // 2
    centre = (float(rng.uniform(20, 70)),) * 3 if rng.random() < 0.4 else _c(rng, [(200, 215, 220), (150, 190, 215)])
    cv2.ellipse(lay.bgr, (cx, cy), (d // 2 - 1, h // 2 - 1), 0, 0, 360, centre, -1, cv2.LINE_AA)
    cv2.ellipse(lay.alpha, (cx, cy), (d // 2 - 1, h // 2 - 1), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    rings = [(30, 30, 30), (40, 170, 215), (40, 70, 110), (25, 25, 25)]
    r = 1.0
    for _ in range(int(rng.integers(1, 4))):
        t = float(rng.uniform(0.04, 0.1))
        col = rings[int(rng.integers(len(rings)))]
        cv2.ellipse(lay.bgr, (cx, cy), (max(int(d / 2 * r) - 1, 1), max(int(h / 2 * r) - 1, 1)), 0, 0, 360,
                    col, max(1, int(d * t)), cv2.LINE_AA)
        r -= t * 2.2
    ink = np.zeros((d, d), np.float32)
    _organism(rng, ink, d // 2, d * 0.22 * max(r, 0.4), d)
    ink = cv2.resize(ink, (d, h)) * float(rng.uniform(0.5, 0.95))
    col_arr = np.array(_c(rng, STAINS), np.float32)
    lay.bgr = (lay.bgr * (1 - ink[..., None]) + col_arr * ink[..., None]).astype(np.uint8)
    disc = np.zeros((h, d), np.uint8)
    cv2.ellipse(disc, (cx, cy), (d // 2 - 1, h // 2 - 1), 0, 0, 360, 1, -1)
    lay.cls[disc > 0] = SPECIMEN
    return lay


def _cover(rng: np.random.Generator, w: int, h: int, window: int) -> Layer:
    """Decorative paper over the whole slide, with a round window over the mount: background class."""
    base = np.array(_c(rng, COVERS, 15), np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += (lowfreq(rng, h, w, 8) * 12 + grain(rng, h, w, 3))[..., None]
    accent = np.array(_c(rng, [(40, 160, 210), (200, 200, 200), (20, 20, 20), (40, 40, 150)]), np.float32)
    pat = np.zeros((h, w), np.float32)
    kind = rng.random()
    if kind < 0.45:  # fine stripes across the slide
        period = max(int(h * float(rng.uniform(0.03, 0.07))), 2)
        pat[:, ::period] = 1.0
        if period > 3:
            pat[:, 1::period] = 1.0
    elif kind < 0.7:  # dots
        period = max(int(h * float(rng.uniform(0.05, 0.1))), 3)
        pat[::period, ::period] = 1.0
        pat = np.asarray(cv2.dilate(pat, np.ones((2, 2), np.uint8)), np.float32)
    cx, cy = w // 2, h // 2
    if rng.random() < 0.6:  # a rosette of rays round the window
        for k in range(int(rng.integers(24, 60))):
            a = 2 * math.pi * k / 40
            r0, r1 = window / 2, window / 2 + h * float(rng.uniform(0.1, 0.2))
            cv2.line(pat, (int(cx + math.cos(a) * r0), int(cy + math.sin(a) * r0)),
                     (int(cx + math.cos(a) * r1), int(cy + math.sin(a) * r1)), 1.0, max(1, h // 60))
    m = max(2, int(h * 0.04))
    cv2.rectangle(pat, (m, m), (w - 1 - m, h - 1 - m), 1.0, max(1, h // 50))
    a3 = (pat * float(rng.uniform(0.5, 0.9)))[..., None]
    img = img * (1 - a3) + accent * a3
    lay = Layer(np.clip(img, 0, 255).astype(np.uint8), np.ones((h, w), np.float32), np.zeros((h, w), np.uint8))
    cv2.circle(lay.alpha, (cx, cy), window // 2, 0.0, -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # a monogram circle printed between window and label
        mx = int(cx + (window / 2 + h * 0.35) * (1 if rng.random() < 0.5 else -1))
        cv2.circle(lay.bgr, (mx, cy), int(h * 0.15), accent.tolist(), max(1, h // 60), cv2.LINE_AA)
    return lay


def victorian_slide(rng: np.random.Generator, ppm: float, across: bool) -> Layer:
    """One landscape slide, 75×25 mm at ppm. across: the labels' writing runs across the slide (turned a
    quarter clockwise here), as it reads on a slide held upright."""
    w, h = max(int(round(75 * ppm)), 24), max(int(round(25 * ppm)), 8)
    tint = (float(rng.uniform(215, 240)),) * 3
    lay = Layer.solid(h, w, tint, 0, float(rng.uniform(0.2, 0.45)))
    edge = max(1, int(round(ppm * 0.3)))
    cv2.rectangle(lay.alpha, (0, 0), (w - 1, h - 1), 0.8, edge)
    window = int(h * float(rng.uniform(0.45, 0.75)))
    covered = rng.random() < 0.3
    if covered:
        lay.paste(_cover(rng, w, h, window), 0, 0)
    lw = int(round(float(rng.uniform(17, 24)) * ppm))
    lh = min(int(round(float(rng.uniform(18, 24)) * ppm)), h - 2)
    ends = [0, 1] if rng.random() < 0.85 else [int(rng.integers(2))]
    for end in ends:
        lab = old_label(rng, lh, lw) if across else old_label(rng, lw, lh)
        if across:
            lab = rotated(lab, -90)
        gap = int(ppm * float(rng.uniform(0.5, 2.5)))
        x = gap if end == 0 else w - lab.w - gap
        lay.paste(lab, x, (h - lab.h) // 2 + int(rng.normal(0, ppm * 0.3)))
    free0 = lw + int(ppm * 2) if 0 in ends else int(ppm * 3)
    free1 = w - lw - int(ppm * 2) if 1 in ends else w - int(ppm * 3)
    if rng.random() < 0.35:
        seal = maker_seal(rng, int(ppm * float(rng.uniform(7, 11))))
        if across:
            seal = rotated(seal, -90)
        if free1 - free0 > seal.w + 12 * ppm:
            at_end = bool(rng.random() < 0.5)
            x = free1 - seal.w if at_end else free0
            lay.paste(seal, x, (h - seal.h) // 2)
            free0, free1 = (free0, x - int(ppm)) if at_end else (x + seal.w + int(ppm), free1)
    room = max(free1 - free0, 8)
    pick = rng.random()
    if covered:
        size = window
        m = _mount(rng, size, False) if pick < 0.5 else ring_cell(rng, size) if pick < 0.8 else _tiny_mount(
            rng, size, False)
    else:
        size = int(min(float(rng.uniform(12, 23)) * ppm, h * 0.95, room * 0.95))
        if pick < 0.35:
            m = ring_cell(rng, size, oval=1.0 if rng.random() < 0.7 else float(rng.uniform(1.1, 1.3)))
        elif pick < 0.55:
            m = _mount(rng, size, bool(rng.random() < 0.2))
        elif pick < 0.8:
            m = _tiny_mount(rng, size, bool(rng.random() < 0.5))
        else:
            m = _sections(rng, int(min(size * 1.3, room * 0.95)), size)
    cx = (free0 + free1) / 2 if not covered else w / 2
    lay.paste(m, int(cx - m.w / 2), int((h - m.h) / 2))
    return lay


def victorian_scene(
    rng: np.random.Generator, long_side: int, tilt: float = 0.0, zoom: float = 1.0
) -> tuple[Layer, int, int, int, bool]:
    """A close-up of one old slide: the frame is the slide and a little around it. Returns the canvas,
    output width and height, padding, and whether the writing runs across the slide (the frame is then
    best turned upright)."""
    out_w = long_side
    out_h = int(round(out_w / float(rng.uniform(2.8, 3.2))))
    f = float(rng.uniform(0.93, 1.02))  # the slide fills the frame; its ends may be just cut
    ppm = f * out_w / 75
    pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom, 2.0))
    v = float(rng.uniform(200, 245)) if rng.random() < 0.7 else float(rng.uniform(10, 60))
    bg = np.empty((out_h + 2 * pad, out_w + 2 * pad, 3), np.float32)
    bg[:] = v
    bg += (lowfreq(rng, bg.shape[0], bg.shape[1], 4) * 6 + grain(rng, bg.shape[0], bg.shape[1], 1.5))[..., None]
    canvas = Layer(np.clip(bg, 0, 255).astype(np.uint8), np.ones(bg.shape[:2], np.float32),
                   np.zeros(bg.shape[:2], np.uint8))
    across = bool(rng.random() < 0.8)
    s = victorian_slide(rng, ppm, across)
    canvas.place(s, pad + out_w / 2 + rng.normal(0, out_w * 0.01), pad + out_h / 2 + rng.normal(0, out_h * 0.02),
                 rng.normal(0, 0.5))
    return canvas, out_w, out_h, pad, across
