"""A daemon serving the station screen on a free loopback port, with the toy model."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.config import Settings
from edge.station.server import StationServer
from tests.frames import draw_sheet, jpeg_bytes
from tests.test_daemon import Running

# with the toy model: a sheet without its colour chart is a retake, a whole one is accepted
GOOD = jpeg_bytes(draw_sheet())
NO_CHART = jpeg_bytes(draw_sheet(chart=False))
NO_CHART_REASON = "Colour chart not found"


class Served(Running):
    @property
    def server(self) -> StationServer:
        assert isinstance(self.daemon.station_server, StationServer)
        return self.daemon.station_server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def hot(self) -> Path:
        return Path(self.daemon.settings.watch.folder)

    def get(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body; error statuses are answers too."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.headers["Content-Type"], response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


@pytest.fixture
def served(station: Callable[..., Settings]) -> Iterator[Served]:
    running = Served(station(http={"enabled": True, "listen": "127.0.0.1:0"}))
    yield running
    if running.thread.is_alive():
        running.stop()
