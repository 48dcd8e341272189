from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.classes import CLASS_IDS
from edge.decode import decode_small, read_frame
from edge.qc.base import CheckResult, FrameContext
from edge.qc.exposure import ExposureCheck
from edge.qc.framing import CLASS_MAP_KEY, SKEW_CACHE_KEY, FramingCheck, skew_degrees
from edge.qc.required_elements import RequiredElementsCheck
from edge.qc.scale import ruler_px_per_mm
from edge.qc.settings import ProfileSettings
from tests.qc.images import draw_text_block, paper, region

SHEET = (200, 150, 1000, 1450)
LABEL = (550, 1150, 950, 1400)
SPECIMEN = (300, 250, 900, 1000)


def sheet_on_black(level: int = 232) -> np.ndarray:
    """A sheet on a black copy-stand surround, with a label and a green specimen."""
    image = np.zeros((1600, 1200, 3), np.uint8)
    x0, y0, x1, y1 = SHEET
    image[y0:y1, x0:x1] = level
    draw_text_block(image, LABEL)
    cv2.ellipse(image, (600, 620), (220, 300), 15, 0, 360, (40, 120, 50), -1)
    # a lens never draws a perfect step: without this, rotating the drawing leaves pixel staircases
    return cv2.GaussianBlur(image, (0, 0), 1.0)


def rotated(image: np.ndarray, angle: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D((image.shape[1] / 2, image.shape[0] / 2), angle, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_CUBIC)


def regions() -> list:
    return [region(0, "label", LABEL), region(1, "specimen", SPECIMEN)]


def test_good_exposure_ignores_the_black_surround(herbarium: ProfileSettings) -> None:
    result = ExposureCheck().run(FrameContext(sheet_on_black(), regions(), herbarium))
    assert result.status == "ok"


def test_clipped_paper_fails_as_overexposed(herbarium: ProfileSettings) -> None:
    image = sheet_on_black(255)
    image[image > 230] = 255
    result = ExposureCheck().run(FrameContext(image, regions(), herbarium))
    assert result.status == "fail" and result.message.startswith("Overexposed")


def test_dark_paper_fails_as_underexposed(herbarium: ProfileSettings) -> None:
    image = (sheet_on_black().astype(np.float32) * 0.45).astype(np.uint8)
    result = ExposureCheck().run(FrameContext(image, regions(), herbarium))
    assert result.status == "fail" and result.message.startswith("Underexposed")
    assert result.message.endswith("increase exposure and retake")


def test_sixteen_bit_frames_use_their_own_full_scale(herbarium: ProfileSettings) -> None:
    image = sheet_on_black().astype(np.uint16) * 257
    assert ExposureCheck().run(FrameContext(image, regions(), herbarium)).status == "ok"


def test_square_sheet_with_everything_inside_is_ok(herbarium: ProfileSettings) -> None:
    result = FramingCheck().run(FrameContext(sheet_on_black(), regions(), herbarium))
    assert result.status == "ok" and abs(float(result.value)) < 0.5  # type: ignore[arg-type]


def test_specimen_touching_the_edge_fails_and_label_warns(herbarium: ProfileSettings) -> None:
    cut = [region(0, "label", LABEL), region(1, "specimen", (0, 250, 900, 1000))]
    result = FramingCheck().run(FrameContext(sheet_on_black(), cut, herbarium))
    assert result.status == "fail" and result.message.startswith("Specimen is cut off at the left edge")
    cut = [region(0, "label", (550, 1150, 1200, 1400)), region(1, "specimen", SPECIMEN)]
    result = FramingCheck().run(FrameContext(sheet_on_black(), cut, herbarium))
    assert result.status == "warn" and "Label is cut off at the right edge" in result.message


def drawn_class_map(regions: list, cell: int = 10, frame_hw: tuple[int, int] = (1600, 1200)) -> np.ndarray:
    """The segmenter's class map as its regions paint it (later ones on top), one cell per `cell` px."""
    out = np.zeros((frame_hw[0] // cell, frame_hw[1] // cell), np.uint8)
    for r in regions:
        x0, y0, x1, y1 = r.bbox
        out[y0 // cell:-(-y1 // cell), x0 // cell:-(-x1 // cell)] = CLASS_IDS[r.class_name]
    return out


def framing_of(regions: list, herbarium: ProfileSettings, painted: list | None = None) -> CheckResult:
    cache = {CLASS_MAP_KEY: drawn_class_map(regions if painted is None else painted)}
    return FramingCheck().run(FrameContext(sheet_on_black(), regions, herbarium, cache=cache))


def test_a_label_reaching_the_edge_only_across_the_imaging_bar_is_not_cut(herbarium: ProfileSettings) -> None:
    # a credit line printed on the ruler bar along the bottom edge joins the label above it: all of
    # the label the class map shows on the bottom edge lies across the bar
    ruler = region(2, "scale_bar", (400, 1500, 1150, 1600))
    label = region(0, "label", (550, 1150, 1000, 1600))
    specimen = region(1, "specimen", SPECIMEN)
    ok = framing_of([ruler, label, specimen], herbarium)
    assert ok.status == "ok", ok.message
    # without the bar, with the bar lifted off the edge, or without the class map, it is cut off
    for bars in ([], [region(2, "scale_bar", (400, 1400, 1150, 1500))]):
        cut = framing_of([*bars, label, specimen], herbarium)
        assert cut.status == "warn" and "Label is cut off at the bottom edge" in cut.message
    no_map = FramingCheck().run(FrameContext(sheet_on_black(), [ruler, label, specimen], herbarium))
    assert no_map.status == "warn" and "bottom edge" in no_map.message
    # label on the edge beyond the bar's end (a label truly cut beside it) is cut off
    short = region(2, "scale_bar", (400, 1500, 900, 1600))
    cut = framing_of([short, label, specimen], herbarium)
    assert cut.status == "warn" and "bottom edge" in cut.message
    # where the bar covers the label's cells on the edge, the label does not reach it there
    hidden = framing_of([label, specimen, ruler], herbarium)
    assert hidden.status == "warn"  # no cell of it on the edge: its box alone says cut, and is believed
    # the bar answers for its own edge only: a label also running out at the right is still cut there
    wide = region(0, "label", (550, 1150, 1200, 1600))
    cut = framing_of([region(2, "scale_bar", (400, 1500, 1200, 1600)), wide, specimen], herbarium)
    assert cut.status == "warn" and "Label is cut off at the right edge:" in cut.message
    # a plant is no print: a specimen reaching the edge across the bar still fails
    plant = region(1, "specimen", (300, 250, 900, 1600))
    cut = framing_of([ruler, region(0, "label", LABEL), plant], herbarium)
    assert cut.status == "fail" and cut.message.startswith("Specimen is cut off at the bottom edge")


@pytest.mark.parametrize("angle", [-7.0, -3.0, 1.0, 6.0])
def test_skew_is_measured(angle: float) -> None:
    measured, _ = skew_degrees(rotated(sheet_on_black(), angle))
    # OpenCV turns counter-clockwise for positive angles; image y points down
    assert measured == pytest.approx(-angle, abs=0.5)


@pytest.mark.parametrize("angle", [-6.0, 3.0])
def test_skew_is_measured_on_the_segmenters_dct_scaled_copy(tmp_path: Path, angle: float) -> None:
    # a JPEG decoded at 1/8 scale has steps along its block grid, square to the frame; they must not
    # pull the estimate towards 0 degrees
    big = cv2.resize(rotated(sheet_on_black(), angle), (4800, 6400), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(3).normal(0, 2.0, big.shape)
    path = tmp_path / "tilted.jpg"
    cv2.imwrite(str(path), np.clip(big + noise, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    small = decode_small(read_frame(path, 200), 800)
    assert small is not None and max(small.shape) <= 1600
    measured, _ = skew_degrees(small)
    assert measured == pytest.approx(-angle, abs=0.5)


REAL_SHEET = Path(__file__).resolve().parents[3] / "shared/realdata/dev-fullres/ia-e-col-segmentation/ALF035400_1.jpg"


@pytest.mark.skipif(not REAL_SHEET.exists(), reason="real full-resolution frames absent")
def test_skew_of_a_real_26_mp_sheet_tilted_by_7_degrees(tmp_path: Path) -> None:
    # on this sheet an edge-direction histogram of the reduced copy read -1.4 degrees
    image = cv2.imread(str(REAL_SHEET))
    assert image is not None
    turned = rotated(image, 7.0)
    path = tmp_path / "tilted.jpg"
    cv2.imwrite(str(path), turned, [cv2.IMWRITE_JPEG_QUALITY, 92])
    small = decode_small(read_frame(path, 200), 1024)
    assert small is not None
    measured, _ = skew_degrees(small)
    assert measured == pytest.approx(-7.0, abs=0.7)


def test_rotated_sheet_fails(herbarium: ProfileSettings) -> None:
    result = FramingCheck().run(FrameContext(rotated(sheet_on_black(), 8.0), regions(), herbarium))
    assert result.status == "fail" and result.message.startswith("Sheet is tilted by 8°")
    assert "straighten" in result.message


def test_a_slide_station_is_told_to_move_the_slide_and_a_cut_label_is_a_retake() -> None:
    from edge.config import load_settings

    slides = load_settings(None).profiles["microscope_slide"]
    tilted = FramingCheck().run(FrameContext(rotated(sheet_on_black(), 8.0), regions(), slides))
    assert tilted.status == "fail" and tilted.message.startswith("Slide is tilted by 8°")
    cut = FramingCheck().run(FrameContext(sheet_on_black(), [region(0, "label", (0, 300, 400, 600))], slides))
    assert cut.status == "fail"
    assert cut.message == "Label is cut off at the left edge: move the slide fully into shot and retake"


def test_tilt_is_reported_before_what_it_cuts_off(herbarium: ProfileSettings) -> None:
    cut = [region(0, "label", LABEL), region(1, "specimen", (0, 250, 900, 1000))]
    result = FramingCheck().run(FrameContext(rotated(sheet_on_black(), 8.0), cut, herbarium))
    assert result.status == "fail" and result.message.startswith("Sheet is tilted")


def test_framing_reuses_the_pipelines_skew_estimate(herbarium: ProfileSettings) -> None:
    frame = FrameContext(sheet_on_black(), regions(), herbarium, cache={SKEW_CACHE_KEY: (-12.0, 0.05)})
    result = FramingCheck().run(frame)
    assert result.status == "fail" and result.value == -12.0


def test_required_elements(herbarium: ProfileSettings) -> None:
    check = RequiredElementsCheck()
    everything = regions() + [region(2, "scale_bar", (210, 160, 500, 200))]
    assert check.run(FrameContext(paper(), everything, herbarium)).status == "ok"
    no_scale = check.run(FrameContext(paper(), regions(), herbarium))
    assert no_scale.status == "warn" and no_scale.message.startswith("Scale bar not found")
    no_specimen = check.run(FrameContext(paper(), [region(0, "type_label", LABEL)], herbarium))
    assert no_specimen.status == "fail" and no_specimen.message.startswith("Specimen not found")
    assert "label" not in no_specimen.message.lower()  # a type label is a label
    strict = herbarium.model_copy(update={"required_elements": herbarium.required_elements.model_copy(
        update={"scale_bar": "fail"})})
    assert check.run(FrameContext(paper(), regions(), strict)).status == "fail"


def test_ruler_ticks_give_pixels_per_mm() -> None:
    ruler = np.full((60, 1200), 240, np.float32)
    for i, x in enumerate(np.arange(5, 1190, 7.5)):
        ruler[: 40 if i % 10 == 0 else 20, int(round(x)):int(round(x)) + 2] = 20
    assert ruler_px_per_mm(ruler) == pytest.approx(7.5, abs=0.2)
    assert ruler_px_per_mm(np.full((60, 1200), 240, np.float32)) is None


def test_parallel_lines_of_one_direction_are_no_tilt() -> None:
    # grass blades or hatching all at 30 degrees: no rectangle shows a tilt, so none is reported
    image = np.full((1600, 1200, 3), 225, np.uint8)
    for k in range(-40, 40):
        x = 600 + 14 * k
        cv2.line(image, (x, 300), (x + int(700 * np.tan(np.radians(30))), 1000), (40, 90, 40), 3)
    image = cv2.GaussianBlur(image, (0, 0), 1.0)
    assert abs(skew_degrees(image)[0]) < 2.0
    # the same blades on a square sheet with a label: square
    draw_text_block(image, LABEL)
    cv2.rectangle(image, (100, 100), (1100, 1500), (20, 20, 20), 4)
    assert abs(skew_degrees(image)[0]) < 1.0
