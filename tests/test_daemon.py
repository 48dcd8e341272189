from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.config import Settings
from tests.broker import Broker
from tests.conftest import Running, Subscriber, jsonl_verdicts, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically


def journal_rows(state_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state_dir / "journal.sqlite3") as db:
        return db.execute("SELECT path, verdict FROM frames ORDER BY id").fetchall()


GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))


def test_alert_reaches_a_real_subscriber(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    settings = station(mqtt={"enabled": True, "url": broker.url, "client_id": "t-alert"})
    sub = subscriber_factory(broker.port, ["specimen-edge/test-1/#"])
    r = run_daemon(settings)
    assert wait_for(lambda: b"online" in sub.on("/status"), 10)
    hot = Path(settings.watch.folder)
    write_atomically(hot / "good.jpg", GOOD)
    write_atomically(hot / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: len(sub.on("/verdict")) == 2, 15)
    alerts = sub.json_on("/alert")
    assert len(alerts) == 1 and alerts[0]["file"].endswith("nochart.jpg")
    assert alerts[0]["reasons"][0]["check"] == "colour_chart"
    for v in sub.json_on("/verdict") + alerts:
        verdict_schema(v)
    r.stop()
    assert sub.on("/status")[-1] == b"stopped"
    assert r.daemon.journal is not None
    assert {v["id"] for v in jsonl_verdicts(Path(settings.state_dir))} == {v["id"] for v in sub.json_on("/verdict")}


def test_exactly_one_verdict_across_restarts_and_reconciliation(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station()
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    r = run_daemon(settings)
    write_atomically(hot / "a.jpg", GOOD)
    assert wait_for(lambda: len(journal_rows(state)) == 1, 10)
    r.stop()
    # while the daemon is down: one new frame, and one frame rewritten with new content (a retake)
    write_atomically(hot / "b.jpg", NO_CHART)
    past = time.time() - 30
    os.utime(hot / "b.jpg", (past, past))
    write_atomically(hot / "a.jpg", NO_CHART)
    os.utime(hot / "a.jpg", (past, past))
    r2 = run_daemon(settings)
    assert wait_for(lambda: len(journal_rows(state)) == 3, 10)
    time.sleep(1.0)  # more scans and events must not add verdicts
    r2.daemon.intake.reconcile()  # type: ignore[union-attr]
    time.sleep(0.5)
    r2.stop()
    rows = journal_rows(state)
    assert len(rows) == 3
    assert sorted(Path(p).name for p, _ in rows) == ["a.jpg", "a.jpg", "b.jpg"]
    assert wait_for(lambda: len(jsonl_verdicts(state)) == 3, 5)
    assert len({v["id"] for v in jsonl_verdicts(state)}) == 3


def test_bad_inputs_never_stop_the_daemon(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        verdict_schema: Callable[[dict[str, Any]], None], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    settings = station(decode={"max_megapixels": 4.0})
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    r = run_daemon(settings)
    (hot / "empty.jpg").write_bytes(b"")
    (hot / "truncated.jpg").write_bytes(GOOD[: len(GOOD) // 2])
    (hot / "notimage.png").write_bytes(b"hello, I am text")
    import cv2
    import numpy as np
    cv2.imwrite(str(hot / "huge.png"), np.zeros((2500, 2000, 3), np.uint8))  # 5 MP > 4 MP limit
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(GOOD)
    os.symlink(outside, hot / "link.jpg")
    (hot / "folder.jpg").mkdir()
    write_atomically(hot / "good.jpg", GOOD)
    expected = {"empty.jpg", "truncated.jpg", "notimage.png", "huge.png", "link.jpg", "good.jpg"}
    assert wait_for(lambda: {Path(p).name for p, _ in journal_rows(state)} == expected, 15), journal_rows(state)
    verdicts = {Path(v["file"]).name: v for v in wait_for(
        lambda: (lambda vs: vs if len(vs) == 6 else None)(jsonl_verdicts(state)), 5)}
    for name in expected - {"good.jpg"}:
        v = verdicts[name]
        verdict_schema(v)
        assert v["verdict"] == "error" and v["reasons"][0]["check"] == "readable", name
    assert "empty" in verdicts["empty.jpg"]["reasons"][0]["message"]
    assert "truncated" in verdicts["truncated.jpg"]["reasons"][0]["message"]
    assert "limit" in verdicts["huge.png"]["reasons"][0]["message"]
    assert "outside the hot folder" in verdicts["link.jpg"]["reasons"][0]["message"]
    assert verdicts["good.jpg"]["verdict"] == "accept"
    # a file that vanishes before it is read leaves a log line and no verdict
    assert r.daemon.process(hot / "vanished.jpg") is None
    assert r.daemon.process(hot / "folder.jpg") is None
    assert "removed before it could be read" in caplog.text and "a folder named like an image" in caplog.text
    assert r.thread.is_alive() and r.daemon.intake is not None and r.daemon.intake.alive()


def test_broker_down_at_start_delivers_later(
        tmp_path: Path, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    (tmp_path / "b2").mkdir()
    b = Broker(tmp_path / "b2")
    settings = station(mqtt={"enabled": True, "url": b.url, "client_id": "t-late"})
    r = run_daemon(settings)
    hot = Path(settings.watch.folder)
    write_atomically(hot / "nochart.jpg", NO_CHART)
    assert wait_for(lambda: len(journal_rows(Path(settings.state_dir))) == 1, 10)
    assert r.daemon.journal is not None and r.daemon.journal.backlog("mqtt") == 2
    b.start()
    try:
        sub = subscriber_factory(b.port, ["specimen-edge/test-1/#"])
        assert wait_for(lambda: len(sub.on("/alert")) == 1 and len(sub.on("/verdict")) == 1, 20)
        assert wait_for(lambda: r.daemon.journal.backlog("mqtt") == 0, 5)  # type: ignore[union-attr]
        r.stop()
    finally:
        b.stop()


def test_burst_larger_than_the_queue_gets_one_verdict_each(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station(queues={"frames": 8}, watch={"reconcile_interval_s": 30.0})
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    small = jpeg_bytes(draw_sheet(300, 450, chart=False))
    r = run_daemon(settings)
    names = [f"burst{i:03d}.jpg" for i in range(60)]
    for name in names:
        write_atomically(hot / name, small)
    # the queue holds 8 paths: the rest are found by the rescan the overflow triggers, not by the 30 s timer
    assert wait_for(lambda: len(journal_rows(state)) == len(names), 60), len(journal_rows(state))
    assert r.daemon.frames.depth() == 0
    rows = journal_rows(state)
    assert sorted(Path(p).name for p, _ in rows) == names


def test_state_topic_is_retained_with_counters(
        broker: Broker, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    settings = station(station="test-state", mqtt={"enabled": True, "url": broker.url, "client_id": "t-state"})
    r = run_daemon(settings)
    write_atomically(Path(settings.watch.folder) / "n.jpg", NO_CHART)
    assert wait_for(lambda: r.daemon.counters.frames["retake"] == 1, 10)
    # a subscriber that connects later still gets the last state (retained)
    late = subscriber_factory(broker.port, ["specimen-edge/test-state/state"])
    assert wait_for(lambda: any(json.loads(p)["frames"].get("retake") == 1 for p in late.on("/state")), 10)
    state = json.loads(late.on("/state")[-1])
    assert state["last"]["file"] == "n.jpg" and state["reasons"] == {"colour_chart": 1}
    assert state["backend"] == "onnxruntime" and "outbox_depth" in state and "queue_depth" in state


def test_a_frame_that_keeps_failing_gets_an_error_verdict(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = station(watch={"reconcile_interval_s": 0.3})
    r = run_daemon(settings)
    assert r.daemon.pipeline is not None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decoder crashed")

    monkeypatch.setattr(r.daemon.pipeline, "judge", broken)
    write_atomically(Path(settings.watch.folder) / "cursed.jpg", GOOD)
    state = Path(settings.state_dir)
    assert wait_for(lambda: len(journal_rows(state)) == 1, 15)
    verdicts = wait_for(lambda: jsonl_verdicts(state), 5)
    assert verdicts[0]["verdict"] == "error"
    assert "after 3 attempts" in verdicts[0]["reasons"][0]["message"]
    assert "decoder crashed" in verdicts[0]["reasons"][0]["message"]
    assert r.thread.is_alive()
