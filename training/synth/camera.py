"""Camera and capture effects: framing warp (with optional large tilts and quarter turns), lighting,
vignetting, white balance, blur, noise, JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from .layer import grain, lowfreq


def big_tilt(rng: np.random.Generator, p: float) -> tuple[float, float]:
    """With probability p a frame shot at a large tilt: (angle 8-45 degrees either way, zoom 0.7-1 so more
    of the tilted scene stays in shot); otherwise (0, 1)."""
    if rng.random() >= p:
        return 0.0, 1.0
    ang = float(rng.uniform(8, 45)) * (1.0 if rng.random() < 0.5 else -1.0)
    return ang, float(rng.uniform(0.7, 1.0))


def tilt_pad(out_w: int, out_h: int, tilt_deg: float, zoom: float, max_rot: float = 3.0) -> int:
    """Canvas padding that keeps a frame turned by tilt_deg (plus the small random turn) and zoomed out by
    zoom inside the drawn scene, so no replicated border smears into the corners."""
    a = np.deg2rad(abs(tilt_deg) + max_rot)
    c, s = abs(np.cos(a)), abs(np.sin(a))
    half_w = (out_w * c + out_h * s) / (2 * zoom)
    half_h = (out_w * s + out_h * c) / (2 * zoom)
    margin = 0.03 * max(out_w, out_h)  # keystone jitter
    return int(np.ceil(max(half_w - out_w / 2, half_h - out_h / 2, 0) + margin))


def frame_warp(
    rng: np.random.Generator,
    out_w: int,
    out_h: int,
    pad: int,
    max_rot: float = 3.0,
    max_persp: float = 0.012,
    tilt_deg: float = 0.0,
    zoom: float = 1.0,
) -> np.ndarray:
    """Homography from the padded scene canvas to the output frame: small rotation (plus tilt_deg), mild
    perspective, and a zoom about the frame centre (below 1 shows more of the scene)."""
    src = np.array(
        [[pad, pad], [pad + out_w, pad], [pad + out_w, pad + out_h], [pad, pad + out_h]], np.float32
    )
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    # Keystone from a camera not quite square to the stand: move frame corners a little.
    d = rng.uniform(-max_persp, max_persp, (4, 2)) * np.array([out_w, out_h])
    h = cv2.getPerspectiveTransform(src, (dst + d).astype(np.float32))
    ang = np.deg2rad(float(rng.uniform(-max_rot, max_rot)) + tilt_deg)
    c, s = np.cos(ang) * zoom, np.sin(ang) * zoom
    cx, cy = out_w / 2, out_h / 2
    rot = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
    return rot @ h


def apply_warp(
    img: np.ndarray, mask: np.ndarray, hmat: np.ndarray, out_w: int, out_h: int
) -> tuple[np.ndarray, np.ndarray]:
    im = cv2.warpPerspective(
        img, hmat, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    mk = cv2.warpPerspective(
        mask, hmat, (out_w, out_h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
    )
    return im, mk


def warp_points(pts: np.ndarray, hmat: np.ndarray) -> np.ndarray:
    p = np.hstack([pts, np.ones((len(pts), 1))]) @ hmat.T
    return p[:, :2] / p[:, 2:3]


def quarter_turn(
    img: np.ndarray, mask: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn frame and class map by k quarter turns counter-clockwise (every pixel kept); also returns the
    3x3 matrix that takes frame points to the turned frame."""
    k %= 4
    h, w = mask.shape[:2]
    m = np.eye(3)
    for _ in range(k):
        # np.rot90: (x, y) in an h×w image -> (y, w - x) in the w×h result.
        m = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, float(w)], [0.0, 0.0, 1.0]]) @ m
        h, w = w, h
    return np.ascontiguousarray(np.rot90(img, k)), np.ascontiguousarray(np.rot90(mask, k)), m


def _light_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Uneven illumination: gradient, vignette, soft blotches, sometimes a shadow edge (H×W multiplier)."""
    s = 16  # the field is smooth, so build it small and enlarge
    sh, sw = h // s + 2, w // s + 2
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx, yy = xx / sw - 0.5, yy / sh - 0.5
    gx, gy = rng.normal(0, 0.06, 2)
    f = 1 + gx * xx + gy * yy
    vig = float(rng.uniform(0.0, 0.3))
    f = f * (1 - vig * (xx * xx + yy * yy) * 1.6)
    f = f + lowfreq(rng, sh, sw, 3) * float(rng.uniform(0, 0.04))
    if rng.random() < 0.12:
        # A shadow edge across part of the frame (camera arm, operator).
        ang = float(rng.uniform(0, np.pi))
        off = float(rng.uniform(-0.5, 0.5))
        d = np.cos(ang) * xx + np.sin(ang) * yy - off
        f = f * (1 - float(rng.uniform(0.1, 0.3)) * (1 / (1 + np.exp(-d * 25))))
    return cv2.resize(f.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def defocus_kernel(radius: float) -> np.ndarray:
    """The blur a lens out of focus gives: a uniform disc of this radius in pixels (the circle of
    confusion), its rim anti-aliased by supersampling, normalised to sum 1."""
    ss = 8
    half = int(np.ceil(radius))
    n = (2 * half + 1) * ss
    c = (np.arange(n, dtype=np.float32) + 0.5) / ss - (half + 0.5)
    inside = ((c[None, :] ** 2 + c[:, None] ** 2) <= radius * radius).astype(np.float32)
    k = inside.reshape(2 * half + 1, ss, 2 * half + 1, ss).mean(axis=(1, 3))
    return k / k.sum()


def develop(
    rng: np.random.Generator, img: np.ndarray, blur_sigma: float, defocus_radius: float = 0.0
) -> np.ndarray:
    """Light, white-balance, optionally blur (Gaussian of blur_sigma and/or a defocus disc of
    defocus_radius, both in output pixels), add sensor noise and round-trip through JPEG."""
    h, w = img.shape[:2]
    field = _light_field(rng, h, w)
    exposure = float(rng.uniform(0.9, 1.08))
    wb = (np.array(rng.normal(1, 0.02, 3), np.float32) * exposure).astype(np.float32)
    out: np.ndarray = img.astype(np.float32)
    out *= field[..., None]
    out *= wb
    if blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigmaX=blur_sigma))
    if defocus_radius > 0:
        out = np.asarray(
            cv2.filter2D(out, -1, defocus_kernel(defocus_radius), borderType=cv2.BORDER_REPLICATE)
        )
    sigma = float(rng.uniform(0.5, 3.5))
    out += grain(rng, h, w, sigma)[..., None]
    if rng.random() < 0.4:
        for c in range(3):
            out[..., c] += grain(rng, h, w, sigma * 0.5)
    res = np.clip(out, 0, 255).astype(np.uint8)
    q = int(rng.integers(55, 96))
    ok, buf = cv2.imencode(".jpg", res, [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        return res
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return res if dec is None else np.asarray(dec)
