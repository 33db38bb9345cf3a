"""The triage queue, persisted in SQLite inside the archive (``<archive>/serve/triage.sqlite``), so a
restart of the receiver loses no accepted triage: runs that were queued or running when it stopped are
queued again at start. Also remembers message ids (replays) and triage keys (dedupe window)."""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import QueueFull
from .routing import Triage

SCHEMA = """
CREATE TABLE IF NOT EXISTS triage (
  id TEXT PRIMARY KEY, key TEXT NOT NULL, state TEXT NOT NULL, accepted_at TEXT NOT NULL,
  started_at TEXT, finished_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, triage TEXT NOT NULL, result TEXT);
CREATE INDEX IF NOT EXISTS triage_key ON triage (key, accepted_at);
CREATE INDEX IF NOT EXISTS triage_state ON triage (state, accepted_at);
CREATE TABLE IF NOT EXISTS messages (message_id TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
"""
WAITING = ("queued", "running")


@dataclass(frozen=True)
class Job:
    id: str
    triage: Triage
    accepted_at: str
    attempts: int


class TriageQueue:
    """Thread-safe; one connection guarded by a lock (the receiver's load is a few requests a minute)."""

    def __init__(self, path: str | Path, *, capacity: int = 20, dedupe: timedelta = timedelta(minutes=30)):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.capacity, self.dedupe = capacity, dedupe
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def recover(self) -> int:
        """Runs left ``running`` by a receiver that stopped are queued again; returns how many."""
        with self._lock:
            return self._db.execute("UPDATE triage SET state='queued' WHERE state='running'").rowcount

    def seen(self, message_id: str | None) -> bool:
        """True if ``message_id`` was remembered before (a replay)."""
        if not message_id:
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM messages WHERE message_id=?", (message_id,)).fetchone() is not None

    def remember(self, message_id: str | None, now: datetime) -> None:
        """Remember a message that was decided (not one dropped for a full queue: its retry must get through)."""
        if message_id:
            with self._lock:
                self._db.execute("INSERT OR IGNORE INTO messages VALUES (?, ?)", (message_id, now.isoformat()))

    def offer(self, triage: Triage, now: datetime) -> tuple[str, str | None]:
        """Queue ``triage``: ("queued", id), or ("deduped", id of the earlier one) within the dedupe
        window; :class:`QueueFull` when ``capacity`` triages are waiting."""
        since = (now - self.dedupe).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT id FROM triage WHERE key=? AND accepted_at>=? ORDER BY accepted_at "
                                       "LIMIT 1", (triage.key, since)).fetchone()
                if row:
                    self._db.execute("COMMIT")
                    return "deduped", row[0]
                waiting = self._db.execute("SELECT COUNT(*) FROM triage WHERE state='queued'").fetchone()[0]
                if waiting >= self.capacity:
                    self._db.execute("COMMIT")
                    raise QueueFull(self.capacity)
                job_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
                self._db.execute("INSERT INTO triage (id, key, state, accepted_at, triage) VALUES (?, ?, 'queued', ?, ?)",
                                 (job_id, triage.key, now.isoformat(), json.dumps(triage.to_dict(), default=str)))
                self._db.execute("COMMIT")
                return "queued", job_id
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def take(self, now: datetime) -> Job | None:
        """The oldest queued triage, marked running."""
        with self._lock:
            row = self._db.execute("SELECT id, triage, accepted_at, attempts FROM triage WHERE state='queued' "
                                   "ORDER BY accepted_at, rowid LIMIT 1").fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE triage SET state='running', started_at=?, attempts=attempts+1 WHERE id=?",
                             (now.isoformat(), row[0]))
        return Job(row[0], Triage.from_dict(json.loads(row[1])), row[2], row[3] + 1)

    def finish(self, job_id: str, state: str, result: dict, now: datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE triage SET state=?, finished_at=?, result=? WHERE id=?",
                             (state, now.isoformat(), json.dumps(result, default=str), job_id))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM triage GROUP BY state").fetchall())

    def jobs(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT id, state, triage, result FROM triage ORDER BY accepted_at, rowid").fetchall()
        return [{"id": r[0], "state": r[1], "triage": json.loads(r[2]), "result": json.loads(r[3]) if r[3] else None}
                for r in rows]
