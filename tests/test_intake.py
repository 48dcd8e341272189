from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import load_settings
from edge.intake import FrameQueue, Intake, is_candidate
from edge.watch_settings import WatchSettings
from tests.conftest import wait_for


def watch_settings(**kw: object) -> WatchSettings:
    base: dict[str, object] = {"stable_for_s": 0.5, "poll_interval_s": 0.2, "reconcile_interval_s": 30.0}
    base.update(kw)
    return load_settings(None, {"watch": base}).watch


@pytest.mark.parametrize("name,ok", [
    ("BM000521755.jpg", True), ("a.JPEG", True), ("b.tif", True), ("c.TIFF", True), ("d.png", True),
    (".hidden.jpg", False), ("~lock.jpg", False), ("._BM1.jpg", False), ("a.jpg.tmp", False),
    ("a.jpg.part", False), (".DS_Store", False), ("Thumbs.db", False), ("a.cr3", False), ("notes.txt", False),
    ("CaptureOne/Cache/x.jpg", False), ("sub/x.jpg", False),
])
def test_candidates(tmp_path: Path, name: str, ok: bool) -> None:
    assert is_candidate(tmp_path / name, tmp_path, watch_settings()) is ok


def test_recursive_still_ignores_capture_software_folders(tmp_path: Path) -> None:
    s = watch_settings(recursive=True)
    assert is_candidate(tmp_path / "day1" / "x.jpg", tmp_path, s)
    assert not is_candidate(tmp_path / "CaptureOne" / "x.jpg", tmp_path, s)
    assert not is_candidate(tmp_path / ".cache" / "x.jpg", tmp_path, s)


class Harness:
    def __init__(self, folder: Path, settings: WatchSettings) -> None:
        self.frames = FrameQueue(64)
        self.judged: set[Path] = set()
        self.intake = Intake(folder, settings, self.frames, lambda p, st: p in self.judged)

    def offered(self, timeout: float = 5.0) -> list[Path]:
        got: list[Path] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.frames.take(0.05)
            if p is not None:
                got.append(p)
            elif got:
                break
        return got


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, watch_settings(stable_for_s=0.5))
    h.intake.start()
    yield h
    h.intake.stop()


def test_closed_after_writing_is_ready_at_once(tmp_path: Path, harness: Harness) -> None:
    p = tmp_path / "a.jpg"
    t0 = time.monotonic()
    with open(p, "wb") as fh:
        fh.write(b"x" * 1000)
    assert harness.offered() == [p]
    assert time.monotonic() - t0 < 0.45  # the close event, not the stability timer


def test_renamed_in_is_ready(tmp_path: Path, harness: Harness) -> None:
    tmp = tmp_path / ".a.jpg.part"
    tmp.write_bytes(b"x" * 1000)
    os.rename(tmp, tmp_path / "a.jpg")
    assert harness.offered() == [tmp_path / "a.jpg"]


def test_moved_in_from_elsewhere_waits_for_stability(tmp_path: Path) -> None:
    folder = tmp_path / "hot"
    folder.mkdir()
    outside = tmp_path / "b.jpg"
    outside.write_bytes(b"x" * 1000)
    h = Harness(folder, watch_settings(stable_for_s=2.0))
    h.intake.start()
    try:
        t0 = time.monotonic()
        os.rename(outside, folder / "b.jpg")  # same filesystem: the folder only sees 'created'
        assert h.offered(timeout=5) == [folder / "b.jpg"]
        # nobody opened it after it appeared: a short settle, not the whole stability period
        assert time.monotonic() - t0 < 1.0
    finally:
        h.intake.stop()


def test_partially_written_file_is_not_read_early(tmp_path: Path, harness: Harness) -> None:
    p = tmp_path / "slow.jpg"
    fh = open(p, "wb")
    try:
        fh.write(b"x" * 1000)
        fh.flush()
        time.sleep(1.5)  # three times the stability window, with the file still open
        assert harness.frames.take(0.05) is None
        fh.write(b"y" * 1000)
    finally:
        fh.close()
    assert harness.offered() == [p]


def test_polling_observer_waits_until_stable(tmp_path: Path) -> None:
    h = Harness(tmp_path, watch_settings(polling=True, poll_interval_s=0.1, stable_for_s=0.6))
    h.intake.start()
    try:
        p = tmp_path / "share.tif"
        with open(p, "wb") as fh:
            for _ in range(4):  # a slow writer across several polls
                fh.write(b"z" * 5000)
                fh.flush()
                t_last_write = time.monotonic()
                time.sleep(0.3)
                assert h.frames.take(0.01) is None
        assert h.offered(timeout=5) == [p]
        assert time.monotonic() - t_last_write >= 0.6
    finally:
        h.intake.stop()


def test_reconciliation_finds_files_that_arrived_while_down(tmp_path: Path) -> None:
    old = [tmp_path / f"old{i}.jpg" for i in range(3)]
    for p in old:
        p.write_bytes(b"x")
        os.utime(p, (time.time() - 60, time.time() - 60))
    h = Harness(tmp_path, watch_settings())
    h.judged.add(old[0])  # already has a verdict
    h.intake.start()
    try:
        assert sorted(h.offered()) == old[1:]
    finally:
        h.intake.stop()


def test_lost_events_are_recovered_by_the_periodic_scan(tmp_path: Path) -> None:
    h = Harness(tmp_path, watch_settings(reconcile_interval_s=0.5, stable_for_s=0.2))
    h.intake.start()
    try:
        h.intake._observer.stop()  # type: ignore[union-attr]  # simulate a dead observer
        h.intake._observer.join()  # type: ignore[union-attr]
        assert not h.intake.alive()
        p = tmp_path / "missed.jpg"
        p.write_bytes(b"x")
        assert wait_for(lambda: h.frames.take(0.05) == p, timeout=5)
    finally:
        h.intake.stop()


def test_full_queue_drops_hints_and_rescans_later(tmp_path: Path) -> None:
    q = FrameQueue(2)
    assert q.offer(tmp_path / "1.jpg") and q.offer(tmp_path / "2.jpg")
    assert q.offer(tmp_path / "1.jpg")  # already queued: fine
    assert not q.offer(tmp_path / "3.jpg") and q.overflowed.is_set()
    assert q.depth() == 2
