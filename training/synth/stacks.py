"""Label stacks and clusters: 3-7 slips overlapping, touching or pasted onto another label.

Each slip has its own outline (not always a clean rectangle) and throws a thin shadow on what lies under it,
so the edges between slips show as they do on old sheets. Every slip pixel is label class; the shadows do
not change the class of what they fall on.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import labels
from .layer import KEEP, Layer, rotated

LABEL = labels.LABEL


def _span(rng: np.random.Generator, lo: float, hi: float) -> int:
    """A position between lo and hi (lo when the slip is wider than the room)."""
    return int(lo + rng.random() * max(hi - lo, 0.0))


def _outline(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Alpha of a slip's shape: a rectangle, a trimmed quadrilateral or one with clipped corners."""
    a = np.zeros((h, w), np.float32)
    kind = rng.random()
    if kind < 0.55:
        a[:] = 1.0
        return a
    j = max(1.0, min(h, w) * 0.04)
    if kind < 0.85:
        # Trimmed by hand with scissors: the corners are a little off square.
        pts = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
        pts += rng.uniform(-j, 0, (4, 2)).astype(np.float32) * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    else:
        c = max(2.0, min(h, w) * float(rng.uniform(0.06, 0.15)))
        pts = np.array(
            [
                [c, 0],
                [w - 1 - c, 0],
                [w - 1, c],
                [w - 1, h - 1 - c],
                [w - 1 - c, h - 1],
                [c, h - 1],
                [0, h - 1 - c],
                [0, c],
            ],
            np.float32,
        )
    cv2.fillPoly(a, [np.round(pts * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
    return a


def slip(rng: np.random.Generator, w: int, h: int, kind: str) -> Layer:
    """One slip of the stack with its outline; class label on the slip's own pixels only."""
    lab = labels.label(rng, max(w, 8), max(h, 6), kind)
    a = _outline(rng, lab.h, lab.w)
    lab.alpha = a
    lab.cls = np.where(a >= 0.5, LABEL, KEEP).astype(np.uint8)
    return lab


def _shadow_of(s: Layer, rng: np.random.Generator) -> Layer:
    """A soft dark copy of the slip's outline, to be laid just below and right of it."""
    k = max(1, int(round(min(s.h, s.w) * 0.01)))
    a = cv2.GaussianBlur(s.alpha, (0, 0), k) * float(rng.uniform(0.25, 0.5))
    return Layer(np.zeros((s.h, s.w, 3), np.uint8), a.astype(np.float32), np.full((s.h, s.w), KEEP, np.uint8))


def label_stack(rng: np.random.Generator, w: int, h: int, n: int | None = None) -> Layer:
    """A cluster of n (3-7) slips built around a base label of w×h; cropped to what was drawn."""
    n = int(rng.integers(3, 8)) if n is None else n
    cw, ch = int(w * 1.8) + 8, int(h * 3.2) + 8
    out = Layer(np.zeros((ch, cw, 3), np.uint8), np.zeros((ch, cw), np.float32), np.full((ch, cw), KEEP, np.uint8))
    boxes: list[tuple[int, int, int, int]] = []
    off = max(1, int(round(min(w, h) * float(rng.uniform(0.01, 0.025)))))
    for i in range(n):
        if i == 0:
            sw, sh = w, h
            kind = "main" if rng.random() < 0.6 else "old"
        else:
            sw = int(w * float(rng.uniform(0.35, 0.95)))
            sh = int(h * float(rng.uniform(0.2, 0.55)))
            kind = str(rng.choice(["det", "hand", "old", "main"], p=[0.45, 0.25, 0.2, 0.1]))
        s = slip(rng, sw, sh, kind)
        if i > 0 and rng.random() < 0.15:
            s = rotated(s, 90.0)  # a slip turned on its side
        if i == 0:
            x, y = (cw - s.w) // 2, ch - s.h - 4
        else:
            bx0, by0, bx1, by1 = boxes[int(rng.integers(len(boxes)))]
            mode = rng.random()
            if mode < 0.35:
                # Overlapping the top of an earlier slip.
                x = _span(rng, bx0 - s.w * 0.2, bx1 - s.w * 0.8)
                y = int(by0 - s.h * float(rng.uniform(0.3, 0.8)))
            elif mode < 0.65:
                # Butted against an earlier slip, above or beside it.
                if rng.random() < 0.7:
                    x, y = _span(rng, bx0 - s.w * 0.1, bx1 - s.w * 0.9), by0 - s.h
                else:
                    x, y = (bx1 if rng.random() < 0.5 else bx0 - s.w), _span(rng, by0, max(by1 - s.h, by0 + 1))
            else:
                # Pasted onto an earlier label, inside it where it fits.
                x = _span(rng, bx0, max(bx1 - s.w, bx0 + 1))
                y = _span(rng, by0, max(by1 - s.h, by0 + 1))
        x = min(max(x, 0), cw - s.w)
        y = min(max(y, 0), ch - s.h)
        out.paste(_shadow_of(s, rng), x + off, y + off)
        out.paste(s, x, y)
        boxes.append((x, y, x + s.w, y + s.h))
    ys, xs = np.nonzero(out.alpha > 0.01)
    return Layer(
        out.bgr[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy(),
        out.alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy(),
        out.cls[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy(),
    )
