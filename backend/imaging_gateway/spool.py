"""A durable local list of the studies a gateway stored and must report (a SQLite file).

A study is spooled when the PACS stores it, whatever the billing API is doing; it stays
pending until the server has answered for it, and is marked sent in the same file. A
crash or restart loses nothing: what was not marked sent is sent again, and the server
counts a study once however often it is reported (R-EXAM-4). The studies marked sent stay
in the file: reconciliation lists them for their window.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PENDING, SENT, REFUSED = "PENDING", "SENT", "REFUSED"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
    uid TEXT PRIMARY KEY,
    stored_at TEXT NOT NULL,           -- when the PACS stored it: the upload time reported
    state TEXT NOT NULL DEFAULT 'PENDING',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,     -- back-off: not sent again before this
    sent_at TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_study_due ON study (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS ix_study_stored ON study (stored_at);
"""


def _text(moment: datetime) -> str:
    """UTC, fixed width: text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: `base` after the first failure, doubling, at most `cap`."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)

    def delay(self, attempts: int) -> timedelta:
        doubled: timedelta = self.base * (2 ** max(0, attempts - 1))
        return min(self.cap, doubled)


@dataclass(frozen=True)
class Spooled:
    uid: str
    stored_at: datetime
    attempts: int


class Spool:
    """Thread-safe: the PACS's callbacks add studies while a reporter thread sends them."""

    def __init__(self, path: str | Path, backoff: Backoff | None = None) -> None:
        self.path = Path(path)
        self.backoff = backoff or Backoff()
        self._lock = threading.Lock()
        # autocommit; every change below is one statement or an explicit transaction
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a study spooled survives power loss
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, uid: str, stored_at: datetime) -> bool:
        """Spool a study; False when it was already there (a PACS may announce it twice)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO study (uid, stored_at, next_attempt_at) VALUES (?, ?, ?)",
                (uid, _text(stored_at), _text(stored_at)),
            )
            return cursor.rowcount == 1

    def contains(self, uid: str) -> bool:
        """Was this study spooled (accepted by the PACS) before? Its further instances
        belong to an accepted study, whatever the account's state now."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM study WHERE uid = ?", (uid,)).fetchone()
        return row is not None

    def due(self, now: datetime, limit: int) -> list[Spooled]:
        """Pending studies whose back-off is over, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uid, stored_at, attempts FROM study WHERE state = 'PENDING'"
                " AND next_attempt_at <= ? ORDER BY stored_at, uid LIMIT ?",
                (_text(now), limit),
            ).fetchall()
        return [Spooled(uid, _time(at), attempts) for uid, at, attempts in rows]

    def mark(
        self, uids: Sequence[str], state: str, now: datetime, error: str | None = None
    ) -> None:
        """The server answered for these: SENT (accepted or duplicate) or REFUSED for good."""
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE study SET state = ?, sent_at = ?, last_error = ? WHERE uid = ?",
                [(state, _text(now), error, uid) for uid in uids],
            )

    def retry_later(self, uids: Sequence[str], now: datetime, error: str) -> None:
        """Not answered (or answered "not now"): back off, counting the attempt."""
        with self._lock, self._transaction():
            for uid in uids:
                row = self._db.execute(
                    "SELECT attempts FROM study WHERE uid = ?", (uid,)
                ).fetchone()
                if row is None:
                    continue
                attempts = row[0] + 1
                later = now + self.backoff.delay(attempts)
                self._db.execute(
                    "UPDATE study SET attempts = ?, next_attempt_at = ?, last_error = ?"
                    " WHERE uid = ?",
                    (attempts, _text(later), error, uid),
                )

    def requeue(self, uids: Sequence[str], now: datetime) -> int:
        """Send these again now (reconciliation found the ledger lacks them)."""
        with self._lock, self._transaction():
            changed = 0
            for uid in uids:
                changed += self._db.execute(
                    "UPDATE study SET state = 'PENDING', attempts = 0, next_attempt_at = ?"
                    " WHERE uid = ?",
                    (_text(now), uid),
                ).rowcount
            return changed

    def stored_between(self, starts_at: datetime, ends_at: datetime) -> list[Spooled]:
        """Every spooled study stored in the window, whatever its state, by time."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uid, stored_at, attempts FROM study WHERE stored_at >= ?"
                " AND stored_at < ? ORDER BY stored_at, uid",
                (_text(starts_at), _text(ends_at)),
            ).fetchall()
        return [Spooled(uid, _time(at), attempts) for uid, at, attempts in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM study GROUP BY state").fetchall()
        return {PENDING: 0, SENT: 0, REFUSED: 0, **dict(rows)}

    def next_attempt_at(self, uid: str) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "SELECT next_attempt_at FROM study WHERE uid = ?", (uid,)
            ).fetchone()
        return _time(row[0]) if row else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
