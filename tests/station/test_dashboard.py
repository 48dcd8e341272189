"""The Grafana dashboard queries only metrics the station exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge.station.metrics import StationMetrics
from tests.station.test_metrics import MODEL, STATE, parse_exposition, verdict

DASHBOARD = Path(__file__).resolve().parents[2] / "configs" / "grafana-dashboard.json"


def test_every_query_names_an_exported_metric() -> None:
    metrics = StationMetrics("s")
    metrics.observe(verdict("retake", ("blur",), segment=10.0), at=0.0)
    exported = {name for name, _ in parse_exposition(metrics.render(STATE, MODEL, ready=True))}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            queried |= set(re.findall(r"specimen_edge_[a-z_]+", target["expr"]))
    assert queried and queried <= exported, queried - exported
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert "station" in variables


def _panel(title: str) -> dict[str, object]:
    dashboard = json.loads(DASHBOARD.read_text())
    return next(p for p in dashboard["panels"] if p["title"] == title)


def test_retake_rates_count_judged_frames_only_and_never_divide_by_zero() -> None:
    for title in ("Retake rate (last hour)", "Retake rate by station (15 min)"):
        expr = _panel(title)["targets"][0]["expr"]  # type: ignore[index]
        numerator, denominator = expr.split(" / ", 1)
        # unreadable files are no frames: neither a retake nor part of the base
        assert 'verdict="retake"' in numerator and "verdict!=" not in expr, title
        assert 'verdict=~"accept|retake"' in denominator, title
        # an idle station: the base is guarded (clamped, or the series dropped) instead of 0/0
        assert denominator.startswith("clamp_min(") or denominator.rstrip().endswith("> 0)"), title


def test_station_status_says_down_when_no_station_answers() -> None:
    panel = _panel("Station status")
    expr = panel["targets"][0]["expr"]  # type: ignore[index]
    assert expr.endswith("or on() vector(2)")
    mappings = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]  # type: ignore[index]
    assert {value: m["text"] for value, m in mappings.items()} == {"0": "READY", "1": "RETAKE", "2": "DOWN"}
