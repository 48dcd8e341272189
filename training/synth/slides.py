"""Microscope slides: 75×25 mm glass with labels, barcodes and a coverslip over the mounted specimen;
single slides and trays of slides.

Specimen rule: the whole mountant area under the coverslip (the disc or square holding the mount) is class 1
together with any specimen part outside it; the clear glass around it is background.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import barcodes, camera, charts, labels, rulers, stamps
from .fonts import pick_font, text_patch
from .layer import KEEP, Layer, grain, grey, lowfreq

SPECIMEN = 1
LABEL = labels.LABEL
MOUNT_TINTS: list[tuple[float, float, float]] = [
    (150, 210, 235),
    (120, 190, 230),
    (200, 225, 235),
    (90, 160, 220),
    (215, 225, 225),
    (60, 120, 200),
]
STAINS: list[tuple[float, float, float]] = [
    (40, 80, 140),
    (30, 50, 90),
    (150, 60, 160),
    (170, 90, 190),
    (140, 80, 60),
    (60, 110, 170),
    (20, 30, 60),
]


def _c(
    rng: np.random.Generator, xs: list[tuple[float, float, float]], j: float = 12
) -> tuple[float, float, float]:
    v = np.clip(np.array(xs[int(rng.integers(len(xs)))]) + rng.normal(0, j, 3), 0, 255)
    return float(v[0]), float(v[1]), float(v[2])


def _organism(rng: np.random.Generator, ink: np.ndarray, c: int, r: float, s: int) -> None:
    """Draw a mounted organism (insect, mite, stained section or scattered small organisms) as ink 0..1,
    centred at (c, c) with radius about r; s scales the line widths."""
    kind = rng.random()
    if kind < 0.3:  # insect: head, thorax, abdomen, legs, antennae
        ang = float(rng.uniform(0, math.pi))
        ca, sa = math.cos(ang), math.sin(ang)
        for off, rad in ((-0.55, 0.18), (-0.2, 0.22), (0.35, 0.38)):
            cx, cy = c + ca * off * r, c + sa * off * r
            cv2.ellipse(
                ink,
                (int(cx), int(cy)),
                (max(1, int(rad * r)), max(1, int(rad * r * 0.7))),
                math.degrees(ang),
                0,
                360,
                1.0,
                -1,
                cv2.LINE_AA,
            )
        for k in range(6):
            sgn = 1 if k % 2 else -1
            base = (c + ca * (-0.2 + 0.15 * (k // 2 - 1)) * r, c + sa * (-0.2 + 0.15 * (k // 2 - 1)) * r)
            la = ang + sgn * (math.pi / 2 + (k // 2 - 1) * 0.5)
            p1 = (base[0] + math.cos(la) * r * 0.6, base[1] + math.sin(la) * r * 0.6)
            p2 = (p1[0] + math.cos(la + sgn * 0.6) * r * 0.5, p1[1] + math.sin(la + sgn * 0.6) * r * 0.5)
            cv2.polylines(
                ink, [np.array([base, p1, p2], np.int32)], False, 1.0, max(1, int(s * 0.01)), cv2.LINE_AA
            )
    elif kind < 0.5:  # mite: round body and eight legs
        cv2.circle(ink, (c, c), max(1, int(r * 0.5)), 1.0, -1, cv2.LINE_AA)
        for k in range(8):
            la = k / 8 * 2 * math.pi + float(rng.normal(0, 0.1))
            p = (int(c + math.cos(la) * r * 1.1), int(c + math.sin(la) * r * 1.1))
            cv2.line(ink, (c, c), p, 1.0, max(1, int(s * 0.012)), cv2.LINE_AA)
    elif kind < 0.8:  # stained section: concentric tissue rings with cells
        for k in range(int(rng.integers(2, 5))):
            cv2.circle(
                ink,
                (c, c),
                max(1, int(r * (1.2 - 0.25 * k))),
                float(rng.uniform(0.3, 0.9)),
                max(1, int(s * 0.03)),
                cv2.LINE_AA,
            )
        for _ in range(int(rng.integers(20, 80))):
            p = (int(c + rng.normal(0, r * 0.6)), int(c + rng.normal(0, r * 0.6)))
            cv2.circle(ink, p, max(1, int(s * 0.012)), 1.0, -1, cv2.LINE_AA)
    else:  # scattered small organisms (diatoms, pollen, eggs)
        for _ in range(int(rng.integers(3, 25))):
            p = (int(c + rng.normal(0, r * 0.5)), int(c + rng.normal(0, r * 0.5)))
            cv2.ellipse(
                ink,
                p,
                (max(1, int(s * 0.03)), max(1, int(s * 0.015))),
                float(rng.uniform(0, 180)),
                0,
                360,
                1.0,
                -1,
                cv2.LINE_AA,
            )


def _mount(rng: np.random.Generator, size: int, square: bool) -> Layer:
    """Coverslip region: tinted mountant with the specimen drawn inside; class 1 on the mountant area."""
    s = max(size, 6)
    lay = Layer(np.zeros((s, s, 3), np.uint8), np.zeros((s, s), np.float32), np.full((s, s), KEEP, np.uint8))
    region = np.zeros((s, s), np.uint8)
    c = s // 2
    if square:
        m = max(1, int(s * 0.08))
        cv2.rectangle(region, (m, m), (s - 1 - m, s - 1 - m), 255, -1)
    else:
        cv2.circle(region, (c, c), int(s * 0.45), 255, -1, cv2.LINE_AA)
    tint = _c(rng, MOUNT_TINTS)
    a = region.astype(np.float32) / 255.0 * float(rng.uniform(0.25, 0.75))
    a *= np.clip(1 + lowfreq(rng, s, s, 4) * 0.3, 0.4, 1.3)
    lay.bgr[:] = np.array(tint, np.uint8)
    lay.alpha = np.clip(a, 0, 1).astype(np.float32)
    ink = np.zeros((s, s), np.float32)
    col = _c(rng, STAINS)
    _organism(rng, ink, c, s * 0.3, s)
    ink *= float(rng.uniform(0.5, 0.95))
    a3 = ink[..., None]
    lay.bgr = (lay.bgr * (1 - a3) + np.array(col, np.float32) * a3).astype(np.uint8)
    lay.alpha = np.maximum(lay.alpha, ink)
    lay.cls[(region > 127) | (ink > 0.3)] = SPECIMEN
    # Coverslip edge: a faint bright rim.
    if square:
        cv2.rectangle(lay.alpha, (0, 0), (s - 1, s - 1), 0.35, 1)
        cv2.rectangle(lay.bgr, (0, 0), (s - 1, s - 1), (235, 235, 235), 1)
    else:
        cv2.circle(lay.alpha, (c, c), s // 2 - 1, 0.35, 1, cv2.LINE_AA)
        cv2.circle(lay.bgr, (c, c), s // 2 - 1, (235, 235, 235), 1, cv2.LINE_AA)
    return lay


def _cut(lay: Layer, shape: str) -> Layer:
    """Cut a label to an oval, round or shield outline: outside it the layer is clear and keeps the class
    underneath, so the class map follows the paper's own edge."""
    h, w = lay.h, lay.w
    a = np.zeros((h, w), np.float32)
    if shape in ("oval", "round"):
        cv2.ellipse(a, (w // 2, h // 2), (max(w // 2 - 1, 1), max(h // 2 - 1, 1)), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    elif shape == "shield":
        pts = np.array(
            [[0, 0], [w - 1, 0], [w - 1, h * 0.55], [w * 0.5, h - 1], [0, h * 0.55]], np.float32
        )
        cv2.fillPoly(a, [np.round(pts * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
    else:
        return lay
    lay.alpha = np.minimum(lay.alpha, a)
    lay.cls = np.where(a >= 0.5, lay.cls, KEEP).astype(np.uint8)
    return lay


def _oval_label(rng: np.random.Generator, w: int, h: int, kind: str) -> Layer:
    """An oval or round slide label: the writing kept inside the outline, often a printed oval rule."""
    inner = labels.label(rng, max(int(w * 0.7), 4), max(int(h * 0.66), 4), kind, border=False)
    paper_bgr = np.median(inner.bgr[:, : max(inner.w // 10, 1)].reshape(-1, 3), axis=0)
    lay = Layer.solid(h, w, (float(paper_bgr[0]), float(paper_bgr[1]), float(paper_bgr[2])), inner.cls.flat[0])
    lay.paste(inner, (w - inner.w) // 2, (h - inner.h) // 2)
    if rng.random() < 0.6:
        t = max(1, int(min(w, h) * 0.015))
        cv2.ellipse(lay.bgr, (w // 2, h // 2), (int(w * 0.44), int(h * 0.44)), 0, 0, 360, (50, 50, 60), t, cv2.LINE_AA)
    return _cut(lay, "oval" if rng.random() < 0.7 else "round")


def ringed_type_label(rng: np.random.Generator, d: int) -> Layer:
    """A round type label with a red ring printed inside its edge (type slides): type_label class."""
    d = max(d, 8)
    lab = labels.label(rng, d, d, "type", paper_bgr=(float(rng.uniform(232, 250)),) * 3)
    ring = max(1, int(d * float(rng.uniform(0.05, 0.1))))
    red = (float(rng.uniform(20, 60)), float(rng.uniform(20, 50)), float(rng.uniform(170, 220)))
    cv2.circle(lab.bgr, (d // 2, d // 2), d // 2 - ring // 2 - 1, red, ring, cv2.LINE_AA)
    return _cut(lab, "round")


MAKERS = ["E. WHEELER", "W. WATSON & SONS", "J. T. NORMAN", "A. C. COLE", "FLATTERS & GARNETT", "H. F. ANGUS",
          "C. BAKER", "R. & J. BECK", "E. BRYAN", "T. SMITH", "J. D. MOLLER"]
CITIES = ["LONDON", "MANCHESTER", "LIVERPOOL", "WEDEL", "PARIS", "BIRMINGHAM"]


def maker_seal(rng: np.random.Generator, size: int) -> Layer:
    """A maker's printed seal stuck on a Victorian slide: a small round or shield-shaped paper with the
    maker's name and town. Paper labels, so label class (not stamp)."""
    size = max(size, 10)
    shield = bool(rng.random() < 0.4)
    h = int(size * 1.15) if shield else size
    paper_bgr = (
        (float(rng.uniform(150, 200)), float(rng.uniform(200, 230)), float(rng.uniform(225, 245)))
        if rng.random() < 0.6
        else (float(rng.uniform(225, 248)),) * 3
    )
    lay = Layer.solid(h, size, paper_bgr, LABEL)
    ink = np.zeros((h, size), np.float32)
    style = str(rng.choice(["serif_bold", "sans_bold", "serif"]))
    font = pick_font(rng, style)
    maker, city = MAKERS[int(rng.integers(len(MAKERS)))], CITIES[int(rng.integers(len(CITIES)))]
    lw = max(1, size // 30)
    if shield:
        pts = np.array([[lw, lw], [size - 1 - lw, lw], [size - 1 - lw, h * 0.55], [size * 0.5, h - 1 - lw],
                        [lw, h * 0.55]], np.float32)
        cv2.polylines(ink, [np.round(pts * 4).astype(np.int32)], True, 1.0, lw, cv2.LINE_AA, 2)
        lines = [maker, "Preparer" if rng.random() < 0.5 else "Optician", city]
        y = int(h * 0.12)
        for t in lines:
            tp = text_patch(t, font, style, max(int(size * 0.11), 4)).astype(np.float32) / 255.0
            th, tw = tp.shape
            if tw > size * 0.9:
                fit = (int(size * 0.9), max(int(th * size * 0.9 / tw), 2))
                tp = np.asarray(cv2.resize(tp, fit, interpolation=cv2.INTER_AREA), np.float32)
                th, tw = tp.shape
            x0 = (size - tw) // 2
            if y + th < h:
                ink[y : y + th, x0 : x0 + tw] = np.maximum(ink[y : y + th, x0 : x0 + tw], tp)
            y += th + max(1, size // 25)
    else:
        # Name around a ring, town in the middle: the round ink of a stamp, printed in black on paper.
        st = stamps.round_stamp(rng, size)
        st_ink = cv2.resize(st.alpha, (size, h), interpolation=cv2.INTER_AREA)
        ink = np.clip(st_ink / max(float(st_ink.max()), 1e-3), 0, 1)
    colour = np.array([(25, 25, 25), (30, 30, 110), (80, 40, 20)][int(rng.integers(3))], np.float32)
    a = ink[..., None] * float(rng.uniform(0.75, 1.0))
    lay.bgr = (lay.bgr * (1 - a) + colour * a).astype(np.uint8)
    return _cut(lay, "shield" if shield else "round")


def _tiny_mount(rng: np.random.Generator, size: int, square: bool) -> Layer:
    """A coverslip over clear mountant with a tiny mount in it: the coverslip and the clear mountant are
    glass (background); only the mount and its small drop of medium are specimen."""
    s = max(size, 8)
    lay = Layer(np.zeros((s, s, 3), np.uint8), np.zeros((s, s), np.float32), np.full((s, s), KEEP, np.uint8))
    lay.bgr[:] = 235
    c = s // 2
    t = max(int(s * float(rng.uniform(0.06, 0.22))), 4)
    ink = np.zeros((t, t), np.float32)
    _organism(rng, ink, t // 2, t * 0.3, t)
    drop = np.zeros((t, t), np.float32)
    cv2.ellipse(drop, (t // 2, t // 2), (max(t // 2 - 1, 1), max(int(t * float(rng.uniform(0.3, 0.48))), 1)),
                float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    ink *= float(rng.uniform(0.6, 0.95))
    ox = c - t // 2 + int(rng.normal(0, s * 0.1))
    oy = c - t // 2 + int(rng.normal(0, s * 0.1))
    ox, oy = min(max(ox, 1), s - t - 1), min(max(oy, 1), s - t - 1)
    tint = np.array(_c(rng, MOUNT_TINTS), np.float32)
    col = np.array(_c(rng, STAINS), np.float32)
    da = drop * float(rng.uniform(0.15, 0.4))
    sub = lay.bgr[oy : oy + t, ox : ox + t].astype(np.float32)
    sub = sub * (1 - da[..., None]) + tint * da[..., None]
    sub = sub * (1 - ink[..., None]) + col * ink[..., None]
    lay.bgr[oy : oy + t, ox : ox + t] = np.clip(sub, 0, 255).astype(np.uint8)
    lay.alpha[oy : oy + t, ox : ox + t] = np.maximum(da, ink)
    lay.cls[oy : oy + t, ox : ox + t][(drop >= 0.5) | (ink > 0.3)] = SPECIMEN
    _rim(lay, square)
    return lay


def _rim(lay: Layer, square: bool) -> None:
    """Coverslip edge: a faint bright rim."""
    s = lay.h
    if square:
        cv2.rectangle(lay.alpha, (0, 0), (lay.w - 1, s - 1), 0.35, 1)
        cv2.rectangle(lay.bgr, (0, 0), (lay.w - 1, s - 1), (235, 235, 235), 1)
    else:
        cv2.circle(lay.alpha, (s // 2, s // 2), s // 2 - 1, 0.35, 1, cv2.LINE_AA)
        cv2.circle(lay.bgr, (s // 2, s // 2), s // 2 - 1, (235, 235, 235), 1, cv2.LINE_AA)


SECTION_STAINS: list[tuple[float, float, float]] = [
    (190, 120, 210),  # eosin pink (BGR)
    (170, 90, 150),  # haematoxylin and eosin, purple
    (90, 120, 190),  # safranin red-brown
    (120, 170, 90),  # fast green
    (110, 130, 150),  # rock: grey-brown
]


def _blob(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """An irregular rounded outline filling about the box (a section's edge), as points."""
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 6):
        r += float(rng.normal(0, 0.12 / k * 2)) * np.cos(k * t + float(rng.uniform(0, 6.3)))
    r = np.clip(r, 0.55, 1.2) / 1.2
    return np.stack([w / 2 + np.cos(t) * r * (w / 2 - 1), h / 2 + np.sin(t) * r * (h / 2 - 1)], 1)


def _sections(rng: np.random.Generator, w: int, h: int) -> Layer:
    """A coverslip with one to four thin sections (stained tissue or a rock section) in a row: each section
    is specimen, the coverslip around them is glass."""
    w, h = max(w, 12), max(h, 8)
    lay = Layer(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32), np.full((h, w), KEEP, np.uint8))
    n = int(rng.choice([1, 1, 2, 3, 4]))
    rock = rng.random() < 0.25
    base = np.array(SECTION_STAINS[4] if rock else SECTION_STAINS[int(rng.integers(4))], np.float32)
    cell_w = w / n
    for i in range(n):
        bw, bh = int(cell_w * float(rng.uniform(0.6, 0.9))), int(h * float(rng.uniform(0.55, 0.85)))
        bw, bh = max(bw, 4), max(bh, 4)
        x0 = int(i * cell_w + (cell_w - bw) / 2)
        y0 = int((h - bh) / 2 + rng.normal(0, h * 0.03))
        y0 = min(max(y0, 1), h - bh - 1)
        m = np.zeros((bh, bw), np.float32)
        cv2.fillPoly(m, [np.round(_blob(rng, bw, bh) * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
        tex = np.empty((bh, bw, 3), np.float32)
        tex[:] = base * float(rng.uniform(0.85, 1.1))
        tex += (lowfreq(rng, bh, bw, 6) * 25 + grain(rng, bh, bw, 8))[..., None]
        if rock:
            # Mineral grains: patches of different greys and browns.
            for _ in range(int(rng.integers(15, 60))):
                cx, cy = int(rng.uniform(0, bw)), int(rng.uniform(0, bh))
                rr = max(int(min(bw, bh) * float(rng.uniform(0.03, 0.12))), 1)
                col = [float(v) for v in rng.uniform(60, 230, 3)]
                cv2.circle(tex, (cx, cy), rr, col, -1)
        else:
            for _ in range(int(rng.integers(20, 120))):  # cells and vessels
                cx, cy = int(rng.uniform(0, bw)), int(rng.uniform(0, bh))
                cv2.circle(tex, (cx, cy), max(1, int(min(bw, bh) * 0.015)), (base * 0.55).tolist(), -1)
        a = m * float(rng.uniform(0.6, 0.9))
        lay.bgr[y0 : y0 + bh, x0 : x0 + bw] = np.clip(tex, 0, 255).astype(np.uint8)
        lay.alpha[y0 : y0 + bh, x0 : x0 + bw] = a
        lay.cls[y0 : y0 + bh, x0 : x0 + bw][m >= 0.5] = SPECIMEN
    cv2.rectangle(lay.alpha, (0, 0), (w - 1, h - 1), 0.35, 1)
    cv2.rectangle(lay.bgr, (0, 0), (w - 1, h - 1), (235, 235, 235), 1)
    return lay


def slide(
    rng: np.random.Generator, ppm: float, bg_level: float, with_code: bool = True, station: bool = False
) -> Layer:
    """One slide, landscape, 75×25 mm at ppm pixels per millimetre. station: as a digitisation station
    shoots it, with two or three labels and a DataMatrix sticker."""
    w, h = max(int(round(75 * ppm)), 12), max(int(round(25 * ppm)), 4)
    # Glass: lighter than a dark background, a touch greyer/greener than a light one.
    tint = (float(rng.uniform(200, 240)),) * 3
    ga = float(rng.uniform(0.15, 0.35)) if bg_level > 128 else float(rng.uniform(0.2, 0.5))
    lay = Layer.solid(h, w, tint, 0, ga)
    lay.bgr[..., 1] = np.clip(lay.bgr[..., 1].astype(np.int16) + 6, 0, 255).astype(np.uint8)
    edge = max(1, int(round(ppm * 0.3)))
    cv2.rectangle(lay.alpha, (0, 0), (w - 1, h - 1), 0.8, edge)
    cv2.rectangle(lay.bgr, (0, 0), (w - 1, h - 1), (245, 245, 245), edge)
    is_type = bool(rng.random() < 0.1)
    victorian = not station and rng.random() < 0.2
    lw = int(round(float(rng.uniform(18, 24)) * ppm))
    lh = int(round(float(rng.uniform(19, 24)) * ppm))
    n_lab = 2 if station else int(rng.choice([1, 2, 2, 2]))
    ends = [0, 1] if n_lab == 2 else [int(rng.integers(2))]
    for i, end in enumerate(ends):
        x = int(ppm * 1.5) if end == 0 else w - lw - int(ppm * 1.5)
        if is_type and i == 0 and rng.random() < 0.5:
            d = min(lw, lh)
            lay.paste(ringed_type_label(rng, d), x + (lw - d) // 2, (h - d) // 2)
            continue
        kind = "type" if is_type and i == 0 else ("hand" if rng.random() < 0.5 else "det")
        if victorian:
            kind = "hand" if rng.random() < 0.7 else "old"
        if victorian or rng.random() < 0.1:
            lab = _oval_label(rng, max(lw, 8), max(lh, 8), kind)
        else:
            lab = labels.label(rng, max(lw, 4), max(lh, 4), kind)
        lay.paste(lab, x, (h - lh) // 2)
    if station and rng.random() < 0.6:
        # A narrow blank or numbered strip butted to the inner edge of one label.
        sw = max(int(ppm * float(rng.uniform(3, 6))), 2)
        strip = labels.label(rng, sw, max(lh, 4), "det", paper_bgr=(float(rng.uniform(225, 245)),) * 3)
        end = int(rng.integers(2))
        x = int(ppm * 1.5) + lw if end == 0 else w - lw - int(ppm * 1.5) - sw
        lay.paste(strip, x, (h - lh) // 2)
    code_span: tuple[int, int] | None = None
    if (with_code and rng.random() < 0.7) or station:
        fmt = "DataMatrix" if station else barcodes.random_format(rng, slide=True)
        text = (
            barcodes.value_for(rng, fmt)
            if rng.random() < 0.5
            else "NHMUK" + "".join(str(int(d)) for d in rng.integers(0, 10, 9))
        )
        bc = barcodes.sticker(
            rng,
            text,
            fmt,
            ppm,
            grey(float(rng.uniform(238, 252))),
            hrt=False,
            module_mm=float(rng.uniform(0.2, 0.4)) if fmt != "Code128" else float(rng.uniform(0.15, 0.25)),
        )
        if bc.w < w * 0.4 and bc.h < h * 0.9:
            end = ends[0]
            x = int(ppm * 2) if end == 0 else w - bc.w - int(ppm * 2)
            if station:
                x = int(ppm * 1.5) + lw + int(ppm) if end == 0 else w - lw - int(ppm * 2.5) - bc.w
            y = int(rng.uniform(0, max(h - bc.h, 1)))
            lay.paste(bc, x, y)
            code_span = (x, x + bc.w)
    # Coverslip with the mount, between the labels (and clear of a sticker stuck on the glass).
    free0 = lw + int(ppm * 2) if 0 in ends else int(ppm * 3)
    free1 = w - lw - int(ppm * 2) if 1 in ends else w - int(ppm * 3)
    if code_span is not None and free0 < code_span[1] < free1 and code_span[0] < (free0 + free1) / 2:
        free0 = code_span[1] + int(ppm)
    elif code_span is not None and free0 < code_span[0] < free1:
        free1 = code_span[0] - int(ppm)
    if victorian or rng.random() < 0.06:
        # The maker's printed seal between a label and the mount, which then keeps clear of it.
        seal = maker_seal(rng, int(ppm * float(rng.uniform(7, 11))))
        if free1 - free0 > seal.w + 12 * ppm:
            at_end = bool(rng.random() < 0.5)
            x = free1 - seal.w if at_end else free0
            lay.paste(seal, x, (h - seal.h) // 2)
            free0, free1 = (free0, x - int(ppm)) if at_end else (x + seal.w + int(ppm), free1)
    size = int(min(float(rng.uniform(12, 22)) * ppm, h * 0.92, (free1 - free0) * 0.95))
    if size > 4:
        pick = rng.random()
        square = bool(rng.random() < 0.3)
        if pick < 0.45:
            m = _mount(rng, size, square)
        elif pick < 0.75:
            m = _tiny_mount(rng, size, square)
        else:
            sw = int(min(size * float(rng.uniform(1.0, 1.6)), (free1 - free0) * 0.95))
            m = _sections(rng, sw, size)
        cx = (free0 + free1) / 2 + rng.normal(0, ppm)
        lay.paste(m, int(cx - m.w / 2), int((h - m.h) / 2 + rng.normal(0, ppm * 0.5)))
    return lay


def _background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, float]:
    kind = rng.random()
    if kind < 0.4:
        base = np.array([float(rng.uniform(8, 40))] * 3)
    elif kind < 0.6:
        base = np.array([float(rng.uniform(60, 80)), float(rng.uniform(55, 70)), float(rng.uniform(45, 60))])
    elif kind < 0.9:
        base = np.array([float(rng.uniform(200, 245))] * 3)
    else:
        base = np.array(
            [float(rng.uniform(60, 90)), float(rng.uniform(100, 130)), float(rng.uniform(140, 170))]
        )
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += (lowfreq(rng, h, w, 4) * 6 + grain(rng, h, w, 1.5))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8), float(base.mean())


def _white_station_surround(rng: np.random.Generator, bg: np.ndarray, pad: int, out_h: int) -> np.ndarray:
    """Card texture on a white station surround and, mostly, a ledge band along the top or bottom edge with
    a soft shadow line under its inner edge. All background."""
    h, w = bg.shape[:2]
    img = bg.astype(np.float32) + grain(rng, h, w, float(rng.uniform(1.5, 4.0)))[..., None]
    if rng.random() < 0.6:
        band = int(out_h * float(rng.uniform(0.03, 0.1)))
        top = bool(rng.random() < 0.5)
        y0, y1 = (0, pad + band) if top else (h - pad - band, h)
        img[y0:y1] += float(rng.uniform(-10, 6))
        shade = max(2, int(out_h * float(rng.uniform(0.003, 0.012))))
        depth = float(rng.uniform(15, 45))
        for i in range(shade):
            y = y1 + i if top else y0 - 1 - i
            if 0 <= y < h:
                img[y] -= depth * (1 - i / shade)
    return np.clip(img, 0, 255).astype(np.uint8)


def slide_scene(
    rng: np.random.Generator, long_side: int, with_chart: bool, tilt: float = 0.0, zoom: float = 1.0
) -> tuple[Layer, int, int, int]:
    """Canvas (with padding for the camera warp, tilt_deg and zoom), output width and height, and padding."""
    if rng.random() < 0.35:
        canvas, out_w, out_h, pad, _ = tray_scene(rng, long_side, with_chart, tilt, zoom)
        return canvas, out_w, out_h, pad
    station = bool(rng.random() < 0.35)
    out_w = long_side
    aspect = float(rng.uniform(2.3, 3.3))
    out_h = int(round(out_w / aspect))
    f = min(float(rng.uniform(0.8, 0.95)), 0.9 * 3 / aspect)
    if station:
        f = min(float(rng.uniform(0.88, 0.98)), 0.95 * 3 / aspect)  # the slide fills the frame
    if with_chart:
        f = min(f, 0.68)
    ppm = f * out_w / 75
    pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom, 2.0))
    bg, lvl = _background(rng, out_h + 2 * pad, out_w + 2 * pad)
    if station:
        # Station captures: on black velvet, or on white card or a light box, often against the white
        # ledge the slide is pushed up to (a band along one long edge, a soft shadow under its edge).
        v = float(rng.uniform(5, 25)) if rng.random() < 0.5 else float(rng.uniform(225, 250))
        bg = np.clip(bg.astype(np.float32) - float(bg.mean()) + v, 0, 255).astype(np.uint8)
        if v > 128:
            bg = _white_station_surround(rng, bg, pad, out_h)
        lvl = v
    canvas = Layer(bg, np.ones(bg.shape[:2], np.float32), np.zeros(bg.shape[:2], np.uint8))
    s = slide(rng, ppm, lvl, station=station)
    left = bool(rng.random() < 0.5) if with_chart else True
    sx = pad + (out_w * (1 - f) * (0.85 if with_chart and left else 0.5 if not with_chart else 0.15))
    canvas.place(
        s,
        sx + s.w / 2 if not with_chart or left else pad + out_w - out_w * 0.03 - s.w / 2,
        pad + out_h / 2 + rng.normal(0, out_h * 0.03),
        rng.normal(0, 1),
    )
    if with_chart:
        c = charts.random_chart(rng, ppm, small=True)
        room = out_w * (1 - f) * 0.8
        c = _fit_layer(c, room, out_h * 0.85)
        cx = pad + out_w * 0.03 + c.w / 2 if not left else pad + out_w - out_w * 0.03 - c.w / 2
        canvas.place(c, cx, pad + out_h / 2)
    elif rng.random() < 0.15:
        rl = _fit_layer(rulers.ruler(rng, ppm, 50), out_w * 0.6, out_h * 0.1)
        canvas.place(rl, pad + out_w / 2, pad + out_h - rl.h / 2 - out_h * 0.01)
    return canvas, out_w, out_h, pad


# Slide trays hold 20 slides: (columns, rows, upright) of the layouts drawn.
TRAY_LAYOUTS: list[tuple[int, int, bool]] = [(10, 2, True), (20, 1, True), (4, 5, False), (2, 10, False)]


def tray_scene(
    rng: np.random.Generator, long_side: int, with_chart: bool, tilt: float = 0.0, zoom: float = 1.0
) -> tuple[Layer, int, int, int, list[tuple[int, int, int, int]]]:
    """A tray of 20 slides, standing upright in slots or lying in rows, in a wooden or card tray.
    Returns the canvas, output width and height, padding and each slide's box on the canvas."""
    out_w = long_side
    out_h = int(round(out_w / float(rng.uniform(1.2, 1.5))))
    pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom, 2.0))
    bg, lvl = _background(rng, out_h + 2 * pad, out_w + 2 * pad)
    canvas = Layer(bg, np.ones(bg.shape[:2], np.float32), np.zeros(bg.shape[:2], np.uint8))
    cols, rows, upright = TRAY_LAYOUTS[int(rng.choice(len(TRAY_LAYOUTS), p=[0.45, 0.15, 0.3, 0.1]))]
    chart_room = 0.15 if with_chart else 0.0
    cell_w_mm, cell_h_mm = (27.0, 78.0) if upright else (79.0, 28.0)
    ppm = min(out_w * (1 - chart_room) * 0.9 / (cols * cell_w_mm), out_h * 0.9 / (rows * cell_h_mm))
    cell_w, cell_h = cell_w_mm * ppm, cell_h_mm * ppm
    gx0 = pad + (out_w * (1 - chart_room) - cols * cell_w) / 2 + out_w * chart_room
    gy0 = pad + (out_h - rows * cell_h) / 2
    # The tray: a wooden or card body a little larger than the grid, slot dividers between the slides.
    wood = rng.random() < 0.6
    body = (
        (float(rng.uniform(40, 80)), float(rng.uniform(70, 110)), float(rng.uniform(110, 160)))
        if wood
        else (float(rng.uniform(150, 230)),) * 3
    )
    m = ppm * 3
    x0, y0 = int(gx0 - m), int(gy0 - m)
    x1, y1 = int(gx0 + cols * cell_w + m), int(gy0 + rows * cell_h + m)
    tray = Layer.solid(y1 - y0, x1 - x0, body, 0)
    tray.bgr = np.clip(
        tray.bgr.astype(np.float32) + (lowfreq(rng, tray.h, tray.w, 8) * 10)[..., None], 0, 255
    ).astype(np.uint8)
    div = tuple(float(v) * 0.6 for v in body)
    for c in range(cols + 1):
        x = int(gx0 - x0 + c * cell_w)
        cv2.line(tray.bgr, (x, 0), (x, tray.h - 1), div, max(1, int(ppm * 0.8)))
    for r in range(rows + 1):
        y = int(gy0 - y0 + r * cell_h)
        cv2.line(tray.bgr, (0, y), (tray.w - 1, y), div, max(1, int(ppm * 0.8)))
    canvas.paste(tray, x0, y0)
    level = float(np.mean(body))
    boxes: list[tuple[int, int, int, int]] = []
    for row in range(rows):
        for col in range(cols):
            s = slide(rng, ppm, level, with_code=bool(rng.random() < 0.6))
            cx = gx0 + (col + 0.5) * cell_w + rng.normal(0, ppm * 0.3)
            cy = gy0 + (row + 0.5) * cell_h + rng.normal(0, ppm * 0.3)
            sw, sh = (s.h, s.w) if upright else (s.w, s.h)
            canvas.place(s, cx, cy, 90.0 if upright else 0.0)
            bx0, by0 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
            boxes.append((bx0, by0, bx0 + sw, by0 + sh))
    if with_chart:
        ch = _fit_layer(charts.random_chart(rng, ppm, small=True), out_w * chart_room * 0.9, out_h * 0.5)
        canvas.place(ch, pad + out_w * chart_room / 2, pad + out_h * float(rng.uniform(0.25, 0.75)))
    return canvas, out_w, out_h, pad, boxes


def _fit_layer(lay: Layer, max_w: float, max_h: float) -> Layer:
    s = min(max_w / max(lay.w, 1), max_h / max(lay.h, 1), 1.0)
    if s >= 0.999:
        return lay
    w, h = max(int(lay.w * s), 2), max(int(lay.h * s), 2)
    return Layer(
        cv2.resize(lay.bgr, (w, h), interpolation=cv2.INTER_AREA),
        cv2.resize(lay.alpha, (w, h), interpolation=cv2.INTER_AREA),
        cv2.resize(lay.cls, (w, h), interpolation=cv2.INTER_NEAREST),
    )
