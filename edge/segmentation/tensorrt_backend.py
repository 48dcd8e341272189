"""TensorRT backend: run a serialized engine of the segmenter (built by tensorrt_build).

Written against TensorRT's named-tensor API, which exists from 8.5 (JetPack 5.1) on; the
binding-index API (`num_bindings`, `execute_async_v2`) is never used.

All CUDA work (context, buffers, builds, inference) happens on one thread that this module owns,
so the caller may be any thread: the daemon creates the segmenter on its main thread and judges
frames on a worker.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from edge.classes import CLASS_NAMES
from edge.config_files import ConfigError
from edge.segmentation.base import ModelInfo, Segmentation, segment_with
from edge.segmentation.cuda_device import CudaDevice, CudaUnavailable, open_cuda_device
from edge.segmentation.engine_cache import (
    EngineCacheError,
    EngineMismatch,
    find_engine,
    rebuild_hint,
    resolve_engine_dir,
)
from edge.segmentation.model_card import ModelCard, file_sha256
from edge.segmentation.settings import SegmenterSettings
from edge.segmentation.tensorrt_build import (
    TensorRtUnavailable,
    build_and_store,
    engine_key,
    import_tensorrt,
    input_shape_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- running ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class IoTensor:
    name: str
    is_input: bool
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


def _numpy_dtype(trt: ModuleType, trt_dtype: Any, name: str) -> np.dtype[Any]:
    try:
        np_type = trt.nptype(trt_dtype)
    except TypeError:
        np_type = None
    if np_type is None:
        raise ConfigError(f"engine tensor {name!r} has type {trt_dtype}, which has no numpy equivalent; "
                          f"export the model with float32 input and output")
    return np.dtype(np_type)


def discover_io(trt: ModuleType, engine: Any, context: Any, card: ModelCard) -> list[IoTensor]:
    """Every I/O tensor by name and mode, with shapes resolved for the card's canvas.

    The card's input must be the only input and its output must exist; dynamic input dimensions
    are set to 1 x 3 x H x W, and every shape must be fully known afterwards.
    """
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    if inputs != [card.input_name]:
        raise EngineMismatch(f"engine inputs {inputs} differ from the model card's {[card.input_name]}")
    if card.output_name not in outputs:
        raise EngineMismatch(f"engine outputs {outputs} lack the model card's {card.output_name!r}")
    wanted = input_shape_of(card)
    declared = tuple(int(d) for d in engine.get_tensor_shape(card.input_name))
    if len(declared) != len(wanted) or any(d not in (-1, w) for d, w in zip(declared, wanted, strict=False)):
        raise EngineMismatch(f"engine input {card.input_name!r} is {declared}, the model card needs {wanted}")
    if -1 in declared and not context.set_input_shape(card.input_name, wanted):
        raise EngineMismatch(f"engine refuses input shape {wanted} for {card.input_name!r} (optimisation profile)")
    tensors = []
    for name in names:
        shape = tuple(int(d) for d in context.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            raise EngineMismatch(f"engine tensor {name!r} shape {shape} is still unknown after setting the input")
        tensors.append(IoTensor(name, name in inputs, shape, _numpy_dtype(trt, engine.get_tensor_dtype(name), name)))
    out = next(t for t in tensors if t.name == card.output_name)
    if len(out.shape) != 4 or out.shape[0] != 1 or out.shape[1] != len(CLASS_NAMES):
        raise EngineMismatch(f"engine output {out.name!r} is {out.shape}; expected 1 x {len(CLASS_NAMES)} x h x w")
    if out.dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise EngineMismatch(f"engine output {out.name!r} is {out.dtype}; expected float32 or float16 logits")
    return tensors


class TensorRtSegmenter:
    """Deserialise once, allocate pinned host and device buffers once, then copy in, run, copy out."""

    def __init__(self, card: ModelCard, settings: SegmenterSettings, *, config_path: str | None = None) -> None:
        self._card = card
        self._settings = settings
        self._config_path = config_path
        self.canvas_hw = card.input_hw
        # One thread owns the CUDA context, the engine and the buffers for the segmenter's life.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorrt")
        self._closed = False
        self._device: CudaDevice | None = None
        try:
            self._run(self._open)
        except BaseException:
            self._thread.shutdown(wait=True)
            raise
        self.info = ModelInfo(
            name=card.name, sha256=card.sha256 or file_sha256(card.path), backend="tensorrt",
            device=f"cuda:{settings.gpu} {self.key.gpu_name} (TensorRT {self.key.tensorrt_version}, "
                   f"{self.key.precision})")

    def _run(self, fn: Any, *args: Any) -> Any:
        return self._thread.submit(fn, *args).result()

    # Everything below named _on_thread or called from _open runs on the owning thread.
    def _open(self) -> None:
        trt = import_tensorrt()
        try:
            device = open_cuda_device(self._settings.cuda_library, self._settings.gpu)
        except CudaUnavailable as exc:
            raise TensorRtUnavailable(f"no CUDA device for TensorRT: {exc}") from None
        self._device = device
        try:
            self._open_engine(trt, device)
        except BaseException:
            self._release()
            raise

    def _open_engine(self, trt: ModuleType, device: CudaDevice) -> None:
        settings, card = self._settings, self._card
        engine_dir = resolve_engine_dir(settings.engine_dir)
        key, _ = engine_key(trt, device, card, settings.precision)
        built_now = False
        try:
            paths = find_engine(engine_dir, card.name, key, self._config_path)
        except EngineCacheError as exc:
            if not settings.rebuild_engine:
                raise
            log.warning("%s", str(exc).splitlines()[0])
            paths = build_and_store(trt, device, card, precision=settings.precision, engine_dir=engine_dir,
                                    workspace_gib=settings.workspace_gib).paths
            built_now = True
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)  # must outlive the engine
        engine = self._runtime.deserialize_cuda_engine(paths.plan.read_bytes())
        if engine is None and settings.rebuild_engine and not built_now:
            # Same key but TensorRT still refuses it (e.g. a driver update): build once more.
            log.warning("TensorRT refused %s; rebuilding it", paths.plan)
            paths = build_and_store(trt, device, card, precision=settings.precision, engine_dir=engine_dir,
                                    workspace_gib=settings.workspace_gib).paths
            engine = self._runtime.deserialize_cuda_engine(paths.plan.read_bytes())
        if engine is None:
            raise EngineMismatch(f"TensorRT {trt.__version__} could not deserialise {paths.plan} (see the TensorRT "
                                 f"log above); {rebuild_hint(settings.precision, self._config_path)}")
        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise EngineMismatch(f"TensorRT could not create an execution context for {paths.plan} "
                                 f"(out of GPU memory?)")
        self._tensors = discover_io(trt, engine, self._context, card)
        self._host: dict[str, np.ndarray] = {}
        self._dev: dict[str, int] = {}
        for t in self._tensors:
            host, dev = device.allocate(t.shape, t.dtype)
            self._host[t.name], self._dev[t.name] = host, dev
            if not self._context.set_tensor_address(t.name, dev):
                raise EngineMismatch(f"TensorRT refused the buffer address for {t.name!r}")
        self._stream = device.stream_handle()
        self.key = key
        self.engine_path = paths.plan
        log.info("TensorRT %s engine %s loaded on cuda:%d %s via %s", key.precision, paths.plan.name, device.index,
                 key.gpu_name, device.library)

    def _infer_on_thread(self, tensor: np.ndarray) -> np.ndarray:
        device = self._device
        assert device is not None
        name_in, name_out = self._card.input_name, self._card.output_name
        host_in = self._host[name_in]
        if tensor.shape != host_in.shape:
            raise ValueError(f"input tensor {tensor.shape} does not match the engine's {host_in.shape}")
        np.copyto(host_in, tensor, casting="same_kind")  # float32 -> float16 for a half input
        device.to_device_async(self._dev[name_in], host_in)
        if not self._context.execute_async_v3(stream_handle=self._stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        for t in self._tensors:
            if not t.is_input:
                device.to_host_async(self._host[t.name], self._dev[t.name])
        device.synchronize()
        # Copy out: the pinned buffer is overwritten by the next frame.
        return np.array(self._host[name_out], dtype=np.float32, copy=True)

    def _release(self) -> None:
        for attr in ("_context", "_engine", "_runtime"):
            if hasattr(self, attr):
                delattr(self, attr)  # TensorRT objects go before the buffers and context they use
        if self._device is not None:
            device, self._device = self._device, None
            device.close()

    # -- the Segmenter interface (any thread) ---------------------------------------------------
    def logits(self, tensor: np.ndarray) -> np.ndarray:
        """1 x 3 x H x W float32 in, 1 x C x h x w float32 logits out."""
        if self._closed:
            raise RuntimeError("segmenter is closed")
        return self._run(self._infer_on_thread, tensor)

    def segment(self, image_bgr: np.ndarray) -> Segmentation:
        return segment_with(self.logits, image_bgr, self._card)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._release)
        finally:
            self._thread.shutdown(wait=True)


def tensorrt_unavailable_reason(settings: SegmenterSettings) -> str | None:
    """None when TensorRT imports and the configured GPU exists; else why not (for backend: auto)."""
    try:
        import_tensorrt()
    except TensorRtUnavailable as exc:
        return str(exc)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cuda-probe") as probe:
        return probe.submit(_probe_device, settings).result()


def _probe_device(settings: SegmenterSettings) -> str | None:
    try:
        open_cuda_device(settings.cuda_library, settings.gpu).close()
    except CudaUnavailable as exc:
        return f"no CUDA device for TensorRT ({exc})"
    return None


def run_on_device_thread(settings: SegmenterSettings, fn: Any) -> Any:
    """Run fn(trt, device) on a fresh thread that opens and closes the CUDA device (for the CLI)."""
    def body() -> Any:
        trt = import_tensorrt()
        try:
            device = open_cuda_device(settings.cuda_library, settings.gpu)
        except CudaUnavailable as exc:
            raise TensorRtUnavailable(f"no CUDA device for TensorRT: {exc}") from None
        try:
            return fn(trt, device)
        finally:
            device.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorrt-build") as worker:
        return worker.submit(body).result()

