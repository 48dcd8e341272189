from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import Settings
from edge.pipeline import FramePipeline
from tests.conftest import Running, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically, write_jpeg


def red_patch_chart(image: np.ndarray) -> None:
    """A chart the toy segmenter sees as one chart region (all red) that also shows a patch grid."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = int(w * 0.05), int(h * 0.05), int(w * 0.3), int(h * 0.15)
    image[y0:y1, x0:x1] = (0, 0, 110)
    shades = [(0, 0, 255), (40, 40, 255), (0, 70, 230), (70, 0, 200), (0, 0, 170), (50, 90, 255)]
    cols, rows = 6, 2
    pw, ph = (x1 - x0) // cols, (y1 - y0) // rows
    for i in range(cols * rows):
        r, c = divmod(i, cols)
        px, py = x0 + c * pw + 4, y0 + r * ph + 4
        image[py:py + ph - 8, px:px + pw - 8] = shades[(i + r) % len(shades)]


def test_verdicts_carry_the_new_checks_and_feed_the_station_baseline(
        tmp_path: Path, station: Callable[..., Settings], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    pipeline = FramePipeline(station())
    try:
        verdicts = []
        for i in range(3):
            image = draw_sheet(1200, 1800, seed=i)
            red_patch_chart(image)
            verdicts.append(pipeline.judge(write_jpeg(tmp_path / f"f{i}.jpg", image)).verdict)
        blurred = draw_sheet(1200, 1800, seed=9, blur_sigma=3)
        red_patch_chart(blurred)
        bad = pipeline.judge(write_jpeg(tmp_path / "blurred.jpg", blurred)).verdict
    finally:
        pipeline.close()
    for v in [*verdicts, bad]:
        verdict_schema(v)
    assert [v["verdict"] for v in verdicts] == ["accept"] * 3, verdicts[0]["reasons"]
    names = [c["check"] for c in verdicts[0]["checks"]]
    assert names == ["readable", "required_elements", "barcode", "colour_chart", "colour_accuracy", "exposure",
                     "blur", "framing"]
    assert pipeline.history.baseline_count("1200x1800", "label") == 3
    assert bad["verdict"] == "retake" and "blur" in [r["check"] for r in bad["reasons"]]
    assert pipeline.history.baseline_count("1200x1800", "label") == 3  # the retake did not lower the baseline


def test_a_restarted_daemon_judges_focus_against_the_baseline_it_had(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    # five sharp frames build the camera's baseline; after a restart a slightly soft frame, which
    # the absolute limit alone would pass, is still judged against it
    settings = station(profiles={"herbarium_sheet": {"blur": {"fail_above_px": 20.0, "warn_above_px": 20.0}}})
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    first = run_daemon(settings)
    for i in range(settings.active_profile.blur.baseline_min_frames):
        image = draw_sheet(1200, 1800, seed=i)
        red_patch_chart(image)
        write_atomically(hot / f"sharp{i}.jpg", jpeg_bytes(image))
    assert wait_for(lambda: len(verdicts_in(state)) == 5, 20)
    assert [v["verdict"] for v in verdicts_in(state)] == ["accept"] * 5
    first.stop()
    second = run_daemon(settings)
    assert second.daemon.pipeline is not None
    assert second.daemon.pipeline.history.baseline_count("1200x1800", "label") == 5
    soft = draw_sheet(1200, 1800, seed=7, blur_sigma=1.2)
    red_patch_chart(soft)
    write_atomically(hot / "soft.jpg", jpeg_bytes(soft))
    assert wait_for(lambda: len(verdicts_in(state)) == 6, 20)
    second.stop()
    verdict = verdicts_in(state)[-1]
    blur = next(c for c in verdict["checks"] if c["check"] == "blur")
    assert verdict["verdict"] == "retake" and blur["status"] == "fail", blur
    assert "this camera's usual" in blur["message"]


def verdicts_in(state: Path) -> list[dict[str, Any]]:
    path = state / "verdicts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
