"""A ruler the network calls a stamp, made a scale bar where the frame has none (edge/qc/stamp_regions.py)."""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import load_settings
from edge.qc.region_settling import settle_regions
from edge.qc.stamp_regions import rulers_called_stamps, settle_stamp_regions
from tests.qc.images import draw_text_block, paper, paste, region
from tests.qc.test_scale import mm_ruler

SHEET_MM = (250.0, 750.0)
PX_PER_MM = 8.0


def pale_ruler_frame() -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A sheet with a pale plastic ruler (light grey ticks on near-white) and a stamp of text strokes;
    the ruler's box and the stamp's."""
    image = paper(2400, 3600)
    ticks = np.clip(mm_ruler(PX_PER_MM, height=30), 0, 255)
    pale = (235 - (235 - ticks) * 0.45).astype(np.uint8)  # clear plastic: faint ticks on the paper
    ruler_box = paste(image, cv2.cvtColor(pale, cv2.COLOR_GRAY2BGR), 150, 3300)
    stamp_box = (1400, 600, 1900, 760)
    draw_text_block(image, stamp_box, seed=5)
    return image, ruler_box, stamp_box


def test_a_ruler_called_stamp_is_a_scale_bar_where_the_frame_has_none() -> None:
    image, ruler_box, stamp_box = pale_ruler_frame()
    regions = [region(0, "label", (300, 300, 1000, 800)), region(1, "stamp", stamp_box), region(2, "stamp", ruler_box)]
    rulers = rulers_called_stamps(regions, image, SHEET_MM, 10)
    assert list(rulers) == [2]  # the text stamp makes fewer bands
    reading = rulers[2]
    assert reading is not None and abs(reading[0] - PX_PER_MM) < 0.2 and reading[1] >= 10
    settled, readings = settle_stamp_regions(regions, image, SHEET_MM, 10, {})
    assert [(r.id, r.class_name) for r in settled] == [(0, "label"), (1, "stamp"), (2, "scale_bar")]
    assert readings == {2: reading}
    # asking for more bands than the ruler shows, or 0, keeps it a stamp
    assert rulers_called_stamps(regions, image, SHEET_MM, reading[1] + 1) == {}
    assert rulers_called_stamps(regions, image, SHEET_MM, 0) == {}


def test_stamps_stay_stamps_where_the_frame_has_a_scale_bar() -> None:
    image, ruler_box, stamp_box = pale_ruler_frame()
    regions = [region(0, "scale_bar", (150, 3200, 1400, 3290)), region(1, "stamp", ruler_box)]
    assert rulers_called_stamps(regions, image, SHEET_MM, 10) == {}
    settled, readings = settle_stamp_regions(regions, image, SHEET_MM, 10, {})
    assert settled == regions and readings == {}


def test_the_service_settles_a_ruler_called_stamp_on_its_defaults() -> None:
    settings = load_settings(None)
    assert settings.segmenter.stamp_ruler_min_bands == 10
    image, ruler_box, stamp_box = pale_ruler_frame()
    regions = [region(0, "stamp", stamp_box), region(1, "stamp", ruler_box)]
    settled, readings = settle_regions(regions, image, settings.segmenter, settings.profiles["herbarium_sheet"])
    assert [(r.class_name, r.bbox) for r in settled] == [("stamp", stamp_box), ("scale_bar", ruler_box)]
    assert list(readings) == [settled[1].id]
    off = settings.segmenter.model_copy(update={"stamp_ruler_min_bands": 0})
    kept, _ = settle_regions(regions, image, off, settings.profiles["herbarium_sheet"])
    assert [r.class_name for r in kept] == ["stamp", "stamp"]
