"""Operator overrides: the photographer accepts a frame anyway, or marks a verdict wrong.

An override names the verdict it answers (by id), the action, the checks it disagrees with and an
optional note. It comes from the station screen or from an MQTT command topic
(`<prefix>/<station>/set/accept`, `.../set/wrong`); the daemon records it in the journal against
the verdict and sends it on as a `specimen-edge/override/1` message. Recorded overrides are
labelled evidence for calibrating the checks' thresholds (`specimen-edge report`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.verdict import utc_now_iso

SCHEMA = "specimen-edge/override/1"
# accept: take the frame although the checks sent it back; wrong: the verdict itself is mistaken
ACTIONS = ("accept", "wrong")
SOURCES = ("screen", "mqtt")
# the check an accepted frame marked wrong is counted under when the operator names none
UNSPECIFIED = "unspecified"
MAX_NOTE_CHARS = 500


class OverrideError(ValueError):
    """An override that cannot be taken; the message says why, for the operator or the log."""


class UnknownVerdict(OverrideError):
    """The verdict named is not one the journal still keeps in full."""


@dataclass(frozen=True)
class OverrideRequest:
    verdict_id: str
    action: str
    source: str
    note: str | None = None
    checks: tuple[str, ...] | None = None  # None: every failing check of the verdict


def request_from(action: str, body: Any, source: str) -> OverrideRequest:
    """An override from a decoded request: a JSON object with `verdict_id` and optionally `note` and
    `checks`, or (over MQTT) just the verdict id as a string."""
    if action not in ACTIONS:
        raise OverrideError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if isinstance(body, str):
        body = {"verdict_id": body}
    if not isinstance(body, Mapping):
        raise OverrideError("expected a JSON object with verdict_id (and optionally note and checks)")
    unknown = set(body) - {"verdict_id", "note", "checks", "action"}
    if unknown:
        raise OverrideError(f"unknown field(s): {', '.join(sorted(unknown))}")
    verdict_id = body.get("verdict_id")
    if not isinstance(verdict_id, str) or not verdict_id.strip():
        raise OverrideError("verdict_id: the id of the verdict to override is required")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise OverrideError("note: expected text")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise OverrideError(f"note: at most {MAX_NOTE_CHARS} characters")
    checks = body.get("checks")
    if checks is not None and (not isinstance(checks, list) or not all(isinstance(c, str) and c for c in checks)):
        raise OverrideError("checks: expected a list of check names")
    return OverrideRequest(verdict_id.strip(), action, source, note, tuple(checks) if checks else None)


def decode_command(action: str, payload: bytes, source: str = "mqtt") -> OverrideRequest:
    """An MQTT command's payload: a JSON object, or a bare verdict id."""
    text = payload.decode("utf-8", "replace").strip()
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    if not isinstance(body, (Mapping, str)):
        body = text  # a bare id, even one that reads as a JSON number
    return request_from(action, body, source)


def build_override(request: OverrideRequest, verdict: Mapping[str, Any], station: str) -> dict[str, Any]:
    """The override message: what was overridden (the verdict in full), how, by which checks."""
    failing = [str(reason["check"]) for reason in verdict.get("reasons", [])]
    if request.action == "accept" and verdict.get("verdict") == "accept":
        raise OverrideError("this frame was accepted already")
    known = {str(check["check"]) for check in verdict.get("checks", [])}
    if request.checks is not None:
        strangers = [check for check in request.checks if check not in known]
        if strangers:
            raise OverrideError(f"checks: {', '.join(strangers)} did not judge this frame")
        checks = list(request.checks)
    else:
        checks = failing or [UNSPECIFIED]
    return {
        "schema": SCHEMA,
        "id": str(uuid.uuid4()),
        "verdict_id": verdict["id"],
        "station": station,
        "action": request.action,
        "checks": checks,
        "note": request.note,
        "source": request.source,
        "at": utc_now_iso(),
        "file": verdict.get("file"),
        "original_verdict": verdict.get("verdict"),
        "verdict": dict(verdict),
    }


def is_override(message: Mapping[str, Any]) -> bool:
    return message.get("schema") == SCHEMA
