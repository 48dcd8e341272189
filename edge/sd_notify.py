"""The systemd notify protocol (sd_notify(3)), in a few lines we can see fail.

One datagram to $NOTIFY_SOCKET with newline-separated KEY=VALUE lines; a leading '@' means
the abstract namespace. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, **fields: str | int) -> bool:
        """notify(READY=1, STATUS="...") -> True when systemd got the datagram."""
        if not self.address:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall(message.encode())
        except OSError as exc:
            if not self._warned:  # say it once: a broken socket would otherwise flood the log
                log.error("cannot notify systemd at %s: %s", self.address, exc)
                self._warned = True
            return False
        return True


def watchdog_interval_s() -> float | None:
    """WatchdogSec= of our unit, when it is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None
