from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config import Settings
from edge.pipeline import FramePipeline
from tests.frames import draw_sheet, write_jpeg
from tests.qc.images import draw_colorchecker, paste
from tests.toy_model import LABEL_BGR, SCALE_BAR_BGR


def judge(settings: Settings, path: Path, **kw: Any) -> Any:
    pipeline = FramePipeline(settings)
    try:
        return pipeline.judge(path, **kw)
    finally:
        pipeline.close()


def test_good_frame_is_accepted_with_regions_in_original_pixels(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    path = write_jpeg(tmp_path / "good.jpg", draw_sheet(1200, 1800))
    v = judge(station(), path).verdict
    verdict_schema(v)
    assert v["verdict"] == "accept" and v["reasons"] == []
    assert (v["width"], v["height"]) == (1200, 1800)
    classes = {r["class"]: r["bbox"] for r in v["regions"]}
    assert set(classes) == {"specimen", "label", "colour_chart"}
    # the chart was painted at x 60..360, y 90..270 (5-30 % and 5-15 %) of the frame
    x0, y0, x1, y1 = classes["colour_chart"]
    assert abs(x0 - 60) <= 15 and abs(x1 - 360) <= 15 and abs(y0 - 90) <= 15 and abs(y1 - 270) <= 15
    assert {"readable", "colour_chart", "blur"} <= {c["check"] for c in v["checks"]}
    assert v["model"]["backend"] == "onnxruntime" and v["timings_ms"]["total"] > 0


def test_missing_chart_and_blur_are_retakes_with_reasons(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    settings = station()
    no_chart = judge(settings, write_jpeg(tmp_path / "nochart.jpg", draw_sheet(chart=False))).verdict
    blurred = judge(settings, write_jpeg(tmp_path / "blur.jpg", draw_sheet(blur_sigma=3))).verdict
    for v in (no_chart, blurred):
        verdict_schema(v)
        assert v["verdict"] == "retake"
    assert [r["check"] for r in no_chart["reasons"]] == ["colour_chart"]
    assert "Colour chart not found" in no_chart["reasons"][0]["message"]
    assert [r["check"] for r in blurred["reasons"]] == ["blur"]
    assert "blurred" in blurred["reasons"][0]["message"]
    label_ids = {r["id"] for r in blurred["regions"] if r["class"] == "label"}
    assert set(blurred["reasons"][0]["regions"]) == label_ids


def test_slide_profile_does_not_require_a_chart(tmp_path: Path, station: Callable[..., Settings]) -> None:
    v = judge(station(profile="microscope_slide"), write_jpeg(tmp_path / "s.jpg", draw_sheet(chart=False))).verdict
    assert v["verdict"] == "accept" and v["profile"] == "microscope_slide"


def test_unreadable_gets_error_verdict(tmp_path: Path, station: Callable[..., Settings],
                                      verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    p = tmp_path / "bad.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0 not really")
    v = judge(station(), p).verdict
    verdict_schema(v)
    assert v["verdict"] == "error" and v["reasons"][0]["check"] == "readable"
    assert "bad.jpg" in v["reasons"][0]["message"]


def test_corrupt_scan_data_is_an_error_never_an_accept(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    # a good sheet with 20 KB of its scan data zeroed; the JPEG end marker is intact
    data = bytearray(cv2.imencode(".jpg", draw_sheet(1200, 1800), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    middle = len(data) // 2
    data[middle:middle + 20000] = bytes(20000)
    p = tmp_path / "damaged.jpg"
    p.write_bytes(data)
    v = judge(station(), p).verdict
    verdict_schema(v)
    assert v["verdict"] == "error" and v["reasons"][0]["check"] == "readable"
    assert "is corrupt" in v["reasons"][0]["message"] and "Corrupt JPEG data" in v["reasons"][0]["message"]


def test_class_map_at_full_resolution(tmp_path: Path, station: Callable[..., Settings]) -> None:
    img = draw_sheet(900, 600)  # landscape: rotated onto the canvas and back
    path = write_jpeg(tmp_path / "land.jpg", img)
    j = judge(station(), path, want_class_map=True)
    cmap = j.class_map
    assert cmap is not None and cmap.shape == (600, 900) and cmap.dtype == np.uint8
    chart = cmap == 5
    painted = np.zeros_like(chart)
    painted[30:90, 45:270] = True
    assert (chart & painted).sum() / painted.sum() > 0.8 and (chart & ~painted).sum() < 0.2 * painted.sum()


def test_sixteen_bit_tiff_is_judged(tmp_path: Path, station: Callable[..., Settings]) -> None:
    img = draw_sheet(600, 900).astype(np.uint16) * 257
    p = tmp_path / "a.tif"
    cv2.imwrite(str(p), img)
    v = judge(station(), p).verdict
    assert v["verdict"] == "accept", v["reasons"]


def test_scale_bar_regions_without_ruler_ticks_are_dropped(tmp_path: Path, station: Callable[..., Settings]) -> None:
    img = draw_sheet(1200, 1800)
    # two strips the toy network calls scale bar: one carries ticks every mm at 6 px/mm (longer at 5
    # mm and 1 cm, along its upper half: a ruler), the other is bare
    img[1600:1660, 100:1000] = SCALE_BAR_BGR
    for mm in range(0, 148):
        x = 110 + mm * 6
        img[1600:1600 + (30 if mm % 10 == 0 else 20 if mm % 5 == 0 else 12), x:x + 2] = (20, 20, 20)
    img[100:160, 650:1150] = SCALE_BAR_BGR
    path = tmp_path / "rulers.png"
    cv2.imwrite(str(path), img)

    def scale_bars(verdict: dict[str, Any]) -> list[list[int]]:
        return [r["bbox"] for r in verdict["regions"] if r["class"] == "scale_bar"]

    every = judge(station(segmenter={"scale_bar_min_ruler_bands": 0}), path).verdict
    assert len(scale_bars(every)) == 2
    checked = judge(station(), path).verdict  # the default asks for 4 agreeing bands
    (kept,) = scale_bars(checked)
    assert kept[1] >= 1500  # the ruler, not the bare strip
    assert [r["id"] for r in checked["regions"]] == list(range(len(checked["regions"])))
    blur = next(c for c in checked["checks"] if c["check"] == "blur")
    assert abs(blur["details"]["px_per_mm"] - 6.0) < 0.2


def test_a_red_ruler_the_network_calls_chart_is_reported_as_scale_bar(
        tmp_path: Path, station: Callable[..., Settings]) -> None:
    img = draw_sheet(1200, 1800, chart=False)
    # a red plastic ruler (the toy network's chart colour): dark ticks every mm at 6 px/mm, longer at
    # 5 mm and 1 cm, and a second scale of cm marks along its lower edge
    img[1560:1680, 100:1060] = (30, 30, 220)
    for mm in range(0, 158):
        x = 110 + mm * 6
        img[1560:1560 + (50 if mm % 10 == 0 else 35 if mm % 5 == 0 else 22), x:x + 2] = (20, 20, 20)
        if mm % 10 == 0:
            img[1650:1680, x:x + 3] = (20, 20, 20)
    path = tmp_path / "red-ruler.png"
    cv2.imwrite(str(path), img)

    def boxes(verdict: dict[str, Any], name: str) -> list[list[int]]:
        return [r["bbox"] for r in verdict["regions"] if r["class"] == name]

    as_network = judge(station(segmenter={"check_chart_regions": False}), path).verdict
    assert len(boxes(as_network, "colour_chart")) == 1 and boxes(as_network, "scale_bar") == []
    settled = judge(station(), path).verdict
    assert boxes(settled, "colour_chart") == [] and boxes(settled, "scale_bar") == boxes(as_network, "colour_chart")
    blur = next(c for c in settled["checks"] if c["check"] == "blur")
    assert abs(blur["details"]["px_per_mm"] - 6.0) < 0.2
    # no chart in shot: the photographer is told so, not that a chart's patches cannot be read
    chart = next(c for c in settled["checks"] if c["check"] == "colour_chart")
    assert chart["status"] == "fail" and "not found" in chart["message"]


def draw_ruler_seen_in_part(img: np.ndarray, top: int) -> None:
    """A 100 px tall ruler at 6 px/mm from x 100 to 940 whose first 4 cm are cyan (all the toy
    network calls scale bar) and the rest white, ticks along its whole length."""
    img[top:top + 100, 100:940] = 250
    img[top:top + 100, 100:340] = SCALE_BAR_BGR
    for mm in range(0, 138):
        x = 110 + mm * 6
        img[top:top + (40 if mm % 10 == 0 else 30 if mm % 5 == 0 else 20), x:x + 2] = (20, 20, 20)


def test_a_ruler_found_in_part_is_reported_along_its_length_with_the_card_beside_it(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    img = draw_sheet(1200, 1800, chart=False)
    # a ruler the network sees in part, with a colour card after its end that it does not see
    draw_ruler_seen_in_part(img, 1580)
    card = paste(img, draw_colorchecker(patch=22, gap=5), 980, 1570)
    path = tmp_path / "ruler-and-card.png"
    cv2.imwrite(str(path), img)

    def only(verdict: dict[str, Any], name: str) -> dict[str, Any]:
        (found,) = [r for r in verdict["regions"] if r["class"] == name]
        return found

    as_found = judge(station(segmenter={"grow_scale_bars": False}), path).verdict
    assert only(as_found, "scale_bar")["bbox"][2] < 400
    v = judge(station(), path).verdict
    verdict_schema(v)
    bar = only(v, "scale_bar")
    assert bar["bbox"][0] <= 110 and 900 <= bar["bbox"][2] <= 932 + 90  # within half a 3 cm window
    chart = only(v, "colour_chart")
    assert chart["id"] == max(r["id"] for r in v["regions"])  # after the segmenter's regions
    assert chart["bbox"][0] <= card[0] + 10 and chart["bbox"][2] >= card[2] - 10
    check = next(c for c in v["checks"] if c["check"] == "colour_chart")
    assert check["status"] == "ok" and check["regions"] == [chart["id"]]


def test_a_credit_line_on_the_ruler_bar_along_the_edge_is_no_label_cut_off(
        tmp_path: Path, station: Callable[..., Settings]) -> None:
    img = draw_sheet(1200, 1800, chart=False)
    # the station's ruler bar runs along the bottom edge, seen in part, and a line of print on the
    # bar below the ticks reads as label (blue)
    draw_ruler_seen_in_part(img, 1700)
    img[1765:1800, 420:900] = LABEL_BGR
    path = tmp_path / "credit-line.png"
    cv2.imwrite(str(path), img)

    def framing(verdict: dict[str, Any]) -> dict[str, Any]:
        return next(c for c in verdict["checks"] if c["check"] == "framing")

    as_found = framing(judge(station(segmenter={"grow_scale_bars": False}), path).verdict)
    assert as_found["status"] == "warn" and "Label is cut off at the bottom edge" in as_found["message"]
    v = judge(station(), path).verdict
    (bar,) = [r for r in v["regions"] if r["class"] == "scale_bar"]
    assert bar["bbox"][2] > 900  # grown along the ticks, under the whole credit line
    assert framing(v)["status"] == "ok", framing(v)["message"]
    # a label truly cut by the bottom edge beside the bar is still reported
    img[1600:1800, 960:1150] = LABEL_BGR
    cv2.imwrite(str(path), img)
    cut = framing(judge(station(), path).verdict)
    assert cut["status"] == "warn" and "Label is cut off at the bottom edge" in cut["message"]


def test_a_wordmark_on_the_ruler_bar_is_cut_from_the_reported_scale_bar(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    img = draw_sheet(1200, 1800, chart=False)
    # an imaging bar the toy network calls scale bar (cyan) end to end: a round logo and the
    # institution's name in white on its left, 5 cm of mm ticks at 6 px/mm on its right. (Smaller
    # lettering at this resolution can read as a few ruler bands; the bar is then left whole.)
    top = 1580
    img[top:top + 100, 100:1100] = SCALE_BAR_BGR
    cv2.circle(img, (160, top + 50), 34, (250, 250, 250), -1)
    cv2.putText(img, "HERBARIUM", (215, top + 72), cv2.FONT_HERSHEY_TRIPLEX, 1.8, (250, 250, 250), 3, cv2.LINE_AA)
    for mm in range(0, 51):
        x = 770 + mm * 6
        img[top:top + (40 if mm % 10 == 0 else 30 if mm % 5 == 0 else 20), x:x + 2] = (20, 20, 20)
    path = tmp_path / "wordmark-bar.png"
    cv2.imwrite(str(path), img)

    def bar_of(verdict: dict[str, Any]) -> list[int]:
        (found,) = [r for r in verdict["regions"] if r["class"] == "scale_bar"]
        return list(found["bbox"])

    whole = bar_of(judge(station(segmenter={"trim_scale_bars": False}), path).verdict)
    assert whole[0] <= 110 and whole[2] >= 1090
    v = judge(station(), path).verdict
    verdict_schema(v)
    cut = bar_of(v)
    # from within a window (3 cm) and a centimetre of the ticks, past the logo and most of the name
    assert 770 - 240 <= cut[0] <= 770 and cut[1:] == whole[1:]
    checks = {c["check"]: c for c in v["checks"]}
    assert checks["required_elements"]["status"] == "ok", checks["required_elements"]["message"]
