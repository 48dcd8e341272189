"""verdicts.jsonl in the state directory: the daemon is useful without a broker."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from edge.journal import Journal

log = logging.getLogger(__name__)

SINK = "jsonl"


class JsonLinesSink(threading.Thread):
    """Appends each verdict as one line, fsyncs, then marks it delivered in the outbox.

    A crash between the append and the mark repeats the line on restart: readers deduplicate
    on the verdict id, as every consumer of specimen-edge does.
    """

    def __init__(self, journal: Journal, path: Path) -> None:
        super().__init__(name="sink-jsonl", daemon=True)
        self.journal = journal
        self.path = path
        self.wake = threading.Event()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.wake.set()
        self.join(timeout=10)

    def drain(self) -> int:
        written = 0
        while True:
            batch = self.journal.pending(SINK, limit=200)
            if not batch:
                return written
            with open(self.path, "ab") as fh:
                for msg in batch:
                    fh.write(msg.payload.rstrip(b"\n") + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.journal.mark_delivered(m.seq for m in batch)
            written += len(batch)

    def run(self) -> None:
        while True:
            try:
                self.drain()
            except Exception:
                log.exception("writing %s failed; will retry", self.path)
            if self._stop_event.is_set():
                return
            self.wake.wait(2.0)
            self.wake.clear()
