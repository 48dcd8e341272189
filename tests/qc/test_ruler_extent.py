"""Scale-bar regions grown along their rulers on the full frame (edge/qc/ruler_extent.py)."""

from __future__ import annotations

import cv2
import numpy as np

from edge.qc.ruler_extent import bare_ends_cut, cut_bare_ends, fit_scale_bars, grow_along_rulers, ruler_box
from edge.qc.scale import scale_bar_reading
from edge.qc.settings import ProfileSettings
from tests.qc.images import paper, paste, region
from tests.qc.test_scale import cm_block_ruler, draw_mm_ticks, mm_ruler
from training.evaluate import boxes_match

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


def imaging_bar_with_a_wordmark() -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A black imaging bar across the top of the frame: the institution's wordmark and a round logo
    in white on its left, a small white ruler card (4 cm of mm ticks) on its right, as many
    herbaria print it. Returns the frame, the bar and the card."""
    image = paper(4000, 6000)
    bar = (0, 0, 4000, 420)
    image[: bar[3], : bar[2]] = 12
    cv2.circle(image, (260, 210), 120, (235, 235, 235), 10)
    cv2.line(image, (160, 260), (360, 260), (235, 235, 235), 8)
    for row, words in ((150, "THE HERBARIUM OF"), (300, "A BOTANICAL GARDEN")):
        cv2.putText(image, words, (440, row), cv2.FONT_HERSHEY_TRIPLEX, 3.2, (235, 235, 235), 6, cv2.LINE_AA)
    card = np.repeat(np.clip(mm_ruler(PX_PER_MM, 40, height=220), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return image, bar, paste(image, card, 2700, 100)


def test_a_wordmark_taken_in_with_the_ruler_card_is_cut_off() -> None:
    image, bar, card = imaging_bar_with_a_wordmark()
    found = (60, 40, card[2] + 80, 400)  # the network's region: the wordmark, the logo and the card
    reading = scale_bar_reading(image, region(0, "scale_bar", found), SHEET_MM)
    assert reading is not None and abs(reading[0] - PX_PER_MM) < 0.3
    cut = bare_ends_cut(image, found, reading[0])
    # across and at the card's end as found; its start within a window (the first that shows ticks
    # overlaps the card) and the 1 cm margin of the card, the logo and most of the wordmark cut off
    assert cut[1::2] == found[1::2] and cut[2] == found[2]
    window = max(int(30 * PX_PER_MM), 3 * (found[3] - found[1]) // 2)  # 3 cm, or 1.5 x the bar across
    assert card[0] - window - int(10 * PX_PER_MM) - 1 <= cut[0] <= card[0]
    assert boxes_match(cut, card) and not boxes_match(found, card)
    (after,) = cut_bare_ends([region(0, "scale_bar", found)], image, {0: reading})
    assert after.bbox == cut
    assert cut_bare_ends([region(0, "scale_bar", found)], image, {}) == [region(0, "scale_bar", found)]
    assert fit_scale_bars([region(0, "scale_bar", found)], image, {0: reading}, grow=True, trim=False)[1][0].bbox[0] \
        <= found[0]


def test_a_ruler_with_ticks_along_its_length_or_a_short_bare_end_is_not_cut() -> None:
    image, ruler = frame_with_ruler()
    whole = (ruler[0], ruler[1], ruler[2], ruler[3])
    assert bare_ends_cut(image, whole, PX_PER_MM) == whole
    # 2 cm of bare paper past the end: shorter than a window, so kept
    past = (ruler[0], ruler[1], ruler[2] + int(20 * PX_PER_MM), ruler[3])
    assert bare_ends_cut(image, past, PX_PER_MM) == past
    # no window showing the ruler at all: nothing to cut back to
    blank = (500, 500, 1400, 640)
    assert bare_ends_cut(image, blank, PX_PER_MM) == blank
