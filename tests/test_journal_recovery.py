"""A damaged, emptied or unwritable journal, and a state folder that cannot hold one."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import Settings
from edge.daemon import Daemon
from tests.conftest import Running, jsonl_verdicts, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))
CLI = [sys.executable, "-m", "edge"]


def garbage_header(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.write(b"this is no database at all" * 4)


def cut_in_half(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 2)


def garbage_in_the_middle(db: Path) -> None:
    with open(db, "r+b") as fh:
        fh.seek(db.stat().st_size // 2)
        fh.write(bytes(range(256)) * 16)


def emptied(db: Path) -> None:
    db.write_bytes(b"")


@pytest.mark.parametrize("damage", [garbage_header, cut_in_half, garbage_in_the_middle, emptied])
def test_a_damaged_journal_is_moved_aside_and_delivered_frames_keep_their_verdicts(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None]) -> None:
    settings = station(watch={"reconcile_interval_s": 0.3})
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    r = run_daemon(settings)
    names = [f"frame{i}.jpg" for i in range(6)]
    for i, name in enumerate(names):
        write_atomically(hot / name, GOOD if i % 2 else NO_CHART)
    assert wait_for(lambda: len(jsonl_verdicts(state)) == len(names), 20)
    r.stop()
    before = {v["id"]: v["file"] for v in jsonl_verdicts(state)}
    journal = state / "journal.sqlite3"
    assert not (state / "journal.sqlite3-wal").exists()  # a clean stop leaves one file
    damage(journal)

    caplog.clear()
    caplog.set_level("INFO")
    r2 = run_daemon(settings)
    write_atomically(hot / "new.jpg", GOOD)
    assert wait_for(lambda: len(jsonl_verdicts(state)) == len(names) + 1, 15)
    time.sleep(1.0)  # several scans: no frame of before is judged again
    r2.stop()
    after = jsonl_verdicts(state)
    assert len(after) == len(names) + 1 and {v["id"]: v["file"] for v in after[:-1]} == before
    assert Path(after[-1]["file"]).name == "new.jpg"
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"
    if damage is not emptied:
        assert "is damaged" in caplog.text and len(list(state.glob("journal.sqlite3.damaged-*"))) == 1
    assert f"{len(names)} frame(s) recognised from verdicts.jsonl" in caplog.text


def test_housekeeping_on_a_read_only_journal_does_not_stop_judging(
        station: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    settings = station()
    daemon = Daemon(settings)
    daemon.start()
    assert daemon.journal is not None
    daemon.journal._db.execute("PRAGMA query_only=ON")  # every write now fails, as on a read-only file
    worker = threading.Thread(target=daemon.work, daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: "could not forget delivered messages" in caplog.text, 5)
        assert worker.is_alive()
        daemon.journal._db.execute("PRAGMA query_only=OFF")
        write_atomically(Path(settings.watch.folder) / "after.jpg", GOOD)
        assert wait_for(lambda: daemon.counters.frames["accept"] == 1, 10)
    finally:
        daemon.stop_requested.set()
        worker.join(timeout=10)
        daemon.shutdown()


@pytest.mark.parametrize("where", ["under a file", "is a file"])
def test_state_folder_that_cannot_hold_the_journal_exits_2_with_one_message(tmp_path: Path, where: str) -> None:
    (tmp_path / "hot").mkdir()
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    state = blocker / "state" if where == "under a file" else blocker
    p = subprocess.run([*CLI, "run", "--watch", str(tmp_path / "hot"), "--state-dir", str(state), "--no-mqtt"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert f"state_dir: cannot keep the journal in '{state}'" in p.stderr
    assert len([line for line in p.stderr.splitlines() if "state_dir" in line]) == 1


def test_logging_of_the_move_names_the_copy(tmp_path: Path) -> None:
    from edge.journal import Journal

    state = tmp_path / "state"
    state.mkdir()
    (state / "journal.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("edge.journal").addHandler(handler)
    try:
        journal = Journal(state)
    finally:
        logging.getLogger("edge.journal").removeHandler(handler)
    assert journal.damaged_copy is not None and journal.damaged_copy.exists() and journal.is_empty()
    assert any(journal.damaged_copy.name in r.getMessage() for r in records)
    journal.close()
