"""Institution ink stamps (round, oval, boxed) and printed institution names."""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import pick_font, text_patch
from .layer import KEEP, Layer, lowfreq

STAMP = 7
INSTITUTIONS = [
    "NATURAL HISTORY MUSEUM",
    "HERBARIUM KEWENSE",
    "Royal Botanic Garden Edinburgh",
    "MUSEUM NATIONAL D'HISTOIRE NATURELLE",
    "HERBARIUM OF YALE UNIVERSITY",
    "NEW ENGLAND BOTANICAL CLUB",
    "HERBARIUM UNIV. OF MASSACHUSETTS",
    "GRAY HERBARIUM",
    "HERB. MUS. PARIS",
    "RIJKSHERBARIUM LEIDEN",
    "BOTANISCHER GARTEN BERLIN",
    "UNIVERSITY OF MAINE HERBARIUM",
    "PRINGLE HERBARIUM",
    "NEW YORK BOTANICAL GARDEN",
    "HERBARIUM BOGORIENSE",
    "CONSERVATOIRE BOTANIQUE GENEVE",
    "MISSOURI BOTANICAL GARDEN",
    "HERBARIUM LUGD. BAT.",
    "BRITISH MUSEUM",
    "ARNOLD ARBORETUM",
    "HERBARIUM HAUNIENSE",
    "CHRYSLER HERBARIUM RUTGERS",
    "SMITHSONIAN INSTITUTION",
]
INKS: list[tuple[float, float, float]] = [
    (150, 60, 30),
    (130, 40, 90),
    (40, 40, 170),
    (35, 35, 35),
    (110, 70, 60),
    (160, 90, 60),
    (60, 120, 50),  # green (seals)
    (70, 95, 45),
    (150, 50, 120),  # violet
]


def _ink(rng: np.random.Generator) -> tuple[float, float, float]:
    c = np.array(INKS[int(rng.integers(len(INKS)))], np.float64) + rng.normal(0, 10, 3)
    c = np.clip(c, 0, 255)
    return float(c[0]), float(c[1]), float(c[2])


def _to_layer(
    rng: np.random.Generator, ink: np.ndarray, colour: tuple[float, float, float], region: np.ndarray
) -> Layer:
    """Ink (0..1) into a layer: uneven inking, class on the stamp's whole outline."""
    h, w = ink.shape
    patchy = np.clip(0.75 + lowfreq(rng, h, w, 5) * 0.5, 0.25, 1.0)
    alpha = (ink * patchy * float(rng.uniform(0.55, 0.95))).astype(np.float32)
    bgr = np.empty((h, w, 3), np.uint8)
    bgr[:] = np.array(colour, np.uint8)
    cls = np.where(region, STAMP, KEEP).astype(np.uint8)
    return Layer(bgr, alpha, cls)


def round_stamp(rng: np.random.Generator, diam_px: int, oval: bool = False) -> Layer:
    ss = 2
    d = max(diam_px, 12) * ss
    h = int(d * (float(rng.uniform(0.6, 0.75)) if oval else 1.0))
    w = d
    cx, cy = w / 2, h / 2
    ink = np.zeros((h, w), np.float32)
    lw = max(1, int(d * 0.015))
    cv2.ellipse(ink, (int(cx), int(cy)), (int(w / 2 - lw), int(h / 2 - lw)), 0, 0, 360, 1.0, lw, cv2.LINE_AA)
    r_in = 0.68
    cv2.ellipse(
        ink,
        (int(cx), int(cy)),
        (int((w / 2) * r_in), int((h / 2) * r_in)),
        0,
        0,
        360,
        1.0,
        max(1, lw // 2),
        cv2.LINE_AA,
    )
    # Text around the ring: write a strip, then wrap it onto the annulus with a polar remap.
    name = INSTITUTIONS[int(rng.integers(len(INSTITUTIONS)))].upper()
    style = "sans_bold" if rng.random() < 0.6 else "serif_bold"
    font = pick_font(rng, style)
    ring_h = int(d / 2 * (1 - r_in) * 0.75)
    strip = text_patch(name, font, style, max(ring_h, 4)).astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - cx) / (w / 2), (yy - cy) / (h / 2)
    rad = np.sqrt(nx * nx + ny * ny)
    theta = np.arctan2(ny, nx)  # -pi..pi, 0 at the right
    span = np.float32(min(1.75 * np.pi, strip.shape[1] / max(ring_h, 1) * 0.18 * np.pi + 0.5))
    t = (theta + np.float32(np.pi / 2) + span / 2) / span  # text centred at the top
    map_x = (t * strip.shape[1]).astype(np.float32)
    map_y = ((1 - (rad - r_in) / (1 - r_in)) * strip.shape[0] * 1.1 - strip.shape[0] * 0.1).astype(np.float32)
    ring = cv2.remap(strip, map_x, map_y, cv2.INTER_LINEAR, borderValue=0.0)
    ring[(rad < r_in) | (rad > 0.97)] = 0
    ink = np.maximum(ink, ring)
    # Centre: a number, a date or initials.
    centre = str(
        rng.choice(
            [
                f"{int(rng.integers(1900, 2024))}",
                "HERB.",
                f"No {int(rng.integers(1, 999999))}",
                name.split()[0][:4],
                "TYPE" if rng.random() < 0.1 else "LIB.",
            ]
        )
    )
    cp = text_patch(centre, font, style, max(int(h * 0.14), 4)).astype(np.float32) / 255.0
    ph, pw = cp.shape
    if pw < w * 0.6 and ph < h * 0.5:
        y0, x0 = int(cy - ph / 2), int(cx - pw / 2)
        ink[y0 : y0 + ph, x0 : x0 + pw] = np.maximum(ink[y0 : y0 + ph, x0 : x0 + pw], cp)
    region = rad <= 1.0
    ink_s = np.asarray(cv2.resize(ink, (w // ss, h // ss), interpolation=cv2.INTER_AREA), np.float32)
    region_s = cv2.resize(region.astype(np.uint8), (w // ss, h // ss), interpolation=cv2.INTER_NEAREST) > 0
    return _to_layer(rng, ink_s, _ink(rng), region_s)


def box_stamp(rng: np.random.Generator, width_px: int) -> Layer:
    name = INSTITUTIONS[int(rng.integers(len(INSTITUTIONS)))]
    lines = [name] if rng.random() < 0.5 else name.split(" ", 1) if " " in name else [name]
    if rng.random() < 0.5:
        lines.append(
            str(rng.choice(["No.", "Acc. No.", "DUPLICATE", "Det.", "Date"]))
            + " "
            + str(int(rng.integers(1000, 999999)))
        )
    style = str(rng.choice(["serif_bold", "sans_bold", "serif"]))
    font = pick_font(rng, style)
    size = max(int(width_px / max(len(max(lines, key=len)), 1) * 1.5), 5)
    pats = [text_patch(s, font, style, size).astype(np.float32) / 255.0 for s in lines]
    pw = max(p.shape[1] for p in pats)
    pad = max(2, size // 2)
    h = sum(p.shape[0] for p in pats) + 2 * pad
    w = pw + 2 * pad
    ink = np.zeros((h, w), np.float32)
    y = pad
    for p in pats:
        x = (w - p.shape[1]) // 2
        ink[y : y + p.shape[0], x : x + p.shape[1]] = p
        y += p.shape[0]
    if rng.random() < 0.8:
        cv2.rectangle(ink, (0, 0), (w - 1, h - 1), 1.0, max(1, size // 8))
    return _to_layer(rng, ink, _ink(rng), np.ones((h, w), bool))


def printed_name(
    rng: np.random.Generator, size_px: int, ink: tuple[float, float, float] | None = None
) -> Layer:
    """An institution name printed on the sheet (no frame), e.g. along the top edge of the mounting paper."""
    name = INSTITUTIONS[int(rng.integers(len(INSTITUTIONS)))]
    if rng.random() < 0.5:
        name = name.upper()
    style = str(rng.choice(["serif_bold", "sans_bold", "serif"]))
    p = text_patch(name, pick_font(rng, style), style, max(size_px, 5)).astype(np.float32) / 255.0
    colour = ink or (30.0, 30.0, 30.0)
    lay = _to_layer(rng, p, colour, np.ones(p.shape, bool))
    lay.alpha = np.clip(p * 0.95, 0, 1).astype(np.float32)
    return lay


def random_stamp(rng: np.random.Generator, px_per_mm: float) -> Layer:
    r = rng.random()
    if r < 0.45:
        return round_stamp(rng, int(px_per_mm * float(rng.uniform(25, 45))), oval=bool(rng.random() < 0.4))
    if r < 0.8:
        return box_stamp(rng, int(px_per_mm * float(rng.uniform(35, 70))))
    return printed_name(rng, int(px_per_mm * float(rng.uniform(3, 6))))
