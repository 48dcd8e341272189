"""Sheet paper, copy-stand surrounds, folders and paper packets."""

from __future__ import annotations

import cv2
import numpy as np

from .layer import Layer, grain, lowfreq

PAPER_TONES: list[tuple[float, float, float]] = [
    (246, 247, 247),  # bright white mounting paper (BGR)
    (238, 242, 243),
    (226, 236, 240),  # cream
    (214, 230, 236),
    (196, 218, 230),  # yellowed
    (180, 205, 222),  # old, foxed
    (232, 234, 232),
]


def paper_tone(rng: np.random.Generator) -> tuple[float, float, float]:
    p = np.array([0.26, 0.2, 0.18, 0.12, 0.1, 0.04, 0.1])
    base = np.array(PAPER_TONES[int(rng.choice(len(PAPER_TONES), p=p / p.sum()))], np.float64)
    base += rng.normal(0, 3, 3)
    return float(base[0]), float(base[1]), float(base[2])


def paper(
    rng: np.random.Generator,
    h: int,
    w: int,
    tone: tuple[float, float, float],
    cls: int = 0,
    foxing: bool = False,
) -> Layer:
    """A sheet of paper with gentle unevenness, fibre grain and, for old sheets, brown foxing spots."""
    lay = Layer.solid(h, w, tone, cls)
    f = lowfreq(rng, h, w, int(rng.integers(3, 9))) * float(rng.uniform(2, 6))
    f += grain(rng, h, w, float(rng.uniform(0.8, 2.5)))
    img = lay.bgr.astype(np.float32) + f[..., None]
    if foxing:
        for _ in range(int(rng.integers(3, 25))):
            cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            r = float(rng.uniform(0.002, 0.012) * max(h, w))
            x0, x1 = int(max(cx - 2 * r, 0)), int(min(cx + 2 * r, w))
            y0, y1 = int(max(cy - 2 * r, 0)), int(min(cy + 2 * r, h))
            if x1 <= x0 or y1 <= y0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            d = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))).astype(np.float32)
            img[y0:y1, x0:x1] -= (
                d[..., None] * np.array([55, 35, 15], np.float32) * float(rng.uniform(0.3, 1))
            )
    lay.bgr = np.clip(img, 0, 255).astype(np.uint8)
    return lay


def surround(rng: np.random.Generator, h: int, w: int, style: str) -> np.ndarray:
    """Copy-stand background: black cloth or perforated plate, grey board, white board, a scanner lid,
    a wooden table, a brown cardboard underlay, a mottled or textured board, a cutting mat or the
    copy stand's metal base."""
    if style == "wood":
        return _wood(rng, h, w)
    if style == "mottled":
        return _mottled(rng, h, w)
    if style == "mat":
        return _cutting_mat(rng, h, w)
    if style == "metal":
        return _metal(rng, h, w)
    if style == "board":
        img = np.empty((h, w, 3), np.float32)
        img[:] = _brown(rng, float(rng.uniform(120, 215)), (0.78, 0.9), (0.7, 0.88))
        img += (lowfreq(rng, h, w, 6) * float(rng.uniform(3, 8)))[..., None]
        img += grain(rng, h, w, float(rng.uniform(2, 4)))[..., None]
        return np.clip(img, 0, 255).astype(np.uint8)
    if style == "black":
        v = float(rng.uniform(6, 35))
        base = np.array([v, v, v], np.float32) + rng.normal(0, 2, 3).astype(np.float32)
    elif style == "grey":
        v = float(rng.uniform(60, 150))
        base = np.array([v, v, v], np.float32) + rng.normal(0, 4, 3).astype(np.float32)
    elif style == "white":
        v = float(rng.uniform(200, 250))
        base = np.array([v, v, v], np.float32) + rng.normal(0, 3, 3).astype(np.float32)
    else:  # "perforated": dark plate with a grid of holes
        v = float(rng.uniform(20, 45))
        base = np.array([v, v, v], np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += (lowfreq(rng, h, w, 5) * float(rng.uniform(2, 8)))[..., None]
    img += grain(rng, h, w, float(rng.uniform(1, 3)))[..., None]
    if style == "perforated":
        step = float(rng.uniform(0.012, 0.02)) * max(h, w)
        r = max(1, int(step * rng.uniform(0.15, 0.3)))
        holes = np.zeros((h, w), np.uint8)
        off = float(rng.uniform(0, step))
        for yy in np.arange(off, h, step):
            for xx in np.arange(off, w, step):
                cv2.circle(holes, (int(xx), int(yy)), r, 255, -1, cv2.LINE_AA)
        img -= (holes.astype(np.float32) / 255.0 * float(rng.uniform(8, 20)))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _brown(rng: np.random.Generator, red: float, green_share: tuple[float, float],
           blue_share: tuple[float, float]) -> np.ndarray:
    """A BGR brown: green a share of red, blue a share of green."""
    green = red * float(rng.uniform(*green_share))
    return np.array([green * float(rng.uniform(*blue_share)), green, red], np.float32)


def _wood(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Planked table top or panel: brown planks of slightly different tones, grain streaks along them
    and dark seams between them. Evenly spaced seams on a dark brown look like a chart's patch grid
    to a network that has never seen wood."""
    across = bool(rng.random() < 0.6)  # planks running left to right
    length, span = (w, h) if across else (h, w)
    base = _brown(rng, float(rng.uniform(45, 190)), (0.62, 0.8), (0.55, 0.85))
    pitch = float(rng.uniform(0.05, 0.2)) * max(h, w)
    edges = [-int(rng.uniform(0, pitch))]  # the first seam is anywhere
    while edges[-1] < span:
        edges.append(edges[-1] + int(max(8, pitch * rng.uniform(0.85, 1.15))))
    edges = [e - edges[0] for e in edges]
    img = np.empty((edges[-1], length, 3), np.float32)
    seam = max(1, int(round(max(h, w) * float(rng.uniform(0.0008, 0.003)))))
    seam_dark = float(rng.uniform(0.35, 0.7))
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        tone = base * float(rng.uniform(0.8, 1.15))
        rows = b - a
        # grain: noise stretched along the plank
        coarse = rng.standard_normal((max(2, rows // 3), max(2, length // 40))).astype(np.float32)
        streak = cv2.resize(coarse, (length, rows), interpolation=cv2.INTER_CUBIC)
        img[a:b] = tone + (streak * float(rng.uniform(4, 12)))[..., None]
        img[a:min(b, a + seam)] *= seam_dark
    shift = int(rng.integers(0, max(1, edges[-1] - span + 1)))
    out: np.ndarray = img[shift:shift + span]
    if not across:
        out = out.transpose(1, 0, 2)
    out = out + (lowfreq(rng, h, w, 5) * float(rng.uniform(3, 10)))[..., None]
    out += grain(rng, h, w, float(rng.uniform(1, 3)))[..., None]
    if rng.random() < 0.4:  # varnish sheen
        out += (np.clip(lowfreq(rng, h, w, 3), 0, None) * float(rng.uniform(10, 30)))[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def soft_shadow(
    img: np.ndarray, x0: int, y0: int, x1: int, y1: int, rng: np.random.Generator, strength: float
) -> None:
    """Darken around a rectangle as a sheet lifted slightly off the stand would; computed at low res."""
    h, w = img.shape[:2]
    s = 8
    small = np.zeros((h // s + 1, w // s + 1), np.float32)
    dx, dy = rng.normal(0, 0.004 * max(h, w), 2)
    cv2.rectangle(
        small, (int((x0 + dx) / s), int((y0 + dy) / s)), (int((x1 + dx) / s), int((y1 + dy) / s)), 1.0, -1
    )
    k = int(max(3, 0.012 * max(h, w) / s)) | 1
    small = cv2.GaussianBlur(small, (k * 2 + 1, k * 2 + 1), 0)
    keep = np.clip(255.0 * (1.0 - strength * small), 0, 255).astype(np.uint8)
    big = cv2.resize(keep, (w, h), interpolation=cv2.INTER_LINEAR)[:h, :w]
    img[:] = cv2.multiply(img, cv2.merge([big, big, big]), scale=1.0 / 255.0)


def packet(rng: np.random.Generator, h: int, w: int, tone: tuple[float, float, float]) -> Layer:
    """A folded paper fragment packet: opaque paper with fold lines and a flap, all background."""
    t = (tone[0] * rng.uniform(0.93, 1.0), tone[1] * rng.uniform(0.93, 1.0), tone[2] * rng.uniform(0.9, 1.0))
    if rng.random() < 0.25:
        t = (150.0, 185.0, 205.0)  # manila
    lay = paper(rng, h, w, t, cls=0)
    dark = tuple(float(c) * 0.8 for c in t)
    fy = int(h * rng.uniform(0.2, 0.4))
    cv2.line(lay.bgr, (0, fy), (w - 1, fy), dark, 1, cv2.LINE_AA)
    if rng.random() < 0.6:
        cv2.line(lay.bgr, (0, 0), (w // 2, fy), dark, 1, cv2.LINE_AA)
        cv2.line(lay.bgr, (w - 1, 0), (w // 2, fy), dark, 1, cv2.LINE_AA)
    cv2.rectangle(lay.bgr, (0, 0), (w - 1, h - 1), dark, 1, cv2.LINE_AA)
    if rng.random() < 0.3:
        lay.alpha[:] = float(rng.uniform(0.6, 0.85))  # glassine packets show what lies beneath
    return lay


def folder(rng: np.random.Generator, h: int, w: int) -> Layer:
    """The edge of a species folder or a second sheet, lying under the sheet being imaged."""
    if rng.random() < 0.6:
        tone: tuple[float, float, float] = (
            float(rng.uniform(90, 140)),
            float(rng.uniform(140, 180)),
            float(rng.uniform(175, 215)),
        )
    else:
        tone = paper_tone(rng)
    return paper(rng, h, w, tone, cls=0)


def _mottled(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured board or cloth: blotches at several scales and fine speckle (cork, felt, mottled card)."""
    tint = [1.0, float(rng.uniform(0.95, 1.1)), float(rng.uniform(0.95, 1.25))]
    base = float(rng.uniform(25, 170)) * np.array(tint)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base.astype(np.float32)
    amp = float(rng.uniform(8, 25))
    f = lowfreq(rng, h, w, int(rng.integers(8, 20))) + 0.6 * lowfreq(rng, h, w, int(rng.integers(30, 70)))
    img += (f * amp)[..., None]
    img += grain(rng, h, w, float(rng.uniform(4, 10)))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _cutting_mat(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A self-healing cutting mat: green, grey or blue with a 1 cm line grid, bolder every 5 cm, and a few
    diagonal angle guides. A grid of lines, neither a chart nor a ruler."""
    base = [(70, 110, 40), (60, 60, 60), (140, 90, 40), (40, 40, 40)][int(rng.integers(4))]
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.array(base, np.float32) + rng.normal(0, 5, 3).astype(np.float32)
    pitch = float(rng.uniform(0.012, 0.03)) * max(h, w)  # 1 cm at a plausible frame scale
    line_c = (210, 215, 210) if rng.random() < 0.7 else (60, 200, 230)
    ink = np.zeros((h, w), np.uint8)
    ox, oy = float(rng.uniform(0, pitch)), float(rng.uniform(0, pitch))
    for i, x in enumerate(np.arange(ox, w, pitch)):
        cv2.line(ink, (int(x), 0), (int(x), h - 1), 255 if i % 5 == 0 else 150, 2 if i % 5 == 0 else 1)
    for i, y in enumerate(np.arange(oy, h, pitch)):
        cv2.line(ink, (0, int(y)), (w - 1, int(y)), 255 if i % 5 == 0 else 150, 2 if i % 5 == 0 else 1)
    for _ in range(int(rng.integers(0, 3))):
        x0 = float(rng.uniform(0, w))
        cv2.line(ink, (int(x0), 0), (int(x0 + h), h - 1), 150, 1, cv2.LINE_AA)
    a = ink.astype(np.float32)[..., None] / 255.0 * float(rng.uniform(0.4, 0.8))
    img = img * (1 - a) + np.array(line_c, np.float32) * a
    img += grain(rng, h, w, float(rng.uniform(1, 3)))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _metal(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Copy-stand hardware: brushed aluminium or painted steel, streaks along one direction, a column or
    rail edge with a bright bevel and a few bolt heads."""
    v = float(rng.uniform(70, 190))
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.array([v * float(rng.uniform(1.0, 1.06)), v, v * float(rng.uniform(0.94, 1.0))], np.float32)
    across = bool(rng.random() < 0.5)  # brushing runs left to right (else top to bottom)
    amp = float(rng.uniform(3, 9))
    if across:
        img += (rng.standard_normal(h).astype(np.float32)[:, None, None] * amp)
    else:
        img += (rng.standard_normal(w).astype(np.float32)[None, :, None] * amp)
    img += (lowfreq(rng, h, w, 3) * float(rng.uniform(10, 30)))[..., None]  # broad reflections
    for _ in range(int(rng.integers(1, 3))):
        # A rail or column edge: a darker band with a bright bevel line.
        pos = int(rng.uniform(0.05, 0.95) * (w if not across else h))
        width = int(rng.uniform(0.02, 0.08) * max(h, w))
        dark = float(rng.uniform(0.5, 0.85))
        if not across:
            img[:, pos : pos + width] *= dark
            img[:, pos : pos + 2] = 235
        else:
            img[pos : pos + width] *= dark
            img[pos : pos + 2] = 235
    r = max(2, int(0.006 * max(h, w)))
    for _ in range(int(rng.integers(0, 5))):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.circle(img, c, r, (40, 40, 40), -1, cv2.LINE_AA)
        cv2.circle(img, c, max(1, r // 2), (200, 200, 200), -1, cv2.LINE_AA)
    img += grain(rng, h, w, float(rng.uniform(1, 3)))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)
