"""Pixels per millimetre of a frame, from the scale bar's tick marks or the chart's patch pitch.

A ruler is read as a comb: the profile of horizontal gradient along its long side, taken in bands
across its short side (the tick band is the most periodic one; printed text, colour patches and the
ruler's edges are not), gives an autocorrelation with peaks at the tick spacing and its multiples.
The finest spacing that carries the pattern is the comb's period. That period is a millimetre where
the mm ticks are resolved, but 5 mm or a centimetre on a ruler with only centimetre blocks or at low
resolution; it is read as 1, 5 or 10 mm, whichever puts the frame's long side inside the profile's
physical range (`scale.frame_long_side_mm`), the finest such reading first.

Many rulers carry an inch scale along one edge and a metric one along the other, and the inch
ticks (1/16 or 1/8 inch, hierarchically longer every 2, 4 and 8) often make the more regular comb.
Read alone, a 1/16 inch period (1.59 mm) passes for a millimetre. Where two bands' periods stand in
the ratio of an inch unit to a metric one (1/16 inch to 1 mm, 1/8 inch to 1 cm, ...), the ruler
has both scales and the metric band is the one read.

The strongest band is not always the ruler's: a line of printed characters at an even pitch, a
resolution wedge or a patch row can make one clear comb at a spacing that is no ruler unit at all.
A ruler's bands agree with each other: at the true scale, the ticks, the 2 mm, 5 mm and centimetre
marks and an inch scale's units are all ruler units. So every reading a band allows (its period as
1, 5 or 10 mm within the frame's range) is checked against every band, and where another reading is
borne out by more bands (at least two) than the chosen one, that reading is taken.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from edge.qc.base import FrameContext
from edge.qc.chart_analysis import chart_grids
from edge.segmentation.regions import Region

# FrameContext.cache: each scale-bar region's ruler reading (region id -> (px/mm, agreeing bands) or
# None), made once where the regions are checked for ticks and reused for the frame's scale
RULER_READINGS_KEY = "ruler_readings"

# Millimetre ticks closer than this many pixels are not resolved.
_MIN_PERIOD_PX = 3.0
# What a found period may stand for, in mm: mm ticks, 5 mm marks, centimetre marks or blocks.
_PERIOD_MM = (1.0, 5.0, 10.0)
# A band is periodic when its normalised autocorrelation reaches this at the comb's period.
_MIN_CORRELATION = 0.3
# A finer spacing is the comb's period when the correlation there is this share of the best peak's.
_FUNDAMENTAL_SHARE = 0.6
# Without the frame's size, any finer comb this strong counts as the millimetres.
_FINEST_SHARE = 0.3
# Inch units a ruler's ticks or marks may have, in mm: the binary fractions from 1/16 inch (a tenth of
# an inch, 2.54 mm, is too close to half a 5 mm mark to be told from it; 1/32 inch, 0.79 mm, would
# make a millimetre comb beside a 5 mm one look like an inch scale).
_INCH_UNITS_MM = tuple(25.4 / d for d in (16, 8, 4, 2, 1))
# The strongest band is an inch scale when its period is this close to an inch unit at the scale
# another band's metric period gives, and that band's score is at least this share of the strongest.
_PAIR_TOLERANCE = 0.025
_PAIR_MIN_SHARE = 0.1
# Lengths a ruler's bands repeat at, in mm: ticks, 2 mm ticks, 5 mm and centimetre marks, inch units.
_RULER_UNITS_MM = (1.0, 2.0, 5.0, 10.0, *_INCH_UNITS_MM)
# A reading replaces the chosen one only when at least this many bands bear it out.
_MIN_AGREEING_BANDS = 2
# The comb must repeat at least this many times along the ruler.
_MIN_REPEATS = 3
# Bands across the short side: this many, overlapping by half.
_BANDS = 8
_JPEG_BLOCK = 8


def _without_block_grid(profiles: np.ndarray) -> np.ndarray:
    """The profiles (one per row) less their component of period 8 px: JPEG's 8 x 8 blocks leave a
    faint comb at that spacing on smooth or noisy surfaces, stronger there than a ruler's ticks in a
    band without them."""
    size = profiles.shape[1]
    n = size - size % _JPEG_BLOCK
    if n < 4 * _JPEG_BLOCK:
        return profiles
    phase = profiles[:, :n].reshape(profiles.shape[0], -1, _JPEG_BLOCK).mean(axis=1)
    phase = phase - phase.mean(axis=1, keepdims=True)
    return profiles - np.tile(phase, (1, -(-size // _JPEG_BLOCK)))[:, :size]


def _autocorrelation(profiles: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of each row (1 at lag 0), each lag divided by its overlap."""
    n = profiles.shape[1]
    x = profiles - profiles.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(x, 2 * n, axis=1)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n, axis=1)[:, :n]
    acf = acf / np.arange(n, 0, -1)
    zero = acf[:, :1]
    flat = zero[:, 0] <= 1e-12
    return np.where(flat[:, None], 0.0, acf / np.where(flat[:, None], 1.0, zero))


def _peak(acf: np.ndarray, lag: int) -> float:
    """Sub-pixel position of the local maximum at `lag` (parabola through three lags)."""
    a, b, c = acf[lag - 1], acf[lag], acf[lag + 1]
    denom = a - 2 * b + c
    return lag + (0.5 * (a - c) / denom if denom < 0 else 0.0)


def _comb_period(acf: np.ndarray, lo: float, hi: float, share: float) -> tuple[float, float] | None:
    """The comb's period in px between lo and hi and its correlation, or None where none stands out."""
    start, stop = max(2, int(np.ceil(lo))), min(acf.size - 2, int(np.floor(hi)))
    if stop <= start:
        return None
    seg = acf[start - 1:stop + 2]
    is_max = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])
    lags = np.flatnonzero(is_max) + start
    if lags.size == 0:
        return None
    best = int(lags[np.argmax(acf[lags])])
    strength = float(acf[best])
    if strength < _MIN_CORRELATION:
        return None
    best_pos = _peak(acf, best)
    for lag in lags[lags <= best]:  # finest first
        if acf[lag] < share * strength:
            continue
        pos = _peak(acf, int(lag))
        k = round(best_pos / pos)
        if k >= 1 and abs(best_pos / pos - k) <= 0.08 * k ** 0.5:
            return best_pos / k, strength  # the far peak fixes the period more precisely
    return best_pos, strength


def ruler_px_per_mm(gray: np.ndarray, long_side_px: int | None = None,
                    long_side_mm: tuple[float, float] = (250.0, 750.0)) -> float | None:
    """Pixels per mm of a ruler crop (grey float, any orientation), or None when it shows no clear
    periodic tick pattern. With the frame's long side in pixels, the tick period is read as 1, 5 or
    10 mm to fit the frame's physical range `long_side_mm`; without it, as millimetre ticks."""
    reading = ruler_reading(gray, long_side_px, long_side_mm)
    return reading[0] if reading is not None else None


def ruler_reading(gray: np.ndarray, long_side_px: int | None = None,
                  long_side_mm: tuple[float, float] = (250.0, 750.0)) -> tuple[float, int] | None:
    """`ruler_px_per_mm` with how many of the crop's bands bear the reading out (repeat at a ruler
    unit at that scale): the more, the more surely the crop is a ruler read right."""
    length = max(gray.shape[:2])
    if long_side_px:
        readings = [(m, m * long_side_px / long_side_mm[1], m * long_side_px / long_side_mm[0])
                    for m in _PERIOD_MM]
        share = _FUNDAMENTAL_SHARE
    else:  # nothing to tell a centimetre from a millimetre by: the finest comb is the mm ticks
        readings = [(1.0, _MIN_PERIOD_PX, float(length))]
        share = _FINEST_SHARE
    lo = max(_MIN_PERIOD_PX, min(r[1] for r in readings))
    hi = min(max(r[2] for r in readings), (length - 1) / _MIN_REPEATS)
    combs = band_combs(gray, lo, hi, share)
    if not combs:
        return None
    px_per_mm = _px_per_mm_of_combs(combs, readings, with_frame_range=bool(long_side_px))
    return (px_per_mm, _agreeing_bands(px_per_mm, combs)) if px_per_mm is not None else None


def band_combs(gray: np.ndarray, lo: float, hi: float, share: float = _FUNDAMENTAL_SHARE) -> list[tuple[float, float]]:
    """The periodic bands across a ruler crop (grey, any orientation): each band's comb period (px,
    between lo and hi) and its score."""
    along = 1 if gray.shape[1] >= gray.shape[0] else 0  # the ruler's long axis
    length, across = gray.shape[along], gray.shape[1 - along]
    if length < 40 or across < 2:
        return []
    # tick edges run across the long side: gradient along it, summed over bands of the short side
    # (every other line across a wide ruler: ticks are many lines long)
    if across > 64:
        gray = gray[::2] if along == 1 else gray[:, ::2]
        across = gray.shape[1 - along]
    diff = np.abs(np.diff(gray.astype(np.float32), axis=along))
    sums = np.cumsum(diff, axis=1 - along, dtype=np.float32)
    sums = np.concatenate([np.zeros((1, sums.shape[1])), sums]) if along == 1 else \
        np.concatenate([np.zeros((sums.shape[0], 1)), sums], axis=1)
    height = max(2, across // _BANDS)
    edges = sorted({*range(0, across - height + 1, max(1, height // 2)), across - height})
    bands = [(a, a + height) for a in edges] + [(0, across)]
    starts = np.array([a for a, _ in bands])
    stops = np.array([b for _, b in bands])
    # every band's profile along the ruler at once (one row each): fewer, larger numpy calls
    profiles = ((sums[stops] - sums[starts]) if along == 1 else (sums[:, stops] - sums[:, starts]).T) \
        / (stops - starts)[:, None]
    profiles = _without_block_grid(profiles)
    acfs = _autocorrelation(profiles)
    spreads = profiles.std(axis=1)
    combs: list[tuple[float, float]] = []
    for acf, spread in zip(acfs, spreads, strict=True):
        comb = _comb_period(acf, lo, hi, share)
        if comb is None or comb[0] < lo:
            continue
        # the tick band: the strongest periodic edges (correlation times the profile's spread), the
        # more so the more often the comb repeats (a ruler repeats its millimetres far more often
        # than colour patches or printed text their spacing; faint texture in the surround is weak)
        combs.append((comb[0], comb[1] * float(spread) * (length / comb[0]) ** 0.5))
    return combs


def agreeing_band_count(gray: np.ndarray, px_per_mm: float) -> int:
    """How many bands across a crop repeat at a ruler unit at this scale."""
    length = max(gray.shape[:2])
    lo = max(_MIN_PERIOD_PX, px_per_mm * min(_RULER_UNITS_MM) * (1 - _PAIR_TOLERANCE))
    hi = min(px_per_mm * max(_RULER_UNITS_MM) * (1 + _PAIR_TOLERANCE), (length - 1) / _MIN_REPEATS)
    if hi <= lo:
        return 0
    return _agreeing_bands(px_per_mm, band_combs(gray, lo, hi))


def _px_per_mm_of_combs(combs: list[tuple[float, float]], readings: list[tuple[float, float, float]],
                        with_frame_range: bool) -> float | None:
    """The scale the bands give: the strongest band's (or the metric band beside an inch scale),
    unless another reading is borne out by more of the bands."""
    metric = _metric_beside_inches(combs, readings) if with_frame_range else None
    period = metric if metric is not None else max(combs, key=lambda c: c[1])[0]
    mm = _finest_reading(period, readings)
    chosen = period / mm if mm is not None else None
    if not with_frame_range:
        return chosen
    # readings of the bands clear enough to be a scale of their own (as for an inch scale's pairing)
    clear = _PAIR_MIN_SHARE * max(score for _, score in combs)
    candidates = {p / unit for p, score in combs if score >= clear
                  for unit, p_lo, p_hi in readings if p_lo <= p <= p_hi}
    if not candidates:
        return chosen
    # most bands first; among equals, the reading nearest the chosen one (ties keep it)
    best = max(sorted(candidates), key=lambda s: (_agreeing_bands(s, combs), -abs(s - (chosen or 0.0))))
    best_count = _agreeing_bands(best, combs)
    if best_count >= _MIN_AGREEING_BANDS and best_count > (_agreeing_bands(chosen, combs) if chosen else 0):
        return best
    return chosen


def _agreeing_bands(px_per_mm: float, combs: list[tuple[float, float]]) -> int:
    """How many bands repeat at a ruler unit at this scale."""
    return sum(1 for period, _ in combs
               if any(abs(period / (px_per_mm * unit) - 1) <= _PAIR_TOLERANCE for unit in _RULER_UNITS_MM))


def _metric_beside_inches(combs: list[tuple[float, float]],
                          readings: list[tuple[float, float, float]]) -> float | None:
    """Where the strongest band's period is an inch unit and another band (at least _PAIR_MIN_SHARE
    as clear) is a metric unit at the same scale, that band's period; None otherwise (the strongest
    band is read)."""
    best_period, best_score = max(combs, key=lambda c: c[1])
    best_mm = _finest_reading(best_period, readings)
    found: tuple[float, float] | None = None  # (metric period, its score)
    for period, score in combs:
        if score < _PAIR_MIN_SHARE * best_score:
            continue
        ratio = max(period, best_period) / min(period, best_period)
        if abs(ratio - round(ratio)) < 0.05 * round(ratio):
            continue  # a multiple of the same comb (its marks every 2nd, 5th, 10th tick), not a second scale
        for metric_mm, p_lo, p_hi in readings:
            if p_lo <= period <= p_hi and _is_inch_unit(best_period / (period / metric_mm)):
                if best_mm is not None and _is_inch_unit(period / (best_period / best_mm)):
                    # either band may be the metric one (1/16 inch beside 1 cm and 1 mm beside 1/4 inch
                    # have the same ratio): the reading that puts the frame nearer the middle of its
                    # physical range is taken
                    middle = _middle_px_per_mm(readings)
                    if abs(math.log(best_period / best_mm / middle)) <= abs(math.log(period / metric_mm / middle)):
                        break
                if found is None or score > found[1]:
                    found = (period, score)
                break
    return found[0] if found is not None else None


def _middle_px_per_mm(readings: list[tuple[float, float, float]]) -> float:
    """px/mm that puts the frame's long side at the geometric middle of its physical range."""
    mm, p_lo, p_hi = readings[0]
    return math.sqrt(p_lo * p_hi) / mm


def _is_inch_unit(length_mm: float) -> bool:
    return any(abs(length_mm / unit - 1) <= _PAIR_TOLERANCE for unit in _INCH_UNITS_MM)


def _finest_reading(period: float, readings: list[tuple[float, float, float]]) -> float | None:
    """The mm a period stands for on its own: the finest reading that fits the frame's range."""
    return next((mm for mm, p_lo, p_hi in readings if p_lo <= period <= p_hi), None)


Reading = tuple[float, int] | None


def scale_bar_reading(image: np.ndarray, region: Region, long_side_mm: tuple[float, float]) -> Reading:
    """`ruler_reading` of a region's crop of the frame (`image` at its full size)."""
    x0, y0, x1, y1 = region.bbox
    crop = image[y0:y1, x0:x1]
    if crop.size == 0:
        return None
    gray = crop[..., 1] if crop.ndim == 3 else crop  # green: close to luminance, no conversion pass
    return ruler_reading(gray, max(image.shape[:2]), long_side_mm)


def keep_ruler_regions(regions: Sequence[Region], image: np.ndarray, long_side_mm: tuple[float, float],
                       min_bands: int) -> tuple[list[Region], dict[int, Reading]]:
    """The regions, less the scale-bar regions whose crop of the frame shows no ruler: fewer than
    `min_bands` bands repeating at ruler units at one scale (a logo, a line of handwriting, a
    textured surround). Ids are renumbered in order; the readings made are returned by new id.
    `min_bands` 0 keeps every region (and reads none)."""
    if min_bands <= 0:
        return list(regions), {}
    kept: list[Region] = []
    readings: dict[int, Reading] = {}
    for region in regions:
        reading = None
        if region.class_name == "scale_bar":
            reading = scale_bar_reading(image, region, long_side_mm)
            if reading is None or reading[1] < min_bands:
                continue
        kept.append(replace(region, id=len(kept)))
        if region.class_name == "scale_bar":
            readings[kept[-1].id] = reading
    return kept, readings


def frame_px_per_mm(frame: FrameContext) -> float | None:
    """The frame's scale: the scale bar first, else the chart pitch when the profile gives it (the
    chart grids are only asked for then)."""
    cached = frame.cache.get("px_per_mm", False)
    if cached is not False:
        return cached
    value: float | None = None
    frame_mm = frame.profile.scale.frame_long_side_mm
    # the two largest scale-bar regions; where both give a reading, the one more of its bands bear
    # out (a false region on a patterned surround or a line of text gives a comb, rarely agreeing ones)
    best_agreeing = 0
    made: dict[int, Reading] = frame.cache.get(RULER_READINGS_KEY, {})
    for region in sorted(frame.regions_of("scale_bar"), key=lambda r: r.area_px, reverse=True)[:2]:
        if region.id in made:
            reading = made[region.id]
        else:
            reading = scale_bar_reading(frame.image, region, (frame_mm[0], frame_mm[1]))
        if reading is not None and reading[1] > best_agreeing:
            value, best_agreeing = reading
    pitch_mm = frame.profile.colour_chart.patch_pitch_mm
    if value is None and pitch_mm:
        pitches = [grid.pitch_px for _, grid in chart_grids(frame) if grid.pitch_px > 0]
        if pitches:
            value = max(pitches) / pitch_mm
    frame.cache["px_per_mm"] = value
    frame.findings.px_per_mm = value
    return value
