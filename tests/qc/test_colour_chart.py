from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.qc.base import FrameContext
from edge.qc.chart_grid import find_patch_grid, is_chart, read_colorchecker24
from edge.qc.colour_accuracy import ColourAccuracyCheck
from edge.qc.colour_chart import ColourChartCheck
from edge.qc.colour_science import COLORCHECKER24_LAB_D50, lab_d50_to_srgb
from edge.qc.settings import ProfileSettings
from tests.qc.images import draw_colorchecker, draw_text_block, paper, paste, region


def chart_frame(x: int = 100, y: int = 100, chart: np.ndarray | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    image = paper()
    box = paste(image, draw_colorchecker() if chart is None else chart, x, y)
    return image, box


def test_colorchecker_grid_is_found_and_read_in_every_orientation() -> None:
    chart = draw_colorchecker()
    for turns in range(4):
        turned = np.ascontiguousarray(np.rot90(chart, turns))
        grid = find_patch_grid(turned)
        assert is_chart(grid, 6) and grid.count >= 22
        reading = read_colorchecker24(turned, grid)
        assert reading is not None
        assert float(np.delete(reading.delta_e, 17).max()) < 1.0


def test_flat_block_text_and_paper_are_not_charts() -> None:
    label = paper(400, 200)
    draw_text_block(label, (0, 0, 400, 200))
    for crop in (np.full((120, 200, 3), (0, 0, 255), np.uint8), label, paper(300, 300)):
        assert not is_chart(find_patch_grid(crop), 6)


def test_chart_in_shot_is_ok(herbarium: ProfileSettings) -> None:
    image, box = chart_frame()
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok" and result.regions == [0]


def test_no_chart_region_fails_with_the_fix(herbarium: ProfileSettings) -> None:
    result = ColourChartCheck().run(FrameContext(paper(), [], herbarium))
    assert result.status == "fail"
    assert result.message == "Colour chart not found: place the chart in shot and retake"


def test_chart_region_without_patches_does_not_count(herbarium: ProfileSettings) -> None:
    # what a segmenter may still call a chart after the chart was painted over with paper
    result = ColourChartCheck().run(FrameContext(paper(), [region(0, "colour_chart", (100, 100, 410, 260))],
                                                 herbarium))
    assert result.status == "fail" and result.message.startswith("Colour chart in shot but its patches cannot be read")


def test_chart_cut_by_the_frame_edge_fails(herbarium: ProfileSettings) -> None:
    image = paper()
    chart = draw_colorchecker()
    # the left column and a half of patches lie out of shot
    visible = chart[:, 75:]
    box = paste(image, visible, 0, 300)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "fail" and "cut off" in result.message


def test_chart_flush_with_the_edge_but_whole_is_ok(herbarium: ProfileSettings) -> None:
    image = paper()
    box = paste(image, draw_colorchecker(), 0, 300)  # its black rim touches the edge, no patch does
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok"


def test_too_small_chart_fails(herbarium: ProfileSettings) -> None:
    image = paper(4000, 6000)
    box = paste(image, draw_colorchecker(patch=12, gap=4, surround=20), 500, 500)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "fail" and "too small" in result.message


def test_chart_not_required_on_slides(herbarium: ProfileSettings) -> None:
    optional = herbarium.colour_chart.model_copy(update={"required": False})
    slides = herbarium.model_copy(update={"colour_chart": optional})
    assert ColourChartCheck().run(FrameContext(paper(), [], slides)).status == "ok"


def test_toy_segmenter_chart_drawn_as_a_grid_of_red_shades_is_confirmed(herbarium: ProfileSettings) -> None:
    # A recipe for test frames made for the toy segmenter (red = chart): patches of distinct red
    # shades on a dark red card stay one chart region and show a patch grid.
    card = np.full((190, 330, 3), (0, 0, 110), np.uint8)
    shades = [(0, 0, 255), (40, 40, 255), (0, 70, 230), (70, 0, 200), (0, 0, 170), (50, 90, 255)]
    for i in range(12):
        r, c = divmod(i, 6)
        x, y = 10 + c * 53, 10 + r * 90
        card[y:y + 80, x:x + 45] = shades[(i + r) % 6]
    grid = find_patch_grid(card)
    assert is_chart(grid, 6)


def test_accurate_colorchecker_passes_colour_accuracy(herbarium: ProfileSettings) -> None:
    image, box = chart_frame()
    result = ColourAccuracyCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok" and isinstance(result.value, float) and result.value < 1.0
    assert result.details is not None and float(result.details["white_balance_delta_e"]) < 1.0


def test_colour_cast_warns_on_white_balance(herbarium: ProfileSettings) -> None:
    chart = draw_colorchecker().astype(np.int16)
    chart[..., 0] += 30  # blue cast
    chart[..., 2] -= 10
    image, box = chart_frame(chart=np.clip(chart, 0, 255).astype(np.uint8))
    result = ColourAccuracyCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "warn" and "white balance is off" in result.message


def test_wrong_colours_fail_colour_accuracy(herbarium: ProfileSettings) -> None:
    # a hue rotation keeps the greys neutral but moves every colour patch
    hsv = cv2.cvtColor(draw_colorchecker(), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 12) % 180
    image, box = chart_frame(chart=cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))
    accuracy = herbarium.colour_chart.accuracy.model_copy(update={"severity": "fail"})
    retake = herbarium.model_copy(update={"colour_chart": herbarium.colour_chart.model_copy(
        update={"accuracy": accuracy})})
    result = ColourAccuracyCheck().run(FrameContext(image, [region(0, "colour_chart", box)], retake))
    assert result.status == "fail" and "colour is off" in result.message and "retake" in result.message


def test_no_colorchecker_means_no_accuracy_figure(herbarium: ProfileSettings) -> None:
    result = ColourAccuracyCheck().run(FrameContext(paper(), [], herbarium))
    assert result.status == "ok" and result.value is None


def ruler_strip(length: int, height: int) -> np.ndarray:
    """A black strip with a checkered scale of black and white blocks, larger than a small chart's
    patches: the ruler a chart often sits beside."""
    strip = np.full((height, length, 3), 25, np.uint8)
    block = 30
    for i, x in enumerate(range(4, length - block, block)):
        for j, y in enumerate((4, 4 + block)):
            if (i + j) % 2 == 0:
                strip[y:y + block, x:x + block] = 235
    return strip


def test_a_chart_run_together_with_a_ruler_on_one_strip_is_found_in_it(herbarium: ProfileSettings) -> None:
    image = paper()
    chart = draw_colorchecker(patch=14, gap=4)  # 102 x 88
    strip = np.full((chart.shape[0], 1000, 3), 25, np.uint8)
    strip[:, :chart.shape[1]] = chart
    strip[:, 200:] = ruler_strip(800, chart.shape[0])
    box = paste(image, strip, 100, 100)
    # judged whole, the ruler's marks swamp the chart's grid
    assert not is_chart(find_patch_grid(strip), 6)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok", result.message


def test_a_long_strip_without_a_chart_is_still_no_chart(herbarium: ProfileSettings) -> None:
    image = paper()
    box = paste(image, ruler_strip(1000, 88), 100, 100)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    # the segmenter's chart region is not taken for a chart: no patch grid can be read in it
    assert result.status == "fail" and result.message.startswith("Colour chart in shot but its patches cannot be read")


def test_a_chart_with_patches_a_few_pixels_wide_is_found(herbarium: ProfileSettings) -> None:
    # a chart in a low-resolution frame: 5-pixel patches with 2-pixel gaps
    chart = draw_colorchecker(patch=5, gap=2, surround=20)
    assert not is_chart(find_patch_grid(chart), 6)
    assert is_chart(find_patch_grid(chart, enlarge=True), 6)
    # the check looks again enlarged: the chart is found, and is too small to measure on this frame
    image = paper()
    box = paste(image, chart, 300, 300)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.message.startswith("Colour chart too small"), result.message


def one_column_chart(patches: int = 14, patch: int = 10, gap: int = 3) -> np.ndarray:
    """A single column of distinct patches on a black card, like a grey-and-colour strip down a ruler."""
    rgb = (lab_d50_to_srgb(COLORCHECKER24_LAB_D50) * 255).round().astype(np.uint8)
    chart = np.full((patches * (patch + gap) + gap, patch + 2 * gap, 3), 20, np.uint8)
    for i in range(patches):
        y = gap + i * (patch + gap)
        chart[y:y + patch, gap:gap + patch] = rgb[i][::-1]
    return chart


def test_a_chart_the_segmenter_found_only_the_top_of_is_followed_down(herbarium: ProfileSettings) -> None:
    image = paper(1000, 1367)
    x0, y0, x1, y1 = paste(image, one_column_chart(), 700, 700)
    piece = (x0, y0, x1, y0 + 6 * 13 + 3)  # the top six patches: too small to measure on this frame
    assert is_chart(find_patch_grid(image[piece[1]:piece[3], piece[0]:piece[2]]), herbarium.colour_chart.min_patches)
    assert (piece[3] - piece[1]) * (x1 - x0) < herbarium.colour_chart.min_area_fraction * 1000 * 1367
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", piece)], herbarium))
    assert result.status == "ok", result.message
    # a chart that really is that small stays too small
    small = paper(1000, 1367)
    box = paste(small, one_column_chart(patches=6), 700, 700)
    result = ColourChartCheck().run(FrameContext(small, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "fail" and "too small" in result.message, result.message


def textured_chip_card(patch: int = 42, seed: int = 4) -> np.ndarray:
    """A pocket card at capture resolution: patches touching each other, with print texture and
    sensor noise strong enough to break each patch into pieces at full size."""
    rng = np.random.default_rng(seed)
    rgb = (lab_d50_to_srgb(COLORCHECKER24_LAB_D50) * 255).round()
    card = np.zeros((4 * patch, 6 * patch, 3), np.float32)
    for i in range(24):
        r, c = divmod(i, 6)
        card[r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = rgb[i][::-1]
    card += rng.normal(0, 9, card.shape)
    return np.clip(card, 0, 255).astype(np.uint8)


def test_a_reduced_look_finds_the_grid_in_crop_pixels(herbarium: ProfileSettings) -> None:
    card = textured_chip_card()
    full, reduced = find_patch_grid(card), find_patch_grid(card, reduce=True)
    assert is_chart(reduced, 6) and reduced.count >= 20
    assert reduced.pitch_px == pytest.approx(42, rel=0.1)  # in crop pixels, not the reduced copy's
    assert reduced.pitch_px == pytest.approx(full.pitch_px, rel=0.1)
    image, box = chart_frame(chart=card)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok", result.message


REAL_CARD = Path(__file__).resolve().parents[3] / "shared/realdata/dev-fullres/herbasap-lite/test_prev.jpg"


@pytest.mark.skipif(not REAL_CARD.exists(), reason="real full-resolution frames absent")
def test_a_real_pocket_card_at_capture_resolution_is_found(herbarium: ProfileSettings) -> None:
    # a 22 MP camera frame: the card's touching patches break up at full size, not reduced
    image = cv2.imread(str(REAL_CARD))
    h, w = image.shape[:2]
    box = (int(0.929 * w), int(0.937 * h), int(0.984 * w), int(0.974 * h))
    crop = image[box[1]:box[3], box[0]:box[2]]
    assert not is_chart(find_patch_grid(crop), 6)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "ok", result.message
