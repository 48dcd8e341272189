from __future__ import annotations

import cv2
import numpy as np

from edge.qc.base import FrameContext
from edge.qc.blur import BlurCheck
from edge.qc.settings import ProfileSettings
from edge.qc.sharpness import crop_for_sharpness, reblur_sharpness, resample_to_scale, to_gray_float
from edge.qc.station_history import StationHistory
from tests.qc.images import draw_text_block, paper, region

LABEL = (600, 1100, 1100, 1400)


def label_frame(sigma: float = 0.0) -> np.ndarray:
    image = paper()
    draw_text_block(image, LABEL, seed=3)
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma else image


def with_floor(profile: ProfileSettings, floor: float) -> ProfileSettings:
    blur = profile.blur.model_copy(update={"fail_below": floor, "warn_below": floor})
    return profile.model_copy(update={"blur": blur})


def test_sharp_label_is_ok_and_blurred_label_fails_on_the_floor(herbarium: ProfileSettings) -> None:
    regions = [region(0, "label", LABEL)]
    sharp = BlurCheck().run(FrameContext(label_frame(), regions, herbarium))
    assert sharp.status == "ok"
    blurred = BlurCheck().run(FrameContext(label_frame(3.0), regions, herbarium))
    assert blurred.status == "fail" and blurred.regions == [0]
    assert blurred.message.startswith("Label text is blurred") and blurred.message.endswith("refocus and retake")


def test_sharpness_falls_with_blur() -> None:
    values = [reblur_sharpness(to_gray_float(label_frame(s)[1100:1400, 600:1100])) for s in (0, 1, 2, 3)]
    assert all(v is not None for v in values)
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]


def test_judged_against_this_stations_usual(herbarium: ProfileSettings) -> None:
    # the floor alone would pass a slight blur; the station's own sharp frames show it is soft
    profile = with_floor(herbarium, 0.0)
    history = StationHistory()
    regions = [region(0, "label", LABEL)]
    for _ in range(profile.blur.baseline_min_frames):
        frame = FrameContext(label_frame(), regions, profile, history=history)
        assert BlurCheck().run(frame).status == "ok"
        history.record(accepted=True, sharpness=frame.findings.sharpness, barcodes=())
    result = BlurCheck().run(FrameContext(label_frame(1.5), regions, profile, history=history))
    assert result.status == "fail"
    assert "of this station's usual): refocus and retake" in result.message
    assert isinstance(result.value, float) and result.value < profile.blur.baseline_fail_ratio


def test_no_baseline_until_enough_frames(herbarium: ProfileSettings) -> None:
    history = StationHistory()
    history.record(accepted=True, sharpness={"label": 0.9}, barcodes=())
    assert history.sharpness_baseline("label", herbarium.blur.baseline_min_frames) is None
    for _ in range(10):
        history.record(accepted=False, sharpness={"label": 0.1}, barcodes=())
    assert history.baseline_count("label") == 1  # retakes never feed the baseline


def test_label_decides_over_a_soft_specimen(herbarium: ProfileSettings) -> None:
    image = label_frame()
    image[100:600, 100:600] = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (500, 500, 3),
                                                                                 dtype=np.uint8), (0, 0), 4)
    regions = [region(0, "label", LABEL), region(1, "specimen", (100, 100, 600, 600))]
    assert BlurCheck().run(FrameContext(image, regions, herbarium)).status == "ok"


def test_large_region_is_measured_on_its_most_detailed_window() -> None:
    image = paper(3000, 3000)
    draw_text_block(image, (2000, 2000, 2900, 2900))
    crop = crop_for_sharpness(image, (0, 0, 3000, 3000), max_pixels=500_000)
    assert crop.shape[0] * crop.shape[1] <= 500_000
    assert float(crop.std()) > 30  # the text window, not blank paper


def test_resampling_only_above_the_target_scale() -> None:
    gray = np.zeros((100, 200), np.float32)
    assert resample_to_scale(gray, 24.0, 12.0).shape == (50, 100)
    assert resample_to_scale(gray, 8.0, 12.0).shape == (100, 200)
    assert resample_to_scale(gray, None, 12.0).shape == (100, 200)


def test_a_stray_region_on_bare_paper_does_not_hide_a_blurred_label(herbarium: ProfileSettings) -> None:
    # JPEG block edges on nearly blank paper read as sharp; the region with the print must decide
    noise = np.random.default_rng(2).normal(0, 0.7, (1600, 1200, 3))  # sensor noise, paper texture
    noisy = np.clip(label_frame(3.0) + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    regions = [region(0, "label", LABEL), region(1, "type_label", (100, 100, 400, 300))]
    result = BlurCheck().run(FrameContext(image, regions, herbarium))
    assert result.status == "fail" and result.regions == [0]


def test_a_sharp_scrap_of_text_does_not_vouch_for_a_blurred_main_label(herbarium: ProfileSettings) -> None:
    image = label_frame(3.0)
    scrap = (100, 100, 400, 260)  # a small printed name, left sharp
    draw_text_block(image, scrap, seed=5)
    regions = [region(0, "label", scrap), region(1, "label", LABEL)]
    result = BlurCheck().run(FrameContext(image, regions, herbarium))
    assert result.status == "fail" and result.regions[0] == 1
    # the other way round, a soft scrap beside a sharp main label, is in focus
    image = label_frame()
    draw_text_block(image, scrap, seed=5)
    image[100:260, 100:400] = cv2.GaussianBlur(image[100:260, 100:400], (0, 0), 3.0)
    assert BlurCheck().run(FrameContext(image, regions, herbarium)).status == "ok"
