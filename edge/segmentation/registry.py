"""Backend registry: one line per inference backend."""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.segmentation.base import Segmenter
from edge.segmentation.model_card import ModelCard, load_model_card, model_path
from edge.segmentation.settings import SegmenterSettings

log = logging.getLogger(__name__)


def _onnxruntime(card: ModelCard, settings: SegmenterSettings) -> Segmenter:
    from edge.segmentation.onnxruntime_backend import OnnxRuntimeSegmenter

    return OnnxRuntimeSegmenter(card, threads=settings.threads, provider=settings.onnxruntime_provider,
                                gpu=settings.gpu)


def _tensorrt(card: ModelCard, settings: SegmenterSettings) -> Segmenter:
    from edge.segmentation.tensorrt_backend import TensorRtSegmenter

    return TensorRtSegmenter(card, settings)


def _auto(card: ModelCard, settings: SegmenterSettings) -> Segmenter:
    """TensorRT where it imports, a GPU exists and a fitting engine is (or can be) there; else ONNX Runtime."""
    from edge.segmentation.engine_cache import EngineCacheError
    from edge.segmentation.tensorrt_backend import tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason(settings)
    if reason is None:
        try:
            return _tensorrt(card, settings)
        except EngineCacheError as exc:
            # Loud, not fatal: auto promises a running service; backend: tensorrt refuses instead.
            log.warning("segmenter backend auto: TensorRT not used: %s", exc)
    else:
        log.info("segmenter backend auto: TensorRT not used: %s", reason)
    return _onnxruntime(card, settings)


BACKENDS: dict[str, Callable[[ModelCard, SegmenterSettings], Segmenter]] = {
    "onnxruntime": _onnxruntime,
    "tensorrt": _tensorrt,
    "auto": _auto,
}


def create_segmenter(settings: SegmenterSettings, profile_model: str | None = None) -> Segmenter:
    """profile_model: the bundled model the active profile names (used when segmenter.model is null)."""
    card = load_model_card(model_path(settings.model, profile_model))
    segmenter = BACKENDS[settings.backend](card, settings)
    log.info("segmenter: %s on %s (backend setting %s), model %s", segmenter.info.backend, segmenter.info.device,
             settings.backend, card.name)
    return segmenter
