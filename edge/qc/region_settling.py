"""The segmenter's regions checked against the full-resolution frame, before any quality check sees
them: scale bars without a ruler dropped, then the chart regions settled (`chart_regions`), then a
ruler called stamp made scale bar where none is left (`stamp_regions`). (Growing
the scale bars along their rulers, `ruler_extent`, changes no check's input and runs beside the
checks.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.qc.chart_regions import settle_chart_regions
from edge.qc.scale import Reading, keep_ruler_regions
from edge.qc.settings import ProfileSettings
from edge.qc.stamp_regions import settle_stamp_regions
from edge.segmentation.regions import Region
from edge.segmentation.settings import SegmenterSettings


def settle_regions(regions: Sequence[Region], image: np.ndarray, segmenter: SegmenterSettings,
                   profile: ProfileSettings) -> tuple[list[Region], dict[int, Reading]]:
    """The regions the checks see, ids in order, and the ruler readings made on the way (by id)."""
    frame_mm = profile.scale.frame_long_side_mm
    long_side_mm = (frame_mm[0], frame_mm[1])
    settled, readings = keep_ruler_regions(regions, image, long_side_mm, segmenter.scale_bar_min_ruler_bands)
    if segmenter.check_chart_regions:
        settled, readings = settle_chart_regions(settled, image, long_side_mm, segmenter.chart_ruler_min_bands,
                                                 profile.colour_chart.min_patches, readings)
    if segmenter.stamp_ruler_min_bands > 0:
        settled, readings = settle_stamp_regions(settled, image, long_side_mm, segmenter.stamp_ruler_min_bands,
                                                 readings)
    return settled, readings
