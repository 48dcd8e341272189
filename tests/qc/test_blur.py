from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.config import load_settings
from edge.qc.base import FrameContext
from edge.qc.blur import BlurCheck
from edge.qc.settings import ProfileSettings
from edge.qc.sharpness import crop_for_sharpness, edge_width, region_edge_width, to_gray_float
from edge.qc.station_history import StationHistory
from tests.qc.images import draw_text_block, paper, region

LABEL = (600, 1100, 1100, 1400)
CAMERA = "Nikon D810 #6001234 7360x4912"


def label_frame(sigma: float = 0.0) -> np.ndarray:
    image = paper()
    draw_text_block(image, LABEL, seed=3)
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma else image


def with_limits(profile: ProfileSettings, fail: float, warn: float) -> ProfileSettings:
    blur = profile.blur.model_copy(update={"fail_above_px": fail, "warn_above_px": warn})
    return profile.model_copy(update={"blur": blur})


def edge_chart(width: int, height: int, sigma: float, period: int = 24) -> np.ndarray:
    """Bars and squares with ideal step edges, blurred by a Gaussian of the given sigma (px)."""
    image = np.full((height, width), 225.0, np.float32)
    for y in range(8, height - period, period):
        for x in range(8, width - period, period):
            if (x // period + y // period) % 3:
                image[y:y + period // 2, x:x + period // 2] = 35.0
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma else image


@pytest.mark.parametrize("sigma", [0.0, 1.0, 1.5, 2.0, 3.0])
def test_edge_width_is_the_same_at_every_image_size(sigma: float) -> None:
    # the same optical blur on a 0.3 MP crop and on a 6 MP one reads the same
    widths = [edge_width(edge_chart(w, h, sigma)) for w, h in ((640, 480), (3000, 2000))]
    assert all(w is not None for w in widths)
    small, large = (w.width_px for w in widths if w is not None)
    assert small == pytest.approx(large, rel=0.05)


def test_edge_width_grows_with_blur_as_a_gaussian_edge_should() -> None:
    widths = {s: edge_width(edge_chart(1200, 900, s)) for s in (0.0, 1.0, 1.5, 2.0, 3.0)}
    values = {s: w.width_px for s, w in widths.items() if w is not None}
    assert values[0.0] == pytest.approx(1.0, abs=0.05)  # an ideal step is one pixel wide
    for sigma in (1.5, 2.0, 3.0):
        # a blurred step of contrast C has a steepest step of about C / (sigma * sqrt(2 pi))
        assert values[sigma] == pytest.approx(sigma * np.sqrt(2 * np.pi), rel=0.12)
    assert list(values.values()) == sorted(values.values())


def test_edge_width_ignores_how_much_text_a_crop_holds() -> None:
    sparse, dense = edge_chart(1200, 900, 1.5, period=60), edge_chart(1200, 900, 1.5, period=16)
    a, b = edge_width(sparse), edge_width(dense)
    assert a is not None and b is not None and a.width_px == pytest.approx(b.width_px, rel=0.08)


def test_flat_or_noisy_paper_is_not_judged() -> None:
    rng = np.random.default_rng(0)
    assert edge_width(np.full((400, 400), 230, np.float32)) is None
    assert edge_width((230 + rng.normal(0, 2, (400, 400))).astype(np.float32)) is None
    assert edge_width(np.zeros((10, 400), np.float32)) is None


def test_sharp_label_is_ok_and_blurred_label_fails_on_the_limit(herbarium: ProfileSettings) -> None:
    regions = [region(0, "label", LABEL)]
    sharp = BlurCheck().run(FrameContext(label_frame(), regions, herbarium))
    assert sharp.status == "ok" and isinstance(sharp.value, float) and sharp.value < 1.5
    blurred = BlurCheck().run(FrameContext(label_frame(3.0), regions, herbarium))
    assert blurred.status == "fail" and blurred.regions == [0]
    assert blurred.message.startswith("Label text is blurred") and blurred.message.endswith("refocus and retake")
    assert blurred.details is not None and blurred.details["edge_width_px_label"] == blurred.value
    assert isinstance(blurred.value, float) and blurred.value > herbarium.blur.fail_above_px


def test_slightly_soft_label_warns(herbarium: ProfileSettings) -> None:
    profile = with_limits(herbarium, fail=6.0, warn=2.0)
    result = BlurCheck().run(FrameContext(label_frame(1.5), [region(0, "label", LABEL)], profile))
    assert result.status == "warn" and "slightly soft" in result.message


def test_judged_against_this_cameras_usual(herbarium: ProfileSettings) -> None:
    # the absolute limit alone would pass a slight blur; the camera's own sharp frames show it is soft
    profile = with_limits(herbarium, fail=20.0, warn=20.0)
    history = StationHistory()
    regions = [region(0, "label", LABEL)]
    for _ in range(profile.blur.baseline_min_frames):
        frame = FrameContext(label_frame(), regions, profile, history=history, camera=CAMERA)
        assert BlurCheck().run(frame).status == "ok"
        history.record(accepted=True, camera=CAMERA, edge_width=frame.findings.edge_width, barcodes=())
    result = BlurCheck().run(FrameContext(label_frame(1.0), regions, profile, history=history, camera=CAMERA))
    assert result.status == "fail"
    assert "times this camera's usual" in result.message and result.message.endswith("refocus and retake")
    # the same soft frame from another camera has no baseline yet: only the absolute limit applies
    other = BlurCheck().run(FrameContext(label_frame(1.0), regions, profile, history=history, camera="other 800x600"))
    assert other.status == "ok"


def test_no_baseline_until_enough_frames(herbarium: ProfileSettings) -> None:
    history = StationHistory()
    history.record(accepted=True, camera=CAMERA, edge_width={"label": 1.9}, barcodes=())
    assert history.edge_width_baseline(CAMERA, "label", herbarium.blur.baseline_min_frames) is None
    for _ in range(10):
        history.record(accepted=False, camera=CAMERA, edge_width={"label": 5.0}, barcodes=())
    assert history.baseline_count(CAMERA, "label") == 1  # retakes never feed the baseline
    history.remember_sharpness(CAMERA, {"label": 2.1})
    history.remember_sharpness(CAMERA, {"label": 2.0})
    assert history.edge_width_baseline(CAMERA, "label", 3) == pytest.approx(2.0)


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


def test_a_stray_region_on_bare_paper_does_not_hide_a_blurred_label(herbarium: ProfileSettings) -> None:
    # JPEG block edges on nearly blank paper could read as sharp; the region with the print must decide
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


def test_sixteen_bit_frames_read_like_eight_bit(herbarium: ProfileSettings) -> None:
    eight = label_frame(2.0)
    sixteen = eight.astype(np.uint16) * 257
    a = edge_width(to_gray_float(eight[1100:1400, 600:1100]))
    b = edge_width(to_gray_float(sixteen[1100:1400, 600:1100]))
    assert a is not None and b is not None and a.width_px == pytest.approx(b.width_px, rel=0.02)


def test_motion_blur_along_one_axis_is_caught() -> None:
    # a shake to the side smears the edges across it and leaves the edges along it sharp
    chart = edge_chart(1200, 900, 0.0)
    kernel = np.full((1, 9), 1 / 9, np.float32)
    smeared = cv2.filter2D(chart, -1, kernel)
    sharp, moved = edge_width(chart), edge_width(smeared)
    assert sharp is not None and moved is not None
    assert moved.width_px > 2.5 * sharp.width_px


def test_a_sharp_strip_inside_a_blurred_region_does_not_vouch_for_it() -> None:
    # the segmenter's label region runs over a sharp ruler below the label: the label decides
    image = cv2.cvtColor(edge_chart(1200, 900, 2.5).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    image[780:900] = cv2.cvtColor(edge_chart(1200, 120, 0.0).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    whole = region_edge_width(image, (0, 0, 1200, 900))
    label_only = region_edge_width(image, (0, 0, 1200, 760))
    assert whole is not None and label_only is not None
    assert whole.width_px == pytest.approx(label_only.width_px, rel=0.15)
    assert whole.width_px > 4.0


def test_a_slide_station_allows_the_wider_edges_of_its_magnification(herbarium: ProfileSettings) -> None:
    # Text whose edges are as wide as a sharp slide station capture's labels (about 3.3 px):
    # a sheet station sends it back, the slide profile accepts it and still sends back a blurred one.
    slides = load_settings(None).profiles["microscope_slide"]
    regions = [region(0, "label", LABEL)]
    high_magnification = FrameContext(label_frame(1.4), regions, slides)
    result = BlurCheck().run(high_magnification)
    assert result.status == "ok" and isinstance(result.value, float) and 3.0 < result.value < 3.6
    assert BlurCheck().run(FrameContext(label_frame(1.4), regions, herbarium)).status == "fail"
    blurred = BlurCheck().run(FrameContext(label_frame(2.6), regions, slides))
    assert blurred.status == "fail" and blurred.message.startswith("Label text is blurred")
