"""`specimen-edge check`: progress bar and summary table on stderr, stdout untouched."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from edge.progress import CheckProgress, format_duration, summary_table
from tests.frames import draw_sheet, write_jpeg

CLI = [sys.executable, "-m", "edge"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_shows_rate_and_eta_and_redraws_in_place() -> None:
    clock, out = Clock(), FakeTerminal()
    progress = CheckProgress(100, out, enabled=True, clock=clock)
    for _ in range(25):
        clock.now += 0.5  # two frames a second
        progress.advance("accept")
    line = progress.line(100)
    assert line.startswith("25/100 [") and "25.0%" in line and "2.0 frames/s" in line
    assert "ETA 0:38" in line  # 75 frames left at 2 frames/s: 37.5 s
    assert len(line) <= 100
    assert out.getvalue().startswith("\r\x1b[K") and "\n" not in out.getvalue()
    assert len(progress.line(40)) < 40 and "ETA" in progress.line(40), "narrow terminal: numbers, no bar"


def test_nothing_is_drawn_when_disabled_but_verdicts_are_counted() -> None:
    out = FakeTerminal()
    progress = CheckProgress(2, out, enabled=False)
    progress.advance("retake", ["colour_chart"])
    progress.advance("accept")
    progress.finish()
    assert out.getvalue() == ""
    assert progress.verdicts == Counter({"retake": 1, "accept": 1})


def test_summary_table_lists_reasons_under_their_verdict() -> None:
    table = summary_table(Counter({"accept": 950, "retake": 40, "error": 2}),
                          {"retake": Counter({"blur": 12, "colour_chart": 30}), "error": Counter({"readable": 2})},
                          elapsed_s=240.0)
    lines = table.splitlines()
    assert lines[0].split() == ["verdict", "reason", "frames"]
    body = [line.split() for line in lines[2:]]
    assert body[:6] == [["accept", "950"], ["retake", "40"], ["colour_chart", "30"], ["blur", "12"],
                        ["error", "2"], ["readable", "2"]]
    assert body[6] == ["total", "992"]
    assert lines[-1] == "992 frames in 4:00 (4.1 frames/s)"
    assert format_duration(3725) == "1:02:05"


def _frames(folder: Path, good: int, bad: int) -> None:
    folder.mkdir()
    for i in range(good):
        write_jpeg(folder / f"good-{i}.jpg", draw_sheet(600, 900, seed=i))
    for i in range(bad):
        write_jpeg(folder / f"nochart-{i}.jpg", draw_sheet(600, 900, chart=False, seed=i))


def _config(tmp_path: Path, toy_model: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump({"segmenter": {"model": str(toy_model), "threads": 1}}))
    return path


def test_check_progress_keeps_json_stdout_clean(tmp_path: Path, toy_model: Path) -> None:
    _frames(tmp_path / "frames", good=2, bad=2)
    p = subprocess.run([*CLI, "check", "--config", str(_config(tmp_path, toy_model)), "--json", "--progress",
                        str(tmp_path / "frames"), str(tmp_path / "absent.jpg")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3
    verdicts = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(verdicts) == 4 and p.stdout.endswith("\n")
    assert "4/4 [" in p.stderr and "frames/s" in p.stderr and "ETA" in p.stderr
    table = p.stderr[p.stderr.index("verdict "):].splitlines()
    rows = [line.split() for line in table[2:]]
    assert ["accept", "2"] in rows and ["retake", "2"] in rows and ["colour_chart", "2"] in rows
    assert ["error", "1"] in rows and ["missing", "1"] in rows and ["total", "5"] in rows


def test_check_on_a_terminal_draws_the_bar_and_a_pipe_gets_none(tmp_path: Path, toy_model: Path) -> None:
    _frames(tmp_path / "frames", good=1, bad=1)
    config = _config(tmp_path, toy_model)
    command = [*CLI, "check", "--config", str(config), "--json", str(tmp_path / "frames")]
    controller, terminal = pty.openpty()  # a fresh terminal that reports 0 columns, like some consoles
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        seen = b""
        while True:  # read while it runs: a full terminal buffer would block the child
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # every writer has closed the terminal: all read
                break
            if not chunk:
                break
            seen += chunk
        stdout, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
    stderr = seen.decode(errors="replace")
    assert process.returncode == 1
    assert len(stdout.decode().splitlines()) == 2
    assert "\r\x1b[K" in stderr and "2/2 [" in stderr and "colour_chart" in stderr

    piped = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert piped.stdout.count("\n") == 2
    assert "frames/s" not in piped.stderr and "colour_chart" not in piped.stderr
