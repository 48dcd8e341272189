"""The daemon: intake -> judging -> journal + outbox -> sinks, each stage on its own thread.

Stages meet only through bounded queues and the journal, so a slow or absent broker never
stalls judging and a burst of files never grows memory: the frame queue holds paths, frames
are decoded one at a time, and messages wait on disk, not in memory.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import signal
import sqlite3
import stat
import tempfile
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from edge.config import Settings
from edge.config_files import ConfigError
from edge.crops import write_crops
from edge.health import Problem
from edge.intake import FrameQueue, Intake
from edge.journal import Journal
from edge.overrides import OverrideError, OverrideRequest, UnknownVerdict, build_override, decode_command
from edge.pipeline import FramePipeline
from edge.qc.station_history import accepted_edge_widths
from edge.sd_notify import Notifier, watchdog_interval_s
from edge.segmentation.base import ModelInfo
from edge.sinks import jsonl, mqtt
from edge.sinks.base import OutboxSink
from edge.sinks.routing import build_sinks, override_messages, verdict_messages
from edge.station.server import HISTORY_LENGTH, StationServer
from edge.verdict import Verdict, error_verdict, summary_line
from edge.watch_settings import require_watch_folder

_PRUNE_EVERY_S = 600.0
_MAX_ATTEMPTS = 3
# identities of unreadable, freshly written files held back once (see _hold_back_error)
_HELD_BACK_KEPT = 1024
# Below this much free space in the state folder the next verdict may not fit.
_STATE_MIN_FREE_BYTES = 16 << 20

log = logging.getLogger(__name__)
# what a listener is told of: a verdict or an override
_Document = TypeVar("_Document")


@dataclass
class Counters:
    frames: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    last: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)
    recent: deque[tuple[float, str]] = field(default_factory=deque)  # (time, verdict) over the last hour
    # written by the judging thread, read by the MQTT, systemd and HTTP threads
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, verdict: Verdict) -> None:
        with self.lock:
            self.frames[verdict["verdict"]] += 1
            self.reasons.update(r["check"] for r in verdict["reasons"])
            self.recent.append((time.time(), verdict["verdict"]))
        self.remember_last(verdict)

    def remember_last(self, verdict: Verdict, overrides: list[dict[str, Any]] | None = None) -> None:
        """The latest verdict, without counting it (also the one read back from the journal at start-up)."""
        with self.lock:
            self.last = {"id": verdict["id"], "file": Path(verdict["file"]).name, "verdict": verdict["verdict"],
                         "reasons": [r["message"] for r in verdict["reasons"]],
                         "processed_at": verdict["processed_at"], "overrides": []}
        for override in overrides or []:
            self.note_override(verdict["id"], override["action"])

    def note_override(self, verdict_id: str, action: str) -> None:
        """An operator override of the latest verdict shows in `last` (and ends a pending retake)."""
        with self.lock:
            if self.last is not None and self.last["id"] == verdict_id and action not in self.last["overrides"]:
                self.last = {**self.last, "overrides": [*self.last["overrides"], action]}

    def retake_needed(self) -> bool:
        """The latest frame must be taken again: sent back, and not accepted anyway by the operator."""
        with self.lock:
            last = self.last
        return bool(last and last["verdict"] != "accept" and "accept" not in last["overrides"])

    def hourly(self) -> tuple[int, float]:
        """Frames in the last hour, and the share of the judged ones sent back, in percent: an
        unreadable file is no frame of the photographer's, so neither a retake nor part of the base."""
        cutoff = time.time() - 3600
        with self.lock:
            while self.recent and self.recent[0][0] < cutoff:
                self.recent.popleft()
            count = len(self.recent)
            judged = sum(1 for _, v in self.recent if v != "error")
            retakes = sum(1 for _, v in self.recent if v == "retake")
        return count, round(100.0 * retakes / judged, 1) if judged else 0.0

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], dict[str, Any] | None, int]:
        """Frames by verdict, reasons, the last verdict and the total, read consistently."""
        with self.lock:
            return dict(self.frames), dict(self.reasons), self.last, sum(self.frames.values())


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = require_watch_folder(settings.watch)
        self.state_dir = Path(settings.state_dir).expanduser().resolve()
        self.stop_requested = threading.Event()
        self.counters = Counters()
        self.pipeline: FramePipeline | None = None
        self.journal: Journal | None = None
        self.frames = FrameQueue(settings.queues.frames)
        self.intake: Intake | None = None
        self.publisher: mqtt.MqttPublisher | None = None
        self.sinks: list[OutboxSink | mqtt.MqttPublisher] = []
        self.crops_dir = self.state_dir / "crops"
        self._last_prune = 0.0
        self._failures: dict[Path, int] = {}
        # called with every recorded verdict (the station screen, metrics); must return quickly
        self.verdict_listeners: list[Callable[[Verdict], None]] = []
        # called with every recorded operator override, likewise
        self.override_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.station_server: StationServer | None = None
        self.worker_heartbeat = time.monotonic()
        self.ready = threading.Event()
        self.notifier = Notifier()
        self.watchdog_s = watchdog_interval_s()
        self._held_back: OrderedDict[tuple[Path, int, int], None] = OrderedDict()
        self.journal_error: str | None = None  # the last failed write to the journal, until one succeeds

    # -- wiring ----------------------------------------------------------------------------
    def _make_sinks(self, journal: Journal) -> None:
        built = build_sinks(self.settings, self.state_dir, journal, state_provider=self.state,
                            on_command=self._on_command, screen_link=self._screen_link)
        self.sinks, self.publisher = built.sinks, built.publisher

    def _screen_link(self) -> str | None:
        """The station screen's address, once it is served (it is started before the broker connection)."""
        return self.station_server.link_url if self.station_server is not None else None

    def _open_journal(self) -> Journal:
        """The journal in the state folder; a folder that cannot hold it is a configuration error."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.state_dir):
                pass  # the folder takes new files: the journal's WAL and verdicts.jsonl need that
            return Journal(self.state_dir)
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"state_dir: cannot keep the journal in {str(self.state_dir)!r}: {reason}") from None

    def _recognise_delivered(self, journal: Journal) -> None:
        """A journal built afresh (lost, emptied, or damaged and moved aside) learns the frames that
        verdicts.jsonl already announced, so they keep their verdict ids and are not judged twice."""
        if not journal.is_empty():
            return
        known = 0
        for verdict in jsonl.read_verdicts(self.state_dir / "verdicts.jsonl"):
            try:
                st = os.stat(verdict["file"])
            except (OSError, TypeError, ValueError):
                continue  # gone since: nothing to judge again
            if _same_frame(verdict, st) and journal.adopt(path=verdict["file"], size_bytes=st.st_size,
                                                          mtime_ns=st.st_mtime_ns, verdict=verdict):
                known += 1
        if known or journal.damaged_copy is not None:
            log.warning("new journal: %d frame(s) recognised from verdicts.jsonl keep their verdicts and are not "
                        "judged or announced again; undelivered messages of the old journal are lost", known)

    def start(self) -> None:
        self.journal = self._open_journal()
        self._recognise_delivered(self.journal)
        self._make_sinks(self.journal)
        latest = self.journal.recent_verdicts(1)
        if latest:  # a retake pending before a restart still is
            self.counters.remember_last(latest[0], self.journal.overrides_of([latest[0]["id"]]).get(latest[0]["id"]))
        self.pipeline = FramePipeline(self.settings)
        self._seed_sharpness_baseline()
        self.pipeline.warm_up()
        for sink in self.sinks:
            if sink is not self.publisher:
                sink.start()
        self.intake = Intake(self.folder, self.settings.watch, self.frames, self._is_judged)
        self.intake.start()
        if self.settings.http.enabled:
            self.station_server = self._make_station_server(self.journal)
            self.station_server.start()
        if self.publisher is not None:
            self.publisher.start()  # 'online' goes out on connect: model loaded, warmed up, watching
        self.ready.set()
        self.notifier.notify(READY=1, STATUS=self._status_line())
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()
        info = self.pipeline.segmenter.info
        log.info("watching %s as station %r, profile %s, model %s on %s/%s", self.folder,
                 self.settings.station, self.settings.profile, info.name, info.backend, info.device)

    def _make_station_server(self, journal: Journal) -> StationServer:
        recent = journal.recent_verdicts(HISTORY_LENGTH)
        server = StationServer(self, self.settings.station, self.settings.http, recent,
                               journal.overrides_of(v["id"] for v in recent))
        self.verdict_listeners.append(server.on_verdict)
        self.override_listeners.append(server.on_override)
        return server

    def model_info(self) -> ModelInfo | None:
        """The segmenter's model, once it is loaded."""
        return self.pipeline.segmenter.info if self.pipeline is not None else None

    def _is_judged(self, path: Path, st: os.stat_result) -> bool:
        """This frame has its verdict (one that said only "cannot be opened" counts until it can be)."""
        assert self.journal is not None
        if not self.journal.has_frame(str(path), st.st_size, st.st_mtime_ns):
            return False
        return self.journal.unopened_verdict(str(path), st.st_size, st.st_mtime_ns) is None or not _can_open(path)

    def state(self) -> dict[str, Any]:
        journal = self.journal
        per_hour, retake_rate = self.counters.hourly()
        frames, reasons, last, _ = self.counters.snapshot()
        return {
            "station": self.settings.station,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "retake_needed": self.counters.retake_needed(),
            "frames_per_hour": per_hour,
            "retake_rate_percent": retake_rate,
            "frames": frames,
            "reasons": reasons,
            "last": last,
            "queue_depth": self.frames.depth(),
            "outbox_depth": journal.backlog() if journal is not None else 0,
            "sinks": {sink.sink: {"backlog": journal.backlog(sink.sink) if journal else 0, "error": sink.last_error}
                      for sink in self.sinks},
            "backend": self.pipeline.segmenter.info.backend if self.pipeline else None,
            "uptime_s": round(time.time() - self.counters.started_at, 1),
            "health": self._health_summary(),
            # which checks the operators disagree with, ever: {check: {"accept": n, "wrong": m}}
            "overrides": journal.override_counts() if journal is not None else {},
        }

    def _health_summary(self) -> dict[str, Any]:
        problems = self.health() if self.ready.is_set() else [Problem("starting", fatal=False)]
        return {"ok": not problems, "problems": [problem.text for problem in problems]}

    # -- health ----------------------------------------------------------------------------
    def health(self) -> list[Problem]:
        """What keeps the line from working, each with its reason; empty when all is well."""
        stuck_after = self.watchdog_s or 60.0
        problems = []
        if self.intake is None:
            problems.append(Problem("intake: not started", fatal=True))
        else:
            problems += self.intake.problems()
        if time.monotonic() - self.worker_heartbeat > stuck_after:
            problems.append(Problem(f"judging: stuck on one frame for more than {stuck_after:.0f} s", fatal=True))
        if self.journal_error is not None:
            problems.append(Problem(f"journal: cannot write ({self.journal_error})", fatal=True))
        try:
            free = shutil.disk_usage(self.state_dir).free
        except OSError as exc:
            problems.append(Problem(f"state folder: {exc.strerror or exc}", fatal=True))
        else:
            if free < _STATE_MIN_FREE_BYTES:
                problems.append(Problem(f"state folder: full ({free >> 20} MiB free); verdicts cannot be kept",
                                        fatal=True))
        for sink in self.sinks:
            if not sink.is_alive():
                problems.append(Problem(f"{sink.sink}: the sink has stopped", fatal=True))
            elif isinstance(sink, mqtt.MqttPublisher):
                problems += sink.problems()
        return problems

    def unhealthy_stages(self) -> list[str]:
        """The reasons of health(), as words for people."""
        return [problem.text for problem in self.health()]

    def _status_line(self) -> str:
        per_hour, retake_rate = self.counters.hourly()
        return (f"{self.counters.snapshot()[3]} frames judged, {per_hour}/h, retakes {retake_rate}%, "
                f"queue {self.frames.depth()}, outbox {self.journal.backlog() if self.journal else 0}")

    def _supervise(self) -> None:
        """Tell systemd we are alive only while every stage is: a ping from a thread that
        merely exists would defeat the watchdog."""
        period = min(5.0, self.watchdog_s / 3) if self.watchdog_s else 5.0
        reported: list[Problem] = []
        while not self.stop_requested.wait(period):
            problems = self.health()
            texts = "; ".join(problem.text for problem in problems)
            fatal = any(problem.fatal for problem in problems)
            if problems != reported:  # log changes only, not every tick
                if fatal:
                    log.error("not working: %s; not confirming health to the watchdog", texts)
                elif problems:
                    log.warning("not working: %s", texts)
                else:
                    log.info("all stages working again")
                reported = problems
                if self.publisher is not None:
                    self.publisher.state_changed.set()  # the state topic carries the news
            if fatal:
                self.notifier.notify(STATUS="unhealthy: " + texts)
            elif problems and self.watchdog_s:
                # a restart would not mend these, and every verdict is still kept
                self.notifier.notify(WATCHDOG=1, STATUS="degraded: " + texts)
            elif problems:
                self.notifier.notify(STATUS="degraded: " + texts)
            elif self.watchdog_s:
                self.notifier.notify(WATCHDOG=1, STATUS=self._status_line())
            else:
                self.notifier.notify(STATUS=self._status_line())

    # -- judging ---------------------------------------------------------------------------
    def process(self, path: Path) -> Verdict | None:
        """Judge one queued path; None when there is no frame to judge (gone, folder, judged)."""
        assert self.pipeline is not None and self.journal is not None and self.intake is not None
        first_seen = time.time()
        try:
            link = os.lstat(path)
        except FileNotFoundError:
            log.info("skipped %s: removed before it could be read", path.name)
            return None
        if stat.S_ISDIR(link.st_mode):
            log.info("skipped %s: a folder named like an image", path.name)
            return None
        if stat.S_ISLNK(link.st_mode):
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(self.folder):
                reason = "is a symbolic link to a file outside the hot folder; it was not read"
                return self._record_error(path, link, first_seen, reason)
        try:
            before = os.stat(path)
        except FileNotFoundError:
            log.info("skipped %s: a link to a file that does not exist", path.name)
            return None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            return self._record_error(path, link, first_seen, "is a symbolic link that leads back to itself "
                                      "(a loop); it was not read")
        if not stat.S_ISREG(before.st_mode):
            log.info("skipped %s: not a regular file", path.name)
            return None
        if self._is_judged(path, before):
            return None
        # a verdict that said only "cannot be opened" is replaced once the file can be
        supersedes = self.journal.unopened_verdict(str(path), before.st_size, before.st_mtime_ns)
        if not _can_open(path):
            return self._record_error(path, before, first_seen, "cannot be opened: permission denied (it is "
                                      "judged as soon as its permissions allow)", unopened=True)
        try:
            with self.intake.holding(path):
                judgement = self.pipeline.judge(path, keep_image=self.settings.crops.enabled)
        except FileNotFoundError:
            log.info("skipped %s: removed while it was being read", path.name)
            return None
        try:
            after = os.stat(path)
        except FileNotFoundError:
            log.info("skipped %s: removed while it was being judged", path.name)
            return None
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            log.info("%s changed while it was read; waiting until it is complete", path.name)
            self.intake.watch_again(path)
            return None
        if judgement.verdict["verdict"] == "error" and self._hold_back_error(path, before):
            return None
        verdict = judgement.verdict
        supersedes = supersedes or self._grown_since_error(path, before)
        if supersedes is not None:
            verdict = {**verdict, "supersedes": supersedes}
        crops = (write_crops(verdict, judgement.image, self.crops_dir, self.settings.crops)
                 if judgement.image is not None else [])
        return self._record(path, before, first_seen, verdict, crops, supersedes=supersedes)

    def _hold_back_error(self, path: Path, st: os.stat_result) -> bool:
        """An unreadable file written moments ago may be one a writer is still appending to (open,
        append, close, again): it is judged again once it has held still for stable_for_s, and only
        then does an error verdict (and its alert) go out. Each version of the file is held back once."""
        assert self.intake is not None
        identity = (path, st.st_size, st.st_mtime_ns)
        if identity in self._held_back or time.time() - st.st_mtime >= self.settings.watch.stable_for_s:
            self._held_back.pop(identity, None)
            return False
        self._held_back[identity] = None
        while len(self._held_back) > _HELD_BACK_KEPT:
            self._held_back.popitem(last=False)
        log.info("%s cannot be read yet and was written just now; judged again once it holds still", path.name)
        self.intake.watch_again(path)
        return True

    def _grown_since_error(self, path: Path, st: os.stat_result) -> str | None:
        """The id of the error verdict this path got while it was shorter (a file completed late)."""
        assert self.journal is not None
        latest = self.journal.latest_verdict(str(path))
        if latest is None:
            return None
        verdict_id, verdict, size_bytes = latest
        return verdict_id if verdict == "error" and size_bytes < st.st_size else None

    def _seed_sharpness_baseline(self) -> None:
        """The first frames after a restart are judged against the same baseline as the rest."""
        assert self.pipeline is not None and self.journal is not None
        rows = self.journal.recent_edge_widths(self.settings.active_profile.blur.baseline_frames)
        for camera, class_name, width in rows:
            self.pipeline.history.remember_sharpness(camera, {class_name: width})
        if rows:
            cameras = len({camera for camera, _, _ in rows})
            log.info("sharpness baseline: %d measurements of %d camera set-up(s) read from the journal",
                     len(rows), cameras)

    def _record_error(self, path: Path, st: os.stat_result, first_seen: float, reason: str,
                      unopened: bool = False) -> Verdict | None:
        assert self.pipeline is not None and self.journal is not None
        if self.journal.has_frame(str(path), st.st_size, st.st_mtime_ns):
            return None
        verdict = error_verdict(station=self.settings.station, path=path, profile=self.settings.profile,
                                model=self.pipeline.segmenter.info, reason=reason, total_ms=0.0)
        return self._record(path, st, first_seen, verdict, unopened=unopened)

    def _give_up(self, path: Path, exc: Exception) -> None:
        self._failures.pop(path, None)
        try:
            st = os.stat(path)
        except OSError:
            return
        reason = f"could not be judged after {_MAX_ATTEMPTS} attempts ({type(exc).__name__}: {exc})"
        try:
            self._record_error(path, st, time.time(), reason)
        except Exception:
            log.exception("could not record the error verdict for %s", path)

    def _record(self, path: Path, st: os.stat_result, first_seen: float, verdict: Verdict,
                crops: list[dict[str, Any]] | None = None, unopened: bool = False,
                supersedes: str | None = None) -> Verdict | None:
        assert self.journal is not None
        stored = self.journal.record(path=str(path), size_bytes=st.st_size, mtime_ns=st.st_mtime_ns,
                                     first_seen=first_seen, verdict=verdict,
                                     messages=verdict_messages(self.settings, verdict, crops or []),
                                     edge_widths=accepted_edge_widths(verdict), unopened=unopened,
                                     supersedes=supersedes)
        self.journal_error = None
        if not stored:
            return None
        self.counters.add(verdict)
        _tell(self.verdict_listeners, verdict, "verdict")
        self._wake_sinks()
        log.info("%s", summary_line(verdict))
        return verdict

    def _wake_sinks(self) -> None:
        """New messages wait in the outbox, and the state has changed."""
        if self.publisher is not None:
            self.publisher.state_changed.set()
        for sink in self.sinks:
            sink.wake.set()

    # -- operator overrides ------------------------------------------------------------------
    def apply_override(self, request: OverrideRequest) -> dict[str, Any] | None:
        """Record an operator override against its verdict and send it on (MQTT, upstream sinks);
        None when that verdict already has an override of this action. Raises OverrideError."""
        assert self.journal is not None
        verdict = self.journal.verdict(request.verdict_id)
        if verdict is None:
            raise UnknownVerdict(f"verdict {request.verdict_id!r} is not among the latest frames of this station")
        override = build_override(request, verdict, self.settings.station)
        if not self.journal.record_override(override, override_messages(self.settings, override)):
            return None
        self.counters.note_override(override["verdict_id"], override["action"])
        _tell(self.override_listeners, override, "override")
        self._wake_sinks()
        log.info("override by the operator (%s): %s %s, checks %s%s", override["source"], override["action"],
                 Path(str(override["file"])).name, ", ".join(override["checks"]),
                 f": {override['note']}" if override["note"] else "")
        return override

    def _on_command(self, action: str, payload: bytes) -> None:
        """An MQTT command (`<prefix>/<station>/set/<action>`); called on the MQTT network thread,
        which a journal write holds up for milliseconds only."""
        try:
            override = self.apply_override(decode_command(action, payload))
        except OverrideError as exc:
            log.warning("MQTT command set/%s refused: %s", action, exc)
            return
        except Exception:
            log.exception("MQTT command set/%s failed", action)
            return
        if override is None:
            log.info("MQTT command set/%s: that verdict has this override already", action)

    def work(self) -> None:
        """The judging loop; returns when a stop is requested, after the frame in hand."""
        while not self.stop_requested.is_set():
            self.worker_heartbeat = time.monotonic()
            if self.worker_heartbeat - self._last_prune > _PRUNE_EVERY_S and self.journal is not None:
                self._last_prune = self.worker_heartbeat
                try:
                    self.journal.prune_delivered(self.settings.outbox.keep_delivered_s)
                except Exception as exc:
                    # housekeeping only: judging goes on, and the next prune tries again
                    log.exception("could not forget delivered messages in the journal")
                    if isinstance(exc, sqlite3.Error):
                        self.journal_error = str(exc)
            path = self.frames.take(timeout=0.2)
            if path is None:
                continue
            try:
                self.process(path)
                self._failures.pop(path, None)
            except Exception as exc:
                # A bug must not stop the line. The next scan offers the frame again; after a few
                # failures it gets an error verdict, so nobody waits for it forever.
                log.exception("failed to judge %s", path)
                if isinstance(exc, sqlite3.Error):
                    self.journal_error = str(exc)  # a full disk, a read-only file: health says so
                self._failures[path] = self._failures.get(path, 0) + 1
                if self._failures[path] >= _MAX_ATTEMPTS:
                    self._give_up(path, exc)

    # -- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.stop_requested.set()
        self.notifier.notify(STOPPING=1, STATUS="stopping: delivering what is pending")
        if self.intake is not None:
            self.intake.stop()
        if self.station_server is not None:
            self.station_server.stop()
        for sink in self.sinks:
            if sink.is_alive():
                sink.stop()
        if self.pipeline is not None:
            self.pipeline.close()
        if self.journal is not None:
            self.journal.close()

    def run_forever(self) -> int:
        """Start, judge until SIGTERM/SIGINT, stop cleanly. Must be called from the main thread."""
        def request_stop(signum: int, _frame: Any) -> None:
            log.info("received %s: finishing the frame in hand, then stopping", signal.Signals(signum).name)
            self.stop_requested.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        try:
            self.start()
            self.work()
        finally:
            self.shutdown()
        log.info("stopped")
        return 0


def _tell(listeners: list[Callable[[_Document], None]], document: _Document, what: str) -> None:
    """A listener that fails is logged; the others and judging go on."""
    for listener in listeners:
        try:
            listener(document)
        except Exception:
            log.exception("%s listener failed", what)


def _can_open(path: Path) -> bool:
    """Whether this process may open the file for reading (without blocking on a FIFO)."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except PermissionError:
        return False
    except OSError:
        return True  # gone or odd: judging reports it
    return True


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _same_frame(verdict: Verdict, st: os.stat_result) -> bool:
    """Is the file now at the verdict's path the one that verdict was made for?"""
    if verdict.get("size_bytes") is not None and verdict["size_bytes"] != st.st_size:
        return False
    if verdict.get("sha256"):
        try:
            return _file_sha256(verdict["file"]) == verdict["sha256"]
        except OSError:
            return False
    # no digest (the file could not be read): the same frame if it was not written after its verdict
    try:
        judged_at = datetime.fromisoformat(verdict["processed_at"].replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return False
    return st.st_mtime <= judged_at
