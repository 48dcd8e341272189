"""The Prometheus text exposition, parsed back the way a scraper reads it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from edge.station.metrics import LATENCY_BUCKETS_S, StationMetrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: str) -> Samples:
    """Samples by (name, labels); fails on any line a scraper would refuse."""
    assert text.endswith("\n")
    samples: Samples = {}
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram"} and name not in declared, line
            declared[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _, label_text, value = match.groups()
        family = re.sub(r"_(bucket|sum|count|total)$", "", name) if name not in declared else name
        assert family in declared, f"{name} has no TYPE line"
        labels = frozenset((k, bytes(v, "utf-8").decode("unicode_escape"))
                           for k, v in _LABEL.findall(label_text or ""))
        assert (name, labels) not in samples, f"duplicate series {line!r}"
        samples[(name, labels)] = float(value)
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    """The one series of `name` whose labels include `labels` (None when there is none)."""
    found = [value for (n, have), value in samples.items() if n == name and set(labels.items()) <= have]
    assert len(found) <= 1, f"{name} {labels} is ambiguous"
    return found[0] if found else None


def verdict(kind: str, reasons: tuple[str, ...] = (), **timings_ms: float) -> dict[str, Any]:
    return {"verdict": kind, "reasons": [{"check": check} for check in reasons], "timings_ms": timings_ms}


STATE = {"queue_depth": 3, "outbox_depth": 7, "retake_needed": True, "uptime_s": 12.5,
         "sinks": {"mqtt": {"backlog": 5, "error": "connection refused"}, "jsonl": {"backlog": 2, "error": None}}}
MODEL = {"name": "segmenter", "sha256": "ab" * 32, "backend": "tensorrt", "device": "cuda:0"}


def test_counters_by_verdict_and_reason() -> None:
    metrics = StationMetrics("herbarium-1")
    metrics.observe(verdict("accept", total=120.0), at=1000.0)
    metrics.observe(verdict("retake", ("colour_chart", "blur"), total=90.0), at=1001.0)
    metrics.observe(verdict("retake", ("colour_chart",), total=95.0), at=1002.0)
    metrics.observe(verdict("error", ("readable",), total=0.0), at=1003.0)
    samples = parse_exposition(metrics.render(STATE, MODEL, ready=True))
    assert sample(samples, "specimen_edge_frames_total", verdict="accept", station="herbarium-1") == 1
    assert sample(samples, "specimen_edge_frames_total", verdict="retake") == 2
    assert sample(samples, "specimen_edge_frames_total", verdict="error") == 1
    assert sample(samples, "specimen_edge_reasons_total", verdict="retake", check="colour_chart") == 2
    assert sample(samples, "specimen_edge_reasons_total", verdict="retake", check="blur") == 1
    assert sample(samples, "specimen_edge_reasons_total", verdict="error", check="readable") == 1
    assert sample(samples, "specimen_edge_last_verdict_timestamp_seconds") == 1003.0


def test_every_verdict_kind_is_exported_before_the_first_frame() -> None:
    """rate() needs the series to exist from the start, not appear with the first retake."""
    samples = parse_exposition(StationMetrics("s").render({}, None, ready=False))
    for kind in ("accept", "retake", "error"):
        assert sample(samples, "specimen_edge_frames_total", verdict=kind) == 0
    assert sample(samples, "specimen_edge_ready") == 0
    assert sample(samples, "specimen_edge_model_info") is None


def test_stage_histograms_are_cumulative_in_seconds() -> None:
    metrics = StationMetrics("s")
    for segment_ms in (4.0, 30.0, 30.0, 70.0, 20_000.0):
        metrics.observe(verdict("accept", segment=segment_ms, total=segment_ms + 10), at=0.0)
    metrics.observe(verdict("error", total=0.0), at=0.0)  # an unreadable file has no stage times
    samples = parse_exposition(metrics.render({}, None, ready=True))
    buckets = {le: sample(samples, "specimen_edge_stage_duration_seconds_bucket", stage="segment", le=le)
               for le in [*(repr(float(b)) for b in LATENCY_BUCKETS_S), "+Inf"]}
    assert None not in buckets.values()
    assert buckets["0.005"] == 1 and buckets["0.03"] == 3 and buckets["0.075"] == 4 and buckets["10.0"] == 4
    assert buckets["+Inf"] == 5
    values = list(buckets.values())
    assert values == sorted(values), "buckets must be cumulative"
    assert sample(samples, "specimen_edge_stage_duration_seconds_count", stage="segment") == 5
    assert sample(samples, "specimen_edge_stage_duration_seconds_sum", stage="segment") == pytest.approx(20.134)
    assert sample(samples, "specimen_edge_stage_duration_seconds_count", stage="total") == 5
    assert sample(samples, "specimen_edge_stage_duration_seconds_count", stage="qc") == 0


def test_gauges_and_model_info_from_the_daemon_state() -> None:
    samples = parse_exposition(StationMetrics("s").render(STATE, MODEL, ready=True))
    assert sample(samples, "specimen_edge_queue_depth") == 3
    assert sample(samples, "specimen_edge_outbox_depth") == 7
    assert sample(samples, "specimen_edge_sink_backlog", sink="mqtt") == 5
    assert sample(samples, "specimen_edge_sink_error", sink="mqtt") == 1
    assert sample(samples, "specimen_edge_sink_error", sink="jsonl") == 0
    assert sample(samples, "specimen_edge_retake_needed") == 1
    assert sample(samples, "specimen_edge_uptime_seconds") == 12.5
    assert sample(samples, "specimen_edge_model_info", backend="tensorrt", device="cuda:0", sha256="ab" * 32) == 1


def test_label_values_are_escaped() -> None:
    odd = 'http:"odd"\nname\\'
    text = StationMetrics("s").render({"sinks": {odd: {"backlog": 4, "error": None}}}, None, ready=True)
    assert sample(parse_exposition(text), "specimen_edge_sink_backlog", sink=odd) == 4


def test_process_memory_and_cpu_are_exported() -> None:
    samples = parse_exposition(StationMetrics("s").render({}, None, ready=True))
    assert (sample(samples, "process_resident_memory_bytes") or 0) > 0
    assert sample(samples, "process_cpu_seconds_total") is not None


def test_overrides_are_counted_by_action_and_check() -> None:
    metrics = StationMetrics("s")
    metrics.observe_override("accept", ["blur", "colour_chart"])
    metrics.observe_override("accept", ["blur"])
    metrics.observe_override("wrong", ["unspecified"])
    samples = parse_exposition(metrics.render({}, None, ready=True))
    assert sample(samples, "specimen_edge_overrides_total", action="accept", check="blur") == 2
    assert sample(samples, "specimen_edge_overrides_total", action="accept", check="colour_chart") == 1
    assert sample(samples, "specimen_edge_overrides_total", action="wrong", check="unspecified") == 1
