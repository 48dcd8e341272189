"""Upstream into a folder (a network share, say): the frame, its crops and a JSON sidecar.

Every file appears atomically: written under a temporary name in the destination, fsynced,
then renamed. The sidecar comes last, so a reader that sees `<stem>.json` finds the frame
complete beside it. An operator's override lands as `<stem>.override-<id>.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.atomic_files import atomic_copy, atomic_write
from edge.journal import Journal, OutboxMessage
from edge.overrides import is_override
from edge.sinks.base import DeliveryError, OutboxSink
from edge.sinks.settings import DirectoryUpstream


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
        if is_override(result):
            # an operator's answer to a verdict, beside the frame's own sidecar; a frame accepted
            # anyway is copied as an accepted one is
            if result["action"] == "accept" and self.settings.copy_frame:
                self._copy_frame(frame, result["verdict"].get("sha256"), sidecar)
            atomic_write(self.folder / f"{stem}.override-{result['id'][:8]}.json",
                         json.dumps(sidecar, indent=1).encode())
            return
        if self.settings.copy_frame:
            self._copy_frame(frame, result.get("sha256"), sidecar)
        copied_crops = []
        for crop in result.get("crops", []):
            src = Path(crop["path"])
            if src.is_file():
                atomic_copy(src, self.folder / src.name)
                copied_crops.append({**crop, "path": src.name})
        sidecar["crops"] = copied_crops
        atomic_write(self.folder / f"{stem}.json", json.dumps(sidecar, indent=1).encode())

    def _copy_frame(self, frame: Path, sha256: str | None, sidecar: dict[str, Any]) -> None:
        if frame.is_file():
            copied_sha = atomic_copy(frame, self.folder / frame.name)
            sidecar["frame_copied"] = copied_sha == sha256
            if not sidecar["frame_copied"]:
                sidecar["frame_note"] = "the file in the hot folder changed after it was judged"
        else:
            sidecar["frame_copied"] = False
            sidecar["frame_note"] = "the frame was no longer in the hot folder"
