from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge.config import load_settings
from edge.config_files import ConfigError
from edge.decode import decode_full, probe_header, read_frame
from edge.qc.base import CheckResult, FrameContext
from edge.qc.colour_accuracy import UNKNOWN_TARGET, ColourAccuracyCheck
from edge.qc.colour_science import (
    COLORCHECKER24_LAB_D50,
    GUIDELINES,
    lab_d50_to_srgb,
    lab_to_xyz,
    linear_to_srgb,
    srgb_to_linear,
)
from edge.qc.icc import UnusableProfile, profile_converter
from edge.qc.settings import ColourAccuracySettings, ProfileSettings
from tests.qc.images import draw_colorchecker, paper, paste, region

# Adobe RGB (1998): primaries adapted to D50 as in Adobe's own profile, and its 563/256 gamma.
ADOBE_RGB_D50 = np.array([[0.60974, 0.20528, 0.14919],
                          [0.31111, 0.62567, 0.06322],
                          [0.01947, 0.06087, 0.74457]])
ADOBE_GAMMA = 563 / 256


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def matrix_trc_profile(name: str, rgb_to_xyz_d50: np.ndarray, gamma: float) -> bytes:
    """A minimal ICC v2 RGB display profile: colourants, one gamma curve, D50 white."""
    text = name.encode("ascii") + b"\0"
    desc = (b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + bytes(67))
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"cprt", b"text" + bytes(4) + b"none\0"),
            (b"rXYZ", _xyz(*rgb_to_xyz_d50[:, 0])), (b"gXYZ", _xyz(*rgb_to_xyz_d50[:, 1])),
            (b"bXYZ", _xyz(*rgb_to_xyz_d50[:, 2])), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(4 + 16 + 28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


ADOBE_RGB_PROFILE = matrix_trc_profile("Adobe RGB (1998) test", ADOBE_RGB_D50, ADOBE_GAMMA)


def adobe_rgb_chart(patch: int = 40, gap: int = 10) -> np.ndarray:
    """The Classic 24 reference encoded in Adobe RGB (BGR, 8 bit), on a black card."""
    linear = lab_to_xyz(COLORCHECKER24_LAB_D50) @ np.linalg.inv(ADOBE_RGB_D50).T
    rgb = (np.clip(linear, 0, 1) ** (1 / ADOBE_GAMMA) * 255).round().astype(np.uint8)
    chart = np.full((4 * patch + 5 * gap, 6 * patch + 7 * gap, 3), 20, np.uint8)
    for i in range(24):
        r, c = divmod(i, 6)
        y, x = gap + r * (patch + gap), gap + c * (patch + gap)
        chart[y:y + patch, x:x + patch] = rgb[i][::-1]
    return chart


def with_accuracy(profile: ProfileSettings, **changes: object) -> ProfileSettings:
    accuracy = profile.colour_chart.accuracy.model_copy(update=changes)
    return profile.model_copy(update={"colour_chart": profile.colour_chart.model_copy(update={"accuracy": accuracy})})


def judge(chart: np.ndarray, profile: ProfileSettings, icc_profile: bytes | None = None) -> CheckResult:
    image = paper()
    box = paste(image, chart, 100, 100)
    return ColourAccuracyCheck().run(FrameContext(image, [region(0, "colour_chart", box)], profile,
                                                  icc_profile=icc_profile))


def mean_delta_e(result: CheckResult) -> float:
    assert result.details is not None, result.message
    return float(result.details["mean_delta_e"])


def test_hand_written_adobe_rgb_profile_is_read_by_littlecms() -> None:
    converter = profile_converter(ADOBE_RGB_PROFILE)
    assert converter.description == "Adobe RGB (1998) test"
    # Adobe RGB's pure green lies outside sRGB; its white and greys are the same
    out = converter.to_srgb(np.array([[0, 255, 0], [255, 255, 255], [128, 128, 128]], np.uint8))
    assert out[0, 1] == 255 and out[0, 0] == 0
    np.testing.assert_allclose(out[1], 255, atol=1)
    np.testing.assert_allclose(out[2], out[2, 0], atol=1)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_frame_header_carries_the_embedded_profile(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"frame.{fmt.lower()}"
    Image.new("RGB", (64, 48), (200, 180, 160)).save(path, fmt, icc_profile=ADOBE_RGB_PROFILE)
    assert probe_header(path.read_bytes()).icc_profile == ADOBE_RGB_PROFILE
    Image.new("RGB", (64, 48)).save(tmp_path / f"plain.{fmt.lower()}", fmt)
    assert probe_header((tmp_path / f"plain.{fmt.lower()}").read_bytes()).icc_profile is None


def test_adobe_rgb_frame_is_measured_like_the_srgb_frame(tmp_path: Path, herbarium: ProfileSettings) -> None:
    srgb = judge(draw_colorchecker(), herbarium)
    assert srgb.status == "ok" and mean_delta_e(srgb) < 0.5
    # the Adobe RGB frame goes through the real file path: saved with its profile, read and decoded
    image = paper()
    box = paste(image, adobe_rgb_chart(), 100, 100)
    path = tmp_path / "adobe.png"
    Image.fromarray(np.ascontiguousarray(image[..., ::-1])).save(path, icc_profile=ADOBE_RGB_PROFILE)
    raw = read_frame(path, 200.0)
    frame = decode_full(raw)
    assert raw.header.icc_profile == ADOBE_RGB_PROFILE
    context = FrameContext(frame.full, [region(0, "colour_chart", box)], herbarium, icc_profile=raw.header.icc_profile)
    adobe = ColourAccuracyCheck().run(context)
    assert adobe.status == "ok", adobe.message
    assert mean_delta_e(adobe) == pytest.approx(mean_delta_e(srgb), abs=0.3)
    assert adobe.details is not None and adobe.details["colour_profile"] == "Adobe RGB (1998) test"
    # read as if it were sRGB, the same pixels are far off
    unconverted = ColourAccuracyCheck().run(FrameContext(frame.full, [region(0, "colour_chart", box)], herbarium))
    assert mean_delta_e(unconverted) > mean_delta_e(adobe) + 2.0


def test_a_grey_profile_is_not_applied_to_colour_pixels(herbarium: ProfileSettings) -> None:
    grey = ADOBE_RGB_PROFILE[:16] + b"GRAY" + ADOBE_RGB_PROFILE[20:]
    with pytest.raises(UnusableProfile):
        profile_converter(grey)
    result = judge(draw_colorchecker(), herbarium, icc_profile=grey)
    assert result.status == "ok" and result.details is not None
    assert "GRAY" in str(result.details["colour_profile"]) and "read as sRGB" in str(result.details["colour_profile"])


def exposed(chart: np.ndarray, factor: float) -> np.ndarray:
    """The chart with its light multiplied by factor (linear), as a different exposure gives."""
    linear = srgb_to_linear(chart.astype(np.float64) / 255) * factor
    return np.asarray((linear_to_srgb(linear) * 255).round().astype(np.uint8))


def test_exposure_difference_is_reported_not_counted_as_colour_error(herbarium: ProfileSettings) -> None:
    darker = exposed(draw_colorchecker(), 0.6)  # about 0.74 EV under
    result = judge(darker, herbarium)
    assert result.status == "ok", result.message
    assert mean_delta_e(result) < 1.0
    assert result.details is not None
    assert float(result.details["exposure_offset_ev"]) == pytest.approx(np.log2(0.6), abs=0.05)
    assert float(result.details["exposure_delta_l"]) < -5
    assert "0.7 EV darker than its reference" in result.message
    # measured as it is, the lightness difference is colour error
    raw = judge(darker, with_accuracy(herbarium, normalise_exposure=False))
    assert mean_delta_e(raw) > 3.5 and raw.status == "warn"


def test_a_colour_cast_warns_by_default_and_fails_where_the_profile_asks(herbarium: ProfileSettings) -> None:
    chart = draw_colorchecker().astype(np.int16)
    chart[..., 0] += 30  # blue cast
    chart[..., 2] -= 10
    cast = np.clip(chart, 0, 255).astype(np.uint8)
    warned = judge(cast, herbarium)
    assert warned.status == "warn" and "white balance is off" in warned.message
    assert "grey patch" in warned.message and "retake" not in warned.message
    failed = judge(cast, with_accuracy(herbarium, severity="fail"))
    assert failed.status == "fail" and "then retake." in failed.message
    assert failed.details is not None
    assert failed.details["limit_white_balance"] == GUIDELINES["fadgi_3_star"].white_balance


def test_guideline_levels_and_explicit_limits(herbarium: ProfileSettings) -> None:
    # a slight green cast (white balance about 3, mean ΔE2000 about 1.8): within FADGI 3-star, not 4-star
    chart = draw_colorchecker().astype(np.int16)
    chart[..., 1] += 4
    tinted = np.clip(chart, 0, 255).astype(np.uint8)
    ok = judge(tinted, herbarium)
    assert ok.status == "ok" and 1.0 < mean_delta_e(ok) < 2.0 and ok.threshold == 3.5
    strict = judge(tinted, with_accuracy(herbarium, guideline="fadgi_4_star"))
    assert strict.status == "warn" and "FADGI 4-star" in strict.message and "white balance is off" in strict.message
    assert strict.threshold == 2.0 and isinstance(strict.value, float) and strict.value > 2.0
    overridden = judge(tinted, with_accuracy(herbarium, guideline="fadgi_4_star", max_white_balance=4.0))
    assert overridden.status == "ok" and overridden.threshold == 2.0
    # Metamorfoze has a limit on the worst patch, and no mean at Extra Light
    limits = ColourAccuracySettings(guideline="metamorfoze").limits()
    assert limits.max_delta_e == 7.0 and limits.p90_delta_e is None and limits.unit_lightness_weight
    assert ColourAccuracySettings(guideline="metamorfoze_extra_light").limits().mean_delta_e is None


def test_a_look_alike_card_with_touching_patches_gets_no_colour_verdict(herbarium: ProfileSettings) -> None:
    # the Classic's colours and layout with hairline gaps (as on a CameraTrax 24ColorCard), and off colours
    chart = draw_colorchecker(patch=46, gap=3).astype(np.int16)
    chart[..., 0] += 25
    result = judge(np.clip(chart, 0, 255).astype(np.uint8), herbarium)
    assert result.status == "ok" and result.message.startswith(UNKNOWN_TARGET), result.message
    assert "almost touch" in result.message and result.value is None and result.details is None
    assert judge(np.clip(chart, 0, 255).astype(np.uint8),
                 with_accuracy(herbarium, unknown_target="warn")).status == "warn"


def test_a_4x6_grid_of_other_colours_is_an_unknown_target(herbarium: ProfileSettings) -> None:
    rgb = (lab_d50_to_srgb(COLORCHECKER24_LAB_D50) * 255).round().astype(np.uint8)
    shuffled = np.random.default_rng(3).permutation(24)
    chart = np.full((4 * 40 + 5 * 10, 6 * 40 + 7 * 10, 3), 20, np.uint8)
    for i in range(24):
        r, c = divmod(i, 6)
        chart[10 + r * 50:10 + r * 50 + 40, 10 + c * 50:10 + c * 50 + 40] = rgb[shuffled[i]][::-1]
    result = judge(chart, herbarium)
    assert result.status == "ok" and result.message.startswith(UNKNOWN_TARGET), result.message
    assert result.value is None


def test_the_classic24_is_recognised_in_every_orientation(herbarium: ProfileSettings) -> None:
    for turns in range(4):
        result = judge(np.ascontiguousarray(np.rot90(draw_colorchecker(), turns)), herbarium)
        assert result.status == "ok" and mean_delta_e(result) < 0.5, (turns, result.message)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "station.yaml"
    p.write_text(text)
    return p


def test_bad_guideline_name_names_the_key_and_the_choices(tmp_path: Path) -> None:
    p = write(tmp_path, "profiles:\n  herbarium_sheet:\n    colour_chart:\n      accuracy:\n"
                        "        guideline: fadgi_5_star\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    msg = str(err.value)
    assert "profiles.herbarium_sheet.colour_chart.accuracy.guideline" in msg
    assert "fadgi_5_star" in msg and "metamorfoze_light" in msg


@pytest.mark.parametrize("text", ["severity: retake", "unknown_target: fail", "max_mean_delta_e: -1",
                                  "warn_mean_delta_e: 3.5"])
def test_bad_accuracy_settings_are_refused(tmp_path: Path, text: str) -> None:
    p = write(tmp_path, f"profiles:\n  herbarium_sheet:\n    colour_chart:\n      accuracy:\n        {text}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert "profiles.herbarium_sheet.colour_chart.accuracy." + text.split(":")[0] in str(err.value)


def test_herbarium_station_asks_for_a_retake_on_colour() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2] / "configs" / "herbarium-station.yaml")
    accuracy = settings.active_profile.colour_chart.accuracy
    assert accuracy.severity == "fail"
    assert load_settings(None).active_profile.colour_chart.accuracy.severity == "warn"


REAL_DEV = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "dev"


def real_chart_frame(name: str, profile: ProfileSettings, with_icc: bool = True) -> FrameContext:
    """A real web-size frame with its hand-labelled chart box as the chart region."""
    labels = [json.loads(line) for line in (REAL_DEV / "labels.jsonl").read_text().splitlines() if line.strip()]
    label = next(item for item in labels if item["file"] == name)
    raw = read_frame(REAL_DEV / name, 200.0)
    image = decode_full(raw).full
    h, w = image.shape[:2]
    x0, y0, x1, y1 = next(b["box"] for b in label["boxes"] if b["class"] == "colour_chart")
    box = (int(x0 * w), int(y0 * h), int(x1 * w), int(y1 * h))
    return FrameContext(image, [region(0, "colour_chart", box)], profile,
                        icc_profile=raw.header.icc_profile if with_icc else None)


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="real photographs not available")
def test_real_adobe_rgb_capture_is_read_through_its_profile(herbarium: ProfileSettings) -> None:
    # a published, institution-checked capture in Adobe RGB with a ColorChecker on the sheet
    name = "bu-spark-ml-herbarium/s01-000u-00-35.png"
    converted = ColourAccuracyCheck().run(real_chart_frame(name, herbarium))
    assert converted.details is not None and converted.details["colour_profile"] == "Adobe RGB (1998)"
    unconverted = ColourAccuracyCheck().run(real_chart_frame(name, herbarium, with_icc=False))
    assert mean_delta_e(converted) < 4.5 and mean_delta_e(unconverted) > mean_delta_e(converted) + 1.0
    assert converted.status != "fail"


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="real photographs not available")
def test_real_cameratrax_card_is_an_unknown_target(herbarium: ProfileSettings) -> None:
    result = ColourAccuracyCheck().run(real_chart_frame("leafmachine2/BA_1_before.jpg", herbarium))
    assert result.message.startswith(UNKNOWN_TARGET) and result.value is None, result.message
