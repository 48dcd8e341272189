from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from tests.broker import Broker
from tests.conftest import Subscriber, wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically, write_jpeg

CLI = [sys.executable, "-m", "edge"]


def config_file(tmp_path: Path, toy_model: Path, **extra: Any) -> Path:
    data: dict[str, Any] = {"station": "cli-1", "segmenter": {"model": str(toy_model), "threads": 1},
                            "watch": {"stable_for_s": 0.3}}
    data.update(extra)
    p = tmp_path / "station.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def check(tmp_path: Path, toy_model: Path, *paths: Path,
          extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    cfg = config_file(tmp_path, toy_model)
    return subprocess.run([*CLI, "check", "--config", str(cfg), *extra, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_check_exit_codes(tmp_path: Path, toy_model: Path) -> None:
    good = write_jpeg(tmp_path / "good.jpg", draw_sheet())
    bad = write_jpeg(tmp_path / "nochart.jpg", draw_sheet(chart=False))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    assert check(tmp_path, toy_model, good).returncode == 0
    assert check(tmp_path, toy_model, good, bad).returncode == 1
    assert check(tmp_path, toy_model, good, broken).returncode == 3
    assert check(tmp_path, toy_model, bad, broken).returncode == 3  # unreadable outranks retake
    assert check(tmp_path, toy_model, tmp_path / "absent.jpg").returncode == 3


def test_check_usage_and_config_errors_exit_2(tmp_path: Path, toy_model: Path) -> None:
    good = write_jpeg(tmp_path / "good.jpg", draw_sheet())
    assert subprocess.run([*CLI, "check"], capture_output=True, timeout=60).returncode == 2
    assert subprocess.run([*CLI, "frobnicate"], capture_output=True, timeout=60).returncode == 2
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("watch:\n  polling: yes\n")
    p = subprocess.run([*CLI, "check", "--config", str(bad_cfg), str(good)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "watch.polling" in p.stderr and str(bad_cfg) in p.stderr
    p = check(tmp_path, toy_model, good, extra=("--profile", "nonsense"))
    assert p.returncode == 2 and "profile" in p.stderr


def test_check_json_is_one_verdict_per_line_and_masks(
        tmp_path: Path, toy_model: Path, verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    write_jpeg(folder / "a.jpg", draw_sheet())
    write_jpeg(folder / "b.jpg", draw_sheet(chart=False))
    (folder / "notes.txt").write_text("not a frame")
    masks = tmp_path / "masks"
    p = check(tmp_path, toy_model, folder, extra=("--json", "--masks", str(masks)))
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert len(lines) == 2
    verdicts = [json.loads(line) for line in lines]
    for v in verdicts:
        verdict_schema(v)
    assert [Path(v["file"]).name for v in verdicts] == ["a.jpg", "b.jpg"]
    cmap = cv2.imread(str(masks / "a.classes.png"), cv2.IMREAD_UNCHANGED)
    other = cv2.imread(str(masks / "b.classes.png"), cv2.IMREAD_UNCHANGED)
    assert cmap is not None and other is not None
    assert cmap.shape == (1800, 1200) and cmap.dtype == np.uint8 and set(np.unique(cmap)) <= set(range(8))
    assert np.any(cmap == 5) and not np.any(other == 5)


def start_daemon(tmp_path: Path, toy_model: Path, broker: Broker, client_id: str) -> subprocess.Popen[str]:
    hot = tmp_path / "hot"
    hot.mkdir(exist_ok=True)
    cfg = config_file(tmp_path, toy_model, mqtt={"client_id": client_id})
    return subprocess.Popen([*CLI, "run", "--config", str(cfg), "--watch", str(hot), "--station", "cli-1",
                             "--mqtt", broker.url, "--state-dir", str(tmp_path / "state")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_run_publishes_stopped_on_sigterm(tmp_path: Path, toy_model: Path, broker: Broker,
                                          subscriber_factory: Callable[..., Subscriber]) -> None:
    sub = subscriber_factory(broker.port, ["specimen-edge/cli-1/#"])
    proc = start_daemon(tmp_path, toy_model, broker, "cli-term")
    try:
        assert wait_for(lambda: b"online" in sub.on("/status"), 30)
        write_atomically(tmp_path / "hot" / "x.jpg", jpeg_bytes(draw_sheet(chart=False)))
        assert wait_for(lambda: len(sub.on("/alert")) == 1, 15)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_for(lambda: sub.on("/status")[-1:] == [b"stopped"], 5)
    assert b"offline" not in sub.on("/status")


def test_run_last_will_on_sigkill(tmp_path: Path, toy_model: Path, broker: Broker,
                                  subscriber_factory: Callable[..., Subscriber]) -> None:
    sub = subscriber_factory(broker.port, ["specimen-edge/cli-1/status"])
    proc = start_daemon(tmp_path, toy_model, broker, "cli-kill")
    try:
        assert wait_for(lambda: sub.on("/status")[-1:] == [b"online"], 30)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # the broker notices the dead connection (socket closed) and publishes the will
    assert wait_for(lambda: sub.on("/status")[-1:] == [b"offline"], 15)


def test_run_config_error_exits_2(tmp_path: Path) -> None:
    p = subprocess.run([*CLI, "run", "--watch", str(tmp_path / "missing"), "--no-mqtt"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "watch.folder" in p.stderr


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["run", "--help"], ["demo", "--help"]])
def test_help(argv: list[str]) -> None:
    assert subprocess.run([*CLI, *argv], capture_output=True, timeout=60).returncode == 0


def test_run_masks_the_password_and_refuses_a_bad_port(tmp_path: Path) -> None:
    (tmp_path / "hot").mkdir()
    p = subprocess.run([*CLI, "run", "--watch", str(tmp_path / "hot"), "--state-dir", str(tmp_path / "state"),
                        "--mqtt", "mqtt://edge:S3cret@127.0.0.1:99999"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "mqtt.url" in p.stderr and "S3cret" not in p.stderr, p.stderr
    p = subprocess.run([*CLI, "run", "--watch", str(tmp_path / "hot"), "--state-dir", str(tmp_path / "state"),
                        "--no-mqtt", "--http", "127.0.0.1:99999"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "http.listen" in p.stderr and "Traceback" not in p.stderr, p.stderr
