"""Prometheus metrics of one station, exposed through prometheus_client.

Counters and histograms are fed with verdicts and overrides as they are recorded; gauges are
read from the daemon's state when scraped. Each station gets a registry of its own (a process may
run several daemons, as the tests do), holding the process collector too: resident memory and CPU
time matter on a small station computer. Counters start at zero when the daemon starts, as
Prometheus expects (`rate()` handles the reset).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

PREFIX = "specimen_edge"
VERDICTS = ("accept", "retake", "error")
# the stages the pipeline reports in a verdict's timings_ms, in pipeline order
STAGES = ("decode_small", "segment", "decode_wait", "qc", "total")
# seconds; dense where the budgets are (segment <= 60 ms on CPU, alert within ~1.5 x a 24 MP decode)
LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)

# `<name>_created` series double every counter and no dashboard reads them
disable_created_metrics()


class _StateGauges:
    """Gauges read from the daemon's state of the scrape in progress."""

    def __init__(self, station: str) -> None:
        self.station = station
        self.state: Mapping[str, Any] = {}
        self.model: Mapping[str, Any] | None = None
        self.ready = False
        self.last_verdict_at: float | None = None

    def _gauge(self, name: str, help_text: str, value: float, **labels: str) -> GaugeMetricFamily:
        family = GaugeMetricFamily(f"{PREFIX}_{name}", help_text, labels=["station", *labels])
        family.add_metric([self.station, *labels.values()], value)
        return family

    def collect(self) -> Iterable[Metric]:
        state = self.state
        yield self._gauge("last_verdict_timestamp_seconds", "Unix time of the latest verdict (0: none yet).",
                          self.last_verdict_at or 0.0)
        yield self._gauge("retake_needed", "1 while the latest frame must be retaken (retake or error).",
                          int(bool(state.get("retake_needed"))))
        yield self._gauge("queue_depth", "Frames waiting to be judged.", int(state.get("queue_depth") or 0))
        yield self._gauge("outbox_depth", "Messages waiting in the outbox, all sinks together.",
                          int(state.get("outbox_depth") or 0))
        sinks: Mapping[str, Mapping[str, Any]] = state.get("sinks") or {}
        backlog = GaugeMetricFamily(f"{PREFIX}_sink_backlog", "Messages waiting for one sink.",
                                    labels=["station", "sink"])
        error = GaugeMetricFamily(f"{PREFIX}_sink_error", "1 while a sink's latest delivery attempt failed.",
                                  labels=["station", "sink"])
        for sink, info in sorted(sinks.items()):
            backlog.add_metric([self.station, sink], int(info.get("backlog") or 0))
            error.add_metric([self.station, sink], int(bool(info.get("error"))))
        yield backlog
        yield error
        yield self._gauge("ready", "1 once the model is loaded and warmed up and the folder is watched.",
                          int(self.ready))
        yield self._gauge("uptime_seconds", "Seconds since the daemon started.", float(state.get("uptime_s") or 0.0))
        if self.model is not None:
            model = self.model
            yield self._gauge("model_info", "The segmenter in use: backend, device, model name and SHA-256.", 1,
                              backend=str(model.get("backend") or ""), device=str(model.get("device") or ""),
                              model=str(model.get("name") or ""), sha256=str(model.get("sha256") or ""))


class StationMetrics:
    """The station's registry: verdict and override counters, stage histograms, state gauges."""

    def __init__(self, station: str) -> None:
        self.station = station
        self.registry = CollectorRegistry(auto_describe=True)
        self.frames = Counter(f"{PREFIX}_frames", "Frames judged since the daemon started, by verdict.",
                              ["station", "verdict"], registry=self.registry)
        self.reasons = Counter(f"{PREFIX}_reasons",
                               "Failing checks since the daemon started, by verdict and check (a frame can fail "
                               "several).", ["station", "verdict", "check"], registry=self.registry)
        self.latency = Histogram(f"{PREFIX}_stage_duration_seconds",
                                 "Time per pipeline stage of each judged frame (verdict timings_ms).",
                                 ["station", "stage"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.overrides = Counter(f"{PREFIX}_overrides",
                                 "Verdicts the operator overrode since the daemon started, by action (accept: "
                                 "accepted anyway; wrong: marked wrong) and by the check overridden.",
                                 ["station", "action", "check"], registry=self.registry)
        # rate() needs every series from the start, not from the first retake
        for verdict in VERDICTS:
            self.frames.labels(station, verdict)
        for stage in STAGES:
            self.latency.labels(station, stage)
        self._gauges = _StateGauges(station)
        self.registry.register(self._gauges)
        ProcessCollector(namespace="", registry=self.registry)
        # the gauges hold the scrape's state: one scrape at a time
        self._scrape_lock = threading.Lock()

    def observe(self, verdict: Mapping[str, Any], at: float) -> None:
        self.frames.labels(self.station, verdict["verdict"]).inc()
        for reason in verdict["reasons"]:
            self.reasons.labels(self.station, verdict["verdict"], reason["check"]).inc()
        # An unreadable file is refused before the pipeline runs; its zero timings would only
        # drag the latency quantiles down.
        if verdict["verdict"] != "error":
            for stage, millis in verdict.get("timings_ms", {}).items():
                if stage in STAGES and isinstance(millis, (int, float)):
                    self.latency.labels(self.station, stage).observe(millis / 1000.0)
        self._gauges.last_verdict_at = at

    def observe_override(self, action: str, checks: Iterable[str]) -> None:
        for check in checks:
            self.overrides.labels(self.station, action, check).inc()

    def exposition(self, state: Mapping[str, Any], model: Mapping[str, Any] | None, ready: bool,
                   accept: str | None = None) -> tuple[bytes, str]:
        """The whole exposition and its content type, in the format the scraper's Accept header asks for."""
        encoder, content_type = choose_encoder(accept or "")
        with self._scrape_lock:
            self._gauges.state, self._gauges.model, self._gauges.ready = state, model, ready
            return encoder(self.registry), content_type

    def render(self, state: Mapping[str, Any], model: Mapping[str, Any] | None, ready: bool) -> str:
        """The text exposition (format 0.0.4); `state` is `Daemon.state()`, `model` the segmenter's identity."""
        return self.exposition(state, model, ready)[0].decode()
