"""A ruler the network calls a stamp, put right on the full-resolution frame before any check.

A pale or clear plastic ruler lying on white paper can come out of the network as a stamp region,
with no scale-bar region anywhere in the frame. Where a frame has no scale bar left, a stamp region
that reads as a ruler with at least `segmenter.stamp_ruler_min_bands` agreeing tick bands is
reported as a scale bar, and its reading gives the frame's scale. Real stamps make a few such bands
(a line of evenly spaced letters or digits), so the floor lies above what the stamps of the
calibration frames make; a frame that already has a scale bar keeps its stamps as they are, so a
stamped accession number beside the ruler is never taken for a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from edge.qc.scale import Reading, scale_bar_reading
from edge.segmentation.regions import Region


def rulers_called_stamps(regions: Sequence[Region], image: np.ndarray, long_side_mm: tuple[float, float],
                         min_ruler_bands: int) -> dict[int, Reading]:
    """The stamp regions (by id) that are rulers, with their readings, in a frame without a scale-bar
    region; none where it has one, or where `min_ruler_bands` is 0."""
    if min_ruler_bands <= 0 or any(r.class_name == "scale_bar" for r in regions):
        return {}
    found: dict[int, Reading] = {}
    for region in regions:
        if region.class_name == "stamp":
            reading = scale_bar_reading(image, region, long_side_mm)
            if reading is not None and reading[1] >= min_ruler_bands:
                found[region.id] = reading
    return found


def settle_stamp_regions(regions: Sequence[Region], image: np.ndarray, long_side_mm: tuple[float, float],
                         min_ruler_bands: int,
                         readings: dict[int, Reading]) -> tuple[list[Region], dict[int, Reading]]:
    """The regions with the rulers called stamps relabelled scale bar (ids kept), and the ruler
    readings (by id) with theirs added."""
    rulers = rulers_called_stamps(regions, image, long_side_mm, min_ruler_bands)
    settled = [replace(r, class_name="scale_bar") if r.id in rulers else r for r in regions]
    return settled, readings | rulers
