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
