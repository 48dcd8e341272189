"""ONNX Runtime backend: CPU, or CUDA where onnxruntime-gpu provides it."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort

from edge.config_files import ConfigError
from edge.segmentation.base import ModelInfo, Segmentation, segment_with
from edge.segmentation.model_card import ModelCard, file_sha256

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
log = logging.getLogger(__name__)


def choose_providers(requested: str, gpu: int) -> list[str | tuple[str, dict[str, object]]]:
    """Provider list for a session: CUDA first (with CPU behind it for unsupported ops) or CPU only."""
    available = ort.get_available_providers()
    if requested == "cuda" and CUDA_PROVIDER not in available:
        raise ConfigError("segmenter.onnxruntime_provider: cuda, but this ONNX Runtime has no CUDA provider "
                          "(install onnxruntime-gpu in place of onnxruntime, never both)")
    if requested == "cpu" or CUDA_PROVIDER not in available:
        return [CPU_PROVIDER]
    return [(CUDA_PROVIDER, {"device_id": gpu}), CPU_PROVIDER]


class OnnxRuntimeSegmenter:
    def __init__(self, card: ModelCard, threads: int = 2, provider: str = "cpu", gpu: int = 0) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle inference threads sleep instead of spinning: on a small station they would take a
        # core from the full-resolution decode and the checks running beside the segmenter
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = choose_providers(provider, gpu)
        self._session = ort.InferenceSession(str(card.path), options, providers=providers)
        # ONNX Runtime falls back to CPU (with a warning) when the CUDA libraries do not load.
        active = self._session.get_providers()
        on_cuda = bool(active) and active[0] == CUDA_PROVIDER
        if providers[0] != CPU_PROVIDER and not on_cuda:
            if provider == "cuda":
                raise ConfigError("segmenter.onnxruntime_provider: cuda, but ONNX Runtime could not start its CUDA "
                                  "provider (CUDA/cuDNN libraries missing or not matching onnxruntime-gpu)")
            log.warning("ONNX Runtime's CUDA provider did not start; running on the CPU")
        self._card = card
        self.canvas_hw = card.input_hw
        self.info = ModelInfo(name=card.name, sha256=card.sha256 or file_sha256(card.path),
                              backend="onnxruntime", device=f"cuda:{gpu}" if on_cuda else "cpu")

    def logits(self, tensor: np.ndarray) -> np.ndarray:
        """1 x 3 x H x W float32 in, 1 x C x h x w float32 logits out."""
        (logits,) = self._session.run([self._card.output_name], {self._card.input_name: tensor})
        return np.asarray(logits, dtype=np.float32)

    def segment(self, image_bgr: np.ndarray) -> Segmentation:
        return segment_with(self.logits, image_bgr, self._card)

    def close(self) -> None:
        pass
