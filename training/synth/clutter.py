"""Hard negatives: things in shot that look like a chart, stamp, ruler or barcode but are none of them.

Each was found as a false region on real photographs: a colour photograph of the living plant
mounted on the sheet (read as chart and specimen), coloured objects cut by the frame edge (read as
chart or stamp), coins and metal washers (stamp, specimen), printed accession numbers and pencil
numbers (label, scale bar). All are class 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import InkCanvas, pick_font
from .layer import KEEP, Layer, grain, lowfreq

BACKGROUND = 0

# Saturated colours of flowers, fruit and painted illustrations (BGR).
VIVID = [
    (200, 60, 140),  # violet
    (180, 50, 110),  # purple
    (40, 200, 240),  # yellow
    (40, 40, 210),  # red
    (120, 90, 230),  # pink
    (220, 130, 40),  # blue
    (30, 130, 240),  # orange
    (245, 245, 245),  # white
]
GREENS = [(40, 120, 50), (60, 150, 90), (30, 90, 40), (70, 160, 120), (50, 110, 110)]
GROUNDS = [(40, 70, 100), (50, 90, 120), (60, 110, 80), (200, 170, 140), (90, 120, 140), (30, 50, 60)]


def _opaque(bgr: np.ndarray) -> Layer:
    h, w = bgr.shape[:2]
    return Layer(bgr, np.ones((h, w), np.float32), np.full((h, w), BACKGROUND, np.uint8))


def field_photo(rng: np.random.Generator, w: int, h: int) -> Layer:
    """A colour photograph or painted plate of a plant, mounted on the sheet: leaves, flowers, ground."""
    w, h = max(w, 8), max(h, 8)
    ground = np.array(GROUNDS[int(rng.integers(len(GROUNDS)))], np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = ground
    img += (lowfreq(rng, h, w, cells=8) * 45)[..., None]  # light and shade on the ground
    for c in range(3):
        img[..., c] += lowfreq(rng, h, w, cells=6) * 12
    img += grain(rng, h, w, float(rng.uniform(4, 14)))[..., None]
    painted = bool(rng.random() < 0.3)  # flat-coloured illustration rather than a photograph
    n_leaves = int(rng.integers(8, 40))
    for _ in range(n_leaves):
        col = np.array(GREENS[int(rng.integers(len(GREENS)))], np.float32) + rng.normal(0, 15, 3)
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        ax = max(int(min(w, h) * rng.uniform(0.04, 0.2)), 2)
        ay = max(int(ax * rng.uniform(0.25, 0.6)), 1)
        cv2.ellipse(img, (int(cx), int(cy)), (ax, ay), float(rng.uniform(0, 180)), 0, 360, col.tolist(), -1)
        if not painted:
            cv2.line(
                img,
                (int(cx - ax * 0.8), int(cy)),
                (int(cx + ax * 0.8), int(cy)),
                (col * 1.3).tolist(),
                1,
                cv2.LINE_AA,
            )
    for _ in range(int(rng.integers(0, 14))):
        col = np.array(VIVID[int(rng.integers(len(VIVID)))], np.float32) + rng.normal(0, 12, 3)
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        r = max(int(min(w, h) * rng.uniform(0.02, 0.08)), 2)
        petals = int(rng.integers(4, 7))
        for k in range(petals):
            a = 2 * np.pi * k / petals
            px, py = int(cx + r * 0.7 * np.cos(a)), int(cy + r * 0.7 * np.sin(a))
            cv2.ellipse(img, (px, py), (r, max(r // 2, 1)), float(np.degrees(a)), 0, 360, col.tolist(), -1)
        cv2.circle(img, (cx, cy), max(r // 3, 1), (40, 190, 230), -1)
    if not painted:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.6, 2.0))), np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        b = max(int(min(w, h) * rng.uniform(0.02, 0.05)), 1)  # white print border
        cv2.rectangle(out, (0, 0), (w - 1, h - 1), (238, 240, 240), b)
    return _opaque(out)


def edge_object(rng: np.random.Generator, w: int, h: int) -> Layer:
    """Something coloured at the edge of the stand: a box, a cable, a card, a tool handle, a hand."""
    w, h = max(w, 8), max(h, 8)
    kind = rng.random()
    lay = Layer(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32), np.full((h, w), KEEP, np.uint8))
    shape = np.zeros((h, w), np.uint8)
    if kind < 0.35:
        # Bands of colour (a printed box, a coloured card edge, a cutting mat).
        col = np.array(VIVID[int(rng.integers(len(VIVID)))], np.float32)
        shape[:] = 255
        img = np.empty((h, w, 3), np.float32)
        img[:] = col
        for _ in range(int(rng.integers(1, 5))):
            c2 = np.array(VIVID[int(rng.integers(len(VIVID)))], np.float32)
            if rng.random() < 0.5:
                y0 = int(rng.uniform(0, h))
                img[y0 : y0 + int(rng.uniform(0.05, 0.4) * h)] = c2
            else:
                x0 = int(rng.uniform(0, w))
                img[:, x0 : x0 + int(rng.uniform(0.05, 0.4) * w)] = c2
    elif kind < 0.55:
        # Skin-toned blob: a hand or finger reaching into shot.
        col = np.array([(120, 150, 200), (90, 120, 170), (60, 90, 130)][int(rng.integers(3))], np.float32)
        cv2.ellipse(shape, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1, cv2.LINE_AA)
        img = np.empty((h, w, 3), np.float32)
        img[:] = col
    elif kind < 0.75:
        # A cable or handle: a thick rounded bar.
        col = np.array(VIVID[int(rng.integers(len(VIVID)))], np.float32) * float(rng.uniform(0.4, 1.0))
        t = max(int(min(w, h) * rng.uniform(0.2, 0.6)), 2)
        cv2.line(shape, (0, h // 2), (w - 1, int(h * rng.uniform(0.2, 0.8))), 255, t, cv2.LINE_AA)
        img = np.empty((h, w, 3), np.float32)
        img[:] = col
    else:
        # A grey or black stand part with a coloured sticker or LED on it.
        v = float(rng.uniform(20, 120))
        shape[:] = 255
        img = np.full((h, w, 3), v, np.float32)
        for _ in range(int(rng.integers(1, 4))):
            c2 = np.array(VIVID[int(rng.integers(len(VIVID)))], np.float32)
            x0, y0 = int(rng.uniform(0, w * 0.8)), int(rng.uniform(0, h * 0.8))
            cv2.rectangle(img, (x0, y0), (x0 + int(w * 0.2), y0 + int(h * 0.2)), c2.tolist(), -1)
    img = img * (1 + lowfreq(rng, h, w, 3)[..., None] * 0.3) + grain(rng, h, w, 4)[..., None]
    a = shape.astype(np.float32) / 255.0
    lay.bgr[:] = np.clip(img, 0, 255).astype(np.uint8)
    lay.alpha[:] = a
    lay.cls[shape > 127] = BACKGROUND
    return lay


def metal_disc(rng: np.random.Generator, diam: int, hole: float = 0.0) -> Layer:
    """A coin (hole 0) or a washer (hole > 0) with brushed, uneven metal and a relief rim."""
    d = max(diam, 8)
    s = d + 2
    shape = np.zeros((s, s), np.uint8)
    c = (s // 2, s // 2)
    cv2.circle(shape, c, d // 2, 255, -1, cv2.LINE_AA)
    if hole > 0:
        cv2.circle(shape, c, max(int(d * hole / 2), 1), 0, -1, cv2.LINE_AA)
    base = np.array(
        [(150, 150, 150), (60, 140, 190), (50, 100, 160), (175, 175, 170), (100, 100, 105)][int(rng.integers(5))],
        np.float32,
    )
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    light = 1 + 0.35 * ((xx - yy) / s) + lowfreq(rng, s, s, 4) * 0.25
    img = base[None, None, :] * light[..., None] + grain(rng, s, s, float(rng.uniform(6, 16)))[..., None]
    ring = np.zeros((s, s), np.uint8)
    cv2.circle(ring, c, int(d * 0.45), 255, max(1, d // 25), cv2.LINE_AA)
    img -= (ring.astype(np.float32) / 255.0 * 40)[..., None]
    if hole == 0 and rng.random() < 0.7:
        # Relief: a head or figure in the middle, darker and lighter strokes.
        relief = np.zeros((s, s), np.float32)
        cv2.ellipse(relief, c, (int(d * 0.2), int(d * 0.27)), 0, 0, 360, 1.0, max(1, d // 30), cv2.LINE_AA)
        img += (cv2.GaussianBlur(relief, (0, 0), 1.0) * 35)[..., None]
    lay = Layer(
        np.clip(img, 0, 255).astype(np.uint8),
        shape.astype(np.float32) / 255.0,
        np.where(shape > 127, BACKGROUND, KEEP).astype(np.uint8),
    )
    return lay


def accession_number(rng: np.random.Generator, px_per_mm: float) -> Layer:
    """A stamped or pencilled number straight on the sheet ('No 1608253', '23143'); not a label."""
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(4, 9))))
    text = str(rng.choice(["No ", "No. ", "", "", "#"])) + digits
    size = max(int(px_per_mm * rng.uniform(3, 7)), 6)
    font = pick_font(rng, "mono" if rng.random() < 0.5 else "sans")
    probe = InkCanvas(1, 1)
    tw, th = probe.text_size(text, font, "sans", size)
    ink = InkCanvas(th + 4, tw + 6)
    ink.text(3, 1, text, font, "sans", size)
    a = ink.array().astype(np.float32) / 255.0 * float(rng.uniform(0.5, 0.95))
    colour = [(35, 35, 35), (150, 60, 30), (40, 40, 170), (90, 90, 90), (120, 50, 100)][int(rng.integers(5))]
    bgr = np.empty(a.shape + (3,), np.uint8)
    bgr[:] = colour
    return Layer(bgr, a, np.where(a > 0.2, BACKGROUND, KEEP).astype(np.uint8))


def random_edge_clutter(rng: np.random.Generator, frame: tuple[int, int, int, int], canvas: Layer) -> None:
    """Place one to three coloured objects across the frame edges, mostly outside the frame."""
    fx0, fy0, fx1, fy1 = frame
    fw, fh = fx1 - fx0, fy1 - fy0
    for _ in range(int(rng.integers(1, 4))):
        ow = int(fw * rng.uniform(0.05, 0.3))
        oh = int(fh * rng.uniform(0.03, 0.2))
        obj = edge_object(rng, ow, oh)
        side = int(rng.integers(4))
        inside = float(rng.uniform(0.15, 0.6))  # share of the object inside the frame
        if side == 0:
            cx, cy = fx0 + fw * rng.uniform(0.05, 0.95), fy0 - oh / 2 + oh * inside
        elif side == 1:
            cx, cy = fx0 + fw * rng.uniform(0.05, 0.95), fy1 + oh / 2 - oh * inside
        elif side == 2:
            cx, cy = fx0 - ow / 2 + ow * inside, fy0 + fh * rng.uniform(0.05, 0.95)
        else:
            cx, cy = fx1 + ow / 2 - ow * inside, fy0 + fh * rng.uniform(0.05, 0.95)
        canvas.place(obj, float(cx), float(cy), float(rng.normal(0, 10)))
