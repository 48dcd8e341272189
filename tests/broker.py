"""A real mosquitto broker on loopback, started and stopped by tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """mosquitto on 127.0.0.1, started and stopped by the tests."""

    def __init__(self, folder: Path, port: int | None = None, extra_conf: str = "", persistent: bool = False) -> None:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            if os.environ.get("SPECIMEN_EDGE_REQUIRE_BROKER") == "1":
                pytest.fail("mosquitto is not installed (the test command installs it)")
            pytest.skip("mosquitto is not installed")
        self.binary = binary
        self.folder = folder
        self.port = port or free_port()
        self.conf = folder / "mosquitto.conf"
        # persistence keeps subscribers' sessions and queued messages across a restart (on SIGTERM)
        persistence = (f"persistence true\npersistence_location {folder}/\n" if persistent
                       else "persistence false\n")
        # as root mosquitto drops to its own user, which cannot read the tests' private temp folders
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"{user}listener {self.port} 127.0.0.1\nallow_anonymous true\n{persistence}"
                             f"log_dest stderr\n{extra_conf}")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "mosquitto.log", "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
