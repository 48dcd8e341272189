"""Things on the stand that are not specimen data: pens, coins, lead weights, tweezers, tape strips."""

from __future__ import annotations

import cv2
import numpy as np

from .layer import KEEP, Layer

BACKGROUND = 0


def _blank(h: int, w: int) -> Layer:
    return Layer(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.float32), np.full((h, w), KEEP, np.uint8))


def _fill(lay: Layer, shape: np.ndarray, colour: np.ndarray) -> None:
    """Paint shape (uint8 0/255, anti-aliased) in colour; it becomes a background-class occluder."""
    a = shape.astype(np.float32) / 255.0
    lay.bgr[:] = np.clip(lay.bgr * (1 - a[..., None]) + colour * a[..., None], 0, 255).astype(np.uint8)
    lay.alpha[:] = np.maximum(lay.alpha, a)
    lay.cls[shape > 127] = BACKGROUND


def pen(rng: np.random.Generator, length: int) -> Layer:
    w = max(int(length * float(rng.uniform(0.06, 0.09))), 3)
    lay = _blank(w + 2, length + 2)
    body = np.zeros((w + 2, length + 2), np.uint8)
    cv2.rectangle(body, (w // 2, 1), (length - w // 2, w), 255, -1, cv2.LINE_AA)
    cv2.circle(body, (w // 2 + 1, w // 2 + 1), w // 2, 255, -1, cv2.LINE_AA)
    pts = np.array([[length - w // 2, 1], [length, w // 2 + 1], [length - w // 2, w]], np.int32)
    cv2.fillConvexPoly(body, pts, 255, cv2.LINE_AA)
    colour = np.array(
        [(30, 30, 30), (160, 60, 20), (40, 40, 170), (200, 200, 200), (30, 120, 200)][int(rng.integers(5))],
        np.float32,
    )
    _fill(lay, body, colour)
    # Highlight along the barrel.
    cv2.line(
        lay.bgr, (w, w // 3 + 1), (length - w, w // 3 + 1), (colour * 0.5 + 120).tolist(), max(1, w // 6)
    )
    return lay


def coin(rng: np.random.Generator, diam: int) -> Layer:
    d = max(diam, 6)
    lay = _blank(d + 2, d + 2)
    shape = np.zeros((d + 2, d + 2), np.uint8)
    cv2.circle(shape, (d // 2 + 1, d // 2 + 1), d // 2, 255, -1, cv2.LINE_AA)
    base = np.array([(60, 140, 190), (150, 150, 150), (50, 100, 170)][int(rng.integers(3))], np.float32)
    _fill(lay, shape, base)
    yy, xx = np.mgrid[0 : d + 2, 0 : d + 2].astype(np.float32)
    sheen = 1 + 0.3 * ((xx - yy) / (d + 2))
    lay.bgr[:] = np.clip(lay.bgr * sheen[..., None], 0, 255).astype(np.uint8)
    cv2.circle(lay.bgr, (d // 2 + 1, d // 2 + 1), int(d * 0.4), (base * 0.7).tolist(), 1, cv2.LINE_AA)
    return lay


def weight(rng: np.random.Generator, size: int) -> Layer:
    """Lead weights or bean bags used to hold sheets flat."""
    w = max(size, 6)
    h = max(int(size * float(rng.uniform(0.4, 1.0))), 4)
    lay = _blank(h + 2, w + 2)
    shape = np.zeros((h + 2, w + 2), np.uint8)
    r = max(1, min(w, h) // 4)
    cv2.rectangle(shape, (1 + r, 1), (w - r, h), 255, -1, cv2.LINE_AA)
    cv2.rectangle(shape, (1, 1 + r), (w, h - r), 255, -1, cv2.LINE_AA)
    for cx, cy in ((1 + r, 1 + r), (w - r, 1 + r), (1 + r, h - r), (w - r, h - r)):
        cv2.circle(shape, (cx, cy), r, 255, -1, cv2.LINE_AA)
    v = float(rng.uniform(50, 110))
    _fill(lay, shape, np.array([v, v, v * 1.05], np.float32))
    return lay


def tweezers(rng: np.random.Generator, length: int) -> Layer:
    w = max(int(length * 0.12), 4)
    lay = _blank(w + 2, length + 2)
    shape = np.zeros((w + 2, length + 2), np.uint8)
    for sgn in (1, -1):
        pts = np.array([[1, w // 2 + 1 + sgn * (w // 2 - 1)], [length, w // 2 + 1 + sgn]], np.int32)
        cv2.line(shape, tuple(pts[0]), tuple(pts[1]), 255, max(1, w // 5), cv2.LINE_AA)
    _fill(lay, shape, np.array([170, 170, 175], np.float32))
    return lay


def tape(rng: np.random.Generator, length: int, width: int) -> Layer:
    """Translucent mounting tape or linen strip; it does not change the class of what it covers."""
    colour = np.array([(205, 225, 235), (235, 240, 240), (170, 200, 215)][int(rng.integers(3))], np.float32)
    lay = Layer.solid(
        max(width, 2), max(length, 2), tuple(colour.tolist()), KEEP, alpha=float(rng.uniform(0.25, 0.55))
    )
    return lay


def random_distractor(rng: np.random.Generator, px_per_mm: float) -> Layer:
    r = rng.random()
    if r < 0.3:
        return pen(rng, int(px_per_mm * float(rng.uniform(120, 150))))
    if r < 0.55:
        return coin(rng, int(px_per_mm * float(rng.uniform(18, 28))))
    if r < 0.85:
        return weight(rng, int(px_per_mm * float(rng.uniform(25, 60))))
    return tweezers(rng, int(px_per_mm * float(rng.uniform(100, 140))))
