"""Upstream into a folder (a network share, say): the frame, its crops and a JSON sidecar.

Every file appears atomically: written under a temporary name in the destination, fsynced,
then renamed. The sidecar comes last, so a reader that sees `<stem>.json` finds the frame
complete beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from edge.config import DirectoryUpstream
from edge.journal import Journal, OutboxMessage
from edge.sinks.base import DeliveryError, OutboxSink


def atomic_copy(src: Path, dest: Path) -> str:
    """Copy src to dest atomically; returns the sha256 of what was copied."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            for chunk in iter(lambda: inp.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def atomic_write(dest: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectorySink(OutboxSink):
    def __init__(self, journal: Journal, sink: str, settings: DirectoryUpstream) -> None:
        super().__init__(journal, sink, max_backoff_s=60.0)
        self.settings = settings
        self.folder = Path(settings.path).expanduser()

    def deliver(self, message: OutboxMessage) -> None:
        if not self.folder.is_dir():
            raise DeliveryError(f"destination folder {self.folder} is not there (share not mounted?)")
        result = json.loads(message.payload)
        frame = Path(result["file"])
        stem = frame.stem
        sidecar = dict(result)
        if self.settings.copy_frame:
            if frame.is_file():
                copied_sha = atomic_copy(frame, self.folder / frame.name)
                sidecar["frame_copied"] = copied_sha == result.get("sha256")
                if not sidecar["frame_copied"]:
                    sidecar["frame_note"] = "the file in the hot folder changed after it was judged"
            else:
                sidecar["frame_copied"] = False
                sidecar["frame_note"] = "the frame was no longer in the hot folder"
        copied_crops = []
        for crop in result.get("crops", []):
            src = Path(crop["path"])
            if src.is_file():
                atomic_copy(src, self.folder / src.name)
                copied_crops.append({**crop, "path": src.name})
        sidecar["crops"] = copied_crops
        atomic_write(self.folder / f"{stem}.json", json.dumps(sidecar, indent=1).encode())
        try:
            _fsync_dir(self.folder)
        except OSError:
            pass  # some network filesystems refuse fsync on folders; the renames are still atomic
