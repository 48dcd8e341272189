"""A sink drains its own rows of the outbox, in order, and marks each delivered only once it is.

A failing delivery is retried with exponential backoff; later messages wait behind it, so a
sink delivers in the order frames were judged. Each sink has its own rows, so a dead endpoint
holds up nobody else.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from edge.journal import Journal, OutboxMessage

log = logging.getLogger(__name__)


def wait_until_delivered(journal: Journal, sink: str, wake: threading.Event, making_progress: Callable[[], bool],
                         timeout: float) -> bool:
    """Nudge a sink until its outbox rows are delivered; False on timeout or once it is stuck."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.backlog(sink) == 0:
            return True
        if not making_progress():
            return False
        wake.set()
        time.sleep(0.05)
    return False


class DeliveryError(Exception):
    """This attempt failed; try again later."""


class OutboxSink(threading.Thread):
    sink: str

    def __init__(self, journal: Journal, sink: str, max_backoff_s: float = 300.0) -> None:
        super().__init__(name=f"sink-{sink}", daemon=True)
        self.journal = journal
        self.sink = sink
        self.max_backoff_s = max_backoff_s
        self.wake = threading.Event()
        self.last_error: str | None = None
        self._stop_event = threading.Event()
        self._failures = 0

    def deliver(self, message: OutboxMessage) -> None:
        """Deliver one message or raise DeliveryError (or any exception) to retry it later."""
        raise NotImplementedError

    def deliver_batch(self, batch: list[OutboxMessage]) -> list[int]:
        """Deliver messages in order; returns the seqs delivered before the first failure."""
        done: list[int] = []
        for message in batch:
            try:
                self.deliver(message)
            except Exception as exc:
                self.journal.note_attempt(message.seq)
                self.last_error = str(exc) or type(exc).__name__
                break
            done.append(message.seq)
        return done

    def drain_once(self) -> bool:
        """One pass; True when everything pending was delivered."""
        batch = self.journal.pending(self.sink, limit=100)
        if not batch:
            return True
        done = self.deliver_batch(batch)
        self.journal.mark_delivered(done)
        if len(done) < len(batch):
            self._failures += 1
            return False
        self._failures = 0
        self.last_error = None
        return len(batch) < 100 and not self.journal.pending(self.sink, limit=1)

    def backoff_s(self) -> float:
        if self._failures == 0:
            return 2.0
        delay = min(self.max_backoff_s, 0.5 * 2 ** min(self._failures, 20))
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                finished = self.drain_once()
            except Exception:
                log.exception("%s sink failed; retrying", self.sink)
                self._failures += 1
                finished = False
            if self._failures and not finished:
                delay = self.backoff_s()  # drawn once: the wait is the one the log line announces
                log.warning("%s: delivery failed (%s); retrying in %.1f s", self.sink, self.last_error, delay)
                self._stop_event.wait(delay)
            elif not finished:
                continue
            else:
                self.wake.wait(2.0)
                self.wake.clear()

    def flush(self, timeout: float) -> bool:
        """Try to deliver what is pending now (for a clean stop)."""
        return wait_until_delivered(self.journal, self.sink, self.wake, lambda: not self._failures, timeout)

    def stop(self, drain_timeout: float = 5.0) -> None:
        self.flush(drain_timeout)
        self._stop_event.set()
        self.wake.set()
        self.join(timeout=10)
