"""Procedural pressed plants: branching stems, many leaf shapes, flowers, fruit and roots.

Everything is drawn straight onto the frame at its final size; the same polygons go into the class map, so the
specimen mask follows the drawn pixels exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .layer import grain, lowfreq

SPECIMEN = 1
SHIFT = 2  # sub-pixel bits for cv2 drawing
ONE = 1 << SHIFT

# RGB palettes of pressed material: fresh-dried greens, olive, autumn and browned or blackened specimens.
PALETTES: dict[str, list[tuple[int, int, int]]] = {
    "green": [(52, 84, 40), (66, 98, 52), (80, 110, 60), (44, 66, 34), (92, 120, 74), (60, 90, 56)],
    "olive": [(96, 100, 58), (110, 108, 66), (84, 88, 52), (120, 118, 80)],
    "autumn": [(196, 140, 62), (170, 96, 48), (150, 60, 40), (200, 160, 80), (120, 130, 70), (180, 120, 70)],
    "brown": [(120, 88, 56), (100, 74, 48), (140, 108, 72), (86, 66, 44), (150, 120, 86)],
    "dark": [(56, 46, 34), (42, 38, 28), (70, 58, 40), (34, 32, 26), (60, 62, 44)],
}
# Large pale leaves dried flat to buff and tan, little darker than old sheet paper.
TAN_RGB = [(200, 172, 124), (186, 156, 108), (210, 186, 140), (172, 142, 98)]
FLOWER_RGB = [
    (240, 220, 60),
    (250, 250, 240),
    (170, 110, 190),
    (230, 140, 170),
    (150, 90, 60),
    (120, 60, 110),
    (220, 200, 170),
    (200, 80, 60),
    (140, 70, 200),  # violet
    (110, 60, 170),
    (90, 110, 220),  # blue
    (250, 200, 30),
]


@dataclass
class Style:
    leaf: list[tuple[float, float, float]]  # BGR choices
    stem: tuple[float, float, float]
    vein_gain: float  # >1 lighter veins (fresh), <1 darker (dried)
    leaf_shape: str
    serrate: float
    flower: tuple[float, float, float]
    brown_frac: float = 0.0  # share of leaves turned brown or yellow
    outline: bool = False  # darker leaf margins (curled edges of dried leaves)


def _bgr(rgb: tuple[int, int, int] | tuple[float, float, float]) -> tuple[float, float, float]:
    return float(rgb[2]), float(rgb[1]), float(rgb[0])


def _scale(c: tuple[float, float, float], k: float) -> tuple[float, float, float]:
    return min(255.0, c[0] * k), min(255.0, c[1] * k), min(255.0, c[2] * k)


def _jit(rng: np.random.Generator, c: tuple[float, float, float], a: float) -> tuple[float, float, float]:
    k = float(rng.uniform(1 - a, 1 + a))
    v = np.clip(np.array(c) * k + rng.normal(0, a * 40, 3), 0, 255)
    return float(v[0]), float(v[1]), float(v[2])


LEAF_SHAPES = [
    "elliptic",
    "ovate",
    "obovate",
    "lanceolate",
    "cordate",
    "lobed",
    "palmate",
    "linear",
    "round",
    "deltoid",
]


def make_style(rng: np.random.Generator) -> Style:
    pal_name = str(rng.choice(list(PALETTES), p=[0.38, 0.17, 0.15, 0.18, 0.12]))
    pal = PALETTES[pal_name]
    base = pal[int(rng.integers(len(pal)))]
    # Most specimens are one colour family; autumn sheets mix families.
    picks = [base] if pal_name != "autumn" else [pal[int(i)] for i in rng.integers(0, len(pal), 3)]
    leaf = [_jit(rng, _bgr(p), 0.12) for p in picks]
    stem_rgb = (np.array(base, np.float64) * rng.uniform(0.6, 1.0) + np.array([20, 5, -5])).clip(0, 255)
    return Style(
        leaf=leaf,
        stem=_bgr((float(stem_rgb[0]), float(stem_rgb[1]), float(stem_rgb[2]))),
        vein_gain=float(
            rng.uniform(1.08, 1.35) if pal_name in ("green", "olive", "autumn") else rng.uniform(0.7, 1.2)
        ),
        leaf_shape=str(
            rng.choice(LEAF_SHAPES, p=[0.16, 0.16, 0.08, 0.14, 0.12, 0.08, 0.06, 0.06, 0.06, 0.08])
        ),
        serrate=float(rng.choice([0.0, 0.0, 0.03, 0.06, 0.1])),
        flower=_bgr(FLOWER_RGB[int(rng.integers(len(FLOWER_RGB)))]),
        brown_frac=float(rng.choice([0.0, 0.0, 0.1, 0.3])),
        outline=bool(rng.random() < 0.6),
    )


def _profile(shape: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if shape == "elliptic":
        return np.sin(np.pi * t) ** 0.8
    if shape == "ovate":
        return np.sin(np.pi * t**0.65) ** 0.9
    if shape == "obovate":
        return np.sin(np.pi * t**1.5) ** 0.9
    if shape == "lanceolate":
        return np.sin(np.pi * t**0.75) ** 1.3
    if shape == "cordate":
        return np.sin(np.pi * (0.3 + 0.7 * t) ** 0.9) ** 0.9 * (1 - t**3) + 0.02
    if shape == "deltoid":
        return np.clip((1 - t) * 1.15, 0, 1) * np.clip(t * 8, 0, 1) ** 0.5
    if shape == "round":
        return np.sqrt(np.clip(1 - (2 * t - 1) ** 2, 0, 1))
    if shape == "linear":
        return np.clip(t * 12, 0, 1) ** 0.5 * (1 - t**5)
    if shape == "lobed":
        k = int(rng.integers(3, 6))
        base = np.sin(np.pi * t**0.8) ** 0.8
        return base * (0.45 + 0.55 * np.abs(np.sin(k * np.pi * t + 0.3)) ** 0.7)
    return np.sin(np.pi * t)


def leaf_polygon(
    rng: np.random.Generator, shape: str, length: float, width: float, serrate: float, n: int = 36
) -> np.ndarray:
    """Outline in leaf coordinates: base at (0, 0), tip at (length, 0)."""
    t = np.linspace(0, 1, n)
    w = _profile(shape, t, rng) * width / 2
    if serrate > 0:
        teeth = np.abs(((t * rng.uniform(10, 22)) % 1.0) - 0.5) * 2
        w = w * (1 - serrate * teeth)
    asym = float(rng.uniform(0.85, 1.1))
    x = t * length
    if shape == "cordate":
        # Basal lobes reach back past the petiole.
        x = x - length * 0.14 * np.exp(-t / 0.1)
    top = np.stack([x, w], 1)
    bot = np.stack([x[::-1], -w[::-1] * asym], 1)
    return np.vstack([[0.0, 0.0], top, bot, [0.0, 0.0]])


def _xf(pts: np.ndarray, ox: float, oy: float, ang: float) -> np.ndarray:
    c, s = math.cos(ang), math.sin(ang)
    r = np.array([[c, -s], [s, c]])
    return pts @ r.T + np.array([ox, oy])


def _ip(pts: np.ndarray) -> np.ndarray:
    return np.round(pts * ONE).astype(np.int32).reshape(-1, 1, 2)


class Painter:
    """Draws onto the frame image and class map together."""

    def __init__(self, img: np.ndarray, mask: np.ndarray) -> None:
        self.img, self.mask = img, mask
        self.box = [10**9, 10**9, -1, -1]

    def _grow(self, pts: np.ndarray, pad: float) -> None:
        lo, hi = pts.min(0), pts.max(0)
        b = self.box
        b[0] = min(b[0], int(lo[0] - pad))
        b[1] = min(b[1], int(lo[1] - pad))
        b[2] = max(b[2], int(hi[0] + pad))
        b[3] = max(b[3], int(hi[1] + pad))

    def poly(self, pts: np.ndarray, colour: tuple[float, float, float], cls: int | None = SPECIMEN) -> None:
        p = _ip(pts)
        cv2.fillPoly(self.img, [p], colour, cv2.LINE_AA, SHIFT)
        if cls is not None:
            cv2.fillPoly(self.mask, [p], cls, cv2.LINE_8, SHIFT)
        self._grow(pts, 2)

    def line(
        self, pts: np.ndarray, colour: tuple[float, float, float], thick: float, cls: int | None = SPECIMEN
    ) -> None:
        th = max(1, int(round(thick)))
        p = _ip(pts)
        cv2.polylines(self.img, [p], False, colour, th, cv2.LINE_AA, SHIFT)
        if cls is not None:
            cv2.polylines(self.mask, [p], False, cls, th, cv2.LINE_8, SHIFT)
        self._grow(pts, th + 2)

    def disc(
        self, x: float, y: float, r: float, colour: tuple[float, float, float], cls: int = SPECIMEN
    ) -> None:
        c = (int(round(x * ONE)), int(round(y * ONE)))
        rr = max(int(round(r * ONE)), ONE)
        cv2.circle(self.img, c, rr, colour, -1, cv2.LINE_AA, SHIFT)
        cv2.circle(self.mask, c, rr, cls, -1, cv2.LINE_8, SHIFT)
        self._grow(np.array([[x, y]]), r + 2)


def draw_leaf(
    p: Painter,
    rng: np.random.Generator,
    st: Style,
    x: float,
    y: float,
    ang: float,
    length: float,
    shape: str | None = None,
    petiole: float = 0.1,
) -> None:
    shape = shape or st.leaf_shape
    if rng.random() < 0.15:
        shape = str(rng.choice(LEAF_SHAPES[:5]))
    colour = _jit(rng, st.leaf[int(rng.integers(len(st.leaf)))], 0.1)
    if rng.random() < st.brown_frac:
        # Some leaves dry browner or yellower than the rest of the plant.
        k = float(rng.uniform(0.3, 0.8))
        target = _bgr((130, 100, 60)) if rng.random() < 0.7 else _bgr((170, 150, 80))
        colour = tuple(c * (1 - k) + t * k for c, t in zip(colour, target, strict=True))  # type: ignore[assignment]
    pl = length * petiole
    base_x, base_y = x + math.cos(ang) * pl, y + math.sin(ang) * pl
    if pl > 1:
        p.line(np.array([[x, y], [base_x, base_y]]), st.stem, max(1.0, length * 0.02))
    ratio = {
        "linear": 0.08,
        "lanceolate": 0.28,
        "round": 0.9,
        "deltoid": 0.8,
        "cordate": 0.75,
        "palmate": 1.0,
        "lobed": 0.6,
    }.get(shape, 0.5) * float(rng.uniform(0.75, 1.25))
    width = length * ratio
    if shape == "palmate":
        nl = int(rng.choice([3, 5, 5, 7]))
        spread = float(rng.uniform(1.6, 2.6))
        for i in range(nl):
            a = ang + (i - (nl - 1) / 2) * spread / max(nl - 1, 1)
            ll = length * (1 - 0.35 * abs(i - (nl - 1) / 2) / max((nl - 1) / 2, 1))
            poly = leaf_polygon(rng, "lanceolate", ll, ll * 0.45, max(st.serrate, 0.05))
            p.poly(_xf(poly, base_x, base_y, a), colour)
        vein = _jit(rng, _scale(colour, st.vein_gain), 0.03)
        if length > 25:
            for i in range(nl):
                a = ang + (i - (nl - 1) / 2) * spread / max(nl - 1, 1)
                ll = length * 0.85 * (1 - 0.35 * abs(i - (nl - 1) / 2) / max((nl - 1) / 2, 1))
                p.line(_xf(np.array([[0, 0], [ll, 0]]), base_x, base_y, a), vein, 1)
        return
    poly = leaf_polygon(rng, shape, length, width, st.serrate)
    pts = _xf(poly, base_x, base_y, ang)
    p.poly(pts, colour)
    if st.outline and length > 12:
        p.line(pts, _scale(colour, 0.72), 1)
    if width > 10:
        # The two halves of a pressed leaf catch the light differently.
        half = np.vstack([poly[: len(poly) // 2 + 1], [[length, 0.0]]])
        p.poly(_xf(half, base_x, base_y, ang), _scale(colour, float(rng.uniform(0.88, 0.97))))
    if length > 20 and shape != "linear":
        vein = _scale(colour, st.vein_gain)
        p.line(
            _xf(np.array([[0, 0], [length * 0.93, 0]]), base_x, base_y, ang), vein, max(1.0, length * 0.012)
        )
        if width > 14:
            nv = int(rng.integers(4, 9))
            prof = _profile(shape, np.linspace(0, 1, 36), rng)
            for k in range(nv):
                t0 = 0.1 + 0.75 * k / nv
                t1 = min(t0 + 0.15, 0.97)
                wy = prof[int(t1 * 35)] * width / 2 * 0.85
                for sgn in (1, -1):
                    seg = np.array([[t0 * length, 0], [t1 * length, sgn * wy]])
                    p.line(_xf(seg, base_x, base_y, ang), vein, 1)


def draw_flower(p: Painter, rng: np.random.Generator, st: Style, x: float, y: float, r: float) -> None:
    col = _jit(rng, st.flower, 0.12)
    kind = rng.random()
    if kind < 0.5 and r > 3:
        npet = int(rng.integers(4, 7))
        a0 = float(rng.uniform(0, math.pi))
        for i in range(npet):
            a = a0 + 2 * math.pi * i / npet
            poly = leaf_polygon(rng, "obovate", r, r * 0.8, 0.0, 12)
            p.poly(_xf(poly, x, y, a), col)
        p.disc(x, y, max(1.0, r * 0.25), _jit(rng, (40, 140, 200), 0.2))
    elif kind < 0.8:
        for _ in range(int(rng.integers(3, 12))):
            p.disc(
                x + rng.normal(0, r * 0.6),
                y + rng.normal(0, r * 0.6),
                max(1.0, r * rng.uniform(0.2, 0.45)),
                col,
            )
    else:
        p.disc(x, y, max(1.5, r * 0.6), _scale(st.leaf[0], 0.45))


def _walk(
    rng: np.random.Generator, x: float, y: float, ang: float, length: float, n: int, curl: float
) -> np.ndarray:
    pts = [(x, y)]
    step = length / n
    for _ in range(n):
        ang += float(rng.normal(0, curl))
        x += math.cos(ang) * step
        y += math.sin(ang) * step
        pts.append((x, y))
    return np.array(pts)


def branch(
    p: Painter,
    rng: np.random.Generator,
    st: Style,
    x: float,
    y: float,
    ang: float,
    length: float,
    thick: float,
    depth: int,
    leaf_len: float,
    opposite: bool,
) -> None:
    n = max(4, int(length / max(leaf_len * 0.35, 4)))
    pts = _walk(rng, x, y, ang, length, n, 0.08)
    p.line(pts, st.stem, thick)
    side = 1
    for i in range(1, n + 1):
        px, py = pts[i]
        seg_ang = math.atan2(pts[i][1] - pts[i - 1][1], pts[i][0] - pts[i - 1][0])
        frac = i / n
        ll = leaf_len * (1.1 - 0.6 * frac) * float(rng.uniform(0.75, 1.2))
        if depth > 0 and rng.random() < 0.22 and frac < 0.8:
            b_ang = seg_ang + side * float(rng.uniform(0.4, 0.9))
            branch(
                p,
                rng,
                st,
                px,
                py,
                b_ang,
                length * (1 - frac) * float(rng.uniform(0.4, 0.8)),
                max(1.0, thick * 0.65),
                depth - 1,
                leaf_len * 0.85,
                opposite,
            )
        elif rng.random() < 0.85:
            sides = (1, -1) if opposite else (side,)
            for sd in sides:
                la = seg_ang + sd * float(rng.uniform(0.5, 1.2))
                draw_leaf(p, rng, st, px, py, la, ll, petiole=float(rng.uniform(0.0, 0.35)))
        side = -side
    tx, ty = pts[-1]
    r = leaf_len * float(rng.uniform(0.12, 0.3))
    if rng.random() < 0.55:
        draw_flower(p, rng, st, tx, ty, r)
        for _ in range(int(rng.integers(0, 4))):
            a = float(rng.uniform(0, 2 * math.pi))
            fx, fy = tx + math.cos(a) * r * 2.5, ty + math.sin(a) * r * 2.5
            p.line(np.array([[tx, ty], [fx, fy]]), st.stem, max(1.0, thick * 0.5))
            draw_flower(p, rng, st, fx, fy, r * 0.8)
    else:
        draw_leaf(
            p,
            rng,
            st,
            tx,
            ty,
            float(pts[-1][0] - pts[-2][0]) and math.atan2(pts[-1][1] - pts[-2][1], pts[-1][0] - pts[-2][0]),
            leaf_len * 0.6,
            petiole=0.05,
        )


def roots(p: Painter, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    col = _jit(rng, (70, 95, 120), 0.2)
    for _ in range(int(rng.integers(6, 25))):
        pts = _walk(
            rng,
            x + rng.normal(0, size * 0.05),
            y,
            math.pi / 2 + float(rng.normal(0, 0.6)),
            size * float(rng.uniform(0.3, 1.0)),
            8,
            0.3,
        )
        p.line(pts, col, 1)


def grass(p: Painter, rng: np.random.Generator, st: Style, x: float, y: float, h: float) -> None:
    for _ in range(int(rng.integers(5, 18))):
        ln = h * float(rng.uniform(0.3, 0.9))
        w0 = max(1.5, h * float(rng.uniform(0.006, 0.016)))
        pts = _walk(
            rng, x + rng.normal(0, h * 0.02), y, -math.pi / 2 + float(rng.normal(0, 0.35)), ln, 14, 0.05
        )
        d = np.diff(pts, axis=0)
        nrm = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)
        nrm = np.vstack([nrm, nrm[-1:]])
        wid = w0 * (1 - np.linspace(0, 1, len(pts)) ** 2)[:, None]
        poly = np.vstack([pts + nrm * wid, (pts - nrm * wid)[::-1]])
        p.poly(poly, _jit(rng, st.leaf[0], 0.1))
    for _ in range(int(rng.integers(1, 5))):
        ln = h * float(rng.uniform(0.6, 1.0))
        pts = _walk(rng, x, y, -math.pi / 2 + float(rng.normal(0, 0.25)), ln, 12, 0.04)
        p.line(pts, st.stem, max(1.0, h * 0.004))
        tip = pts[-1]
        a = math.atan2(pts[-1][1] - pts[-2][1], pts[-1][0] - pts[-2][0])
        for k in range(int(rng.integers(6, 16))):
            s = k * h * 0.012
            cx, cy = tip[0] - math.cos(a) * s, tip[1] - math.sin(a) * s
            sp = leaf_polygon(rng, "elliptic", h * 0.025, h * 0.01, 0.0, 10)
            p.poly(_xf(sp, cx, cy, a + float(rng.choice([-0.5, 0.5]))), _jit(rng, st.stem, 0.1))


def fern(
    p: Painter, rng: np.random.Generator, st: Style, x: float, y: float, ang: float, length: float
) -> None:
    pts = _walk(rng, x, y, ang, length, 24, 0.03)
    p.line(pts, st.stem, max(1.5, length * 0.008))
    for i in range(3, len(pts)):
        frac = i / len(pts)
        seg = math.atan2(pts[i][1] - pts[i - 1][1], pts[i][0] - pts[i - 1][0])
        ll = length * 0.18 * (1 - frac) ** 0.7 + 2
        for sd in (1, -1):
            draw_leaf(p, rng, st, pts[i][0], pts[i][1], seg + sd * 1.2, ll, "lanceolate", petiole=0.0)


def draw_specimen(
    rng: np.random.Generator,
    img: np.ndarray,
    mask: np.ndarray,
    region: tuple[int, int, int, int],
    habit: str | None = None,
) -> tuple[int, int, int, int]:
    """Draw one specimen inside region (x0, y0, x1, y1) of the frame; returns the drawn bounding box."""
    x0, y0, x1, y1 = region
    rw, rh = x1 - x0, y1 - y0
    st = make_style(rng)
    p = Painter(img, mask)
    if habit is None:
        habit = str(
            rng.choice(
                ["herb", "leaves", "twig", "grass", "fern", "small", "broad", "stems", "parts"],
                p=[0.26, 0.16, 0.17, 0.08, 0.05, 0.1, 0.08, 0.05, 0.05],
            )
        )
    size = min(rw, rh)
    flat = False
    if habit == "herb":
        bx, by = x0 + rw * float(rng.uniform(0.35, 0.65)), y0 + rh * float(rng.uniform(0.85, 0.97))
        for _ in range(int(rng.integers(1, 5))):
            branch(
                p,
                rng,
                st,
                bx + rng.normal(0, rw * 0.03),
                by,
                -math.pi / 2 + float(rng.normal(0, 0.3)),
                rh * float(rng.uniform(0.5, 0.85)),
                max(1.5, size * 0.006),
                2,
                size * float(rng.uniform(0.08, 0.2)),
                bool(rng.random() < 0.3),
            )
        if rng.random() < 0.6:
            roots(p, rng, bx, by, rh * 0.12)
    elif habit == "leaves":
        n = int(rng.integers(2, 8))
        for _ in range(n):
            ll = size * float(rng.uniform(0.25, 0.55)) / math.sqrt(n / 2)
            cx, cy = x0 + rw * float(rng.uniform(0.15, 0.85)), y0 + rh * float(rng.uniform(0.15, 0.85))
            a = float(rng.uniform(0, 2 * math.pi))
            draw_leaf(
                p,
                rng,
                st,
                cx - math.cos(a) * ll / 2,
                cy - math.sin(a) * ll / 2,
                a,
                ll,
                str(rng.choice(LEAF_SHAPES[:7])) if rng.random() < 0.5 else None,
                petiole=0.12,
            )
    elif habit == "twig":
        a = -math.pi / 2 + float(rng.normal(0, 0.5))
        bx, by = x0 + rw * float(rng.uniform(0.3, 0.7)), y0 + rh * 0.92
        for _ in range(int(rng.integers(1, 3))):
            branch(
                p,
                rng,
                st,
                bx,
                by,
                a + float(rng.normal(0, 0.2)),
                rh * float(rng.uniform(0.6, 0.95)),
                max(2.0, size * 0.01),
                2,
                size * float(rng.uniform(0.1, 0.22)),
                bool(rng.random() < 0.2),
            )
    elif habit == "grass":
        for _ in range(int(rng.integers(1, 3))):
            grass(p, rng, st, x0 + rw * float(rng.uniform(0.3, 0.7)), y0 + rh * 0.95, rh * 0.95)
        roots(p, rng, x0 + rw * 0.5, y0 + rh * 0.95, rh * 0.1)
    elif habit == "fern":
        bx, by = x0 + rw * float(rng.uniform(0.3, 0.7)), y0 + rh * 0.95
        for _ in range(int(rng.integers(1, 4))):
            fern(
                p,
                rng,
                st,
                bx,
                by,
                -math.pi / 2 + float(rng.normal(0, 0.3)),
                rh * float(rng.uniform(0.5, 0.9)),
            )
    elif habit == "broad":
        # One to four large, flat, pale tan leaves with faint veins: big areas of little texture.
        flat = True
        st.leaf = [_jit(rng, _bgr(c), 0.06) for c in TAN_RGB]
        st.vein_gain, st.serrate, st.brown_frac = float(rng.uniform(0.92, 1.06)), 0.0, 0.0
        n = int(rng.integers(1, 5))
        for _ in range(n):
            ll = size * float(rng.uniform(0.65, 1.0)) / math.sqrt(n)
            cx, cy = x0 + rw * float(rng.uniform(0.3, 0.7)), y0 + rh * float(rng.uniform(0.3, 0.7))
            a = float(rng.uniform(0, 2 * math.pi))
            draw_leaf(
                p,
                rng,
                st,
                cx - math.cos(a) * ll / 2,
                cy - math.sin(a) * ll / 2,
                a,
                ll,
                str(rng.choice(["elliptic", "ovate", "obovate", "cordate"])),
                petiole=0.08,
            )
    elif habit == "stems":
        # Long, thin, wiry stems (rushes, vines, inflorescence stalks) with few small leaves.
        bx, by = x0 + rw * float(rng.uniform(0.2, 0.8)), y0 + rh * 0.97
        for _ in range(int(rng.integers(2, 7))):
            pts = _walk(
                rng,
                bx + rng.normal(0, rw * 0.04),
                by,
                -math.pi / 2 + float(rng.normal(0, 0.25)),
                rh * float(rng.uniform(0.7, 1.0)),
                30,
                0.04,
            )
            p.line(pts, st.stem, float(rng.uniform(1.0, max(1.2, size * 0.003))))
            for i in rng.choice(np.arange(5, 30), int(rng.integers(0, 5)), replace=False):
                seg = math.atan2(pts[i][1] - pts[i - 1][1], pts[i][0] - pts[i - 1][0])
                draw_leaf(p, rng, st, pts[i][0], pts[i][1], seg + float(rng.choice([-0.7, 0.7])), size * 0.04, "linear")
            if rng.random() < 0.5:
                draw_flower(p, rng, st, pts[-1][0], pts[-1][1], size * 0.012)
    elif habit == "parts":
        # Several separate pieces on one sheet (twigs, a leaf, a fruiting branch), each in its own part.
        n = int(rng.integers(2, 6))
        cols = 2 if n > 2 else n
        rows = (n + cols - 1) // cols
        for k in range(n):
            r, c = divmod(k, cols)
            cx0, cy0 = x0 + rw * c / cols, y0 + rh * r / rows
            cw, ch = rw / cols, rh / rows
            bx, by = cx0 + cw * float(rng.uniform(0.3, 0.7)), cy0 + ch * 0.92
            if rng.random() < 0.3:
                ll = min(cw, ch) * float(rng.uniform(0.4, 0.7))
                draw_leaf(p, rng, st, bx, by - ch * 0.1, -math.pi / 2 + float(rng.normal(0, 0.4)), ll, petiole=0.1)
            else:
                branch(
                    p,
                    rng,
                    st,
                    bx,
                    by,
                    -math.pi / 2 + float(rng.normal(0, 0.35)),
                    ch * float(rng.uniform(0.55, 0.8)),
                    max(1.5, size * 0.005),
                    1,
                    min(cw, ch) * float(rng.uniform(0.1, 0.2)),
                    bool(rng.random() < 0.3),
                )
    else:  # several small plants
        for _ in range(int(rng.integers(2, 6))):
            bx, by = x0 + rw * float(rng.uniform(0.1, 0.9)), y0 + rh * float(rng.uniform(0.4, 0.95))
            hh = rh * float(rng.uniform(0.15, 0.4))
            branch(
                p,
                rng,
                st,
                bx,
                by,
                -math.pi / 2 + float(rng.normal(0, 0.3)),
                hh,
                1.5,
                1,
                hh * 0.3,
                bool(rng.random() < 0.5),
            )
            if rng.random() < 0.5:
                roots(p, rng, bx, by, hh * 0.3)
    bx0, by0 = max(p.box[0], 0), max(p.box[1], 0)
    bx1, by1 = min(p.box[2], img.shape[1]), min(p.box[3], img.shape[0])
    if bx1 > bx0 and by1 > by0:
        _texture(rng, img[by0:by1, bx0:bx1], mask[by0:by1, bx0:bx1], 0.25 if flat else 1.0)
        _shadow(rng, img[by0:by1, bx0:bx1], mask[by0:by1, bx0:bx1])
    return bx0, by0, bx1, by1


def _texture(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, amount: float = 1.0) -> None:
    """Blotchy colour and fine grain across the specimen, as dried tissue is never a flat colour
    (amount below 1: the smooth, nearly flat leaves some specimens have)."""
    h, w = mask.shape
    where = mask == SPECIMEN
    f = 1.0 + lowfreq(rng, h, w, int(rng.integers(8, 20))) * float(rng.uniform(0.08, 0.2)) * amount
    g = grain(rng, h, w, float(rng.uniform(3, 8)) * amount)
    out = img.astype(np.float32) * f[..., None] + g[..., None]
    np.copyto(img, np.clip(out, 0, 255).astype(np.uint8), where=where[..., None])


def _shadow(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> None:
    """A faint offset shadow of the pressed material on the paper around it (not on the specimen)."""
    h, w = mask.shape
    s = 4
    small = cv2.resize(
        (mask == SPECIMEN).astype(np.float32), (max(w // s, 1), max(h // s, 1)), interpolation=cv2.INTER_AREA
    )
    dx, dy = float(rng.uniform(-1.5, 1.5)), float(rng.uniform(0.2, 2.0))
    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    small = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]))
    small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(0.8, 2.0)))
    shade = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = 1.0 - float(rng.uniform(0.05, 0.2)) * shade
    where = (mask != SPECIMEN) & (shade > 0.02)
    out = img.astype(np.float32) * k[..., None]
    np.copyto(img, np.clip(out, 0, 255).astype(np.uint8), where=where[..., None])
