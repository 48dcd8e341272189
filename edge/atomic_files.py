"""Files that appear whole or not at all: written under a temporary name in the destination
folder, fsynced, then renamed. A reader (or a crash) sees the old file or the new, never half."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _replace_atomically(dest: Path, write: Callable[[BinaryIO], object]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_folder(dest.parent)


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable. Some network filesystems refuse this; the rename is
    still atomic there, so that refusal is not an error."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(dest: Path, data: bytes | bytearray | memoryview) -> None:
    _replace_atomically(dest, lambda out: out.write(data))


def atomic_copy(src: Path, dest: Path) -> str:
    """Copy src to dest atomically; returns the sha256 of what was copied."""
    digest = hashlib.sha256()

    def copy(out: BinaryIO) -> None:
        with open(src, "rb") as inp:
            for chunk in iter(lambda: inp.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)

    _replace_atomically(dest, copy)
    return digest.hexdigest()
