"""Microscope slides: 75×25 mm glass with labels, barcodes and a coverslip over the mounted specimen;
single slides and trays of slides.

Specimen rule: the whole mountant area under the coverslip (the disc or square holding the mount) is class 1
together with any specimen part outside it; the clear glass around it is background.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import barcodes, camera, charts, labels, rulers
from .layer import KEEP, Layer, grain, grey, lowfreq

SPECIMEN = 1
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
    kind = rng.random()
    r = s * 0.3
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


def slide(rng: np.random.Generator, ppm: float, bg_level: float, with_code: bool = True) -> Layer:
    """One slide, landscape, 75×25 mm at ppm pixels per millimetre."""
    w, h = max(int(round(75 * ppm)), 12), max(int(round(25 * ppm)), 4)
    # Glass: lighter than a dark background, a touch greyer/greener than a light one.
    tint = (float(rng.uniform(200, 240)),) * 3
    ga = float(rng.uniform(0.15, 0.35)) if bg_level > 128 else float(rng.uniform(0.2, 0.5))
    lay = Layer.solid(h, w, tint, 0, ga)
    lay.bgr[..., 1] = np.clip(lay.bgr[..., 1].astype(np.int16) + 6, 0, 255).astype(np.uint8)
    edge = max(1, int(round(ppm * 0.3)))
    cv2.rectangle(lay.alpha, (0, 0), (w - 1, h - 1), 0.8, edge)
    cv2.rectangle(lay.bgr, (0, 0), (w - 1, h - 1), (245, 245, 245), edge)
    is_type = bool(rng.random() < 0.08)
    lw = int(round(float(rng.uniform(18, 24)) * ppm))
    lh = int(round(float(rng.uniform(19, 24)) * ppm))
    n_lab = int(rng.choice([1, 2, 2, 2]))
    ends = [0, 1] if n_lab == 2 else [int(rng.integers(2))]
    for i, end in enumerate(ends):
        kind = "type" if is_type and i == 0 else ("hand" if rng.random() < 0.5 else "det")
        lab = labels.label(rng, max(lw, 4), max(lh, 4), kind)
        x = int(ppm * 1.5) if end == 0 else w - lw - int(ppm * 1.5)
        lay.paste(lab, x, (h - lh) // 2)
    if with_code and rng.random() < 0.7:
        fmt = barcodes.random_format(rng, slide=True)
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
            y = int(rng.uniform(0, max(h - bc.h, 1)))
            lay.paste(bc, x, y)
    # Coverslip with the mount, between the labels.
    free0 = lw + int(ppm * 2) if 0 in ends else int(ppm * 3)
    free1 = w - lw - int(ppm * 2) if 1 in ends else w - int(ppm * 3)
    size = int(min(float(rng.uniform(12, 22)) * ppm, h * 0.92, (free1 - free0) * 0.95))
    if size > 4:
        m = _mount(rng, size, square=bool(rng.random() < 0.3))
        cx = (free0 + free1) / 2 + rng.normal(0, ppm)
        lay.paste(m, int(cx - size / 2), int((h - size) / 2 + rng.normal(0, ppm * 0.5)))
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


def slide_scene(
    rng: np.random.Generator, long_side: int, with_chart: bool, tilt: float = 0.0, zoom: float = 1.0
) -> tuple[Layer, int, int, int]:
    """Canvas (with padding for the camera warp, tilt_deg and zoom), output width and height, and padding."""
    tray = bool(rng.random() < 0.35)
    if not tray:
        out_w = long_side
        aspect = float(rng.uniform(2.3, 3.3))
        out_h = int(round(out_w / aspect))
        f = min(float(rng.uniform(0.8, 0.95)), 0.9 * 3 / aspect)
        if with_chart:
            f = min(f, 0.68)
        ppm = f * out_w / 75
        pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom, 2.0))
        bg, lvl = _background(rng, out_h + 2 * pad, out_w + 2 * pad)
        canvas = Layer(bg, np.ones(bg.shape[:2], np.float32), np.zeros(bg.shape[:2], np.uint8))
        s = slide(rng, ppm, lvl)
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
    # Tray: slides standing upright in a grid (as in slide cabinets), or lying in rows.
    out_w = long_side
    out_h = int(round(out_w / float(rng.uniform(1.2, 1.5))))
    pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom, 2.0))
    bg, lvl = _background(rng, out_h + 2 * pad, out_w + 2 * pad)
    if rng.random() < 0.5:
        bg[:] = np.clip(bg.astype(np.int16) * 0 + int(rng.uniform(20, 70)), 0, 255).astype(np.uint8)
        lvl = float(bg.mean())
    canvas = Layer(bg, np.ones(bg.shape[:2], np.float32), np.zeros(bg.shape[:2], np.uint8))
    upright = bool(rng.random() < 0.7)
    chart_room = 0.15 if with_chart else 0.0
    if upright:
        cols = int(rng.integers(6, 21))
        ppm = out_w * (1 - chart_room) * 0.97 / cols / 27.0
        rows = max(1, min(int(out_h * 0.97 / (78 * ppm)), 6))
        ppm = min(ppm, out_h * 0.97 / rows / 78)
        cell_w, cell_h = 27 * ppm, 78 * ppm
    else:
        cols = int(rng.integers(2, 5))
        ppm = out_w * (1 - chart_room) * 0.97 / cols / 78.0
        rows = max(1, int(out_h * 0.97 / (28 * ppm)))
        cell_w, cell_h = 78 * ppm, 28 * ppm
    gx0 = pad + (out_w * (1 - chart_room) - cols * cell_w) / 2 + out_w * chart_room
    gy0 = pad + (out_h - rows * cell_h) / 2
    # Few codes are readable at tray scale; keep the barcode count modest for speed.
    for row in range(rows):
        for col in range(cols):
            if rng.random() < 0.05:
                continue  # empty slot
            s = slide(rng, ppm, lvl, with_code=bool(rng.random() < 0.6))
            cx, cy = gx0 + (col + 0.5) * cell_w, gy0 + (row + 0.5) * cell_h
            canvas.place(
                s, cx + rng.normal(0, ppm * 0.3), cy + rng.normal(0, ppm * 0.3), 90.0 if upright else 0.0
            )
    if with_chart:
        ch = _fit_layer(charts.random_chart(rng, ppm, small=True), out_w * chart_room * 0.9, out_h * 0.5)
        canvas.place(ch, pad + out_w * chart_room / 2, pad + out_h * float(rng.uniform(0.25, 0.75)))
    return canvas, out_w, out_h, pad


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
