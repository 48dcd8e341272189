"""A fake `pycuda.driver` over the simulated GPU, following pycuda's documented API.

Like pycuda, every call that touches the GPU needs a context current on the calling thread and
raises LogicError otherwise (the "no currently active context" failure of pycuda.autoinit code
used from a worker thread).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from tests.tensorrt import fake_device as gpu


class Error(Exception):
    pass


class LogicError(Error):
    pass


def _need_context(what: str) -> None:
    if gpu.current_device() is None or gpu.context_depth() == 0:
        raise LogicError(f"{what} failed: invalid device context - no currently active context?")


def make_driver() -> types.ModuleType:
    drv = types.ModuleType("pycuda.driver")
    state = {"initialised": False}

    def init(flags: int = 0) -> None:
        state["initialised"] = True

    class Context:
        def __init__(self, index: int) -> None:
            self.index = index
            self.detached = False

        def push(self) -> None:
            if self.detached:
                raise LogicError("context was detached")
            gpu.push(self.index)

        @staticmethod
        def pop() -> None:
            gpu.pop()

        def detach(self) -> None:
            self.detached = True

        @staticmethod
        def synchronize() -> None:
            _need_context("cuCtxSynchronize")

    class Device:
        def __init__(self, index: int) -> None:
            if not state["initialised"]:
                raise LogicError("cuDeviceGet failed: initialization error (call cuda.init() first)")
            if not 0 <= index < len(gpu.STATE.gpus):
                raise LogicError(f"cuDeviceGet failed: invalid device ordinal {index}")
            self.index = index

        @staticmethod
        def count() -> int:
            if not state["initialised"]:
                raise LogicError("cuDeviceGetCount failed: initialization error")
            return len(gpu.STATE.gpus)

        def name(self) -> str:
            return gpu.STATE.gpus[self.index].name

        def compute_capability(self) -> tuple[int, int]:
            return gpu.STATE.gpus[self.index].capability

        def retain_primary_context(self) -> Context:
            return Context(self.index)

        def make_context(self, flags: int = 0) -> Context:
            ctx = Context(self.index)
            ctx.push()
            return ctx

    class DeviceAllocation:
        def __init__(self, nbytes: int) -> None:
            self._ptr: int | None = gpu.alloc_device(nbytes)

        def __int__(self) -> int:
            if self._ptr is None:
                raise LogicError("device allocation was freed")
            return self._ptr

        __index__ = __int__

        def free(self) -> None:
            _need_context("cuMemFree")
            if self._ptr is not None:
                gpu.free_device(self._ptr)
                self._ptr = None

    class HostAllocation(bytearray):
        """Page-locked host memory; the array's .base, with free(), as in pycuda."""

        def __init__(self, nbytes: int) -> None:
            super().__init__(nbytes)
            self.address = int(np.frombuffer(self, np.uint8).ctypes.data)
            gpu.STATE.host_memory[self.address] = np.frombuffer(self, np.uint8)
            self.freed = False

        def free(self) -> None:
            if not self.freed:
                gpu.free_host(self.address)
                self.freed = True

    class Stream:
        def __init__(self, flags: int = 0) -> None:
            _need_context("cuStreamCreate")
            self.handle = gpu.new_stream()

        def synchronize(self) -> None:
            _need_context("cuStreamSynchronize")
            gpu.synchronize(self.handle)

    def mem_alloc(nbytes: int) -> DeviceAllocation:
        _need_context("cuMemAlloc")
        if nbytes <= 0:
            raise LogicError("cuMemAlloc failed: invalid argument")
        return DeviceAllocation(int(nbytes))

    def pagelocked_empty(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
        _need_context("cuMemHostAlloc")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dt = np.dtype(dtype)
        n = int(np.prod(shape)) * dt.itemsize
        alloc = HostAllocation(max(n, 1))
        return np.ndarray(shape, dt, buffer=alloc, order=order)

    def _dev_ptr(dev: Any) -> int:
        return int(dev)

    def _stream_handle(stream: Any) -> int:
        if stream is None:
            raise LogicError("the fake only supports explicit streams")
        return int(stream.handle)

    def memcpy_htod_async(dest: Any, src: np.ndarray, stream: Any = None) -> None:
        _need_context("cuMemcpyHtoDAsync")
        gpu.copy_htod(_stream_handle(stream), _dev_ptr(dest), np.ascontiguousarray(src))

    def memcpy_dtoh_async(dest: np.ndarray, src: Any, stream: Any = None) -> None:
        _need_context("cuMemcpyDtoHAsync")
        if not dest.flags.c_contiguous:
            raise LogicError("destination must be contiguous")
        gpu.copy_dtoh(_stream_handle(stream), dest, _dev_ptr(src))

    drv.init = init
    drv.Context = Context
    drv.Device = Device
    drv.DeviceAllocation = DeviceAllocation
    drv.Stream = Stream
    drv.mem_alloc = mem_alloc
    drv.pagelocked_empty = pagelocked_empty
    drv.memcpy_htod_async = memcpy_htod_async
    drv.memcpy_dtoh_async = memcpy_dtoh_async
    drv.Error = Error
    drv.LogicError = LogicError
    return drv


def install(monkeypatch: Any) -> types.ModuleType:
    """Put a fresh fake pycuda into sys.modules for one test."""
    import sys

    pkg = types.ModuleType("pycuda")
    drv = make_driver()
    pkg.driver = drv  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    return drv
