"""What keeps the daemon from doing its job, said once for /healthz, the screen, MQTT and systemd."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason the line is not working as it should.

    `fatal`: a part of the daemon is dead or it cannot keep verdicts, so the systemd watchdog is no
    longer pinged and a restart is left to systemd. Outside conditions the daemon waits out while
    keeping every verdict (broker unreachable, hot folder gone) are not fatal: a restart would not
    mend them.
    """

    text: str
    fatal: bool
