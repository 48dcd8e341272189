"""The verdict: the one JSON document per frame that every consumer reads (specimen-edge/verdict/1)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from edge.qc.base import CheckResult
from edge.qc.registry import reason_rank
from edge.segmentation.base import ModelInfo
from edge.segmentation.regions import Region

SCHEMA = "specimen-edge/verdict/1"

VerdictWord = Literal["accept", "retake", "error"]


class ModelJson(TypedDict):
    name: str
    sha256: str | None
    backend: str
    device: str | None


class _VerdictOptional(TypedDict, total=False):
    """The keys the schema does not require."""

    sha256: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    # the verdict this one replaces: the same file, judged again once it could be opened or had grown
    supersedes: str


class Verdict(_VerdictOptional):
    """One frame's verdict document (contracts/verdict.schema.json). Checks, regions and barcodes keep
    the JSON shapes their own modules write."""

    schema: str
    id: str
    station: str
    file: str
    processed_at: str
    profile: str
    verdict: VerdictWord
    reasons: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    barcodes: list[dict[str, Any]]
    model: ModelJson
    timings_ms: dict[str, float]


def as_verdict(document: Any) -> Verdict:
    """A verdict read back as JSON (journal, verdicts.jsonl, MQTT): this process or an earlier one
    wrote it to the schema."""
    return cast(Verdict, document)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verdict_of(checks: Sequence[CheckResult]) -> VerdictWord:
    if any(c.check == "readable" and c.status == "fail" for c in checks):
        return "error"
    return "retake" if any(c.status == "fail" for c in checks) else "accept"


def build_verdict(
    *, station: str, path: Path, profile: str, checks: Sequence[CheckResult], regions: Sequence[Region],
    model: ModelInfo, timings_ms: dict[str, float], sha256: str | None = None, size_bytes: int | None = None,
    width: int | None = None, height: int | None = None, barcodes: Sequence[dict[str, Any]] = (),
) -> Verdict:
    checks_json = [c.to_json() for c in checks]
    return {
        "schema": SCHEMA,
        "id": str(uuid.uuid4()),
        "station": station,
        "file": str(path),
        "sha256": sha256,
        "size_bytes": size_bytes,
        "width": width,
        "height": height,
        "processed_at": utc_now_iso(),
        "profile": profile,
        "verdict": verdict_of(checks),
        # causes before their consequences (see REASON_ORDER); the sort is stable
        "reasons": sorted((c for c in checks_json if c["status"] == "fail"),
                          key=lambda c: reason_rank(str(c["check"]))),
        "checks": checks_json,
        "regions": [r.to_json() for r in regions],
        "barcodes": list(barcodes),
        "model": {"name": model.name, "sha256": model.sha256, "backend": model.backend, "device": model.device},
        "timings_ms": {k: round(v, 2) for k, v in timings_ms.items()},
    }


def error_verdict(*, station: str, path: Path, profile: str, model: ModelInfo, reason: str, total_ms: float,
                  sha256: str | None = None, size_bytes: int | None = None) -> Verdict:
    """The verdict of a file that could not be judged; `reason` follows "Unreadable file: <name>"."""
    check = CheckResult("readable", "fail", f"Unreadable file: {path.name} {reason}", value=False)
    return build_verdict(station=station, path=path, profile=profile, checks=[check], regions=[], model=model,
                         sha256=sha256, size_bytes=size_bytes, timings_ms={"total": total_ms})


def summary_line(verdict: Mapping[str, Any]) -> str:
    """One human line: file, verdict and the reasons' messages."""
    name = Path(verdict["file"]).name
    reasons = "; ".join(r["message"] for r in verdict["reasons"])
    return f"{verdict['verdict'].upper():7s} {name}" + (f": {reasons}" if reasons else "")
