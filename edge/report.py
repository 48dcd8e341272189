"""`specimen-edge report`: which checks the operators override most, read from a station's journal.

A check that sends frames back which the photographer then accepts anyway is set too strictly for
this station; one whose accepted frames are marked wrong lets problems through. The table puts
the checks overridden most (as a share of the frames they sent back) first, so thresholds can be
calibrated from real use.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from edge.journal import failure_counts, open_read_only, override_counts


@dataclass(frozen=True)
class CheckRow:
    check: str
    failed: int  # frames this check sent back
    accepted_anyway: int  # of those, accepted by the operator anyway
    marked_wrong: int  # verdicts marked wrong naming this check
    share_overridden: float | None  # accepted anyway / failed; None when the check never failed


def check_rows(db: sqlite3.Connection) -> list[CheckRow]:
    failed = failure_counts(db)
    overridden = override_counts(db)
    rows = []
    for check in sorted(set(failed) | set(overridden)):
        accepted = overridden.get(check, {}).get("accept", 0)
        wrong = overridden.get(check, {}).get("wrong", 0)
        fails = failed.get(check, 0)
        rows.append(CheckRow(check, fails, accepted, wrong, round(accepted / fails, 3) if fails else None))
    rows.sort(key=lambda r: (-(r.share_overridden or 0.0), -(r.accepted_anyway + r.marked_wrong), r.check))
    return rows


def write_report(state_dir: Path, out: TextIO, as_json: bool = False) -> None:
    """The table (or JSON, one object per check) of a state folder's journal."""
    db = open_read_only(state_dir)
    try:
        rows = check_rows(db)
    finally:
        db.close()
    if as_json:
        out.write(json.dumps([asdict(row) for row in rows], separators=(",", ":")) + "\n")
        return
    if not rows:
        out.write("no frame sent back and no override recorded yet\n")
        return
    width = max(len("check"), *(len(row.check) for row in rows))
    out.write(f"{'check':<{width}}  {'failed':>6}  {'accepted anyway':>15}  {'marked wrong':>12}  {'overridden':>10}\n")
    for row in rows:
        share = "-" if row.share_overridden is None else f"{100 * row.share_overridden:.0f} %"
        out.write(f"{row.check:<{width}}  {row.failed:>6}  {row.accepted_anyway:>15}  {row.marked_wrong:>12}  "
                  f"{share:>10}\n")
