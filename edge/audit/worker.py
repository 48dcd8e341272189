"""The audit worker: one `FramePipeline` per worker process, loaded once, judging batches of frames.

Ray runs it as an actor (see `runner`); nothing here depends on Ray, so the worker is the same object
in a test, in the benchmark and on a cluster node.
"""

from __future__ import annotations

import os
import resource
import socket
from pathlib import Path
from typing import Any

from edge.audit.rows import unjudged_verdict, verdict_row
from edge.audit.sources import Frame
from edge.config import Settings
from edge.pipeline import FramePipeline
from edge.qc.station_history import StationHistory
from edge.segmentation.base import ModelInfo


class AuditWorker:
    def __init__(self, settings: Settings, run: str, node: str = "") -> None:
        self.settings = settings
        self.run = run
        self.node = node or socket.gethostname()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.pipeline = FramePipeline(settings)
        self.pipeline.warm_up()

    def model(self) -> ModelInfo:
        return self.pipeline.segmenter.info

    def judge(self, frames: list[Frame]) -> list[dict[str, Any]]:
        """One row per frame, always: an unreadable or vanished file gets an `error` row."""
        rows = []
        for frame in frames:
            path = Path(frame.path)
            # Each frame is judged on its own, as `check FILE` judges it: which worker takes which
            # batch must not change a verdict, so no sharpness baseline or previous barcode carries
            # over from the frames a worker happened to judge before.
            self.pipeline.history = StationHistory(self.settings.active_profile.blur.baseline_frames)
            try:
                verdict = self.pipeline.judge(path).verdict
            except FileNotFoundError:
                verdict = unjudged_verdict(self.settings, self.model(), path, "no such file")
            except Exception as exc:  # noqa: BLE001 - one frame's failure is its row, never the job's
                verdict = unjudged_verdict(self.settings, self.model(), path,
                                           f"could not be judged: {type(exc).__name__}: {exc}")
            rows.append(verdict_row(frame, verdict, node=self.node, worker=self.worker, run=self.run))
        return rows

    def memory(self) -> dict[str, float]:
        """Resident memory of this worker process now and at its peak, MiB."""
        rss_kib = 0
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"rss_mib": rss_kib / 1024, "peak_mib": peak_kib / 1024}

    def close(self) -> None:
        self.pipeline.close()
