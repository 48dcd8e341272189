"""Backend registry: one line per inference backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge.config import SegmenterSettings
from edge.segmentation.base import Segmenter
from edge.segmentation.model_card import ModelCard, bundled_model_path, load_model_card


def _onnxruntime(card: ModelCard, settings: SegmenterSettings) -> Segmenter:
    from edge.segmentation.onnxruntime_backend import OnnxRuntimeSegmenter

    return OnnxRuntimeSegmenter(card, threads=settings.threads)


BACKENDS: dict[str, Callable[[ModelCard, SegmenterSettings], Segmenter]] = {
    "onnxruntime": _onnxruntime,
}


def create_segmenter(settings: SegmenterSettings) -> Segmenter:
    model_path = Path(settings.model).expanduser() if settings.model else bundled_model_path()
    card = load_model_card(model_path)
    return BACKENDS[settings.backend](card, settings)
