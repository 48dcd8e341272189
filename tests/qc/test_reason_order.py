"""Reasons in the order a photographer acts on them: causes (focus, exposure, tilt) before what they
bring about (elements and chart not found or unreadable, colour error, barcode)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from edge.config import Settings
from edge.pipeline import FramePipeline
from edge.qc.base import CheckResult, FrameContext
from edge.qc.colour_chart import UNREADABLE, ColourChartCheck
from edge.qc.framing import SKEW_CACHE_KEY
from edge.qc.registry import CHECKS, REASON_ORDER, reason_rank
from edge.qc.settings import ProfileSettings
from edge.segmentation.base import ModelInfo
from edge.verdict import build_verdict
from tests.frames import draw_sheet, write_jpeg
from tests.qc.images import draw_colorchecker, paper, paste, region

MODEL = ModelInfo(name="m", sha256=None, backend="onnxruntime", device="cpu")


def reasons_of(results: list[CheckResult]) -> list[str]:
    verdict = build_verdict(station="s", path=Path("f.jpg"), profile="herbarium_sheet", checks=results,
                            regions=[], model=MODEL, timings_ms={})
    return [r["check"] for r in verdict["reasons"]]


def fail(check: str) -> CheckResult:
    return CheckResult(check, "fail", f"{check} failed")


def test_every_check_has_a_place_in_the_reason_order() -> None:
    assert {cls.name for cls in CHECKS} <= set(REASON_ORDER)
    assert reason_rank("blur") < reason_rank("colour_chart") and reason_rank("framing") < reason_rank(
        "required_elements")
    assert reason_rank("some_new_check") == len(REASON_ORDER)


def test_blur_comes_before_the_missing_chart_it_causes() -> None:
    # the checks run in registry order: elements and chart before blur
    results = [CheckResult("readable", "ok", "ok"), fail("required_elements"), fail("colour_chart"),
               CheckResult("exposure", "ok", "ok"), fail("blur")]
    assert reasons_of(results) == ["blur", "required_elements", "colour_chart"]


def test_tilt_comes_first_and_checks_keep_their_running_order() -> None:
    results = [fail("required_elements"), fail("barcode"), fail("colour_chart"), fail("colour_accuracy"),
               fail("exposure"), fail("framing")]
    assert reasons_of(results) == ["exposure", "framing", "required_elements", "colour_chart", "colour_accuracy",
                                   "barcode"]
    verdict = build_verdict(station="s", path=Path("f.jpg"), profile="herbarium_sheet", checks=results,
                            regions=[], model=MODEL, timings_ms={})
    assert [c["check"] for c in verdict["checks"]] == [r.check for r in results]


def test_blurred_frame_without_a_chart_names_the_blur_first(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    pipeline = FramePipeline(station())
    try:
        v = pipeline.judge(write_jpeg(tmp_path / "b.jpg", draw_sheet(chart=False, blur_sigma=3))).verdict
    finally:
        pipeline.close()
    verdict_schema(v)
    checks = [r["check"] for r in v["reasons"]]
    assert checks[0] == "blur" and "colour_chart" in checks, checks
    assert any(word in v["reasons"][0]["message"].lower() for word in ("blur", "sharp", "focus"))


def test_chart_found_but_unreadable_says_so(herbarium: ProfileSettings) -> None:
    image = paper()
    box = paste(image, cv2.GaussianBlur(draw_colorchecker(), (0, 0), 12), 100, 100)
    result = ColourChartCheck().run(FrameContext(image, [region(0, "colour_chart", box)], herbarium))
    assert result.status == "fail" and result.message == UNREADABLE and result.regions == [0]
    assert result.message.startswith("Colour chart in shot but its patches cannot be read")
    assert "focus" in result.message and "not found" not in result.message
    # no chart region at all is still "not found"
    missing = ColourChartCheck().run(FrameContext(image, [], herbarium))
    assert missing.status == "fail" and missing.message.startswith("Colour chart not found")


def test_unreadable_chart_on_a_tilted_sheet_leaves_the_retake_to_framing(herbarium: ProfileSettings) -> None:
    image = paper()
    box = paste(image, cv2.GaussianBlur(draw_colorchecker(), (0, 0), 12), 100, 100)
    frame = FrameContext(image, [region(0, "colour_chart", box)], herbarium, cache={SKEW_CACHE_KEY: (30.0, 0.05)})
    result = ColourChartCheck().run(frame)
    assert result.status == "warn" and "straight" in result.message
