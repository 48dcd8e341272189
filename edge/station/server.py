"""The station screen and /metrics over HTTP, served by the daemon beside the camera.

Verdicts arrive through `on_verdict`, called by the daemon on the judging thread; it only queues
them, and a dispatcher thread of our own updates the metrics and the history and pushes each one
to the open screens as a Server-Sent Event. Thumbnails are decoded on the HTTP thread that asks.

Endpoints: `/` (the page), `/state.json`, `/events` (SSE), `/thumbnail.jpg?id=<verdict id>`,
`/crop.jpg?id=<verdict id>&region=<region id>`, `/metrics` (Prometheus), `/healthz`, and
`POST /override` (an operator override from the screen).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from edge.config_files import ConfigError
from edge.health import Problem
from edge.overrides import OverrideError, OverrideRequest, UnknownVerdict, request_from
from edge.segmentation.base import ModelInfo
from edge.station.metrics import StationMetrics
from edge.station.settings import HttpSettings
from edge.station.thumbnail import CLASS_COLOURS, FAILING_COLOUR, failing_region_ids, render_crop, render_thumbnail
from edge.verdict import Verdict

log = logging.getLogger(__name__)

HISTORY_LENGTH = 12
_INCOMING_LIMIT = 1024
_CLIENT_BACKLOG = 64
_STATE_EVERY_S = 5.0
_KEEPALIVE_S = 15.0
_THUMBNAILS_KEPT = 4
# Connections served at once (screens, their event streams, scrapers); more are closed at once,
# so a flood of idle connections cannot grow a thread each.
MAX_CONNECTIONS = 32
# A connection that sends no complete request in this long is closed (a half-open one would
# otherwise hold its thread for good).
REQUEST_TIMEOUT_S = 10.0
# no asset may come from elsewhere: the screen must work on a line with no internet
_CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                            "script-src 'self' 'unsafe-inline'; connect-src 'self'")
_CLOSE = object()
_MAX_POST_BYTES = 4096


def verdict_summary(verdict: Mapping[str, Any], overrides: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the screen shows of a verdict: small enough to push on every frame."""
    return {
        "overrides": [{"action": o["action"], "note": o.get("note"), "at": o["at"]} for o in overrides or []],
        "id": verdict["id"],
        "file": Path(verdict["file"]).name,
        "verdict": verdict["verdict"],
        "processed_at": verdict["processed_at"],
        "reasons": [{"check": r["check"], "message": r["message"], "regions": r.get("regions", [])}
                    for r in verdict["reasons"]],
        "warnings": [{"check": c["check"], "message": c["message"]} for c in verdict.get("checks", [])
                     if c.get("status") == "warn"],
        "regions": [{"id": r["id"], "class": r["class"]} for r in verdict.get("regions", [])],
        "barcodes": [{"text": b.get("text"), "format": b.get("format")} for b in verdict.get("barcodes", [])],
        "total_ms": verdict.get("timings_ms", {}).get("total"),
    }


def sse_message(event: str, data: Mapping[str, Any], event_id: str | None = None) -> bytes:
    """One Server-Sent Event; with an id, a reconnecting screen can say what it saw last."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class _Client:
    """One open /events stream; too slow a reader is dropped and reconnects by itself."""

    def __init__(self) -> None:
        self.events: queue.Queue[object] = queue.Queue(maxsize=_CLIENT_BACKLOG)
        self.dropped = False

    def offer(self, event: object) -> None:
        try:
            self.events.put_nowait(event)
        except queue.Full:
            self.dropped = True


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # open event streams must not hold up a stop

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], station: StationServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.station = station
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._refusal_logged = False
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            if not self._refusal_logged:
                log.warning("station screen: %d connections open already; closing new ones until some end",
                            MAX_CONNECTIONS)
                self._refusal_logged = True
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class StationSource(Protocol):
    """What the screen reads of the running station, and the one thing it asks of it: an override."""

    ready: threading.Event

    def state(self) -> dict[str, Any]: ...

    def health(self) -> list[Problem]: ...

    def unhealthy_stages(self) -> list[str]: ...

    def model_info(self) -> ModelInfo | None: ...

    def apply_override(self, request: OverrideRequest) -> dict[str, Any] | None: ...


class StationServer:
    """`recent` and `overrides`: the last frames before a restart (newest first) and their overrides,
    shown again; the owner calls `on_verdict` and `on_override` with every new one."""

    def __init__(self, source: StationSource, station: str, http: HttpSettings, recent: Sequence[Verdict] = (),
                 overrides: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.source = source
        self.http = http
        self.metrics = StationMetrics(station)
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_LENGTH)
        self._verdicts: OrderedDict[str, Mapping[str, Any]] = OrderedDict()  # for thumbnails, by id
        self._thumbnails: OrderedDict[str, bytes | None] = OrderedDict()
        self._lock = threading.Lock()
        self._clients: set[_Client] = set()
        self._incoming: queue.Queue[object] = queue.Queue(maxsize=_INCOMING_LIMIT)
        self._overflow_logged = False
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._threads: list[threading.Thread] = []
        self.page = resources.files("edge.station").joinpath("page.html").read_bytes()
        self._crops: OrderedDict[tuple[str, int], bytes | None] = OrderedDict()
        self._restore(recent, overrides or {})

    def _restore(self, verdicts: Sequence[Verdict], overrides: Mapping[str, list[dict[str, Any]]]) -> None:
        """The last frames before a restart, newest first, shown again (not counted again)."""
        for verdict in reversed(verdicts):
            self.history.appendleft(verdict_summary(verdict, overrides.get(verdict["id"])))
            self._verdicts[verdict["id"]] = verdict

    # -- life cycle ------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def link_url(self) -> str:
        """The screen's address for a link from elsewhere (Home Assistant's device page): a server
        listening on every address is named by this machine's host name."""
        host, port = self.address
        try:
            unspecified = ipaddress.ip_address(host).is_unspecified
        except ValueError:
            unspecified = False
        if unspecified:
            return f"http://{socket.gethostname()}:{port}/"
        return self.url + "/"

    def start(self) -> None:
        # bound here, not in the thread, so a port in use stops the daemon with a clear error
        host, port = self.http.host_port
        try:
            self._httpd = _HttpServer((host, port), _Handler, self)
        except OSError as exc:
            raise ConfigError(f"http.listen: cannot listen on {self.http.listen}: "
                              f"{exc.strerror or exc}") from None
        if not _is_loopback(host):
            log.warning("station screen listens on %s, reachable from other machines: anyone on the network "
                        "can see the frames and the line's figures (set http.listen to 127.0.0.1:%d to keep it "
                        "to this computer)", self.http.listen, port)
        self._threads = [threading.Thread(target=self._httpd.serve_forever, name="station-http", daemon=True),
                         threading.Thread(target=self._dispatch, name="station-dispatch", daemon=True)]
        for thread in self._threads:
            thread.start()
        log.info("station screen on %s (metrics on %s/metrics)", self.url, self.url)

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._incoming.put_nowait(_CLOSE)
        except queue.Full:
            pass  # the dispatcher sees the stop flag after the verdict in hand
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.dropped = True
            client.offer(_CLOSE)  # wakes the stream's thread so the connection closes now
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- verdicts --------------------------------------------------------------------------
    def on_verdict(self, verdict: Verdict) -> None:
        """Called on the judging thread: queue and return."""
        try:
            self._incoming.put_nowait((time.time(), verdict))
        except queue.Full:
            if not self._overflow_logged:
                log.warning("station screen is behind; dropping verdicts from the screen and metrics")
                self._overflow_logged = True

    def _dispatch(self) -> None:
        next_state = time.monotonic() + _STATE_EVERY_S
        while not self._stopping.is_set():
            try:
                item = self._incoming.get(timeout=max(0.05, next_state - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _CLOSE:
                break
            if isinstance(item, tuple):
                at, verdict = item
                self.record(verdict, at)
            if time.monotonic() >= next_state:
                next_state = time.monotonic() + _STATE_EVERY_S
                if self._clients:
                    self._broadcast("state", self.stats())

    def record(self, verdict: Mapping[str, Any], at: float | None = None) -> dict[str, Any]:
        """Count one verdict, keep it for the screen and push it to every open screen."""
        self.metrics.observe(verdict, time.time() if at is None else at)
        summary = verdict_summary(verdict)
        with self._lock:
            self.history.appendleft(summary)
            self._verdicts[verdict["id"]] = verdict
            while len(self._verdicts) > HISTORY_LENGTH:
                self._verdicts.popitem(last=False)
        self._broadcast("verdict", {**summary, "stats": self.stats()}, event_id=summary["id"])
        return summary

    def on_override(self, override: dict[str, Any]) -> None:
        """An operator override (on the thread that recorded it): counted, and the frame's summary
        pushed again with it, so every open screen shows it."""
        self.metrics.observe_override(override["action"], override["checks"])
        with self._lock:
            index = next((i for i, item in enumerate(self.history) if item["id"] == override["verdict_id"]), None)
            if index is None:
                return  # an older frame than the screen shows
            item = self.history[index]
            item = {**item, "overrides": [*item["overrides"], {"action": override["action"],
                                                                 "note": override["note"], "at": override["at"]}]}
            self.history[index] = item
        self._broadcast("verdict", {**item, "stats": self.stats()}, event_id=item["id"])

    def _broadcast(self, event: str, data: Mapping[str, Any], event_id: str | None = None) -> None:
        message = sse_message(event, data, event_id)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.offer(message)

    def missed_since(self, last_event_id: str | None) -> list[bytes]:
        """The verdict events after `last_event_id`, oldest first, for a screen that reconnects
        (EventSource sends the id of the last event it saw); nothing when that id is unknown."""
        if not last_event_id:
            return []
        with self._lock:
            history = list(self.history)
        ids = [item["id"] for item in history]
        if last_event_id not in ids:
            return []  # older than the history: the screen reloads /state.json on every connect anyway
        newer = history[:ids.index(last_event_id)]
        return [sse_message("verdict", item, item["id"]) for item in reversed(newer)]

    # -- what the endpoints serve ------------------------------------------------------------
    def model(self) -> dict[str, Any] | None:
        info = self.source.model_info()
        if info is None:
            return None
        return {"name": info.name, "sha256": info.sha256, "backend": info.backend, "device": info.device}

    def stats(self) -> dict[str, Any]:
        state = self.source.state()
        keys = ("frames", "frames_per_hour", "retake_rate_percent", "queue_depth", "outbox_depth")
        return {**{key: state[key] for key in keys}, "ready": self.source.ready.is_set(),
                "unhealthy": self.source.unhealthy_stages() if self.source.ready.is_set() else []}

    def state_document(self) -> dict[str, Any]:
        with self._lock:
            history = list(self.history)
        return {**self.source.state(), "ready": self.source.ready.is_set(),
                "unhealthy": self.source.unhealthy_stages() if self.source.ready.is_set() else [],
                "model": self.model(), "latest": history[0] if history else None, "history": history,
                "class_colours": CLASS_COLOURS, "failing_colour": FAILING_COLOUR}

    def metrics_exposition(self, accept: str | None) -> tuple[bytes, str]:
        ready = self.source.ready.is_set() and not self.source.health()
        return self.metrics.exposition(self.source.state(), self.model(), ready, accept)

    def thumbnail(self, verdict_id: str | None) -> bytes | None:
        with self._lock:
            if verdict_id is None and self.history:
                verdict_id = self.history[0]["id"]
            if verdict_id is None or verdict_id not in self._verdicts:
                return None
            if verdict_id in self._thumbnails:
                return self._thumbnails[verdict_id]
            verdict = self._verdicts[verdict_id]
        jpeg = render_thumbnail(verdict)
        with self._lock:
            self._thumbnails[verdict["id"]] = jpeg
            while len(self._thumbnails) > _THUMBNAILS_KEPT:
                self._thumbnails.popitem(last=False)
        return jpeg

    def crop(self, verdict_id: str | None, region_id: int | None) -> bytes | None:
        """A 100 % crop of a failing region of a frame on screen, so the photographer sees what is wrong."""
        if verdict_id is None or region_id is None:
            return None
        key = (verdict_id, region_id)
        with self._lock:
            if key in self._crops:
                return self._crops[key]
            verdict = self._verdicts.get(verdict_id)
        if verdict is None or region_id not in failing_region_ids(verdict):
            return None
        jpeg = render_crop(verdict, region_id)
        with self._lock:
            self._crops[key] = jpeg
            while len(self._crops) > _THUMBNAILS_KEPT:
                self._crops.popitem(last=False)
        return jpeg

    def override(self, body: Any) -> tuple[HTTPStatus, dict[str, Any]]:
        """An override from the screen: the status and the answer to send."""
        try:
            action = body.get("action") if isinstance(body, Mapping) else None
            request = request_from(str(action), body, "screen")
            override = self.source.apply_override(request)
        except UnknownVerdict as exc:
            return HTTPStatus.NOT_FOUND, {"error": str(exc)}
        except OverrideError as exc:
            return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        if override is None:
            return HTTPStatus.CONFLICT, {"error": "this verdict has that override already"}
        return HTTPStatus.OK, {"override": {k: v for k, v in override.items() if k != "verdict"}}

    def open_stream(self) -> _Client:
        client = _Client()
        with self._lock:
            self._clients.add(client)
        return client

    def close_stream(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "specimen-edge"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(REQUEST_TIMEOUT_S)  # read per connection, so a test may shorten it

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, document: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(document, separators=(",", ":")).encode(), "application/json")

    def do_GET(self) -> None:
        station = self.server.station
        url = urlsplit(self.path)
        routes: dict[str, Callable[[], None]] = {
            "/": lambda: self._send(HTTPStatus.OK, station.page, "text/html; charset=utf-8"),
            "/index.html": lambda: self._send(HTTPStatus.OK, station.page, "text/html; charset=utf-8"),
            "/state.json": lambda: self._json(station.state_document()),
            "/metrics": self._metrics,
            "/healthz": self._health,
            "/thumbnail.jpg": lambda: self._thumbnail(parse_qs(url.query).get("id", [None])[0]),
            "/crop.jpg": lambda: self._crop(parse_qs(url.query)),
            "/events": self._events,
        }
        route = routes.get(url.path)
        try:
            if route is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            else:
                route()
        except OSError:
            pass  # the screen went away, or stopped reading, mid-answer; nothing to tell it

    def _metrics(self) -> None:
        body, content_type = self.server.station.metrics_exposition(self.headers.get("Accept"))
        self._send(HTTPStatus.OK, body, content_type)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/override":
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        # JSON only, and from this page's own origin: a page elsewhere cannot post here in the
        # operator's browser (a cross-origin JSON post needs a preflight this server never grants)
        origin = self.headers.get("Origin")
        if not (self.headers.get("Content-Type") or "").startswith("application/json") or (
                origin is not None and urlsplit(origin).netloc != self.headers.get("Host")):
            self._json({"error": "JSON from the station screen only"}, HTTPStatus.FORBIDDEN)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= _MAX_POST_BYTES:
            self._json({"error": "a JSON body of at most 4 KiB is expected"}, HTTPStatus.BAD_REQUEST)
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._json({"error": "not JSON"}, HTTPStatus.BAD_REQUEST)
            return
        status, answer = self.server.station.override(body)
        self._json(answer, status)

    def do_HEAD(self) -> None:
        """What GET answers, headers only (uptime checkers and scrapers probe with HEAD)."""
        self.do_GET()

    def _health(self) -> None:
        source = self.server.station.source
        problems = source.unhealthy_stages() if source.ready.is_set() else ["starting"]
        self._json({"ok": not problems, "problems": problems},
                   HTTPStatus.OK if not problems else HTTPStatus.SERVICE_UNAVAILABLE)

    def _thumbnail(self, verdict_id: str | None) -> None:
        jpeg = self.server.station.thumbnail(verdict_id)
        if jpeg is None:
            self._send(HTTPStatus.NOT_FOUND, b"no thumbnail for this frame\n", "text/plain; charset=utf-8")
        else:
            # a verdict id names one frame's content for good, so the browser may keep it
            self._send(HTTPStatus.OK, jpeg, "image/jpeg", cache=verdict_id is not None)

    def _crop(self, query: dict[str, list[str]]) -> None:
        try:
            region = int(query.get("region", [""])[0])
        except ValueError:
            region = None
        jpeg = self.server.station.crop(query.get("id", [None])[0], region)
        if jpeg is None:
            self._send(HTTPStatus.NOT_FOUND, b"no crop for this region\n", "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.OK, jpeg, "image/jpeg", cache=True)

    def _events(self) -> None:
        station = self.server.station
        client = station.open_stream()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Accel-Buffering", "no")  # a reverse proxy must not hold events back
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(b"retry: 2000\n: connected\n\n")
            for missed in station.missed_since(self.headers.get("Last-Event-ID")):
                self.wfile.write(missed)
            self.wfile.flush()
            while not client.dropped and not station.stopping:
                try:
                    message = client.events.get(timeout=_KEEPALIVE_S)
                except queue.Empty:
                    message = b": keep-alive\n\n"  # also finds out when the screen has gone away
                if not isinstance(message, bytes):
                    break
                self.wfile.write(message)
                self.wfile.flush()
        finally:
            station.close_stream(client)
