"""A profile may name the bundled model that segments its frames: slide stations run the slide model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import load_settings
from edge.config_files import ConfigError
from edge.pipeline import FramePipeline
from edge.segmentation.model_card import GENERAL_MODEL, bundled_model_names, bundled_model_path, model_path
from tests.frames import OLD_SLIDE_BOXES, draw_old_slide, draw_sheet, write_jpeg

SLIDE_MODEL = "segmenter-slides.onnx"


def card_name(onnx: str) -> str:
    card = yaml.safe_load(bundled_model_path(onnx).with_suffix(".yaml").read_text())
    return str(card["name"])


def settings_for(tmp_path: Path, **overrides: Any) -> Any:
    base: dict[str, Any] = {"station": "t", "state_dir": str(tmp_path / "state"), "mqtt": {"enabled": False},
                            "segmenter": {"threads": 1}}
    for key, value in overrides.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return load_settings(None, base)


def test_the_slide_profile_names_the_bundled_slide_model_and_sheets_the_general_one() -> None:
    s = load_settings()
    assert s.profiles["microscope_slide"].segmenter_model == SLIDE_MODEL
    assert s.profiles["herbarium_sheet"].segmenter_model is None
    assert {GENERAL_MODEL, SLIDE_MODEL} <= set(bundled_model_names())
    assert model_path(None, SLIDE_MODEL) == bundled_model_path(SLIDE_MODEL)
    assert model_path(None, None) == bundled_model_path()
    assert card_name(SLIDE_MODEL) != card_name(GENERAL_MODEL)


def test_verdicts_name_the_model_of_the_profile_they_were_judged_by(tmp_path: Path) -> None:
    frame = write_jpeg(tmp_path / "f.jpg", draw_sheet(900, 1350, chart=False))
    for profile, onnx in (("microscope_slide", SLIDE_MODEL), ("herbarium_sheet", GENERAL_MODEL)):
        pipeline = FramePipeline(settings_for(tmp_path, profile=profile))
        try:
            verdict = pipeline.judge(frame).verdict
        finally:
            pipeline.close()
        assert verdict["profile"] == profile
        assert verdict["model"]["name"] == card_name(onnx)


def box_iou(a: list[float], b: list[float]) -> float:
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_the_slide_model_finds_the_labels_and_the_ring_cell_of_an_old_slide(tmp_path: Path) -> None:
    # tan and yellow paper with large writing: the general model, trained mostly on sheets, reads the
    # oval label as specimen; the slide profile's model reads the labels and the cell as a person would
    image = draw_old_slide()
    h, w = image.shape[:2]
    pipeline = FramePipeline(settings_for(tmp_path, profile="microscope_slide"))
    try:
        verdict = pipeline.judge(write_jpeg(tmp_path / "old.jpg", image)).verdict
    finally:
        pipeline.close()
    assert verdict["model"]["name"] == card_name(SLIDE_MODEL)
    for cls, boxes in OLD_SLIDE_BOXES.items():
        found = [r["bbox"] for r in verdict["regions"] if r["class"] == cls]
        assert len(found) == len(boxes), (cls, found)
        for x0, y0, x1, y1 in boxes:
            assert max(box_iou(f, [x0 * w, y0 * h, x1 * w, y1 * h]) for f in found) > 0.7, (cls, found)
    assert verdict["verdict"] == "accept", verdict["reasons"]


def test_segmenter_model_when_set_replaces_the_profiles_model(tmp_path: Path) -> None:
    general = str(bundled_model_path())
    s = settings_for(tmp_path, profile="microscope_slide", segmenter={"model": general})
    assert model_path(s.segmenter.model, s.active_profile.segmenter_model) == Path(general)


def test_a_profile_naming_a_model_the_package_does_not_ship_is_refused_at_start(tmp_path: Path) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text("profiles:\n  herbarium_sheet:\n    segmenter_model: segmenter-moths.onnx\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    msg = str(err.value)
    assert str(cfg) in msg and "profiles.herbarium_sheet.segmenter_model" in msg and "segmenter-moths.onnx" in msg
    assert SLIDE_MODEL in msg  # says what is shipped


@pytest.mark.parametrize("name", ["../segmenter.onnx", "/tmp/segmenter.onnx", "segmenter.yaml"])
def test_a_profiles_model_is_a_bare_onnx_file_name(tmp_path: Path, name: str) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text(f"profiles:\n  microscope_slide:\n    segmenter_model: '{name}'\n")
    with pytest.raises(ConfigError, match="segmenter_model"):
        load_settings(cfg)
