"""Files a hot folder should not hold, and a hot folder that goes away: the daemon judges what it
can, gives an error verdict to the rest, keeps going, and writes each log line as one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.config import Settings
from tests.conftest import Running, Subscriber, jsonl_verdicts, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))
CLI = [sys.executable, "-m", "edge"]


def start_cli_daemon(tmp_path: Path, toy_model: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """`specimen-edge run` without a broker; its log goes to tmp_path/daemon.log."""
    cfg = tmp_path / "station.yaml"
    cfg.write_text(yaml.safe_dump({"station": "hostile", "segmenter": {"model": str(toy_model), "threads": 1},
                                   "watch": {"stable_for_s": 0.3, "reconcile_interval_s": 60.0}}))
    log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115 - the daemon writes it until it stops
    return subprocess.Popen([*prefix, *CLI, "run", "--config", str(cfg), "--watch", str(tmp_path / "hot"),
                             "--state-dir", str(tmp_path / "state"), "--no-mqtt"], stdout=log, stderr=log)


def stop_cli_daemon(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_names_not_utf8_or_with_control_characters_are_judged_and_logged_on_one_line(
        tmp_path: Path, toy_model: Path, verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    hot, state = tmp_path / "hot", tmp_path / "state"
    hot.mkdir()
    # there before the daemon starts: its start-up scan meets it first
    not_utf8 = os.path.join(os.fsencode(hot), b"A\xffbad.jpg")
    with open(not_utf8, "wb") as fh:
        fh.write(GOOD)
    past = time.time() - 30
    os.utime(not_utf8, (past, past))
    proc = start_cli_daemon(tmp_path, toy_model)
    try:
        assert wait_for(lambda: len(jsonl_verdicts(state)) == 1, 60), (tmp_path / "daemon.log").read_bytes()[-3000:]
        forged = "evil\nINFO edge.daemon: ACCEPT forged.jpg\x1b[2J.jpg"
        write_atomically(hot / forged, NO_CHART)
        assert wait_for(lambda: len(jsonl_verdicts(state)) == 2, 30)
    finally:
        assert stop_cli_daemon(proc) == 0
    verdicts = jsonl_verdicts(state)
    for verdict in verdicts:
        verdict_schema(verdict)
    assert os.fsencode(verdicts[0]["file"]) == not_utf8 and verdicts[0]["verdict"] == "accept"
    assert verdicts[1]["file"] == str(hot / forged) and verdicts[1]["verdict"] == "retake"
    log = (tmp_path / "daemon.log").read_bytes().decode("utf-8", "replace")
    assert "Traceback" not in log and "\x1b" not in log
    lines = log.splitlines()
    assert not any(line.startswith("INFO edge.daemon: ACCEPT forged") for line in lines)
    assert any("A\\xffbad.jpg" in line and "ACCEPT" in line for line in lines)
    assert any("evil\\nINFO edge.daemon: ACCEPT forged.jpg\\x1b[2J.jpg" in line and "RETAKE" in line
               for line in lines)


def online_station(broker: Any, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
                   subscriber_factory: Callable[..., Subscriber], prefix: str,
                   stable_for_s: float) -> tuple[Settings, Subscriber]:
    """A daemon publishing under `prefix`, started and online, and a subscriber to all of it."""
    settings = station(watch={"stable_for_s": stable_for_s},
                       mqtt={"enabled": True, "url": broker.url, "client_id": f"t-{prefix}", "topic_prefix": prefix})
    sub = subscriber_factory(broker.port, [f"{prefix}/test-1/#"])
    run_daemon(settings)
    assert wait_for(lambda: b"online" in sub.on("/status"), 10)
    return settings, sub


def test_a_file_written_in_several_steps_gets_one_verdict_and_no_alert(
        broker: Any, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber]) -> None:
    settings, sub = online_station(broker, station, run_daemon, subscriber_factory, "steps", stable_for_s=1.0)
    path = Path(settings.watch.folder) / "steps.jpg"
    third = len(GOOD) // 3
    for chunk in (GOOD[:third], GOOD[third:2 * third], GOOD[2 * third:]):
        with open(path, "ab") as fh:  # open, append, close: each close is an IN_CLOSE_WRITE
            fh.write(chunk)
        time.sleep(0.2)
    assert wait_for(lambda: sub.on("/verdict"), 15)
    time.sleep(2.0)  # longer than stable_for_s: a held-back error would have gone out by now
    verdicts = sub.json_on("/verdict")
    assert [v["verdict"] for v in verdicts] == ["accept"] and sub.on("/alert") == []


def test_an_error_for_a_file_completed_later_is_superseded_once(
        broker: Any, station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        subscriber_factory: Callable[..., Subscriber], verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    settings, sub = online_station(broker, station, run_daemon, subscriber_factory, "late", stable_for_s=0.3)
    path = Path(settings.watch.folder) / "late.jpg"
    with open(path, "ab") as fh:
        fh.write(GOOD[: len(GOOD) // 2])
    # the writer stalls past stable_for_s: the truncated file gets its error and one alert
    assert wait_for(lambda: sub.on("/alert"), 15)
    with open(path, "ab") as fh:
        fh.write(GOOD[len(GOOD) // 2:])
    assert wait_for(lambda: len(sub.on("/verdict")) == 2, 15)
    time.sleep(1.0)
    error, accepted = sub.json_on("/verdict")
    for verdict in (error, accepted):
        verdict_schema(verdict)
    assert error["verdict"] == "error" and "truncated" in error["reasons"][0]["message"]
    assert accepted["verdict"] == "accept" and accepted["supersedes"] == error["id"]
    assert len(sub.on("/alert")) == 1 and len(sub.on("/verdict")) == 2


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_a_file_unreadable_for_its_permissions_is_judged_once_it_can_be_read(
        tmp_path: Path, toy_model: Path, verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    hot, state = tmp_path / "hot", tmp_path / "state"
    hot.mkdir()
    # root without the capabilities that read past file permissions, as an unprivileged daemon would be
    proc = start_cli_daemon(tmp_path, toy_model, ("setpriv", "--bounding-set=-dac_override,-dac_read_search"))
    try:
        assert wait_for(lambda: b"watching" in (tmp_path / "daemon.log").read_bytes(), 60)
        locked = hot / "locked.jpg"
        part = hot / ".locked.jpg.part"
        part.write_bytes(GOOD)
        part.chmod(0)
        part.rename(locked)
        assert wait_for(lambda: len(jsonl_verdicts(state)) == 1, 15)
        locked.chmod(0o644)
        assert wait_for(lambda: len(jsonl_verdicts(state)) == 2, 15), (tmp_path / "daemon.log").read_text()[-2000:]
        time.sleep(1.0)
    finally:
        assert stop_cli_daemon(proc) == 0
    refused, judged = jsonl_verdicts(state)
    for verdict in (refused, judged):
        verdict_schema(verdict)
    assert refused["verdict"] == "error" and "permission denied" in refused["reasons"][0]["message"]
    assert judged["verdict"] == "accept" and judged["supersedes"] == refused["id"]
    assert len(jsonl_verdicts(state)) == 2


def test_a_symlink_loop_gets_an_error_verdict(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running]) -> None:
    settings = station(watch={"reconcile_interval_s": 60.0})
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    os.symlink("before.jpg", hot / "before.jpg")  # found by the start-up scan
    r = run_daemon(settings)
    os.symlink("loop.jpg", hot / "loop.jpg")  # seen by its inotify event
    assert wait_for(lambda: len(jsonl_verdicts(state)) == 2, 10)
    verdicts = {Path(v["file"]).name: v for v in jsonl_verdicts(state)}
    for name in ("before.jpg", "loop.jpg"):
        assert verdicts[name]["verdict"] == "error" and "loop" in verdicts[name]["reasons"][0]["message"]
    assert r.daemon.intake is not None
    r.daemon.intake.reconcile()
    time.sleep(0.5)
    assert len(jsonl_verdicts(state)) == 2 and r.thread.is_alive()


def test_hot_folder_deleted_and_made_again_is_watched_again(
        station: Callable[..., Settings], run_daemon: Callable[[Settings], Running],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    settings = station(watch={"reconcile_interval_s": 60.0})  # no scan would find the frame in time
    hot, state = Path(settings.watch.folder), Path(settings.state_dir)
    r = run_daemon(settings)
    assert r.daemon.intake is not None
    shutil.rmtree(hot)
    assert wait_for(lambda: "has gone" in caplog.text, 5)
    assert any("hot folder" in p.text and "missing" in p.text for p in r.daemon.intake.problems())
    hot.mkdir()
    assert wait_for(lambda: "watching it again" in caplog.text, 5)
    write_atomically(hot / "after.jpg", GOOD)
    assert wait_for(lambda: len(jsonl_verdicts(state)) == 1, 10)
    assert r.daemon.intake.problems() == []
