"""A fake `tensorrt` module that follows TensorRT's Python API, per major version.

`make_tensorrt("10.3.0")` returns a module object with the named-tensor API of that version:

* 8.5/8.6: `create_network` needs the EXPLICIT_BATCH flag for the ONNX parser; `BuilderFlag.FP16`;
  the deprecated binding API (`num_bindings`) is still there.
* 10.x: the binding API is gone; the creation flag is ignored.
* 11.x: strongly typed only: no `BuilderFlag.FP16`, no `EXPLICIT_BATCH`; precision comes from the ONNX.

A "plan" is a header (TensorRT version, GPU, precision, I/O tensors) plus the ONNX bytes.
Deserialising a plan made by another version or for another GPU returns None, as TensorRT does.
At execute time the engine reads its input from simulated device memory, runs the ONNX graph with
ONNX Runtime on the CPU (rounding through float16 for FP16 engines) and writes its outputs back,
all queued on the stream, so the whole host-side path is exercised.
"""

from __future__ import annotations

import enum
import json
import struct
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from tests.tensorrt import fake_device as gpu

MAGIC = b"FAKETRT\0"
TC_MAGIC = b"FAKETC\0"


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8

    @property
    def itemsize(self) -> int:
        return {"FLOAT": 4, "HALF": 2, "INT8": 1, "INT32": 4, "BOOL": 1, "UINT8": 1, "FP8": 1, "BF16": 2,
                "INT64": 8}[self.name]


_NP = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8, DataType.INT32: np.int32,
       DataType.BOOL: np.bool_, DataType.UINT8: np.uint8, DataType.INT64: np.int64}
_FROM_ONNX = {onnx.TensorProto.FLOAT: DataType.FLOAT, onnx.TensorProto.FLOAT16: DataType.HALF,
              onnx.TensorProto.INT8: DataType.INT8, onnx.TensorProto.INT32: DataType.INT32,
              onnx.TensorProto.BOOL: DataType.BOOL, onnx.TensorProto.UINT8: DataType.UINT8,
              onnx.TensorProto.INT64: DataType.INT64, onnx.TensorProto.BFLOAT16: DataType.BF16}


def nptype(trt_type: DataType) -> type:
    try:
        return _NP[trt_type]  # type: ignore[return-value]
    except KeyError:
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.") from None


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class MemoryPoolType(enum.Enum):
    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    TACTIC_DRAM = 4


class Dims(tuple):  # noqa: SLOT001 - trt.Dims is a sequence of ints
    pass


def volume(shape: Any) -> int:
    return int(np.prod(tuple(shape))) if len(tuple(shape)) else 1


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class Logger:
    Severity = Severity
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = (Severity.INTERNAL_ERROR, Severity.ERROR, Severity.WARNING,
                                                     Severity.INFO, Severity.VERBOSE)

    def __init__(self, min_severity: Severity = Severity.WARNING) -> None:
        self.min_severity = min_severity
        self.messages: list[tuple[Severity, str]] = []

    def log(self, severity: Severity, msg: str) -> None:
        if severity <= self.min_severity:
            self.messages.append((severity, msg))


class HostMemory(bytes):
    """IHostMemory: a buffer; the fake is bytes so memoryview() and len() behave alike."""

    @property
    def nbytes(self) -> int:
        return len(self)


class ITensor:
    def __init__(self, name: str, shape: tuple[int, ...], dtype: DataType) -> None:
        self.name, self.shape, self.dtype = name, Dims(shape), dtype


def make_tensorrt(version: str) -> types.ModuleType:
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version  # type: ignore[attr-defined]
    stats: dict[str, Any] = {"builds": 0, "cache_entries_loaded": [], "fp16_flag": [], "network_flags": [],
                             "profiles": []}

    creation_flags = {"EXPLICIT_PRECISION": 1, "STRONGLY_TYPED": 2, "PREFER_JIT_PYTHON_PLUGINS": 3}
    if major < 11:
        creation_flags["EXPLICIT_BATCH"] = 0
    NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", creation_flags)  # noqa: N806
    builder_flags = {"GPU_FALLBACK": 1, "REFIT": 2, "DEBUG": 3, "STRICT_TYPES": 4, "TF32": 7,
                     "VERSION_COMPATIBLE": 13}
    if major < 11:
        builder_flags.update({"FP16": 0, "INT8": 5, "BF16": 17})
    BuilderFlag = enum.Enum("BuilderFlag", builder_flags)  # noqa: N806

    def onnx_has_fp16(model: onnx.ModelProto) -> bool:
        return any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)

    class INetworkDefinition:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: list[ITensor] = []
            self.outputs: list[ITensor] = []
            self.onnx_bytes = b""
            self.fp16_weights = False

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        @property
        def num_outputs(self) -> int:
            return len(self.outputs)

        def get_input(self, i: int) -> ITensor:
            return self.inputs[i]

        def get_output(self, i: int) -> ITensor:
            return self.outputs[i]

    class ParserError:
        def __init__(self, desc: str) -> None:
            self._desc = desc

        def desc(self) -> str:
            return self._desc

        def __str__(self) -> str:
            return f"In node -1 (parseGraph): INVALID_GRAPH: {self._desc}"

    class OnnxParser:
        def __init__(self, network: INetworkDefinition, logger: Logger) -> None:
            self.network, self.logger = network, logger
            self.errors: list[ParserError] = []

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> ParserError:
            return self.errors[i]

        def parse(self, model: bytes, path: str | None = None) -> bool:
            if major < 10 and not self.network.flags & (1 << int(NetworkDefinitionCreationFlag.EXPLICIT_BATCH)):
                self.errors.append(ParserError("Network must have explicit batch dimension (EXPLICIT_BATCH)"))
                return False
            try:
                proto = onnx.load_from_string(bytes(model))
                onnx.checker.check_model(proto)
            except Exception as exc:  # noqa: BLE001 - the parser reports, never raises
                self.errors.append(ParserError(f"failed to parse ONNX model: {exc}"))
                return False
            inits = {i.name for i in proto.graph.initializer}

            def tensor(vi: Any) -> ITensor:
                tt = vi.type.tensor_type
                dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
                return ITensor(vi.name, dims, _FROM_ONNX[tt.elem_type])

            self.network.inputs = [tensor(v) for v in proto.graph.input if v.name not in inits]
            self.network.outputs = [tensor(v) for v in proto.graph.output]
            self.network.onnx_bytes = bytes(model)
            self.network.fp16_weights = onnx_has_fp16(proto)
            return True

        def parse_from_file(self, path: str) -> bool:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                self.errors.append(ParserError(f"cannot read {path}: {exc}"))
                return False
            return self.parse(data, path)

    class ITimingCache:
        def __init__(self, version: str, capability: list[int], entries: int) -> None:
            self.version, self.capability, self.entries = version, capability, entries

        def serialize(self) -> HostMemory:
            body = json.dumps({"version": self.version, "capability": self.capability, "entries": self.entries})
            return HostMemory(TC_MAGIC + body.encode())

    def _current_gpu() -> gpu.FakeGpu:
        index = gpu.current_device()
        return gpu.STATE.gpus[0 if index is None else index]

    class IOptimizationProfile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[tuple[int, ...], ...]] = {}

        def set_shape(self, name: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002 - TensorRT's names
            self.shapes[name] = (tuple(min), tuple(opt), tuple(max))

    class IBuilderConfig:
        def __init__(self) -> None:
            self.flags: set[Any] = set()
            self.pools: dict[MemoryPoolType, int] = {}
            self.timing_cache: ITimingCache | None = None
            self.profiles: list[IOptimizationProfile] = []

        def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
            if size <= 0:
                raise ValueError("pool size must be positive")
            self.pools[pool] = int(size)

        def set_flag(self, flag: Any) -> None:
            self.flags.add(flag)

        def get_flag(self, flag: Any) -> bool:
            return flag in self.flags

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, blob: bytes) -> ITimingCache:
            g = _current_gpu()
            if not blob:
                return ITimingCache(version, list(g.capability), 0)
            data = bytes(blob)
            if not data.startswith(TC_MAGIC):
                raise RuntimeError("timing cache is corrupted")
            info = json.loads(data[len(TC_MAGIC):])
            return ITimingCache(info["version"], info["capability"], info["entries"])

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            g = _current_gpu()
            if not ignore_mismatch and (cache.version != version or cache.capability != list(g.capability)):
                return False
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache | None:
            return self.timing_cache

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            stats["network_flags"].append(flags)
            return INetworkDefinition(flags)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> HostMemory | None:
            if not network.outputs:
                self.logger.log(Severity.ERROR, "Network must have at least one output")
                return None
            dynamic = [t.name for t in network.inputs if -1 in t.shape]
            profile_shapes: dict[str, Any] = {}
            for name in dynamic:
                found = [p.shapes[name] for p in config.profiles if name in p.shapes]
                if not found:
                    self.logger.log(Severity.ERROR, f"Network has dynamic or shape inputs, but no optimization "
                                                    f"profile has been defined ({name}).")
                    return None
                profile_shapes[name] = [list(s) for s in found[0]]
            stats["builds"] += 1
            stats["profiles"].append(profile_shapes)
            fp16_flag = major < 11 and BuilderFlag.FP16 in config.flags
            stats["fp16_flag"].append(fp16_flag)
            cache = config.timing_cache
            stats["cache_entries_loaded"].append(cache.entries if cache else None)
            if cache is not None:
                cache.entries += 3  # tactics timed in this build
            g = _current_gpu()
            header = {
                "version": version, "gpu": g.name, "capability": list(g.capability),
                "precision": "fp16" if fp16_flag or network.fp16_weights else "fp32",
                "inputs": [[t.name, list(t.shape), t.dtype.name] for t in network.inputs],
                "outputs": [[t.name, list(t.shape), t.dtype.name] for t in network.outputs],
                "profiles": profile_shapes,
            }
            head = json.dumps(header).encode()
            return HostMemory(MAGIC + struct.pack("<I", len(head)) + head + network.onnx_bytes)

    class ICudaEngine:
        def __init__(self, header: dict[str, Any], onnx_bytes: bytes) -> None:
            self.header = header
            self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            self.io = [(n, TensorIOMode.INPUT, tuple(s), DataType[d]) for n, s, d in header["inputs"]]
            self.io += [(n, TensorIOMode.OUTPUT, tuple(s), DataType[d]) for n, s, d in header["outputs"]]

        @property
        def num_io_tensors(self) -> int:
            return len(self.io)

        @property
        def num_optimization_profiles(self) -> int:
            return 1

        def _find(self, name: str) -> tuple[str, TensorIOMode, tuple[int, ...], DataType]:
            for item in self.io:
                if item[0] == name:
                    return item
            raise KeyError(name)  # TensorRT logs an error and returns a default; a KeyError is louder

        def get_tensor_name(self, index: int) -> str:
            return self.io[index][0]

        def get_tensor_mode(self, name: str) -> TensorIOMode:
            try:
                return self._find(name)[1]
            except KeyError:
                return TensorIOMode.NONE

        def get_tensor_shape(self, name: str) -> Dims:
            return Dims(self._find(name)[2])

        def get_tensor_dtype(self, name: str) -> DataType:
            return self._find(name)[3]

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
            shapes = self.header["profiles"].get(name)
            if shapes is None:
                raise RuntimeError(f"{name} is not a dynamic input")
            return [Dims(s) for s in shapes]

        def create_execution_context(self) -> IExecutionContext:
            return IExecutionContext(self)

    if major < 10:
        ICudaEngine.num_bindings = property(lambda self: len(self.io))  # type: ignore[attr-defined]

    class IExecutionContext:
        def __init__(self, engine: ICudaEngine) -> None:
            self.engine = engine
            self.input_shapes: dict[str, tuple[int, ...]] = {}
            self.addresses: dict[str, int] = {}
            self._output_shapes: dict[str, tuple[int, ...]] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            _, mode, declared, _ = self.engine._find(name)
            shape = tuple(int(d) for d in shape)
            if mode != TensorIOMode.INPUT or len(shape) != len(declared):
                return False
            if any(d != -1 and d != s for d, s in zip(declared, shape, strict=True)):
                return False
            prof = self.engine.header["profiles"].get(name)
            if prof and not all(lo <= s <= hi for lo, s, hi in zip(prof[0], shape, prof[2], strict=True)):
                return False
            self.input_shapes[name] = shape
            self._output_shapes = {}
            return True

        def _resolved_inputs(self) -> dict[str, tuple[int, ...]] | None:
            out = {}
            for name, mode, declared, _ in self.engine.io:
                if mode == TensorIOMode.INPUT:
                    shape = self.input_shapes.get(name, declared)
                    if -1 in shape:
                        return None
                    out[name] = shape
            return out

        def get_tensor_shape(self, name: str) -> Dims:
            _, mode, declared, _ = self.engine._find(name)
            if mode == TensorIOMode.INPUT:
                return Dims(self.input_shapes.get(name, declared))
            if -1 not in declared:
                return Dims(declared)
            if not self._output_shapes:
                inputs = self._resolved_inputs()
                if inputs is None:
                    return Dims(declared)
                feeds = {n: np.zeros(s, _NP[self.engine._find(n)[3]]) for n, s in inputs.items()}
                outs = self.engine.session.run(None, feeds)
                names = [o.name for o in self.engine.session.get_outputs()]
                self._output_shapes = {n: tuple(o.shape) for n, o in zip(names, outs, strict=True)}
            return Dims(self._output_shapes[name])

        def set_tensor_address(self, name: str, memory: int) -> bool:
            if not isinstance(memory, int):
                raise TypeError("set_tensor_address(): incompatible function arguments (memory: int)")
            self.engine._find(name)
            self.addresses[name] = memory
            return True

        def get_tensor_address(self, name: str) -> int:
            return self.addresses.get(name, 0)

        def execute_async_v3(self, stream_handle: int) -> bool:
            if not isinstance(stream_handle, int):
                raise TypeError("execute_async_v3(): incompatible function arguments (stream_handle: int)")
            inputs = self._resolved_inputs()
            if inputs is None or any(n not in self.addresses for n, *_ in self.engine.io):
                return False  # TensorRT logs "address or allocator is not set" and returns False
            plan = [(n, tuple(self.get_tensor_shape(n)), d) for n, _, _, d in self.engine.io]
            gpu.enqueue(stream_handle, lambda: self._compute(plan))
            return True

        def _compute(self, plan: list[tuple[str, tuple[int, ...], DataType]]) -> None:
            gpu.STATE.executions += 1
            fp16 = self.engine.header["precision"] == "fp16"
            feeds = {}
            by_name = {n: (s, d) for n, s, d in plan}
            onnx_types = {i.name: i.type for i in self.engine.session.get_inputs()}
            for name, shape, dtype in plan:
                if self.engine.get_tensor_mode(name) != TensorIOMode.INPUT:
                    continue
                nbytes = volume(shape) * dtype.itemsize
                raw = gpu.device_view(self.addresses[name], nbytes).view(_NP[dtype]).reshape(shape)
                value = raw.astype(np.float32)
                if fp16:
                    value = value.astype(np.float16).astype(np.float32)
                feeds[name] = value.astype(np.float16) if onnx_types[name] == "tensor(float16)" else value
            names = [o.name for o in self.engine.session.get_outputs()]
            for name, result in zip(names, self.engine.session.run(names, feeds), strict=True):
                shape, dtype = by_name[name]
                result = np.asarray(result)
                if fp16:
                    result = result.astype(np.float16)
                nbytes = volume(shape) * dtype.itemsize
                gpu.device_view(self.addresses[name], nbytes)[:] = (
                    result.astype(_NP[dtype]).reshape(shape).view(np.uint8).ravel())

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized: Any) -> ICudaEngine | None:
            data = bytes(serialized)
            if not data.startswith(MAGIC):
                self.logger.log(Severity.ERROR, "1: [runtime.cpp::parsePlan::314] Error Code 1: Serialization "
                                                "assertion plan->header.magicTag == rt::kPLAN_MAGIC_TAG failed.")
                return None
            (size,) = struct.unpack("<I", data[len(MAGIC):len(MAGIC) + 4])
            header = json.loads(data[len(MAGIC) + 4:len(MAGIC) + 4 + size])
            if header["version"] != version:
                self.logger.log(Severity.ERROR, f"6: The engine plan file is not compatible with this version of "
                                                f"TensorRT, expecting library version {version} got "
                                                f"{header['version']}, please rebuild.")
                return None
            g = _current_gpu()
            if header["capability"] != list(g.capability):
                self.logger.log(Severity.ERROR, "6: The engine plan file is generated on an incompatible device, "
                                                f"expecting compute {header['capability']} got {g.capability}")
                return None
            return ICudaEngine(header, data[len(MAGIC) + 4 + size:])

    for name, value in {
        "Logger": Logger, "ILogger": Logger, "Builder": Builder, "OnnxParser": OnnxParser, "Runtime": Runtime,
        "DataType": DataType, "TensorIOMode": TensorIOMode, "MemoryPoolType": MemoryPoolType, "Dims": Dims,
        "NetworkDefinitionCreationFlag": NetworkDefinitionCreationFlag, "BuilderFlag": BuilderFlag,
        "nptype": nptype, "volume": volume, "ICudaEngine": ICudaEngine, "IExecutionContext": IExecutionContext,
        "ITimingCache": ITimingCache, "IHostMemory": HostMemory,
    }.items():
        setattr(trt, name, value)
    trt.fake_stats = stats  # type: ignore[attr-defined]
    return trt


def install(monkeypatch: Any, version: str) -> types.ModuleType:
    trt = make_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt
