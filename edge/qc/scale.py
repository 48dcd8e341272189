"""Pixels per millimetre of a frame, from the scale bar's tick marks or the chart's patch pitch."""

from __future__ import annotations

import numpy as np

from edge.qc.base import FrameContext
from edge.qc.chart_grid import ChartGrid
from edge.segmentation.regions import Region

# A ruler read at fewer than this many pixels per mm has unresolved millimetre ticks.
_MIN_PX_PER_MM, _MAX_PX_PER_MM = 2.0, 80.0
# The tick peak must stand this far above the spectrum's median to be believed.
_PEAK_OVER_MEDIAN = 6.0


def ruler_px_per_mm(gray: np.ndarray) -> float | None:
    """Millimetre tick period of a ruler crop (grey float), from the spectrum of its profile along
    the long side; None when no clear periodic tick pattern is there."""
    if gray.shape[0] > gray.shape[1]:
        gray = gray.T
    if gray.shape[1] < 40:
        return None
    # tick edges run across the long side: horizontal differences, averaged over the short side
    profile = np.abs(np.diff(gray.astype(np.float64), axis=1)).mean(axis=0)
    profile = profile - profile.mean()
    spectrum = np.abs(np.fft.rfft(profile * np.hanning(profile.size)))
    freqs = np.fft.rfftfreq(profile.size)
    usable = (freqs >= 1 / _MAX_PX_PER_MM) & (freqs <= 1 / _MIN_PX_PER_MM)
    if usable.sum() < 3:
        return None
    band = spectrum[usable]
    peak = int(np.argmax(band))
    if band[peak] < _PEAK_OVER_MEDIAN * float(np.median(band)) + 1e-9:
        return None
    return float(1.0 / freqs[usable][peak])


def frame_px_per_mm(frame: FrameContext, chart_grids: list[tuple[Region, ChartGrid]]) -> float | None:
    """The frame's scale: the scale bar first, else the chart pitch when the profile gives it."""
    cached = frame.cache.get("px_per_mm", False)
    if cached is not False:
        return cached
    value: float | None = None
    for region in sorted(frame.regions_of("scale_bar"), key=lambda r: r.area_px, reverse=True)[:2]:
        x0, y0, x1, y1 = region.bbox
        crop = frame.image[y0:y1, x0:x1]
        if crop.size == 0:
            continue
        gray = crop[..., 1].astype(np.float32)  # green: close to luminance, no conversion pass
        value = ruler_px_per_mm(gray)
        # a frame shows between about 80 mm (a slide) and 700 mm (a large sheet with its surround):
        # a reading outside that mistook the centimetre marks for millimetres, or the reverse
        long_side = max(frame.width, frame.height)
        if value is not None and not long_side / 700 <= value <= long_side / 80:
            value = None
        if value is not None:
            break
    pitch_mm = frame.profile.colour_chart.patch_pitch_mm
    if value is None and pitch_mm:
        pitches = [grid.pitch_px for _, grid in chart_grids if grid.pitch_px > 0]
        if pitches:
            value = max(pitches) / pitch_mm
    frame.cache["px_per_mm"] = value
    frame.findings.px_per_mm = value
    return value
