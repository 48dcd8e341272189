"""The frame's scale read from constructed rulers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.config import load_settings
from edge.qc.base import FrameContext
from edge.qc.scale import RULER_READINGS_KEY, frame_px_per_mm, keep_ruler_regions, ruler_px_per_mm
from edge.qc.settings import ProfileSettings
from tests.qc.images import region

SHEET_MM = (250.0, 750.0)


def draw_mm_ticks(ruler: np.ndarray, px_per_mm: float, length_mm: float, reach: tuple[float, float, float],
                  tick_share: float, level: float) -> None:
    """Ticks every mm from the top edge, 10 px in: `reach` gives their length as a share of the
    ruler's height at each cm, each 5 mm and the other mm; `tick_share` their width per mm."""
    tick = max(1, int(round(px_per_mm * tick_share)))
    for i in range(int(length_mm) + 1):
        x = int(round(10 + i * px_per_mm))
        share = reach[0] if i % 10 == 0 else reach[1] if i % 5 == 0 else reach[2]
        ruler[: int(ruler.shape[0] * share), x:x + tick] = level


def mm_ruler(px_per_mm: float, length_mm: float = 150, height: int = 80, seed: int = 0) -> np.ndarray:
    """Dark mm ticks on white, longer at 5 mm and longest at each cm, some noise, a text band below."""
    rng = np.random.default_rng(seed)
    width = int(length_mm * px_per_mm) + 20
    ruler = np.full((height, width), 235, np.float32)
    draw_mm_ticks(ruler, px_per_mm, length_mm, (0.5, 0.35, 0.25), 0.15, 30)
    strokes = np.cumsum(rng.integers(2, 12, width))  # printed text: strokes at irregular spacing
    ruler[int(height * 0.7):int(height * 0.8), strokes[strokes < width]] = 60
    return ruler + rng.normal(0, 4, ruler.shape).astype(np.float32)


def cm_block_ruler(px_per_mm: float, length_mm: float = 100, height: int = 60) -> np.ndarray:
    """White outlines of 1 cm blocks on black, every other one filled below: no mm ticks."""
    width = int(length_mm * px_per_mm) + 20
    ruler = np.full((height, width), 25, np.float32)
    for i in range(int(length_mm // 10) + 1):
        x = int(round(10 + i * 10 * px_per_mm))
        ruler[5:height // 2, x:x + 2] = 230
        if i % 2 == 0 and i < length_mm // 10:
            ruler[height // 3:height // 2, x:int(round(x + 10 * px_per_mm))] = 230
    return ruler


@pytest.mark.parametrize("px_per_mm", [3.3, 4.2, 7.5, 13.3, 22.0, 40.0])
def test_mm_ticks_on_a_sheet_frame(px_per_mm: float) -> None:
    long_side = int(450 * px_per_mm)  # a sheet frame 450 mm long
    length_mm = 150 if px_per_mm < 20 else 60
    found = ruler_px_per_mm(mm_ruler(px_per_mm, length_mm), long_side, SHEET_MM)
    assert found == pytest.approx(px_per_mm, rel=0.03)


def test_fine_mm_ticks_on_a_slide_frame() -> None:
    # a slide frame spans about 100 mm: 40 px/mm on a 4000-px frame
    found = ruler_px_per_mm(mm_ruler(40.0, 50, height=120), 4000, (60.0, 160.0))
    assert found == pytest.approx(40.0, rel=0.03)


def test_unresolved_mm_ticks_are_read_by_their_centimetres() -> None:
    # 2.5 px/mm: mm ticks one pixel apart from blurring into each other; the cm blocks carry it
    found = ruler_px_per_mm(cm_block_ruler(2.5), 1125, SHEET_MM)
    assert found == pytest.approx(2.5, rel=0.03)


@pytest.mark.parametrize("px_per_mm", [4.1, 13.3, 30.0])
def test_centimetre_blocks_only(px_per_mm: float) -> None:
    found = ruler_px_per_mm(cm_block_ruler(px_per_mm), int(460 * px_per_mm), SHEET_MM)
    assert found == pytest.approx(px_per_mm, rel=0.03)


def test_ruler_read_at_ninety_degrees() -> None:
    ruler = mm_ruler(13.3)
    across = ruler_px_per_mm(ruler, 6000, SHEET_MM)
    assert across == pytest.approx(13.3, rel=0.03)
    assert ruler_px_per_mm(np.ascontiguousarray(ruler.T), 6000, SHEET_MM) == pytest.approx(across, rel=1e-6)


def test_no_ruler_gives_none() -> None:
    rng = np.random.default_rng(1)
    assert ruler_px_per_mm(np.full((60, 1200), 240, np.float32), 6000, SHEET_MM) is None
    paper = 200 + rng.normal(0, 6, (90, 1500)).astype(np.float32)
    assert ruler_px_per_mm(paper, 6000, SHEET_MM) is None
    assert ruler_px_per_mm(np.full((10, 30), 240, np.float32), 6000, SHEET_MM) is None


def dual_ruler(px_per_mm: float, metric_every_mm: float = 1.0, length_mm: float = 160, height: int = 120,
               seed: int = 0) -> np.ndarray:
    """An inch scale along the top edge (1/16 inch ticks, longer every 1/8, 1/4, 1/2 and inch, drawn
    bold so they make the clearer comb) and a metric one along the bottom (ticks every
    `metric_every_mm`, longer at 5 mm and 1 cm), as on many herbarium rulers."""
    rng = np.random.default_rng(seed)
    width = int(length_mm * px_per_mm) + 20
    ruler = np.full((height, width), 235, np.float32)
    sixteenth = 25.4 / 16 * px_per_mm
    for i in range(int(length_mm * px_per_mm / sixteenth) + 1):
        x = int(round(10 + i * sixteenth))
        reach = height * (0.4 if i % 16 == 0 else 0.3 if i % 8 == 0 else 0.22 if i % 4 == 0 else
                          0.17 if i % 2 == 0 else 0.12)
        ruler[: int(reach), x:x + max(2, int(round(px_per_mm * 0.3)))] = 10
    tick = max(1, int(round(px_per_mm * 0.12)))
    for i in range(int(length_mm / metric_every_mm) + 1):
        mm = i * metric_every_mm
        x = int(round(10 + mm * px_per_mm))
        reach = height * (0.4 if mm % 10 == 0 else 0.3 if mm % 5 == 0 else 0.2)
        ruler[height - int(reach):, x:x + tick] = 70
    return ruler + rng.normal(0, 4, ruler.shape).astype(np.float32)


@pytest.mark.parametrize("px_per_mm", [4.1, 7.5, 13.3])
def test_an_inch_scale_beside_the_millimetres_is_not_read_as_millimetres(px_per_mm: float) -> None:
    # read alone, the bold 1/16 inch comb (1.59 mm) passes for millimetres: 1.59 times too many px/mm
    found = ruler_px_per_mm(dual_ruler(px_per_mm), int(450 * px_per_mm), SHEET_MM)
    assert found == pytest.approx(px_per_mm, rel=0.03)


def test_an_inch_scale_beside_centimetre_marks_is_not_read_as_five_millimetres() -> None:
    # a metric edge with only centimetre marks; the 1/8 inch marks (3.18 mm) would read as 5 mm
    ruler = dual_ruler(10.1, metric_every_mm=10.0)
    found = ruler_px_per_mm(ruler, int(430 * 10.1), SHEET_MM)
    assert found == pytest.approx(10.1, rel=0.03)


def test_a_metric_ruler_with_a_five_millimetre_band_stays_metric() -> None:
    # millimetres and their 5 mm marks are multiples of one comb, never an inch scale
    found = ruler_px_per_mm(mm_ruler(13.8, 150, height=120), int(420 * 13.8), SHEET_MM)
    assert found == pytest.approx(13.8, rel=0.03)


def ruler_beside_even_print(px_per_mm: float, pitch_mm: float, length_mm: float = 120, height: int = 120,
                            seed: int = 0) -> np.ndarray:
    """A mm ruler (ticks, longer 5 mm and cm marks along the top) with a line of bold characters at an
    even pitch of `pitch_mm` along the bottom, no ruler unit: a maker's legend, a resolution wedge."""
    rng = np.random.default_rng(seed)
    width = int(length_mm * px_per_mm) + 20
    ruler = np.full((height, width), 235, np.float32)
    draw_mm_ticks(ruler, px_per_mm, length_mm, (0.45, 0.3, 0.18), 0.12, 60)
    pitch = pitch_mm * px_per_mm
    for i in range(int((width - 20) / pitch)):
        x = int(round(10 + i * pitch))
        ruler[int(height * 0.82):int(height * 0.95), x:x + max(2, int(round(pitch * 0.45)))] = 5
    return ruler + rng.normal(0, 4, ruler.shape).astype(np.float32)


@pytest.mark.parametrize(("px_per_mm", "pitch_mm"), [(13.8, 0.62), (4.3, 1.42), (8.0, 1.3), (20.0, 0.55)])
def test_an_even_line_of_print_beside_the_ruler_is_not_read_as_its_millimetres(px_per_mm: float,
                                                                               pitch_mm: float) -> None:
    # the print is the clearest single band; the ruler's ticks, 5 mm and cm marks agree with each other
    found = ruler_px_per_mm(ruler_beside_even_print(px_per_mm, pitch_mm), int(450 * px_per_mm), SHEET_MM)
    assert found == pytest.approx(px_per_mm, rel=0.03)


def test_bold_two_millimetre_ticks_are_read_by_the_marks_that_agree_with_them() -> None:
    # at 4.1 px/mm the bold 2 mm ticks (8.2 px) are the clearest comb, but no reading of a 450 mm
    # sheet makes them 1, 5 or 10 mm; the centimetre marks do, and the 2 mm ticks agree with them
    px_per_mm, height = 4.1, 100
    width = int(150 * px_per_mm) + 20
    ruler = np.full((height, width), 235, np.float32)
    for mm in range(0, 151, 2):
        x = int(round(10 + mm * px_per_mm))
        ruler[: int(height * (0.6 if mm % 10 == 0 else 0.3)), x:x + 3] = 10
    ruler += np.random.default_rng(2).normal(0, 4, ruler.shape).astype(np.float32)
    found = ruler_px_per_mm(ruler, int(450 * px_per_mm), SHEET_MM)
    assert found == pytest.approx(px_per_mm, rel=0.03)


def test_of_two_scale_bar_regions_the_one_whose_bands_agree_gives_the_scale(herbarium: ProfileSettings) -> None:
    # the larger region is a false one: sheet paper with a line of evenly printed characters (a comb
    # of its own, 1.3 mm apart); the smaller one is the ruler, read first before
    px_per_mm = 10.0
    frame = np.full((4500, 3000, 3), 225, np.uint8)  # a 450 mm sheet at 10 px/mm
    for i in range(150):
        x = 200 + int(round(i * 1.3 * px_per_mm))
        frame[420:450, x:x + 6] = 20
    ruler = np.clip(mm_ruler(px_per_mm, 150, height=90), 0, 255).astype(np.uint8)
    frame[3000:3090, 600:600 + ruler.shape[1]] = ruler[..., None]
    printed, scale = (150, 300, 2300, 560), (590, 2990, 610 + ruler.shape[1], 3100)
    regions = [region(0, "scale_bar", printed), region(1, "scale_bar", scale)]
    assert regions[0].area_px > regions[1].area_px
    line = cv2.cvtColor(frame[300:560, 150:2300], cv2.COLOR_BGR2GRAY)
    assert ruler_px_per_mm(line, 4500, SHEET_MM) is not None  # the print alone gives a reading
    assert frame_px_per_mm(FrameContext(frame, regions, herbarium)) == pytest.approx(px_per_mm, rel=0.03)


def test_scale_bar_regions_without_a_ruler_in_the_frame_are_dropped() -> None:
    px_per_mm = 10.0
    frame = np.full((4500, 3000, 3), 225, np.uint8)
    ruler = np.clip(mm_ruler(px_per_mm, 150, height=90), 0, 255).astype(np.uint8)
    frame[3000:3090, 600:600 + ruler.shape[1]] = ruler[..., None]
    rng = np.random.default_rng(5)
    for x in np.cumsum(rng.integers(4, 40, 120)) + 200:  # a line of handwriting: strokes, no comb
        frame[420 + int(rng.integers(0, 10)):450 + int(rng.integers(0, 10)), x:x + int(rng.integers(2, 7))] = 20
    regions = [
        region(0, "specimen", (100, 600, 2900, 2800)),
        region(1, "scale_bar", (150, 300, 2300, 560)),  # the handwriting
        region(2, "label", (1800, 3200, 2900, 4400)),
        region(3, "scale_bar", (590, 2990, 610 + ruler.shape[1], 3100)),  # the ruler
        region(4, "scale_bar", (2000, 1000, 2600, 1200)),  # bare paper
    ]
    kept, readings = keep_ruler_regions(regions, frame, SHEET_MM, 4)
    assert [(r.id, r.class_name, r.bbox) for r in kept] == [
        (0, "specimen", regions[0].bbox), (1, "label", regions[2].bbox), (2, "scale_bar", regions[3].bbox)]
    assert set(readings) == {2} and readings[2] is not None
    assert readings[2][0] == pytest.approx(px_per_mm, rel=0.03) and readings[2][1] >= 4
    # the frame's scale reuses the reading made here
    ctx = FrameContext(frame, kept, load_settings(None).profiles["herbarium_sheet"],
                       cache={RULER_READINGS_KEY: {2: (7.0, 9)}})
    assert frame_px_per_mm(ctx) == 7.0
    # 0 asks for nothing: every region kept as it was, nothing read
    assert keep_ruler_regions(regions, frame, SHEET_MM, 0) == (regions, {})
