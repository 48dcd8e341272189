"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

The format is a few lines of text; writing it here avoids a runtime dependency for the handful of
counters, histograms and gauges a station exports. Counters start at zero when the daemon starts,
as Prometheus expects (`rate()` handles the reset).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "specimen_edge"
VERDICTS = ("accept", "retake", "error")
# the stages the pipeline reports in a verdict's timings_ms, in pipeline order
STAGES = ("decode_small", "segment", "decode_wait", "qc", "total")
# seconds; dense where the budgets are (segment <= 60 ms on CPU, alert within ~1.5 x a 24 MP decode)
LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape_label_value(str(value))}"' for key, value in labels.items()) + "}"


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Histogram:
    """Cumulative buckets, sum and count of one labelled series."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = tuple(buckets)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1

    def lines(self, name: str, labels: Mapping[str, str]) -> Iterable[str]:
        for bound, count in zip(self.bounds, self.counts, strict=True):
            yield f"{name}_bucket{format_labels({**labels, 'le': format_value(bound)})} {count}"
        yield f"{name}_bucket{format_labels({**labels, 'le': '+Inf'})} {self.count}"
        yield f"{name}_sum{format_labels(labels)} {format_value(self.total)}"
        yield f"{name}_count{format_labels(labels)} {self.count}"


class StationMetrics:
    """Counters and histograms fed with verdicts; gauges read from the daemon's state when scraped."""

    def __init__(self, station: str) -> None:
        self.station = station
        self._lock = threading.Lock()
        self.frames: Counter[str] = Counter({verdict: 0 for verdict in VERDICTS})
        self.reasons: Counter[tuple[str, str]] = Counter()
        self.latency = {stage: Histogram(LATENCY_BUCKETS_S) for stage in STAGES}
        self.last_verdict_at: float | None = None

    def observe(self, verdict: Mapping[str, Any], at: float) -> None:
        with self._lock:
            self.frames[verdict["verdict"]] += 1
            for reason in verdict["reasons"]:
                self.reasons[(verdict["verdict"], reason["check"])] += 1
            # An unreadable file is refused before the pipeline runs; its zero timings would only
            # drag the latency quantiles down.
            if verdict["verdict"] != "error":
                for stage, millis in verdict.get("timings_ms", {}).items():
                    if stage in self.latency and isinstance(millis, (int, float)):
                        self.latency[stage].observe(millis / 1000.0)
            self.last_verdict_at = at

    def render(self, state: Mapping[str, Any], model: Mapping[str, Any] | None, ready: bool) -> str:
        """The whole exposition; `state` is `Daemon.state()`, `model` the segmenter's identity."""
        station = {"station": self.station}
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> str:
            full = f"{PREFIX}_{name}"
            out.append(f"# HELP {full} {help_text}")
            out.append(f"# TYPE {full} {kind}")
            return full

        with self._lock:
            name = family("frames_total", "counter", "Frames judged since the daemon started, by verdict.")
            for verdict, count in sorted(self.frames.items()):
                out.append(f"{name}{format_labels({**station, 'verdict': verdict})} {count}")
            name = family("reasons_total", "counter",
                          "Failing checks since the daemon started, by verdict and check (a frame can fail several).")
            for (verdict, check), count in sorted(self.reasons.items()):
                out.append(f"{name}{format_labels({**station, 'verdict': verdict, 'check': check})} {count}")
            name = family("stage_duration_seconds", "histogram",
                          "Time per pipeline stage of each judged frame (verdict timings_ms).")
            for stage in STAGES:
                out.extend(self.latency[stage].lines(name, {**station, "stage": stage}))
            last_at = self.last_verdict_at

        name = family("last_verdict_timestamp_seconds", "gauge", "Unix time of the latest verdict (0: none yet).")
        out.append(f"{name}{format_labels(station)} {format_value(last_at or 0.0)}")
        name = family("retake_needed", "gauge", "1 while the latest frame must be retaken (retake or error).")
        out.append(f"{name}{format_labels(station)} {int(bool(state.get('retake_needed')))}")
        name = family("queue_depth", "gauge", "Frames waiting to be judged.")
        out.append(f"{name}{format_labels(station)} {int(state.get('queue_depth') or 0)}")
        name = family("outbox_depth", "gauge", "Messages waiting in the outbox, all sinks together.")
        out.append(f"{name}{format_labels(station)} {int(state.get('outbox_depth') or 0)}")
        sinks: Mapping[str, Mapping[str, Any]] = state.get("sinks") or {}
        name = family("sink_backlog", "gauge", "Messages waiting for one sink.")
        for sink, info in sorted(sinks.items()):
            out.append(f"{name}{format_labels({**station, 'sink': sink})} {int(info.get('backlog') or 0)}")
        name = family("sink_error", "gauge", "1 while a sink's latest delivery attempt failed.")
        for sink, info in sorted(sinks.items()):
            out.append(f"{name}{format_labels({**station, 'sink': sink})} {int(bool(info.get('error')))}")
        name = family("ready", "gauge", "1 once the model is loaded and warmed up and the folder is watched.")
        out.append(f"{name}{format_labels(station)} {int(ready)}")
        name = family("uptime_seconds", "gauge", "Seconds since the daemon started.")
        out.append(f"{name}{format_labels(station)} {format_value(float(state.get('uptime_s') or 0.0))}")
        if model is not None:
            name = family("model_info", "gauge", "The segmenter in use: backend, device, model name and SHA-256.")
            labels = {**station, "backend": str(model.get("backend") or ""), "device": str(model.get("device") or ""),
                      "model": str(model.get("name") or ""), "sha256": str(model.get("sha256") or "")}
            out.append(f"{name}{format_labels(labels)} 1")
        return "\n".join(out) + "\n"
