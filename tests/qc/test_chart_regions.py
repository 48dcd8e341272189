"""Chart regions settled on the full frame: target strips joined, rulers called chart made scale bars
(edge/qc/chart_regions.py); a card beside the ruler found by the chart check and reported
(edge/qc/chart_analysis.py)."""

from __future__ import annotations

import numpy as np

from edge.qc.base import FrameContext
from edge.qc.chart_analysis import card_beside_ruler
from edge.qc.chart_regions import is_one_hue, join_target_strips, rulers_called_charts, settle_chart_regions
from edge.qc.colour_chart import ColourChartCheck
from edge.qc.settings import ProfileSettings
from edge.segmentation.regions import Region
from tests.qc.images import draw_colorchecker, paper, paste, region
from tests.qc.test_scale import mm_ruler

SHEET_MM = (250.0, 600.0)


def classes(regions: list[Region]) -> list[tuple[str, tuple[int, int, int, int]]]:
    return [(r.class_name, r.bbox) for r in regions]


def test_the_end_blocks_of_a_target_strip_with_its_ruler_between_are_one_chart() -> None:
    # a strip down the right edge: colour blocks at both ends, the ruler along it between them
    top, bottom = region(0, "colour_chart", (3900, 30, 4180, 990)), region(1, "colour_chart", (3900, 2340, 4180, 3270))
    ruler = region(2, "scale_bar", (3850, 950, 4215, 2510))
    label = region(3, "label", (2500, 4200, 3800, 6000))
    joined = join_target_strips([top, ruler, bottom, label])
    assert classes(joined) == [("colour_chart", (3900, 30, 4180, 3270)), ("scale_bar", ruler.bbox),
                               ("label", label.bbox)]
    assert joined[0].area_px == top.area_px + bottom.area_px
    # the same along the top edge
    turned = [Region(r.id, r.class_name, (r.bbox[1], r.bbox[0], r.bbox[3], r.bbox[2]), r.area_px, r.score)
              for r in (top, bottom, ruler)]
    assert classes(join_target_strips(turned)) == [("colour_chart", (30, 3900, 3270, 4180)),
                                                   ("scale_bar", (950, 3850, 2510, 4215))]


def test_chart_regions_are_not_joined_without_a_ruler_spanning_the_gap() -> None:
    top, bottom = region(0, "colour_chart", (3900, 30, 4180, 990)), region(1, "colour_chart", (3900, 2340, 4180, 3270))
    assert join_target_strips([top, bottom]) == [top, bottom]
    # a ruler covering half the gap, a ruler beside the line, two charts side by side off one line
    half = region(2, "scale_bar", (3850, 990, 4215, 1660))
    beside = region(2, "scale_bar", (3000, 950, 3300, 2510))
    assert join_target_strips([top, bottom, half]) == [top, bottom, half]
    assert join_target_strips([top, bottom, beside]) == [top, bottom, beside]
    apart = region(1, "colour_chart", (3000, 2340, 3280, 3270))
    ruler = region(2, "scale_bar", (2900, 950, 4215, 2510))
    assert join_target_strips([top, apart, ruler]) == [top, apart, ruler]


def coloured_ruler(px_per_mm: float, bgr: tuple[int, int, int]) -> np.ndarray:
    """`mm_ruler` printed on coloured plastic: its paper in `bgr`, its ticks dark."""
    grey = np.clip(mm_ruler(px_per_mm), 0, 255) / 235.0
    return np.clip(grey[..., None] * np.asarray(bgr, np.float32), 0, 255).astype(np.uint8)


def test_one_hue_tells_a_coloured_ruler_from_a_chart() -> None:
    assert is_one_hue(coloured_ruler(8.0, (200, 120, 40)))  # blue plastic
    assert is_one_hue(coloured_ruler(8.0, (30, 200, 230)))  # yellow
    assert is_one_hue(np.full((50, 300, 3), 128, np.uint8))  # grey: nothing coloured
    assert not is_one_hue(draw_colorchecker())


def test_a_blue_ruler_called_chart_is_a_scale_bar_and_gives_the_scale(herbarium: ProfileSettings) -> None:
    image = paper(2400, 3600)
    ruler_box = paste(image, coloured_ruler(8.0, (200, 120, 40)), 100, 100)
    card_box = paste(image, draw_colorchecker(patch=40, gap=8), 1700, 3000)
    regions = [region(0, "label", (1200, 2800, 1600, 3200)), region(1, "colour_chart", ruler_box),
               region(2, "colour_chart", card_box)]
    rulers = rulers_called_charts(regions, image, SHEET_MM, 6, herbarium.colour_chart.min_patches)
    assert list(rulers) == [ruler_box]  # the card has patches and many hues
    reading = rulers[ruler_box]
    assert reading is not None and abs(reading[0] - 8.0) < 0.2 and reading[1] >= 6
    settled, readings = settle_chart_regions(regions, image, SHEET_MM, 6, herbarium.colour_chart.min_patches, {})
    assert classes(settled) == [("label", regions[0].bbox), ("scale_bar", ruler_box), ("colour_chart", card_box)]
    assert readings == {1: reading}
    # asking for more agreeing bands than the ruler shows, or 0, keeps it a chart
    assert rulers_called_charts(regions, image, SHEET_MM, reading[1] + 1, herbarium.colour_chart.min_patches) == {}
    assert rulers_called_charts(regions, image, SHEET_MM, 0, herbarium.colour_chart.min_patches) == {}


def test_a_chart_with_a_ruler_along_it_stays_a_chart(herbarium: ProfileSettings) -> None:
    image = paper(2400, 3600)
    chart = draw_colorchecker(patch=60, gap=10)
    x0, y0, x1, y1 = paste(image, chart, 200, 200)
    ruler = coloured_ruler(8.0, (235, 235, 235))[:, : x1 - x0]
    paste(image, ruler, x0, y1)
    both = region(0, "colour_chart", (x0, y0, x1, y1 + ruler.shape[0]))
    assert rulers_called_charts([both], image, SHEET_MM, 6, herbarium.colour_chart.min_patches) == {}


def test_a_card_the_network_missed_is_found_beside_the_ruler_and_reported(herbarium: ProfileSettings) -> None:
    image = paper(2400, 1600)
    ruler = (200, 1400, 1500, 1480)
    image[ruler[1]:ruler[3], ruler[0]:ruler[2]] = 250
    for x in range(ruler[0], ruler[2], 40):
        image[ruler[1]:ruler[1] + 30, x:x + 3] = 20
    card = paste(image, draw_colorchecker(patch=22, gap=5), 1900, 1380)
    regions = [region(0, "scale_bar", ruler), region(1, "label", (100, 100, 600, 400))]
    frame = FrameContext(image, regions, herbarium)
    result = ColourChartCheck().run(frame)
    # a region of its own, numbered after the segmenter's, for the verdict to report
    assert result.status == "ok" and result.regions == [2], result.message
    (found,) = frame.findings.found_regions
    assert found.id == 2 and found.class_name == "colour_chart"
    # the card's box: its patch grid with a pitch around it
    assert found.bbox[0] <= card[0] + 10 and found.bbox[2] >= card[2] - 10
    assert found.bbox[1] <= card[1] + 10 and found.bbox[3] >= card[3] - 10
    found_area = (found.bbox[2] - found.bbox[0]) * (found.bbox[3] - found.bbox[1])
    assert found_area < 2 * (card[2] - card[0]) * (card[3] - card[1])
    # no card on the ruler's line: nothing found, and the chart check fails
    bare = paper(2400, 1600)
    bare[ruler[1]:ruler[3], ruler[0]:ruler[2]] = image[ruler[1]:ruler[3], ruler[0]:ruler[2]]
    frame = FrameContext(bare, regions, herbarium)
    assert ColourChartCheck().run(frame).status == "fail" and frame.findings.found_regions == []


def test_a_row_of_patches_continuing_the_ruler_is_found_as_a_chart(herbarium: ProfileSettings) -> None:
    # a web-size sheet: a ruler's ticks along the top edge and, after them, one row of colour patches
    # as wide as the ruler is tall (a square search window holds three of them)
    image = paper(700, 1000)
    ruler = (5, 0, 250, 28)
    image[0:28, 5:250] = 250
    for x in range(5, 250, 6):
        image[0:14 if x % 30 else 22, x:x + 1] = 20
    row = draw_colorchecker(patch=22, gap=4, surround=40)[4:30, :]  # the top row of a ColorChecker
    strip = np.concatenate([row, draw_colorchecker(patch=22, gap=4, surround=40)[30:56, :]], axis=1)
    card = paste(image, strip, 262, 1)
    regions = [region(0, "scale_bar", ruler), region(1, "specimen", (100, 200, 600, 900))]
    found = card_beside_ruler(image, regions, herbarium.colour_chart.min_patches)
    assert found is not None
    x0, y0, x1, y1 = found[0].bbox
    assert card[0] - 30 <= x0 <= card[0] + 30 and card[2] - 30 <= x1 <= card[2] + 30 and y1 <= 60
