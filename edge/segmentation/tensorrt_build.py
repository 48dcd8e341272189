"""TensorRT engine building: the ONNX segmenter in, a serialized engine for this GPU out.

Written against TensorRT's named-tensor API, which exists from 8.5 (JetPack 5.1) on. Version
differences handled here:

* 8.5-8.6: the ONNX parser needs an explicit-batch network (`EXPLICIT_BATCH` creation flag).
* 10.x: explicit batch is the only mode; `create_network()` takes no flag.
* 11.x: strongly typed only: `BuilderFlag.FP16` is gone and an FP16 engine comes from a float16
  ONNX (engine_cache.source_onnx picks it).

Builds need a current CUDA device; tensorrt_backend runs them on the thread that owns it.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from edge.config_files import ConfigError
from edge.segmentation.cuda_device import CudaDevice
from edge.segmentation.engine_cache import EngineKey, EnginePaths, atomic_write, engine_paths, source_onnx, write_engine
from edge.segmentation.model_card import ModelCard, file_sha256

log = logging.getLogger(__name__)

MIN_VERSION = (8, 5)


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
