"""Scale-bar regions grown along their rulers on the full frame (edge/qc/ruler_extent.py)."""

from __future__ import annotations

import numpy as np

from edge.qc.ruler_extent import grow_along_rulers, ruler_box
from edge.qc.scale import scale_bar_reading
from edge.qc.settings import ProfileSettings
from tests.qc.images import paper, paste, region
from tests.qc.test_scale import cm_block_ruler, draw_mm_ticks

PX_PER_MM = 13.2  # a 40 MP sheet
SHEET_MM = (250.0, 600.0)


def block_ruler_with_a_divided_centimetre(length_mm: float = 100) -> np.ndarray:
    """Centimetre blocks on black with the first centimetre divided in mm, as on many herbarium
    rulers: the network tends to find that first centimetre only."""
    ruler = cm_block_ruler(PX_PER_MM, length_mm, height=160)
    first = ruler[5:60, :int(10 + 12 * PX_PER_MM)]
    draw_mm_ticks(first, PX_PER_MM, 12, (1.0, 1.0, 0.8), 0.12, 230)
    return np.repeat(np.clip(ruler, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def frame_with_ruler() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    image = paper(4000, 6000)
    return image, paste(image, block_ruler_with_a_divided_centimetre(), 2200, 5700)


def test_a_region_on_the_first_centimetres_grows_to_the_whole_ruler() -> None:
    image, ruler = frame_with_ruler()
    found = (ruler[0], ruler[1], ruler[0] + int(28 * PX_PER_MM), ruler[3])  # the first 2.8 cm
    reading = scale_bar_reading(image, region(0, "scale_bar", found), SHEET_MM)
    assert reading is not None and abs(reading[0] - PX_PER_MM) < 0.3
    grown = ruler_box(image, found, reading[0])
    # along the ruler to within 12 mm of its end (under half a window), never far onto the paper;
    # across, as found
    assert grown[1] == found[1] and grown[3] == found[3] and grown[0] <= found[0]
    assert ruler[2] - 12 * PX_PER_MM <= grown[2] <= ruler[2] + 12 * PX_PER_MM
    assert grown[0] >= ruler[0] - 12 * PX_PER_MM


def test_the_same_ruler_upright_grows_down_its_length() -> None:
    image, ruler = frame_with_ruler()
    upright = np.ascontiguousarray(image.transpose(1, 0, 2))
    found = (ruler[1], ruler[0], ruler[3], ruler[0] + int(28 * PX_PER_MM))
    grown = ruler_box(upright, found, PX_PER_MM)
    assert grown[0] == found[0] and grown[2] == found[2]
    assert ruler[2] - 12 * PX_PER_MM <= grown[3] <= ruler[2] + 12 * PX_PER_MM


def test_a_region_without_ticks_beyond_it_and_other_classes_stay_as_found(herbarium: ProfileSettings) -> None:
    image, ruler = frame_with_ruler()
    whole = (ruler[0], ruler[1], ruler[2], ruler[3])
    grown = ruler_box(image, whole, PX_PER_MM)  # blank paper on both sides: at most 12 mm onto it
    assert grown[1::2] == whole[1::2] and whole[0] - 12 * PX_PER_MM <= grown[0] <= whole[0]
    assert whole[2] <= grown[2] <= whole[2] + 12 * PX_PER_MM
    blank = (500, 500, 900, 640)
    assert ruler_box(image, blank, PX_PER_MM) == blank
    label = region(1, "label", (ruler[0], ruler[1], ruler[0] + 300, ruler[3]))
    bar = region(0, "scale_bar", (ruler[0], ruler[1], ruler[0] + int(28 * PX_PER_MM), ruler[3]))
    grown = grow_along_rulers([bar, label], image, {0: (PX_PER_MM, 4)})
    assert grown[1] == label and grown[0].bbox[2] > bar.bbox[2] + 50 * PX_PER_MM
    assert grow_along_rulers([bar, label], image, {}) == [bar, label]  # no reading: nothing to grow by
