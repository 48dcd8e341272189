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


def test_a_restart_keeps_the_pending_retake_and_the_last_frames(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station(http={"enabled": True, "listen": "127.0.0.1:0"})
    hot = Path(settings.watch.folder)
    r = run_daemon(settings)
    write_atomically(hot / "good.jpg", GOOD)
    assert wait_for(lambda: sum(r.daemon.counters.frames.values()) == 1, 15)
    write_atomically(hot / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: sum(r.daemon.counters.frames.values()) == 2, 15)
    before = r.daemon.station_server.state_document()  # type: ignore[union-attr]
    r.stop()

    again = run_daemon(settings)
    state = again.daemon.state()
    assert state["retake_needed"] is True and state["last"]["file"] == "nochart.jpg"
    assert state["frames"] == {}, "counters start from zero; only what is shown comes back"
    server = again.daemon.station_server
    assert server is not None
    document = server.state_document()
    assert [h["file"] for h in document["history"]] == ["nochart.jpg", "good.jpg"]
    assert document["history"] == before["history"] and document["latest"]["verdict"] == "retake"
    assert server.thumbnail(document["latest"]["id"]) is not None  # the frame is drawn again too
