"""systemd integration: unit files that verify cleanly and are hardened, and the notify protocol."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.config import Settings
from edge.daemon import Daemon
from edge.sd_notify import Notifier, watchdog_interval_s
from tests.conftest import wait_for
from tests.frames import draw_sheet, jpeg_bytes, write_atomically

UNITS = Path(__file__).resolve().parent.parent / "systemd"
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is not installed")


def installed_copy(tmp_path: Path, name: str) -> Path:
    """The unit with its /opt paths pointed at this environment, so verify finds the programs."""
    text = (UNITS / name).read_text().replace("/opt/specimen-edge/venv/bin/", str(Path(sys.executable).parent) + "/")
    target = tmp_path / (name.replace("@.", "@station-1.") if "@." in name else name)
    target.write_text(text)
    return target


UNIT_NAMES = ["specimen-edge.service", "specimen-edge@.service", "specimen-edge-engine.service"]


@needs_systemd_analyze
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_verifies_without_warnings(tmp_path: Path, name: str) -> None:
    unit = installed_copy(tmp_path, name)
    p = subprocess.run(["systemd-analyze", "verify", "--recursive-errors=no", "--man=no", unit.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_hardening_score(tmp_path: Path, name: str) -> None:
    unit = installed_copy(tmp_path, name)
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=25", unit.name],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    assert score is not None, p.stdout[-500:]
    assert float(score.group(1)) <= 2.5 and p.returncode == 0


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_gpu_stays_visible_and_no_inline_comments(name: str) -> None:
    text = (UNITS / name).read_text()
    assert "PrivateDevices" not in text and "DeviceAllow" not in text
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert " #" not in line, f"inline comment breaks the value: {line}"


def test_daemon_unit_is_notify_with_watchdog() -> None:
    text = (UNITS / "specimen-edge.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "NotifyAccess=main"):
        assert line in text.splitlines()


class NotifySocket:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def keys(self, key: str, since: float = 0.0) -> list[dict[str, str]]:
        return [m for t, m in list(self.messages) if key in m and t >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_notifier_path_and_abstract_sockets(tmp_path: Path) -> None:
    sock = NotifySocket(str(tmp_path / "notify"))
    assert Notifier(str(tmp_path / "notify")).notify(READY=1, STATUS="hello")
    assert wait_for(lambda: sock.keys("READY"), 2)[0] == {"READY": "1", "STATUS": "hello"}
    sock.close()
    name = f"specimen-edge-test-{os.getpid()}"
    abstract = NotifySocket("\0" + name)
    assert Notifier("@" + name).notify(WATCHDOG=1)
    assert wait_for(lambda: abstract.keys("WATCHDOG"), 2)
    abstract.close()
    assert not Notifier("").notify(READY=1)  # not under systemd: nothing to do
    assert not Notifier(str(tmp_path / "missing")).notify(READY=1)  # a broken socket is reported, not raised


def test_watchdog_interval_only_for_our_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval_s() is None


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    path = str(tmp_path / "notify.sock")
    sock = NotifySocket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "600000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    yield sock
    sock.close()


def test_ready_watchdog_and_stopping_at_the_right_moments(
        notify_socket: NotifySocket, station: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = Daemon(station())
    assert notify_socket.keys("READY") == []
    daemon.start()
    assert daemon.pipeline is not None  # model loaded and warmed up before READY
    assert wait_for(lambda: notify_socket.keys("READY"), 2)
    worker = threading.Thread(target=daemon.work, daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: len(notify_socket.keys("WATCHDOG")) >= 3, 5)
        # now the judging stage hangs on a frame
        release = threading.Event()
        monkeypatch.setattr(daemon, "process", lambda path: release.wait(30))
        write_atomically(Path(daemon.folder) / "stuck.jpg", jpeg_bytes(draw_sheet(200, 300)))
        assert wait_for(lambda: any("judging" in m.get("STATUS", "") for m in notify_socket.keys("STATUS")), 5)
        silent_from = time.monotonic()
        time.sleep(1.5)
        assert notify_socket.keys("WATCHDOG", since=silent_from) == []  # no pings while a stage hangs
        release.set()
        resumed = time.monotonic()
        assert wait_for(lambda: notify_socket.keys("WATCHDOG", since=resumed), 5)
    finally:
        daemon.stop_requested.set()
        worker.join(timeout=10)
        daemon.shutdown()
    assert notify_socket.keys("STOPPING")
    assert any("frames judged" in m["STATUS"] for m in notify_socket.keys("STATUS"))
