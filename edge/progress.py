"""Progress of `specimen-edge check` on stderr: a one-line bar while it runs, a table of verdicts at the end.

stdout is left alone, so `--json` output stays exactly one verdict per line.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TextIO

VERDICT_ORDER = ("accept", "retake", "error")
_RATE_WINDOW = 50  # frames: the rate follows the recent pace, not the slow first (warm-up) frame
_REDRAW_TTY_S = 0.1
_REDRAW_FILE_S = 2.0  # a log file gets a line now and then, not one per frame


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary_table(verdicts: Counter[str], reasons: dict[str, Counter[str]], elapsed_s: float | None = None) -> str:
    """Frames by verdict, and under each verdict its failing checks (a frame can fail several)."""
    rows: list[tuple[str, str, int]] = []
    for verdict in (*VERDICT_ORDER, *sorted(set(verdicts) - set(VERDICT_ORDER))):
        rows.append((verdict, "", verdicts.get(verdict, 0)))
        for reason, count in sorted(reasons.get(verdict, Counter()).items(), key=lambda item: (-item[1], item[0])):
            rows.append(("", reason, count))
    total = sum(verdicts.values())
    reason_width = max([len("reason"), *(len(reason) for _, reason, _ in rows)])
    count_width = max(len("frames"), len(str(total)))
    lines = [f"{'verdict':8} {'reason':{reason_width}} {'frames':>{count_width}}",
             f"{'-' * 8} {'-' * reason_width} {'-' * count_width}"]
    lines += [f"{verdict:8} {reason:{reason_width}} {count:>{count_width}}" for verdict, reason, count in rows]
    lines.append(f"{'total':8} {'':{reason_width}} {total:>{count_width}}")
    if elapsed_s is not None and elapsed_s > 0:
        lines.append(f"{total} frames in {format_duration(elapsed_s)} ({total / elapsed_s:.1f} frames/s)")
    return "\n".join(lines) + "\n"


class CheckProgress:
    """Counts verdicts always; draws the bar and the table only when `enabled`.

    Used as a context manager it also keeps log lines from being written over the bar.
    """

    def __init__(self, total: int, stream: TextIO, *, enabled: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self.done = 0
        self.verdicts: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {}
        self.started = clock()
        self._recent: deque[float] = deque(maxlen=_RATE_WINDOW)
        self._drawn = False
        self._last_draw = float("-inf")
        self._is_tty = _isatty(stream)
        self._log_filter = _ClearBarFilter(self)
        self._filtered: list[logging.Handler] = []

    # -- counting ---------------------------------------------------------------------------
    def count(self, verdict: str, reasons: Sequence[str] = ()) -> None:
        """Tally a verdict without moving the bar (e.g. a path that does not exist)."""
        self.verdicts[verdict] += 1
        self.reasons.setdefault(verdict, Counter()).update(reasons)

    def advance(self, verdict: str, reasons: Sequence[str] = ()) -> None:
        """One more of the `total` frames judged."""
        self.count(verdict, reasons)
        self.done += 1
        now = self.clock()
        self._recent.append(now)
        if self.enabled and (self.done >= self.total or now - self._last_draw >= self._redraw_every()):
            self.draw(now)

    def rate(self, now: float | None = None) -> float | None:
        """Frames per second over the recent frames; None until it can be told."""
        now = self.clock() if now is None else now
        if len(self._recent) >= 2 and self._recent[-1] > self._recent[0]:
            return (len(self._recent) - 1) / (self._recent[-1] - self._recent[0])
        elapsed = now - self.started
        return self.done / elapsed if self.done and elapsed > 0 else None

    # -- drawing ----------------------------------------------------------------------------
    def _redraw_every(self) -> float:
        return _REDRAW_TTY_S if self._is_tty else _REDRAW_FILE_S

    def line(self, width: int, now: float | None = None) -> str:
        rate = self.rate(now)
        remaining = max(0, self.total - self.done)
        eta = format_duration(remaining / rate) if rate else "--:--"
        speed = f"{rate:.1f} frames/s" if rate else "- frames/s"
        retakes = self.verdicts.get("retake", 0) + self.verdicts.get("error", 0)
        counter = f"{self.done}/{self.total}"
        tail = f" {100.0 * self.done / max(1, self.total):5.1f}%  {speed}  ETA {eta}  retakes {retakes}"
        bar_width = width - len(counter) - len(tail) - 4
        if bar_width < 10:  # a narrow terminal: drop the bar, keep the numbers
            return (counter + tail)[: max(0, width - 1)]
        filled = round(bar_width * self.done / max(1, self.total))
        return f"{counter} [{'#' * filled}{'.' * (bar_width - filled)}]{tail}"

    def draw(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self._last_draw = now
        if self._is_tty:
            self.stream.write("\r\x1b[K" + self.line(_width(self.stream), now))
        else:
            self.stream.write(self.line(80, now) + "\n")
        self.stream.flush()
        self._drawn = self._is_tty

    def clear(self) -> None:
        """Erase the bar so that other output starts on a clean line; the next frame redraws it."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
            self._last_draw = float("-inf")

    def before_output(self, output: TextIO) -> None:
        """Call before writing to `output`: on the same terminal the bar must make room."""
        if self._drawn and _isatty(output):
            self.clear()

    def finish(self) -> None:
        """Clear the bar and, when enabled, write the table of verdicts by reason."""
        self.clear()
        if self.enabled:
            self.stream.write(summary_table(self.verdicts, self.reasons, self.clock() - self.started))
            self.stream.flush()

    # -- log lines go above the bar ---------------------------------------------------------
    def __enter__(self) -> CheckProgress:
        if self.enabled:
            for handler in logging.getLogger().handlers:
                if getattr(handler, "stream", None) is self.stream:
                    handler.addFilter(self._log_filter)
                    self._filtered.append(handler)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for handler in self._filtered:
            handler.removeFilter(self._log_filter)
        self._filtered.clear()
        self.clear()


class _ClearBarFilter(logging.Filter):
    """Runs just before a handler writes a record: clears the bar so the record gets its own line."""

    def __init__(self, progress: CheckProgress) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self.progress.clear()
        return True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80
    return columns or 80  # a terminal that never set its size reports 0
