"""A sample cache of one scene kind (the slide model is fine-tuned on slides only)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.segmentation.letterbox import place_on_canvas
from training.dataset import CacheSpec, _sample_kwargs, build_cache, load_sample
from training.synth import generate

CANVAS = (96, 64)
LONG_SIDE = 160


def test_a_cache_of_one_kind_holds_that_kind_only_under_a_name_of_its_own(tmp_path: Path) -> None:
    mixed = CacheSpec(tmp_path, CANVAS, 500, 4, long_side=LONG_SIDE)
    slides = CacheSpec(tmp_path, CANVAS, 500, 4, long_side=LONG_SIDE, kind="microscope_slide")
    assert slides.folder() != mixed.folder() and slides.folder().name == mixed.folder().name + "_microscope_slide"
    assert "_microscope_slide" not in mixed.folder().name  # existing mixed caches keep their names
    folder = build_cache(slides, workers=1, log=lambda _: None)
    assert json.loads((folder / "cache.json").read_text())["kind"] == "microscope_slide"
    for seed in range(500, 504):
        expected = generate(seed, "microscope_slide", LONG_SIDE, **_sample_kwargs(seed))
        assert expected.kind == "microscope_slide"
        want, _ = place_on_canvas(expected.mask, CANVAS, pad_value=0, interpolation=cv2.INTER_NEAREST)
        _, mask = load_sample(folder, seed)
        assert np.array_equal(mask, want)
    # the mixed cache draws the generator's own mix: seed 500's scene there is not the slide above
    auto = generate(500, "auto", LONG_SIDE, **_sample_kwargs(500))
    assert not np.array_equal(auto.mask, generate(500, "microscope_slide", LONG_SIDE, **_sample_kwargs(500)).mask)
