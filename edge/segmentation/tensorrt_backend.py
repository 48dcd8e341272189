"""TensorRT backend: build a serialized engine from the ONNX segmenter, and run it.

Written against TensorRT's named-tensor API, which exists from 8.5 (JetPack 5.1) on; the
binding-index API (`num_bindings`, `execute_async_v2`) is never used. Version differences
handled here:

* 8.5-8.6: the ONNX parser needs an explicit-batch network (`EXPLICIT_BATCH` creation flag).
* 10.x: explicit batch is the only mode; `create_network()` takes no flag.
* 11.x: strongly typed only: `BuilderFlag.FP16` is gone and an FP16 engine comes from a float16
  ONNX (engine_cache.source_onnx picks it).

All CUDA work (context, buffers, builds, inference) happens on one thread that this module owns,
so the caller may be any thread: the daemon creates the segmenter on its main thread and judges
frames on a worker.
"""

from __future__ import annotations

import importlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from edge.classes import CLASS_NAMES
from edge.config import ConfigError, SegmenterSettings
from edge.segmentation.base import ModelInfo, Segmentation
from edge.segmentation.cuda_device import CudaDevice, CudaUnavailable, open_cuda_device
from edge.segmentation.engine_cache import (
    EngineCacheError,
    EngineKey,
    EngineMismatch,
    EnginePaths,
    atomic_write,
    engine_paths,
    find_engine,
    rebuild_hint,
    resolve_engine_dir,
    source_onnx,
    write_engine,
)
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.model_card import ModelCard, file_sha256

log = logging.getLogger(__name__)

MIN_VERSION = (8, 5)
T = TypeVar("T")


class TensorRtUnavailable(ConfigError):
    """TensorRT or CUDA cannot be used here; the message says why."""


class EngineBuildFailed(RuntimeError):
    pass


def import_tensorrt() -> ModuleType:
    """The tensorrt module, refused when older than the named-tensor API."""
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError as exc:
        raise TensorRtUnavailable(
            f"the TensorRT Python bindings do not import ({exc}); on a Jetson use a venv made with "
            f"--system-site-packages (docs/jetson.md), on x86 pip install 'specimen-edge[tensorrt]'") from None
    if version_tuple(trt) < MIN_VERSION:
        raise TensorRtUnavailable(f"TensorRT {trt.__version__} is too old: specimen-edge needs the named-tensor "
                                  f"API of TensorRT 8.5 or later (JetPack 5.1 or later)")
    return trt


def version_tuple(trt: ModuleType) -> tuple[int, int]:
    parts = str(trt.__version__).split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def strongly_typed(trt: ModuleType) -> bool:
    return version_tuple(trt)[0] >= 11


def input_shape_of(card: ModelCard) -> tuple[int, int, int, int]:
    return (1, 3, card.input_hw[0], card.input_hw[1])


def engine_key(trt: ModuleType, device: CudaDevice, card: ModelCard, precision: str,
               source: Path | None = None) -> tuple[EngineKey, Path]:
    """The key an engine for this model, precision, TensorRT and GPU must carry, and its source ONNX."""
    src = source or source_onnx(card, precision, strongly_typed(trt))
    key = EngineKey(onnx_sha256=file_sha256(src), tensorrt_version=str(trt.__version__),
                    gpu_name=device.name(), compute_capability=device.compute_capability(),
                    precision=precision, input_shape=input_shape_of(card))
    return key, src


# -- building ---------------------------------------------------------------------------------

def _parser_errors(parser: Any) -> str:
    return "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "no details"


def build_serialized_engine(trt: ModuleType, onnx_path: Path, *, fp16: bool, workspace_bytes: int,
                            input_shape: tuple[int, ...], timing_cache: Path | None = None,
                            logger: Any = None) -> bytes:
    """ONNX file in, serialized plan out (and the timing cache updated). Needs a current CUDA device."""
    logger = logger or trt.Logger(trt.Logger.WARNING)
    major = version_tuple(trt)[0]
    builder = trt.Builder(logger)
    if major >= 10:
        network = builder.create_network()  # explicit batch is the only mode; the flag is deprecated/removed
    else:
        network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, logger)
    # parse_from_file also resolves external-data files stored beside the ONNX.
    if not parser.parse_from_file(str(onnx_path)):
        raise EngineBuildFailed(f"TensorRT cannot parse {onnx_path}: {_parser_errors(parser)}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    if fp16:
        if major >= 11:
            # Strongly typed: the ONNX decides. Nothing to set; the caller passed the float16 export.
            pass
        else:
            config.set_flag(trt.BuilderFlag.FP16)
    dynamic = [network.get_input(i) for i in range(network.num_inputs)
               if any(int(d) < 0 for d in tuple(network.get_input(i).shape))]
    if dynamic:
        # Pin dynamic inputs to the canvas the runtime feeds: min = opt = max.
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            profile.set_shape(tensor.name, input_shape, input_shape, input_shape)
        config.add_optimization_profile(profile)
    blob = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(blob)
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        # A cache from another TensorRT or GPU: start afresh rather than risk wrong tactics.
        log.warning("timing cache %s does not fit this TensorRT/GPU; starting a new one", timing_cache)
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildFailed(f"TensorRT could not build an engine from {onnx_path} (see the TensorRT log above)")
    plan = bytes(memoryview(serialized))
    if timing_cache is not None:
        atomic_write(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    return plan


@dataclass(frozen=True)
class BuiltEngine:
    paths: EnginePaths
    key: EngineKey
    source: Path
    seconds: float


def build_and_store(trt: ModuleType, device: CudaDevice, card: ModelCard, *, precision: str, engine_dir: Path,
                    workspace_gib: float, source: Path | None = None) -> BuiltEngine:
    """Build the engine for this device and store it with its sidecar, atomically."""
    key, src = engine_key(trt, device, card, precision, source)
    paths = engine_paths(engine_dir, card.name, key)
    started = time.monotonic()
    log.info("building TensorRT %s engine for %s from %s on %s (sm %s); this takes minutes",
             precision, card.name, src.name, key.gpu_name, key.compute_capability)
    plan = build_serialized_engine(trt, src, fp16=precision == "fp16", workspace_bytes=int(workspace_gib * (1 << 30)),
                                   input_shape=key.input_shape, timing_cache=paths.timing_cache)
    seconds = time.monotonic() - started
    write_engine(paths, plan, key, source=src,
                 extra={"model_name": card.name, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "build_seconds": round(seconds, 1), "cuda_library": device.library})
    return BuiltEngine(paths, key, src, seconds)


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


def logits_to_segmentation(logits: np.ndarray, placement: Any) -> Segmentation:
    """1 x C x h x W (any float) -> class map and confidence, as the ONNX Runtime backend does."""
    from edge.segmentation.onnxruntime_backend import softmax_top

    classes, confidence = softmax_top(np.asarray(logits[0], dtype=np.float32))
    return Segmentation(classes=classes, confidence=confidence, placement=placement)


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
        canvas, placement = place_on_canvas(image_bgr, self.canvas_hw)
        tensor = canvas_to_tensor(canvas, self._card.mean, self._card.std)
        return logits_to_segmentation(self.logits(tensor), placement)

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

