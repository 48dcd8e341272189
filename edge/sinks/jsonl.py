"""verdicts.jsonl in the state directory: the daemon is useful without a broker."""

from __future__ import annotations

import os
from pathlib import Path

from edge.journal import Journal, OutboxMessage
from edge.sinks.base import OutboxSink

SINK = "jsonl"


class JsonLinesSink(OutboxSink):
    """Appends each verdict as one line, fsyncs, then marks it delivered in the outbox.

    A crash between the append and the mark repeats the line on restart: readers deduplicate
    on the verdict id, as every consumer of specimen-edge does.
    """

    def __init__(self, journal: Journal, path: Path) -> None:
        super().__init__(journal, SINK, max_backoff_s=30.0)
        self.path = path

    def deliver_batch(self, batch: list[OutboxMessage]) -> list[int]:
        with open(self.path, "ab") as fh:
            for msg in batch:
                fh.write(msg.payload.rstrip(b"\n") + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return [m.seq for m in batch]
