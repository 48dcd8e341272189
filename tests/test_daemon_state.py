"""What the daemon reports about the line: the retake rate, and what it remembers across a restart."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from edge.config import Settings
from tests.conftest import Running, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))


def test_unreadable_files_are_no_retakes_in_the_retake_rate(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station()
    hot = Path(settings.watch.folder)
    r = run_daemon(settings)
    write_atomically(hot / "good.jpg", GOOD)
    write_atomically(hot / "nochart.jpg", NO_CHART)
    broken = hot / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    past = time.time() - 60  # written long ago: judged at once, not held back as a file still being written
    os.utime(broken, (past, past))
    assert wait_for(lambda: sum(r.daemon.counters.frames.values()) == 3, 15)
    assert dict(r.daemon.counters.frames) == {"accept": 1, "retake": 1, "error": 1}
    state = r.daemon.state()
    assert state["frames_per_hour"] == 3
    assert state["retake_rate_percent"] == 50.0  # one retake of two judged frames
