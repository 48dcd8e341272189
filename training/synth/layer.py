"""Layers: an image with alpha, a class map and barcode records, and how layers are placed on each other."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

# A class-map value meaning "this layer does not change the class underneath" (translucent tape, shadows).
KEEP = 255


@dataclass
class BarcodeMark:
    text: str
    format: str
    corners: np.ndarray  # 4×2 float, layer pixel coordinates of the barcode box (code + quiet zone)


@dataclass
class Layer:
    bgr: np.ndarray  # H×W×3 uint8
    alpha: np.ndarray  # H×W float32 0..1
    cls: np.ndarray  # H×W uint8, class id or KEEP
    barcodes: list[BarcodeMark] = field(default_factory=list)

    @property
    def h(self) -> int:
        return int(self.bgr.shape[0])

    @property
    def w(self) -> int:
        return int(self.bgr.shape[1])

    @staticmethod
    def solid(h: int, w: int, bgr: tuple[float, float, float], cls: int, alpha: float = 1.0) -> Layer:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = np.clip(np.array(bgr), 0, 255).astype(np.uint8)
        return Layer(img, np.full((h, w), alpha, np.float32), np.full((h, w), cls, np.uint8))

    def paste(self, src: Layer, x: int, y: int) -> None:
        """Alpha-composite src with its top-left corner at (x, y); src may hang over the edges."""
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + src.w, self.w), min(y + src.h, self.h)
        if x1 <= x0 or y1 <= y0:
            return
        sx0, sy0 = x0 - x, y0 - y
        sx1, sy1 = sx0 + (x1 - x0), sy0 + (y1 - y0)
        a = src.alpha[sy0:sy1, sx0:sx1]
        d = self.bgr[y0:y1, x0:x1]
        s = src.bgr[sy0:sy1, sx0:sx1]
        da = self.alpha[y0:y1, x0:x1]
        if a.min() >= 1.0:
            d[:] = s  # opaque: plain copy, no blending cost
            da[:] = 1.0
        else:
            a3 = a[..., None]
            d[:] = (d * (1.0 - a3) + s * a3 + 0.5).astype(np.uint8)
            da[:] = a + da * (1.0 - a)
        sc = src.cls[sy0:sy1, sx0:sx1]
        dc = self.cls[y0:y1, x0:x1]
        np.copyto(dc, sc, where=sc != KEEP)
        for b in src.barcodes:
            self.barcodes.append(BarcodeMark(b.text, b.format, b.corners + np.array([x, y], np.float64)))

    def place(self, src: Layer, cx: float, cy: float, angle_deg: float = 0.0) -> None:
        """Paste src rotated by angle_deg (counter-clockwise) about its centre, centred at (cx, cy)."""
        if abs(angle_deg) < 1e-3:
            self.paste(src, int(round(cx - src.w / 2)), int(round(cy - src.h / 2)))
            return
        rot = rotated(src, angle_deg)
        self.paste(rot, int(round(cx - rot.w / 2)), int(round(cy - rot.h / 2)))


def rotated(src: Layer, angle_deg: float) -> Layer:
    """The layer rotated about its centre into a box large enough to hold it (exact for multiples of 90)."""
    k = angle_deg / 90.0
    if abs(k - round(k)) < 1e-6:
        # Exact quarter turns keep every pixel, so thin ticks and barcode modules stay crisp.
        n = int(round(k)) % 4
        h, w = src.h, src.w
        out = Layer(
            np.ascontiguousarray(np.rot90(src.bgr, n)),
            np.ascontiguousarray(np.rot90(src.alpha, n)),
            np.ascontiguousarray(np.rot90(src.cls, n)),
        )
        for b in src.barcodes:
            c = b.corners.copy()
            for _ in range(n):
                # np.rot90 (counter-clockwise): (x, y) in an h×w image -> (y, w - x) in the w×h result.
                c = np.stack([c[:, 1], w - c[:, 0]], axis=1)
                h, w = w, h
            out.barcodes.append(BarcodeMark(b.text, b.format, c))
        return out
    h, w = src.h, src.w
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)) + 2, int(np.ceil(h * cos + w * sin)) + 2
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    bgr = cv2.warpAffine(src.bgr, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(src.alpha, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0.0)
    cls = cv2.warpAffine(src.cls, m, (nw, nh), flags=cv2.INTER_NEAREST, borderValue=KEEP)
    out = Layer(bgr, alpha, cls)
    for b in src.barcodes:
        pts = np.hstack([b.corners, np.ones((4, 1))]) @ m.T
        out.barcodes.append(BarcodeMark(b.text, b.format, pts))
    return out


def lowfreq(rng: np.random.Generator, h: int, w: int, cells: int = 6) -> np.ndarray:
    """Smooth random field in about -1..1, built from a coarse grid so it costs next to nothing."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) * 0.6


_TILE = 1024


@functools.lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    # A fixed table of unit normals; frames take randomly placed and flipped windows of it: far cheaper
    # than drawing fresh normals for every pixel of every layer and still reproducible from the frame's seed.
    return np.random.default_rng(20240611).standard_normal((_TILE, _TILE), dtype=np.float32)


def grain(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Per-pixel Gaussian noise, H×W float32 with standard deviation sigma."""
    t = _noise_tile()
    k = int(rng.integers(4))
    if k & 1:
        t = t[::-1]
    if k & 2:
        t = t[:, ::-1]
    if k >= 2 and rng.random() < 0.5:
        t = t.T
    if h > _TILE or w > _TILE:
        t = np.tile(t, (h // _TILE + 2, w // _TILE + 2))
    oy = int(rng.integers(t.shape[0] - h + 1))
    ox = int(rng.integers(t.shape[1] - w + 1))
    return t[oy : oy + h, ox : ox + w] * np.float32(sigma)


def add_field(img: np.ndarray, field_: np.ndarray, where: np.ndarray | None = None) -> None:
    """Add a per-pixel brightness offset (H×W) to a uint8 BGR image in place."""
    out = img.astype(np.float32) + field_[..., None]
    res = np.clip(out, 0, 255).astype(np.uint8)
    if where is None:
        img[:] = res
    else:
        np.copyto(img, res, where=where[..., None])


def mul_field(img: np.ndarray, field_: np.ndarray, where: np.ndarray | None = None) -> None:
    out = img.astype(np.float32) * field_[..., None]
    res = np.clip(out, 0, 255).astype(np.uint8)
    if where is None:
        img[:] = res
    else:
        np.copyto(img, res, where=where[..., None])


def jitter_colour(
    rng: np.random.Generator, bgr: tuple[float, float, float], amount: float
) -> tuple[float, float, float]:
    v = np.clip(np.array(bgr, np.float64) + rng.normal(0, amount, 3), 0, 255)
    return float(v[0]), float(v[1]), float(v[2])


def grey(v: float) -> tuple[float, float, float]:
    return v, v, v
