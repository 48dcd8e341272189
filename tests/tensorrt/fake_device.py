"""A simulated GPU shared by the fake TensorRT, pycuda and cuda-python modules.

Device memory is real host memory behind fake addresses (its own address, so ctypes can copy),
streams queue work and run it only on synchronize, so code that reads results before
synchronising sees stale data, as it would on a GPU.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FakeGpu:
    name: str = "Orin (nvgpu)"
    capability: tuple[int, int] = (8, 7)


@dataclass
class State:
    gpus: list[FakeGpu] = field(default_factory=lambda: [FakeGpu()])
    device_memory: dict[int, np.ndarray] = field(default_factory=dict)
    host_memory: dict[int, np.ndarray] = field(default_factory=dict)
    streams: dict[int, list[Callable[[], None]]] = field(default_factory=dict)
    executions: int = 0
    next_stream: int = 0x5000


STATE = State()
_local = threading.local()


def reset(gpus: list[FakeGpu] | None = None) -> State:
    global STATE
    STATE = State(gpus=list(gpus) if gpus is not None else [FakeGpu()])
    return STATE


def current_device() -> int | None:
    """The device whose context is current on this thread (pycuda push / cudaSetDevice)."""
    stack: list[int] = getattr(_local, "stack", [])
    if stack:
        return stack[-1]
    return getattr(_local, "runtime_device", None)


def push(index: int) -> None:
    if not hasattr(_local, "stack"):
        _local.stack = []
    _local.stack.append(index)


def pop() -> int:
    stack: list[int] = getattr(_local, "stack", [])
    if not stack:
        raise RuntimeError("cuCtxPopCurrent failed: invalid device context")
    return stack.pop()


def set_runtime_device(index: int) -> None:
    _local.runtime_device = index


def context_depth() -> int:
    return len(getattr(_local, "stack", []))


def alloc_device(nbytes: int) -> int:
    buf = np.zeros(nbytes, np.uint8)
    addr = int(buf.ctypes.data)
    STATE.device_memory[addr] = buf
    return addr


def free_device(addr: int) -> None:
    if STATE.device_memory.pop(addr, None) is None:
        raise RuntimeError(f"free of unknown device pointer {addr:#x}")


def alloc_host(nbytes: int) -> np.ndarray:
    buf = np.zeros(nbytes, np.uint8)
    STATE.host_memory[int(buf.ctypes.data)] = buf
    return buf


def free_host(addr: int) -> None:
    if STATE.host_memory.pop(addr, None) is None:
        raise RuntimeError(f"free of unknown pinned pointer {addr:#x}")


def device_view(addr: int, nbytes: int) -> np.ndarray:
    """The bytes of a device allocation, refusing pointers that were never allocated or are too small."""
    buf = STATE.device_memory.get(addr)
    if buf is None:
        raise RuntimeError(f"illegal memory access: {addr:#x} is not a device allocation")
    if buf.nbytes < nbytes:
        raise RuntimeError(f"illegal memory access: {nbytes} bytes at {addr:#x}, allocation holds {buf.nbytes}")
    return buf[:nbytes]


def new_stream() -> int:
    STATE.next_stream += 0x10
    STATE.streams[STATE.next_stream] = []
    return STATE.next_stream


def enqueue(handle: int, op: Callable[[], None]) -> None:
    if handle not in STATE.streams:
        raise RuntimeError(f"invalid resource handle: stream {handle:#x}")
    STATE.streams[handle].append(op)


def synchronize(handle: int) -> None:
    ops = STATE.streams[handle]
    while ops:
        ops.pop(0)()


def destroy_stream(handle: int) -> None:
    STATE.streams.pop(handle)


def memcpy(dst: int, src: int, nbytes: int) -> None:
    ctypes.memmove(dst, src, nbytes)


def copy_htod(handle: int, dst: int, host: np.ndarray) -> None:
    device_view(dst, host.nbytes)  # checked now, as the driver checks at enqueue
    src, nbytes = int(host.ctypes.data), host.nbytes
    enqueue(handle, lambda: memcpy(dst, src, nbytes))


def copy_dtoh(handle: int, host: np.ndarray, src: int) -> None:
    device_view(src, host.nbytes)
    dst, nbytes = int(host.ctypes.data), host.nbytes
    enqueue(handle, lambda: memcpy(dst, src, nbytes))
