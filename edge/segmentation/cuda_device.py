"""Pinned host buffers, device buffers and one stream on one GPU, through pycuda or cuda-python.

TensorRT only needs device addresses and a stream handle; this module provides them. Both
libraries are imported lazily, so the package imports on machines without CUDA. Every method,
construction and close included, must run on the one thread that owns the device (see
TensorRtSegmenter): pycuda's context is pushed on that thread, and cuda-python's
cudaSetDevice is per thread too. Use one library per process, never both.
"""

from __future__ import annotations

import ctypes
import importlib
import math
from typing import Any, Protocol

import numpy as np


class CudaUnavailable(RuntimeError):
    """No usable CUDA library or device; the message says which."""


class CudaDevice(Protocol):
    library: str
    index: int

    def name(self) -> str: ...

    def compute_capability(self) -> str: ...

    def stream_handle(self) -> int: ...

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[np.ndarray, int]:
        """A pinned host array and a device buffer of the same size; returns (host, device address)."""
        ...

    def to_device_async(self, device_ptr: int, host: np.ndarray) -> None: ...

    def to_host_async(self, host: np.ndarray, device_ptr: int) -> None: ...

    def synchronize(self) -> None: ...

    def close(self) -> None: ...


def _nbytes(shape: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    # A zero-sized tensor still needs a valid address; CUDA refuses 0-byte allocations.
    return max(1, math.prod(shape) * dtype.itemsize)


class PycudaDevice:
    """pycuda: the device's primary context, pushed on the owning thread until close()."""

    library = "pycuda"

    def __init__(self, index: int) -> None:
        try:
            self._cuda: Any = importlib.import_module("pycuda.driver")
        except ImportError as exc:
            raise CudaUnavailable(f"pycuda does not import ({exc})") from None
        cuda = self._cuda
        try:
            cuda.init()
            count = cuda.Device.count()
        except Exception as exc:  # pycuda._driver.Error: no driver, no device, driver too old
            raise CudaUnavailable(f"CUDA initialisation failed ({exc})") from None
        if index >= count:
            raise CudaUnavailable(f"CUDA device {index} requested, {count} present")
        self.index = index
        self._device = cuda.Device(index)
        # The primary context is the one the CUDA runtime (and so TensorRT) uses too; a private
        # context from make_context() would give TensorRT and pycuda different address spaces.
        self._context = self._device.retain_primary_context()
        self._context.push()
        try:
            self._stream = cuda.Stream()
        except BaseException:
            self._release_context()
            raise
        self._device_buffers: list[Any] = []
        self._by_address: dict[int, Any] = {}
        self._host_buffers: list[np.ndarray] = []

    def name(self) -> str:
        return str(self._device.name())

    def compute_capability(self) -> str:
        major, minor = self._device.compute_capability()
        return f"{major}.{minor}"

    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[np.ndarray, int]:
        host = self._cuda.pagelocked_empty(shape, dtype)
        self._host_buffers.append(host)
        dev = self._cuda.mem_alloc(_nbytes(shape, dtype))
        self._device_buffers.append(dev)
        self._by_address[int(dev)] = dev
        return host, int(dev)

    def to_device_async(self, device_ptr: int, host: np.ndarray) -> None:
        self._cuda.memcpy_htod_async(self._by_address[device_ptr], host, self._stream)

    def to_host_async(self, host: np.ndarray, device_ptr: int) -> None:
        self._cuda.memcpy_dtoh_async(host, self._by_address[device_ptr], self._stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def close(self) -> None:
        try:
            for dev in self._device_buffers:
                dev.free()
            for host in self._host_buffers:
                free = getattr(host.base, "free", None)
                if free is not None:
                    free()
        finally:
            self._device_buffers.clear()
            self._by_address.clear()
            self._host_buffers.clear()
            self._stream = None
            self._release_context()

    def _release_context(self) -> None:
        self._cuda.Context.pop()
        self._context.detach()


class CudaPythonDevice:
    """cuda-python (`cuda.bindings.runtime`): the runtime API on the device's primary context."""

    library = "cuda-python"

    def __init__(self, index: int) -> None:
        try:
            self._rt: Any = importlib.import_module("cuda.bindings.runtime")
        except ImportError as exc:
            raise CudaUnavailable(f"cuda-python (cuda.bindings) does not import ({exc})") from None
        try:
            self._handle_of: Any = importlib.import_module("cuda.bindings.utils").get_cuda_native_handle
        except (ImportError, AttributeError):
            self._handle_of = int  # cuda-bindings before 12.9.1
        (count,) = self._call("cudaGetDeviceCount")
        if index >= count:
            raise CudaUnavailable(f"CUDA device {index} requested, {count} present")
        self.index = index
        self._call("cudaSetDevice", index)  # per thread: this thread owns the device from here
        (self._props,) = self._call("cudaGetDeviceProperties", index)
        (self._stream,) = self._call("cudaStreamCreate")
        self._device_ptrs: list[int] = []
        self._host_ptrs: list[int] = []

    def _call(self, fn: str, *args: Any) -> tuple[Any, ...]:
        """cuda-python returns (error, *values); turn a failure into an exception."""
        result = getattr(self._rt, fn)(*args)
        err, values = result[0], tuple(result[1:])
        if err != self._rt.cudaError_t.cudaSuccess:
            raise CudaUnavailable(f"{fn} failed: {getattr(err, 'name', err)}")
        return values

    def name(self) -> str:
        raw = self._props.name
        return (raw.split(b"\0", 1)[0].decode(errors="replace") if isinstance(raw, bytes) else str(raw)).strip()

    def compute_capability(self) -> str:
        return f"{self._props.major}.{self._props.minor}"

    def stream_handle(self) -> int:
        return int(self._handle_of(self._stream))

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[np.ndarray, int]:
        nbytes = _nbytes(shape, dtype)
        (host_ptr,) = self._call("cudaMallocHost", nbytes)
        self._host_ptrs.append(int(host_ptr))
        # Bytes first, then the dtype view: ctypes has no float16.
        raw = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(int(host_ptr)))
        host = raw[:math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)
        (dev_ptr,) = self._call("cudaMalloc", nbytes)
        self._device_ptrs.append(int(dev_ptr))
        return host, int(dev_ptr)

    def to_device_async(self, device_ptr: int, host: np.ndarray) -> None:
        self._call("cudaMemcpyAsync", device_ptr, host.ctypes.data, host.nbytes,
                   self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream)

    def to_host_async(self, host: np.ndarray, device_ptr: int) -> None:
        self._call("cudaMemcpyAsync", host.ctypes.data, device_ptr, host.nbytes,
                   self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self._stream)

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._stream)

    def close(self) -> None:
        try:
            for ptr in self._device_ptrs:
                self._call("cudaFree", ptr)
            for ptr in self._host_ptrs:
                self._call("cudaFreeHost", ptr)
            self._call("cudaStreamDestroy", self._stream)
        finally:
            self._device_ptrs.clear()
            self._host_ptrs.clear()


def open_cuda_device(library: str, index: int) -> CudaDevice:
    """pycuda (as the design names) when it imports, else cuda-python; or the one asked for."""
    if library == "pycuda":
        return PycudaDevice(index)
    if library == "cuda-python":
        return CudaPythonDevice(index)
    try:
        return PycudaDevice(index)
    except CudaUnavailable as pycuda_failed:
        if "does not import" not in str(pycuda_failed):
            raise
        try:
            return CudaPythonDevice(index)
        except CudaUnavailable as cuda_python_failed:
            raise CudaUnavailable(f"{pycuda_failed}; {cuda_python_failed}") from None
