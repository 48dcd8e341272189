"""A fake `cuda.bindings.runtime` (cuda-python) over the simulated GPU.

Calls return tuples whose first element is a cudaError_t, as cuda-python's do; streams are
cudaStream_t objects whose address comes from cuda.bindings.utils.get_cuda_native_handle.
"""

from __future__ import annotations

import enum
import sys
import types
from dataclasses import dataclass
from typing import Any

from tests.tensorrt import fake_device as gpu


class cudaError_t(enum.IntEnum):  # noqa: N801 - the real name
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3


class cudaStream_t:  # noqa: N801
    def __init__(self, address: int) -> None:
        self._address = address


@dataclass
class cudaDeviceProp:  # noqa: N801
    name: bytes
    major: int
    minor: int


def make_runtime() -> types.ModuleType:
    rt = types.ModuleType("cuda.bindings.runtime")
    ok = cudaError_t.cudaSuccess

    def cudaGetDeviceCount() -> tuple[Any, ...]:  # noqa: N802
        return ok, len(gpu.STATE.gpus)

    def cudaSetDevice(index: int) -> tuple[Any, ...]:  # noqa: N802
        if not 0 <= index < len(gpu.STATE.gpus):
            return (cudaError_t.cudaErrorInvalidDevice,)
        gpu.set_runtime_device(index)
        return (ok,)

    def cudaGetDeviceProperties(index: int) -> tuple[Any, ...]:  # noqa: N802
        if not 0 <= index < len(gpu.STATE.gpus):
            return cudaError_t.cudaErrorInvalidDevice, None
        g = gpu.STATE.gpus[index]
        # the real struct's name is a fixed-size char array, NUL padded
        return ok, cudaDeviceProp(g.name.encode() + b"\0" * (256 - len(g.name)), *g.capability)

    def cudaStreamCreate() -> tuple[Any, ...]:  # noqa: N802
        return ok, cudaStream_t(gpu.new_stream())

    def cudaStreamDestroy(stream: cudaStream_t) -> tuple[Any, ...]:  # noqa: N802
        gpu.destroy_stream(stream._address)
        return (ok,)

    def cudaStreamSynchronize(stream: cudaStream_t) -> tuple[Any, ...]:  # noqa: N802
        gpu.synchronize(stream._address)
        return (ok,)

    def cudaMalloc(nbytes: int) -> tuple[Any, ...]:  # noqa: N802
        if nbytes <= 0:
            return cudaError_t.cudaErrorInvalidValue, 0
        return ok, gpu.alloc_device(int(nbytes))

    def cudaFree(ptr: int) -> tuple[Any, ...]:  # noqa: N802
        gpu.free_device(int(ptr))
        return (ok,)

    def cudaMallocHost(nbytes: int) -> tuple[Any, ...]:  # noqa: N802
        return ok, int(gpu.alloc_host(int(nbytes)).ctypes.data)

    def cudaFreeHost(ptr: int) -> tuple[Any, ...]:  # noqa: N802
        gpu.free_host(int(ptr))
        return (ok,)

    def cudaMemcpyAsync(dst: int, src: int, nbytes: int, kind: cudaMemcpyKind,  # noqa: N802
                        stream: cudaStream_t) -> tuple[Any, ...]:
        if gpu.current_device() is None:
            return (cudaError_t.cudaErrorInvalidDevice,)
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
            if int(src) not in gpu.STATE.host_memory:
                return (cudaError_t.cudaErrorInvalidValue,)  # the fake only takes pinned buffers
            gpu.device_view(int(dst), nbytes)
        elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:
            gpu.device_view(int(src), nbytes)
        else:
            return (cudaError_t.cudaErrorInvalidValue,)
        d, s, n = int(dst), int(src), int(nbytes)
        gpu.enqueue(stream._address, lambda: gpu.memcpy(d, s, n))
        return (ok,)

    for name, value in list(locals().items()):
        if name.startswith("cuda") and callable(value):
            setattr(rt, name, value)
    rt.cudaError_t = cudaError_t
    rt.cudaMemcpyKind = cudaMemcpyKind
    rt.cudaStream_t = cudaStream_t
    return rt


def install(monkeypatch: Any) -> types.ModuleType:
    cuda_pkg = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    rt = make_runtime()
    utils = types.ModuleType("cuda.bindings.utils")

    def get_cuda_native_handle(obj: Any) -> int:
        if not isinstance(obj, cudaStream_t):
            raise TypeError(f"Unknown type: {type(obj)}")
        return obj._address

    utils.get_cuda_native_handle = get_cuda_native_handle  # type: ignore[attr-defined]
    bindings.runtime = rt  # type: ignore[attr-defined]
    bindings.utils = utils  # type: ignore[attr-defined]
    cuda_pkg.bindings = bindings  # type: ignore[attr-defined]
    for name, mod in (("cuda", cuda_pkg), ("cuda.bindings", bindings), ("cuda.bindings.runtime", rt),
                      ("cuda.bindings.utils", utils)):
        monkeypatch.setitem(sys.modules, name, mod)
    return rt
