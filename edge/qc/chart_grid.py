"""Is a colour-chart region a real chart? Find its grid of uniform patches, and read a ColorChecker 24.

A chart is a set of flat, similarly sized, differently coloured patches lined up in rows and
columns. Paper painted over, a label, or a leaf has at most a few flat areas of one colour, so
a region the segmenter calls a chart only counts when this structure is there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from edge.qc.colour_science import (
    COLORCHECKER24_COLS,
    COLORCHECKER24_LAB_D50,
    COLORCHECKER24_ROWS,
    delta_e_2000,
    srgb_to_lab_d50,
)
from edge.qc.colour_target import TargetMatch, layout_score, match_classic24

# Charts are analysed at most this many pixels on the long side, but strips keep at least this
# many across, so the patches of a long, narrow chart are not shrunk away.
_WORK_LONG_SIDE = 480
_WORK_MIN_SHORT_SIDE = 64
# A small crop (a chart photographed from afar, a low-resolution frame) where no chart was found is
# looked at again enlarged, up to this many times, until its short side reaches _SMALL_SHORT_SIDE:
# patches only a few pixels wide vanish in the edge band around each patch.
_MAX_ENLARGE = 3.0
_SMALL_SHORT_SIDE = 160
# Gradient (0..1 colour scale per pixel) above which a pixel is an edge, not a patch interior.
_EDGE_GRADIENT = 0.05
# Patches whose mean colours differ by less than this (8-bit units, Euclidean) count as one colour:
# a ruler's black and white blocks, with their JPEG and print variations, stay two colours.
_DISTINCT_COLOUR = 40.0


@dataclass(frozen=True)
class Patch:
    centre: tuple[float, float]  # x, y in crop pixels
    size: tuple[float, float]  # width, height in crop pixels
    colour_bgr: tuple[float, float, float]  # mean, 0..255


@dataclass(frozen=True)
class ChartGrid:
    patches: list[Patch]
    distinct_colours: int
    pitch_px: float  # median centre-to-centre distance of neighbouring patches, in crop pixels
    analysed_scale: float = 1.0  # crop pixels per pixel of the image the patches were found in

    @property
    def count(self) -> int:
        return len(self.patches)


def to_unit_bgr(crop: np.ndarray) -> np.ndarray:
    scale = 1.0 / 65535.0 if crop.dtype == np.uint16 else 1.0 / 255.0
    return crop.astype(np.float32) * np.float32(scale)


def find_patch_grid(crop: np.ndarray, enlarge: bool = False, reduce: bool = False) -> ChartGrid:
    """The patches of a chart-like grid in a BGR crop (any size, uint8 or uint16). enlarge: look
    again at a small crop enlarged; reduce: look again at half the working size (second tries,
    where the first found no chart)."""
    h, w = crop.shape[:2]
    scale = min(1.0, max(_WORK_LONG_SIDE / max(h, w), _WORK_MIN_SHORT_SIDE / max(1, min(h, w))))
    if enlarge and scale == 1.0 and min(h, w) < _SMALL_SHORT_SIDE:
        scale = min(_MAX_ENLARGE, _SMALL_SHORT_SIDE / max(1, min(h, w)))
    if reduce:
        # a small card at capture resolution: its patches' print texture and sensor noise break
        # them into pieces; averaging pixels together makes them flat again
        scale *= 0.5
    if scale == 1.0:
        small = crop
    else:
        small = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    unit = to_unit_bgr(small)
    if min(unit.shape[:2]) < 6:
        return ChartGrid([], 0, 0.0)
    smooth = cv2.GaussianBlur(unit, (0, 0), 0.8)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    # the steepest channel's gradient; the channel maximum taken plane by plane (numpy's reduction
    # over a 3-long last axis is several times slower), and one square root after it
    planes = list(cv2.split(cv2.add(cv2.multiply(gx, gx), cv2.multiply(gy, gy))))
    steepest = planes[0]
    for plane in planes[1:]:
        steepest = cv2.max(steepest, plane)
    gradient = cv2.sqrt(steepest)
    flat: np.ndarray = (gradient < _EDGE_GRADIENT).astype(np.uint8)
    # one pixel of erosion splits patches that touch through a soft boundary
    flat = cv2.erode(flat, np.ones((3, 3), np.uint8))
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(flat, connectivity=4)
    area_total = unit.shape[0] * unit.shape[1]
    candidates: list[tuple[int, float, float, float, float]] = []
    for comp in range(1, count):
        x, y, cw, ch, area = (int(v) for v in stats[comp])
        if area < 12 or area > 0.4 * area_total:
            continue
        # compact, and no longer than five times its width (strip charts have tall patches)
        if area < 0.55 * cw * ch or not 0.2 <= cw / ch <= 5.0:
            continue
        candidates.append((comp, float(centroids[comp][0]), float(centroids[comp][1]), float(cw), float(ch)))
    if len(candidates) < 2:
        return ChartGrid([], 0, 0.0)
    sizes = np.array([np.sqrt(c[3] * c[4]) for c in candidates])
    typical = float(np.median(sizes))
    candidates = [c for c, s in zip(candidates, sizes, strict=True) if 0.55 * typical <= s <= 1.8 * typical]
    aligned = _aligned(candidates)
    if len(aligned) < 2:
        return ChartGrid([], 0, 0.0)
    patches: list[Patch] = []
    for comp, cx, cy, pw, ph in aligned:
        mask = labels == comp
        colour = small[mask].astype(np.float64).mean(axis=0) / (257.0 if crop.dtype == np.uint16 else 1.0)
        patches.append(Patch((cx / scale, cy / scale), (pw / scale, ph / scale),
                             (float(colour[0]), float(colour[1]), float(colour[2]))))
    return ChartGrid(patches, _distinct_colours(patches), _pitch(patches), 1.0 / scale)


def _aligned(candidates: list[tuple[int, float, float, float, float]]) -> list[tuple[int, float, float, float, float]]:
    """Patches sharing a row or a column with at least two others: the grid, without stray blobs."""
    keep = []
    for c in candidates:
        tol = 0.35 * min(c[3], c[4])
        same_row = sum(1 for o in candidates if o is not c and abs(o[2] - c[2]) < tol)
        same_col = sum(1 for o in candidates if o is not c and abs(o[1] - c[1]) < tol)
        if same_row >= 2 or same_col >= 2:
            keep.append(c)
    return keep


def _distinct_colours(patches: list[Patch]) -> int:
    groups: list[np.ndarray] = []
    for p in patches:
        colour = np.array(p.colour_bgr)
        if all(np.linalg.norm(colour - g) >= _DISTINCT_COLOUR for g in groups):
            groups.append(colour)
    return len(groups)


def _pitch(patches: list[Patch]) -> float:
    if len(patches) < 2:
        return 0.0
    centres = np.array([p.centre for p in patches])
    d = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def is_chart(grid: ChartGrid, min_patches: int) -> bool:
    # distinct colours: a grid of one colour is a pattern (tiles, a ruler), not a chart
    return grid.count >= min_patches and grid.distinct_colours >= min(4, min_patches)


@dataclass(frozen=True)
class ColorCheckerReading:
    lab: np.ndarray  # (24, 3) measured CIELAB D50 in reference patch order
    delta_e: np.ndarray  # (24,) CIEDE2000 against the reference
    pitch_px: float
    match: TargetMatch  # how well the grid fits the Classic 24 layout


# A patch's colour is the mean of the middle half of its window's values, per channel: as robust to
# dust and specks as the median, and finer than one 8-bit step.
def _patch_colour(pixels: np.ndarray) -> np.ndarray:
    ordered = np.sort(pixels.astype(np.float64), axis=0)
    n = ordered.shape[0]
    return np.asarray(ordered[n // 4:max(n // 4 + 1, n - n // 4)].mean(axis=0))


def read_colorchecker24(crop: np.ndarray, grid: ChartGrid,
                        to_srgb: Callable[[np.ndarray], np.ndarray] | None = None) -> ColorCheckerReading | None:
    """Sample the 24 patches of a 4 x 6 grid as a ColorChecker Classic, in the orientation (any of
    the four) that best fits its layout; reading.match says whether it is one. to_srgb converts the
    sampled BGR pixels of a frame with an embedded colour profile to sRGB (same scale, float)."""
    if grid.count < 16 or grid.pitch_px <= 0:
        return None
    centres = np.array([p.centre for p in grid.patches])
    pitch = grid.pitch_px
    origin = centres.min(axis=0)
    cells = np.round((centres - origin) / pitch).astype(int)
    cols, rows = int(cells[:, 0].max()) + 1, int(cells[:, 1].max()) + 1
    if sorted((rows, cols)) != [COLORCHECKER24_ROWS, COLORCHECKER24_COLS]:
        return None
    # refine the lattice from the patches themselves, then sample every cell (also the dark ones
    # the patch finder may have missed against a black surround)
    step = np.array([np.polyfit(cells[:, k], centres[:, k], 1)[0] if len(set(cells[:, k])) > 1 else pitch
                     for k in (0, 1)])
    start = np.array([np.median(centres[:, k] - cells[:, k] * step[k]) for k in (0, 1)])
    half = max(1, int(0.2 * min(step)))
    bgr = np.zeros((rows, cols, 3))
    for r in range(rows):
        for c in range(cols):
            x, y = (start + np.array([c, r]) * step).round().astype(int)
            window = crop[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1]
            if window.size == 0:
                return None
            pixels = window.reshape(-1, 3)
            bgr[r, c] = _patch_colour(to_srgb(pixels) if to_srgb is not None else pixels)
    full = 65535.0 if crop.dtype == np.uint16 else 255.0
    lab = srgb_to_lab_d50(bgr[..., ::-1] / full)
    fraction = _patch_fraction(crop, start, step, rows, cols)
    best: tuple[float, np.ndarray] | None = None
    for turns in range(4):
        grid_lab = np.rot90(lab, turns)
        if grid_lab.shape[:2] != (COLORCHECKER24_ROWS, COLORCHECKER24_COLS):
            continue
        ordered = grid_lab.reshape(24, 3)
        score = layout_score(ordered)
        if best is None or score > best[0]:
            best = (score, ordered)
    assert best is not None  # two of the four turns have the reference's shape
    ordered = best[1]
    return ColorCheckerReading(ordered, delta_e_2000(ordered, COLORCHECKER24_LAB_D50), float(np.mean(step)),
                               match_classic24(ordered, fraction))


def _patch_fraction(crop: np.ndarray, start: np.ndarray, step: np.ndarray, rows: int, cols: int) -> float | None:
    """The median share of the pitch that a patch covers, measured along the row and the column
    through each patch centre: where the colour stays close to the centre's. None: not measurable."""
    unit = crop.astype(np.float64) / (257.0 if crop.dtype == np.uint16 else 1.0)
    h, w = unit.shape[:2]
    shares = []
    for r in range(rows):
        for c in range(cols):
            x, y = (start + np.array([c, r]) * step).round().astype(int)
            if not (0 <= x < w and 0 <= y < h):
                continue
            centre = np.median(unit[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3), axis=0)
            for axis, pitch in ((0, step[0]), (1, step[1])):
                reach = int(round(pitch))
                if reach < 8:
                    return None
                lo, hi = (max(0, x - reach), min(w, x + reach + 1)) if axis == 0 else \
                         (max(0, y - reach), min(h, y + reach + 1))
                line = unit[y, lo:hi] if axis == 0 else unit[lo:hi, x]
                distance = np.linalg.norm(line - centre, axis=1)
                inside = distance < max(12.0, 0.5 * float(np.percentile(distance, 95)))
                mid = (x if axis == 0 else y) - lo
                a, b = mid, mid
                while a > 0 and inside[a - 1]:
                    a -= 1
                while b < len(inside) - 1 and inside[b + 1]:
                    b += 1
                if a > 0 and b < len(inside) - 1:  # the patch ended on both sides within the line
                    shares.append((b - a + 1) / pitch)
    return float(np.median(shares)) if len(shares) >= 12 else None
