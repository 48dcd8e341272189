"""Settings of the station screen and /metrics."""

from __future__ import annotations

from pydantic import Field, field_validator

from edge.settings_base import Strict


class HttpSettings(Strict):
    """The station screen and /metrics."""

    enabled: bool
    # host:port; loopback by default: the screen beside the camera needs nothing more
    listen: str = Field(pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")

    @field_validator("listen")
    @classmethod
    def _port(cls, value: str) -> str:
        if int(value.rpartition(":")[2]) > 65535:
            raise ValueError("port must be between 0 and 65535")
        return value

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
