"""One Parquet row per judged frame: the columns, and a verdict turned into a row."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from edge.audit.sources import Frame
from edge.classes import CLASS_NAMES
from edge.config import Settings
from edge.segmentation.base import ModelInfo
from edge.verdict import Verdict, error_verdict

TIMINGS = ("decode_small", "segment", "decode_wait", "qc", "total")
REGION_CLASSES = CLASS_NAMES[1:]

FAILING_CHECK = pa.struct([
    ("check", pa.string()), ("value", pa.string()), ("threshold", pa.string()), ("message", pa.string()),
])

SCHEMA = pa.schema([
    ("path", pa.string()),
    ("size", pa.int64()),
    # microseconds: Python datetimes hold no finer time, so readers without pandas can convert rows
    ("mtime", pa.timestamp("us", tz="UTC")),
    ("folder", pa.string()),
    ("sha256", pa.string()),
    ("verdict", pa.string()),
    ("reasons", pa.list_(pa.string())),
    # every failing check with its value and threshold (JSON-encoded: numbers, booleans or text)
    ("failing", pa.list_(FAILING_CHECK)),
    ("warnings", pa.list_(pa.string())),
    ("barcodes", pa.list_(pa.string())),
    *[(f"regions_{name}", pa.int32()) for name in REGION_CLASSES],
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("profile", pa.string()),
    ("model_name", pa.string()),
    ("model_sha256", pa.string()),
    ("backend", pa.string()),
    ("device", pa.string()),
    *[(f"ms_{name}", pa.float64()) for name in TIMINGS],
    ("judged_at", pa.timestamp("ms", tz="UTC")),
    ("node", pa.string()),
    ("worker", pa.string()),
    ("run", pa.string()),
    # the verdict exactly as `specimen-edge check --json` prints it
    ("verdict_json", pa.string()),
])


def verdict_row(frame: Frame, verdict: Verdict, *, node: str, worker: str, run: str) -> dict[str, Any]:
    """The row of one frame: its identity from the listing, the rest from its verdict."""
    counts = dict.fromkeys(REGION_CLASSES, 0)
    for region in verdict["regions"]:
        if region["class"] in counts:
            counts[region["class"]] += 1
    timings = verdict.get("timings_ms", {})
    model = verdict["model"]
    return {
        "path": frame.path,
        "size": frame.size,
        "mtime": frame.mtime_us,
        "folder": frame.folder,
        "sha256": verdict["sha256"],
        "verdict": verdict["verdict"],
        "reasons": [r["check"] for r in verdict["reasons"]],
        "failing": [{"check": r["check"], "value": _json_or_none(r.get("value")),
                     "threshold": _json_or_none(r.get("threshold")), "message": r["message"]}
                    for r in verdict["reasons"]],
        "warnings": [c["check"] for c in verdict["checks"] if c["status"] == "warn"],
        "barcodes": [str(b["text"]) for b in verdict["barcodes"]],
        **{f"regions_{name}": count for name, count in counts.items()},
        "width": verdict["width"],
        "height": verdict["height"],
        "profile": verdict["profile"],
        "model_name": model["name"],
        "model_sha256": model["sha256"],
        "backend": model["backend"],
        "device": model["device"],
        **{f"ms_{name}": timings.get(name) for name in TIMINGS},
        "judged_at": datetime.strptime(verdict["processed_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
        "node": node,
        "worker": worker,
        "run": run,
        "verdict_json": json.dumps(verdict, separators=(",", ":")),
    }


def unjudged_verdict(settings: Settings, model: ModelInfo, path: Path, reason: str) -> Verdict:
    """An `error` verdict for a frame the pipeline gave none: removed before it was read, or its
    worker stopped on it every time it was tried."""
    return error_verdict(station=settings.station, path=path, profile=settings.profile, model=model,
                         reason=reason, total_ms=0.0)


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
