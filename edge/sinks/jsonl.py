"""verdicts.jsonl in the state directory: the daemon is useful without a broker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from edge.journal import Journal, OutboxMessage
from edge.sinks.base import OutboxSink
from edge.verdict import Verdict, as_verdict

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


def read_verdicts(path: Path) -> Iterator[Verdict]:
    """The verdicts in a verdicts.jsonl, oldest first; a line cut short by a crash is passed over."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            try:
                verdict = json.loads(line)
            except ValueError:
                continue
            if isinstance(verdict, dict) and {"id", "file", "verdict", "reasons", "processed_at"} <= verdict.keys():
                yield as_verdict(verdict)
