"""The daemon: intake -> judging -> journal + outbox -> sinks, each stage on its own thread.

Stages meet only through bounded queues and the journal, so a slow or absent broker never
stalls judging and a burst of files never grows memory: the frame queue holds paths, frames
are decoded one at a time, and messages wait on disk, not in memory.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import Settings, parse_mqtt_url, require_watch_folder, resolve_mqtt_password
from edge.intake import FrameQueue, Intake
from edge.journal import Journal, NewMessage
from edge.pipeline import FramePipeline
from edge.qc.base import CheckResult
from edge.sinks import jsonl, mqtt
from edge.verdict import build_verdict, summary_line

log = logging.getLogger(__name__)


@dataclass
class Counters:
    frames: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    last: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = require_watch_folder(settings)
        self.state_dir = Path(settings.state_dir).expanduser().resolve()
        self.stop_requested = threading.Event()
        self.counters = Counters()
        self.pipeline: FramePipeline | None = None
        self.journal: Journal | None = None
        self.frames = FrameQueue(settings.queues.frames)
        self.intake: Intake | None = None
        self.publisher: mqtt.MqttPublisher | None = None
        self.jsonl_sink: jsonl.JsonLinesSink | None = None
        self.worker_heartbeat = time.monotonic()
        self.ready = threading.Event()

    # -- wiring ----------------------------------------------------------------------------
    def _mqtt_target(self) -> tuple[Any, str | None] | None:
        if not self.settings.mqtt.enabled:
            return None
        target = parse_mqtt_url(self.settings.mqtt.url)
        return target, resolve_mqtt_password(self.settings.mqtt)

    def start(self) -> None:
        mqtt_target = self._mqtt_target()  # configuration errors surface before anything starts
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.state_dir)
        self.pipeline = FramePipeline(self.settings)
        self.pipeline.warm_up()
        self.jsonl_sink = jsonl.JsonLinesSink(self.journal, self.state_dir / "verdicts.jsonl")
        self.jsonl_sink.start()
        if mqtt_target is not None:
            target, password = mqtt_target
            self.publisher = mqtt.MqttPublisher(self.settings.mqtt, target, password, self.settings.station,
                                                self.journal, self.state)
        self.intake = Intake(self.folder, self.settings.watch, self.frames, self._is_judged)
        self.intake.start()
        if self.publisher is not None:
            self.publisher.start()  # 'online' goes out on connect: model loaded, warmed up, watching
        self.ready.set()
        info = self.pipeline.segmenter.info
        log.info("watching %s as station %r, profile %s, model %s on %s/%s", self.folder, self.settings.station,
                 self.settings.profile, info.name, info.backend, info.device)

    def _is_judged(self, path: Path, st: os.stat_result) -> bool:
        assert self.journal is not None
        return self.journal.has_frame(str(path), st.st_size, st.st_mtime_ns)

    def state(self) -> dict[str, Any]:
        journal = self.journal
        return {
            "station": self.settings.station,
            "frames": dict(self.counters.frames),
            "reasons": dict(self.counters.reasons),
            "last": self.counters.last,
            "queue_depth": self.frames.depth(),
            "outbox_depth": journal.backlog() if journal is not None else 0,
            "backend": self.pipeline.segmenter.info.backend if self.pipeline else None,
            "uptime_s": round(time.time() - self.counters.started_at, 1),
        }

    # -- judging ---------------------------------------------------------------------------
    def process(self, path: Path) -> dict[str, Any] | None:
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
        if not stat.S_ISREG(before.st_mode):
            log.info("skipped %s: not a regular file", path.name)
            return None
        if self.journal.has_frame(str(path), before.st_size, before.st_mtime_ns):
            return None
        self.intake.in_hand.add(path)
        try:
            judgement = self.pipeline.judge(path)
        except FileNotFoundError:
            log.info("skipped %s: removed while it was being read", path.name)
            return None
        finally:
            self.intake.in_hand.discard(path)
        try:
            after = os.stat(path)
        except FileNotFoundError:
            log.info("skipped %s: removed while it was being judged", path.name)
            return None
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            log.info("%s changed while it was read; waiting until it is complete", path.name)
            self.intake.stability.watch(path)
            return None
        return self._record(path, before, first_seen, judgement.verdict)

    def _record_error(self, path: Path, st: os.stat_result, first_seen: float, reason: str) -> dict[str, Any] | None:
        assert self.pipeline is not None and self.journal is not None
        if self.journal.has_frame(str(path), st.st_size, st.st_mtime_ns):
            return None
        check = CheckResult("readable", "fail", f"Unreadable file: {path.name} {reason}", value=False)
        verdict = build_verdict(station=self.settings.station, path=path, profile=self.settings.profile,
                                checks=[check], regions=[], model=self.pipeline.segmenter.info,
                                timings_ms={"total": 0.0})
        return self._record(path, st, first_seen, verdict)

    def _messages(self, verdict: dict[str, Any]) -> list[NewMessage]:
        payload = json.dumps(verdict, separators=(",", ":")).encode()
        messages = [NewMessage(jsonl.SINK, "verdicts.jsonl", payload)]
        if self.settings.mqtt.enabled:
            prefix, station = self.settings.mqtt.topic_prefix, self.settings.station
            if verdict["verdict"] != "accept":
                messages.append(NewMessage(mqtt.SINK, mqtt.topic(prefix, station, "alert"), payload))
            messages.append(NewMessage(mqtt.SINK, mqtt.topic(prefix, station, "verdict"), payload))
        return messages

    def _record(self, path: Path, st: os.stat_result, first_seen: float,
                verdict: dict[str, Any]) -> dict[str, Any] | None:
        assert self.journal is not None
        stored = self.journal.record(path=str(path), size_bytes=st.st_size, mtime_ns=st.st_mtime_ns,
                                     first_seen=first_seen, verdict=verdict, messages=self._messages(verdict))
        if not stored:
            return None
        if self.publisher is not None:
            self.publisher.state_changed.set()
            self.publisher.wake.set()
        if self.jsonl_sink is not None:
            self.jsonl_sink.wake.set()
        self.counters.frames[verdict["verdict"]] += 1
        self.counters.reasons.update(r["check"] for r in verdict["reasons"])
        self.counters.last = {"file": Path(verdict["file"]).name, "verdict": verdict["verdict"],
                              "reasons": [r["message"] for r in verdict["reasons"]],
                              "processed_at": verdict["processed_at"]}
        log.info("%s", summary_line(verdict))
        return verdict

    def work(self) -> None:
        """The judging loop; returns when a stop is requested, after the frame in hand."""
        while not self.stop_requested.is_set():
            self.worker_heartbeat = time.monotonic()
            path = self.frames.take(timeout=0.2)
            if path is None:
                continue
            try:
                self.process(path)
            except Exception:
                # A bug must not stop the line: log it; the next scan offers the frame again.
                log.exception("failed to judge %s", path)

    # -- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        if self.intake is not None:
            self.intake.stop()
        if self.publisher is not None:
            self.publisher.stop()
        if self.jsonl_sink is not None:
            self.jsonl_sink.stop()
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
