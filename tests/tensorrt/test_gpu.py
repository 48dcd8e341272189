"""TensorRT against ONNX Runtime on a real GPU.

Skipped unless `tensorrt` imports and a CUDA device exists; with RUN_GPU_TESTS=1 a skip becomes a
failure, so a GPU runner cannot pass by silently skipping. Uses the bundled model when it is
there (the realistic check), else the toy model.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.config import load_settings
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.model_card import ModelCard, bundled_model_path, load_model_card
from edge.segmentation.onnxruntime_backend import OnnxRuntimeSegmenter
from edge.segmentation.settings import SegmenterSettings
from edge.segmentation.tensorrt_backend import TensorRtSegmenter
from tests.tensorrt.conftest import sample_image
from tests.toy_model import build_toy_model

pytestmark = pytest.mark.gpu


def _gpu_missing() -> str | None:
    try:
        importlib.import_module("tensorrt")
    except ImportError as exc:
        return f"tensorrt does not import ({exc})"
    from edge.segmentation.tensorrt_backend import tensorrt_unavailable_reason

    return tensorrt_unavailable_reason(load_settings().segmenter)


@pytest.fixture(scope="module")
def real_gpu() -> None:
    reason = _gpu_missing()
    if reason is not None:
        if os.environ.get("RUN_GPU_TESTS") == "1":
            pytest.fail(f"RUN_GPU_TESTS=1 but no GPU test can run: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    bundled = bundled_model_path()
    if bundled.is_file():
        return load_model_card(bundled)
    return load_model_card(build_toy_model(tmp_path_factory.mktemp("model")))


def _tensors(card: ModelCard, count: int = 4) -> Iterator[np.ndarray]:
    for seed in range(count):
        canvas, _ = place_on_canvas(sample_image(seed), card.input_hw)
        yield canvas_to_tensor(canvas, card.mean, card.std)


def _segmenter(card: ModelCard, tmp_path: Path, precision: str) -> TensorRtSegmenter:
    settings: SegmenterSettings = load_settings(None, {"segmenter": {
        "model": str(card.path), "engine_dir": str(tmp_path / "engines"), "precision": precision,
        "rebuild_engine": True, "backend": "tensorrt"}}).segmenter
    return TensorRtSegmenter(card, settings)


def test_fp32_logits_match_onnx_runtime(real_gpu: None, card: ModelCard, tmp_path: Path) -> None:
    trt_seg = _segmenter(card, tmp_path, "fp32")
    ref = OnnxRuntimeSegmenter(card, threads=2, provider="cpu")
    try:
        worst = max(float(np.abs(trt_seg.logits(t) - ref.logits(t)).max()) for t in _tensors(card))
    finally:
        trt_seg.close()
    assert worst <= 1e-3


def test_fp16_classes_agree_with_onnx_runtime(real_gpu: None, card: ModelCard, tmp_path: Path) -> None:
    from edge.segmentation.engine_cache import fp16_onnx_for
    from edge.segmentation.tensorrt_backend import import_tensorrt, strongly_typed

    if strongly_typed(import_tensorrt()) and fp16_onnx_for(card) is None:
        pytest.skip("TensorRT 11+ needs the model's float16 ONNX for an FP16 engine")
    trt_seg = _segmenter(card, tmp_path, "fp16")
    ref = OnnxRuntimeSegmenter(card, threads=2, provider="cpu")
    same = total = 0
    try:
        for t in _tensors(card):
            a, b = trt_seg.logits(t).argmax(axis=1), ref.logits(t).argmax(axis=1)
            same += int((a == b).sum())
            total += a.size
    finally:
        trt_seg.close()
    assert same / total >= 0.995
