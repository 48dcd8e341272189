"""The journal: one row per frame, and the outbox of messages its verdict causes.

SQLite in WAL mode in the state directory. A verdict and all the messages it causes are
written in one transaction, so after a crash either both exist or neither does (and the frame
is judged again). Each outbox row belongs to one sink ("mqtt", "jsonl", ...) so a stuck sink
never holds up another. Rows are marked delivered only when the sink confirms.

A journal SQLite cannot read (garbage header, cut short, damaged pages) is moved aside and a
fresh one built; the daemon then tells it which frames were already delivered (`adopt`).
A path that is not valid UTF-8 is stored as its raw bytes, so it keeps its exact identity.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # only a type: the journal stays free of the judging code
    from edge.verdict import Verdict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    sha256        TEXT,
    verdict       TEXT NOT NULL,
    verdict_id    TEXT NOT NULL UNIQUE,
    reasons       TEXT NOT NULL,
    first_seen    REAL NOT NULL,
    processed_at  TEXT NOT NULL,
    UNIQUE (path, size_bytes, mtime_ns)
);
CREATE INDEX IF NOT EXISTS frames_by_sha ON frames (path, sha256);
-- frames whose error verdict says only that they could not be opened (permissions): judged
-- again, under a verdict that supersedes that one, once they can be read
CREATE TABLE IF NOT EXISTS unopened (
    verdict_id    TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sink          TEXT NOT NULL,
    verdict_id    TEXT NOT NULL,
    topic         TEXT NOT NULL,
    payload       BLOB NOT NULL,
    qos           INTEGER NOT NULL,
    retain        INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    expires_at    REAL,
    delivered_at  REAL,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, delivered_at, seq);
-- the latest verdicts in full, so a restart shows the last frames (and a pending retake) again
CREATE TABLE IF NOT EXISTS recent_verdicts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    verdict_id    TEXT NOT NULL UNIQUE,
    verdict       TEXT NOT NULL
);
-- operator overrides, against the verdict they answer: one per verdict and action
CREATE TABLE IF NOT EXISTS overrides (
    id            TEXT PRIMARY KEY,
    verdict_id    TEXT NOT NULL,
    action        TEXT NOT NULL,
    checks        TEXT NOT NULL,
    note          TEXT,
    source        TEXT NOT NULL,
    at            TEXT NOT NULL,
    UNIQUE (verdict_id, action)
);
CREATE TABLE IF NOT EXISTS sharpness (
    id            INTEGER PRIMARY KEY,
    camera        TEXT NOT NULL,
    region_class  TEXT NOT NULL,
    edge_width_px REAL NOT NULL
);
"""
# Sharpness rows kept for seeding the baseline at start-up; older ones are dropped as new ones come.
_SHARPNESS_ROWS_KEPT = 20_000
# Verdicts kept in full for the station screen and for overrides: far more than the screen shows.
RECENT_VERDICTS_KEPT = 500
_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB

log = logging.getLogger(__name__)


def path_key(path: str) -> str | bytes:
    """How a path is stored: as text, or as its bytes where it is not UTF-8 (SQLite text must be)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


class JournalDamaged(Exception):
    """SQLite cannot read the journal file."""


def _is_damage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; the message before that
    if code is not None:
        return code in _DAMAGED
    return any(words in str(exc) for words in ("not a database", "malformed"))


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    sink: str
    verdict_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    expires_at: float | None


@dataclass(frozen=True)
class NewMessage:
    sink: str
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    ttl_s: float | None = None


class Journal:
    """Thread-safe: one connection, guarded by a lock (the writes are small and few)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "journal.sqlite3"
        self._lock = threading.Lock()
        # where a damaged journal was moved to, when this one replaced it
        self.damaged_copy: Path | None = None
        try:
            self._db = self._open()
        except JournalDamaged as exc:
            self.damaged_copy = self._move_aside()
            log.error("the journal %s is damaged (%s); it was moved to %s and a new one is built",
                      self.path, exc, self.damaged_copy.name)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a verdict acknowledged to nobody yet must still survive a power cut.
            db.execute("PRAGMA synchronous=FULL")
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise JournalDamaged("; ".join(str(p) for p in problems[:3]))
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            db.close()
            if _is_damage(exc):
                raise JournalDamaged(str(exc)) from None
            raise
        except JournalDamaged:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        """The damaged file (and its WAL) under a dated name, kept for a post-mortem."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.replace(target.with_name(target.name + suffix))
        return target

    def is_empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM frames LIMIT 1").fetchone() is None

    def adopt(self, *, path: str, size_bytes: int, mtime_ns: int, verdict: Verdict) -> bool:
        """Know a frame by a verdict delivered before this journal existed, sending nothing again."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO frames (path, size_bytes, mtime_ns, sha256, verdict, verdict_id, reasons, "
                "first_seen, processed_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (path_key(path), size_bytes, mtime_ns, verdict.get("sha256"), verdict["verdict"], verdict["id"],
                 json.dumps([r["check"] for r in verdict["reasons"]]), time.time(), verdict["processed_at"]))
        return cur.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def has_frame(self, path: str, size_bytes: int, mtime_ns: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM frames WHERE path=? AND size_bytes=? AND mtime_ns=?",
                                   (path_key(path), size_bytes, mtime_ns)).fetchone()
        return row is not None

    def unopened_verdict(self, path: str, size_bytes: int, mtime_ns: int) -> str | None:
        """The id of this frame's verdict when it said only that the file could not be opened."""
        with self._lock:
            row = self._db.execute(
                "SELECT f.verdict_id FROM frames f JOIN unopened u ON u.verdict_id = f.verdict_id "
                "WHERE f.path=? AND f.size_bytes=? AND f.mtime_ns=?", (path_key(path), size_bytes, mtime_ns)).fetchone()
        return None if row is None else str(row[0])

    def latest_verdict(self, path: str) -> tuple[str, str, int] | None:
        """(verdict id, verdict, size in bytes) of the last frame judged at this path."""
        with self._lock:
            row = self._db.execute("SELECT verdict_id, verdict, size_bytes FROM frames WHERE path=? "
                                   "ORDER BY id DESC LIMIT 1", (path_key(path),)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), int(row[2]))

    def has_content(self, path: str, sha256: str) -> bool:
        """The same bytes at the same path were judged before (the file was only touched)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM frames WHERE path=? AND sha256=?",
                                   (path_key(path), sha256)).fetchone()
        return row is not None

    def record(self, *, path: str, size_bytes: int, mtime_ns: int, first_seen: float, verdict: Verdict,
               messages: Iterable[NewMessage], edge_widths: tuple[str, Mapping[str, float]] | None = None,
               unopened: bool = False, supersedes: str | None = None) -> bool:
        """Store a frame's verdict and its messages atomically, with the edge widths (camera, per region
        class) an accepted frame adds to the sharpness baseline. False if the frame already has one.
        `unopened`: the verdict says only that the file could not be opened, so it is judged again
        once it can be; `supersedes`: the id of such a verdict of the same frame, replaced by this one."""
        now = time.time()
        with self._lock, self._transaction():
            if supersedes is not None:
                # only a verdict of this very identity gives way; an earlier version's stays on record
                self._db.execute("DELETE FROM frames WHERE verdict_id=? AND path=? AND size_bytes=? AND mtime_ns=?",
                                 (supersedes, path_key(path), size_bytes, mtime_ns))
                self._db.execute("DELETE FROM unopened WHERE verdict_id=?", (supersedes,))
            cur = self._db.execute(
                "INSERT INTO frames (path, size_bytes, mtime_ns, sha256, verdict, verdict_id, reasons, "
                "first_seen, processed_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (path_key(path), size_bytes, mtime_ns, verdict.get("sha256"), verdict["verdict"], verdict["id"],
                 json.dumps([r["check"] for r in verdict["reasons"]]), first_seen, verdict["processed_at"]))
            if cur.rowcount == 0:
                self._db.execute("ROLLBACK")
                return False
            if unopened:
                self._db.execute("INSERT INTO unopened (verdict_id) VALUES (?)", (verdict["id"],))
            self._db.execute("INSERT INTO recent_verdicts (verdict_id, verdict) VALUES (?, ?)",
                             (verdict["id"], json.dumps(verdict, separators=(",", ":"))))
            self._db.execute("DELETE FROM recent_verdicts WHERE id <= (SELECT MAX(id) FROM recent_verdicts) - ?",
                             (RECENT_VERDICTS_KEPT,))
            self._add_messages(verdict["id"], messages, now)
            if edge_widths is not None:
                camera, widths = edge_widths
                self._db.executemany(
                    "INSERT INTO sharpness (camera, region_class, edge_width_px) VALUES (?,?,?)",
                    [(camera, name, float(value)) for name, value in widths.items()])
                self._db.execute("DELETE FROM sharpness WHERE id <= (SELECT MAX(id) FROM sharpness) - ?",
                                 (_SHARPNESS_ROWS_KEPT,))
        return True

    def recent_verdicts(self, limit: int) -> list[Verdict]:
        """The latest verdicts in full, newest first (at most RECENT_VERDICTS_KEPT are kept)."""
        with self._lock:
            rows = self._db.execute("SELECT verdict FROM recent_verdicts ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
        return [cast("Verdict", json.loads(row[0])) for row in rows]

    def verdict(self, verdict_id: str) -> Verdict | None:
        """One of the latest verdicts in full, by id; None when unknown or no longer kept."""
        with self._lock:
            row = self._db.execute("SELECT verdict FROM recent_verdicts WHERE verdict_id=?", (verdict_id,)).fetchone()
        return None if row is None else cast("Verdict", json.loads(row[0]))

    def record_override(self, override: Mapping[str, Any], messages: Iterable[NewMessage]) -> bool:
        """Store an operator override and its messages atomically; False when the verdict already has an
        override of that action (a second press, a repeated command)."""
        now = time.time()
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO overrides (id, verdict_id, action, checks, note, source, at) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (override["id"], override["verdict_id"], override["action"], json.dumps(override["checks"]),
                 override.get("note"), override["source"], override["at"]))
            if cur.rowcount == 0:
                self._db.execute("ROLLBACK")
                return False
            self._add_messages(override["verdict_id"], messages, now)
        return True

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE, then COMMIT unless the body rolled back; on any exception, ROLLBACK."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except BaseException:
            # SQLite has rolled back already after some errors (a full disk): keep the real one
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _add_messages(self, verdict_id: str, messages: Iterable[NewMessage], now: float) -> None:
        self._db.executemany(
            "INSERT INTO outbox (sink, verdict_id, topic, payload, qos, retain, created_at, expires_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(m.sink, verdict_id, m.topic, m.payload, m.qos, int(m.retain), now,
              None if m.ttl_s is None else now + m.ttl_s) for m in messages])

    def overrides_of(self, verdict_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The overrides recorded against these verdicts, oldest first, by verdict id."""
        ids = list(verdict_ids)
        out: dict[str, list[dict[str, Any]]] = {}
        if not ids:
            return out
        with self._lock:
            rows = self._db.execute(
                f"SELECT verdict_id, action, checks, note, source, at FROM overrides WHERE verdict_id IN "  # noqa: S608
                f"({','.join('?' * len(ids))}) ORDER BY at", ids).fetchall()
        for verdict_id, action, checks, note, source, at in rows:
            out.setdefault(str(verdict_id), []).append(
                {"action": action, "checks": json.loads(checks), "note": note, "source": source, "at": at})
        return out

    def override_counts(self) -> dict[str, dict[str, int]]:
        """Overrides ever recorded, by check and action: {check: {"accept": n, "wrong": m}}."""
        with self._lock:
            return override_counts(self._db)

    def recent_edge_widths(self, per_camera_and_class: int) -> list[tuple[str, str, float]]:
        """(camera, region class, edge width px) of the latest accepted frames, at most this many per
        camera and class, oldest first: what seeds the sharpness baseline at start-up."""
        with self._lock:
            rows = self._db.execute(
                "SELECT camera, region_class, edge_width_px FROM (SELECT *, ROW_NUMBER() OVER "
                "(PARTITION BY camera, region_class ORDER BY id DESC) AS age FROM sharpness) "
                "WHERE age <= ? ORDER BY id", (per_camera_and_class,)).fetchall()
        return [(camera, name, float(value)) for camera, name, value in rows]

    def pending(self, sink: str, limit: int, after_seq: int = 0) -> list[OutboxMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, sink, verdict_id, topic, payload, qos, retain, expires_at FROM outbox "
                "WHERE sink=? AND delivered_at IS NULL AND seq>? ORDER BY seq LIMIT ?",
                (sink, after_seq, limit)).fetchall()
        return [OutboxMessage(seq, s, vid, topic, bytes(payload), qos, bool(retain), exp)
                for seq, s, vid, topic, payload, qos, retain, exp in rows]

    def mark_delivered(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        now = time.time()
        with self._lock:
            self._db.executemany("UPDATE outbox SET delivered_at=? WHERE seq=? AND delivered_at IS NULL",
                                 [(now, s) for s in seqs])

    def note_attempt(self, seq: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts=attempts+1 WHERE seq=?", (seq,))

    def backlog(self, sink: str | None = None) -> int:
        with self._lock:
            if sink is None:
                row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
            else:
                row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sink=? AND delivered_at IS NULL",
                                       (sink,)).fetchone()
        return int(row[0])

    def prune_delivered(self, keep_s: float) -> int:
        """Bounded retention: forget delivered messages older than keep_s."""
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                                   (time.time() - keep_s,))
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT verdict, COUNT(*) FROM frames GROUP BY verdict").fetchall()
        return {v: int(n) for v, n in rows}


def open_read_only(state_dir: Path) -> sqlite3.Connection:
    """The journal of a state folder opened for reading only (beside a running daemon: WAL lets both)."""
    path = state_dir / "journal.sqlite3"
    if not path.is_file():
        raise FileNotFoundError(f"no journal in {state_dir}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def override_counts(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Overrides by check and action, read from a journal connection."""
    counts: dict[str, dict[str, int]] = {}
    try:
        rows = db.execute("SELECT c.value, o.action, COUNT(*) FROM overrides o, json_each(o.checks) c "
                          "GROUP BY c.value, o.action").fetchall()
    except sqlite3.OperationalError:
        return counts  # a journal older than overrides
    for check, action, count in rows:
        counts.setdefault(str(check), {})[str(action)] = int(count)
    return counts


def failure_counts(db: sqlite3.Connection) -> dict[str, int]:
    """How often each check sent a frame back, over every verdict the journal holds."""
    rows = db.execute("SELECT c.value, COUNT(*) FROM frames f, json_each(f.reasons) c GROUP BY c.value").fetchall()
    return {str(check): int(count) for check, count in rows}
