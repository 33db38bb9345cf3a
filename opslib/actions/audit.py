"""The audit trail of actions: every attempt (planned-only, applied, refused, failed) is appended to a
JSONL log and inserted into the profile database's ``audit_logs`` table (the runbook's audit query
reads its ``action, user_id, timestamp, ip_address``; the whole record is in ``details``).

Where the log lives: the ``directory`` argument, else ``$OPSLIB_AUDIT_DIR`` (set by ``runbook run`` to its
archive's ``audit/``), else the default archive's ``audit/`` (``$OPSLIB_ARCHIVE``, else ``runs/`` beside
``parameters/``): one log per archive, read by ``runbook audit list``, ``runbook undo``, the incident
timeline and the post-mortem. An ``s3://`` default archive keeps its audit log in ``runs/audit/`` beside
``parameters/`` (S3 has no append). The notebook run id comes from ``$OPSLIB_RUN_ID`` when set."""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..settings import AUDIT_DIR_ENV, AUDIT_FOLDER, RUN_ID_ENV, resolve_audit_dir, resolve_run_id  # noqa: F401 (also imported from here)
from ..errors import ActionError, OpsError
from ..operator import Operator  # noqa: F401 (also imported from here)

if TYPE_CHECKING:
    from ..connection import Ops

LOG_FILE = "audit.jsonl"
TABLE = "audit_logs"


def audit_dir(directory: "str | os.PathLike | None" = None) -> Path:
    """``directory``, else $OPSLIB_AUDIT_DIR, else the default archive's ``audit/``
    (:func:`opslib.settings.resolve_audit_dir`)."""
    return resolve_audit_dir(directory)


def archive_audit_dir(archive: "str | os.PathLike | None") -> Path | None:
    """The audit folder of a folder archive given on the command line (None: the default applies)."""
    if archive is None or str(archive).startswith("s3://"):
        return None
    return Path(archive) / "audit"


def run_id(explicit: str | None = None) -> str | None:
    """``explicit``, else $OPSLIB_RUN_ID (:func:`opslib.settings.resolve_run_id`)."""
    return resolve_run_id(explicit)


@dataclass
class StepRecord:
    """One change of an attempt: its status and the values read before and after."""
    change: dict
    status: str                     # planned | applied | failed | not_applied | refused
    before: Any = None
    after: Any = None
    error: str | None = None


@dataclass
class AuditRecord:
    id: str
    timestamp: str
    status: str                     # planned | applied | refused | failed
    title: str
    profile: str
    environment: str
    production: bool
    dry_run: bool
    run_id: str | None
    operator: Operator              # stored as Operator.to_dict(); a dict in either older shape is read too
    steps: list[StepRecord]
    reason: str | None = None
    confirm: list[str] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    undo_of: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.operator, Operator):
            self.operator = Operator.from_dict(self.operator)

    @property
    def action(self) -> str:
        """The ``action`` column: what happened, in a phrase."""
        return f"runbook.{self.status}: {self.title}"[:500]

    def to_dict(self) -> dict:
        return json.loads(json.dumps({**asdict(self), "operator": self.operator.to_dict()}, default=str))

    @classmethod
    def from_dict(cls, data: dict) -> "AuditRecord":
        data = dict(data)
        data["steps"] = [StepRecord(**s) for s in data.get("steps", [])]
        return cls(**data)


def new_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


class AuditLog:
    """An append-only JSONL file of :class:`AuditRecord`."""

    def __init__(self, directory: "str | os.PathLike | None" = None):
        self.directory = audit_dir(directory)
        self.path = self.directory / LOG_FILE

    def append(self, record: AuditRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")

    def records(self) -> list[AuditRecord]:
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [AuditRecord.from_dict(json.loads(line)) for line in fh if line.strip()]

    def table(self, limit: int = 20) -> str:
        """``runbook audit list``: the most recent ``limit`` attempts as a text table (id, time, status, profile,
        operator, title), or a line saying the log is empty."""
        from .plan import text_table
        records = self.records()[-limit:]
        if not records:
            return f"no audit records in {self.path}"
        rows = [{"id": r.id, "time": r.timestamp, "status": r.status, "profile": r.profile,
                 "operator": r.operator.user or "", "title": r.title} for r in records]
        return text_table(rows, ["id", "time", "status", "profile", "operator", "title"])

    def get(self, audit_id: str) -> AuditRecord:
        """The record with this id (or the only one whose id starts with it)."""
        matches = [r for r in self.records() if r.id == audit_id] or \
                  [r for r in self.records() if r.id.startswith(audit_id)]
        if len(matches) != 1:
            raise ActionError(f"audit record {audit_id!r}: {'not found' if not matches else 'ambiguous'} "
                              f"in {self.path}")
        return matches[0]


def _table(engine: sa.Engine) -> sa.Table:
    """The ``audit_logs`` table, created with the runbook's columns (plus ``details``) if missing."""
    meta = sa.MetaData()
    if not sa.inspect(engine).has_table(TABLE):
        json_type = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
        sa.Table(TABLE, meta, sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
                 sa.Column("action", sa.Text, nullable=False), sa.Column("user_id", sa.Text),
                 sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
                 sa.Column("ip_address", sa.Text), sa.Column("details", json_type))
        meta.create_all(engine, checkfirst=True)
        meta = sa.MetaData()
    return sa.Table(TABLE, meta, autoload_with=engine)


def _write_db(engine: sa.Engine, record: AuditRecord) -> None:
    """Insert ``record`` into ``audit_logs`` (only the columns the table has)."""
    try:
        table = _table(engine)
        cols = table.c
        row: dict[str, Any] = {"action": record.action, "timestamp": datetime.fromisoformat(record.timestamp)}
        if "user_id" in cols:
            textual = isinstance(cols["user_id"].type, (sa.String, sa.Text))
            row["user_id"] = record.operator.user if textual else None
        if "ip_address" in cols:
            row["ip_address"] = record.operator.ip_address
        if "details" in cols:
            details = record.to_dict()
            row["details"] = details if isinstance(cols["details"].type, sa.JSON) else json.dumps(details)
        ts_type = cols["timestamp"].type
        if isinstance(ts_type, sa.DateTime) and not ts_type.timezone:
            row["timestamp"] = row["timestamp"].astimezone(timezone.utc).replace(tzinfo=None)
        for key, value in row.items():     # an existing table may have shorter columns (e.g. action varchar(64))
            length = getattr(cols[key].type, "length", None) if key in cols else None
            if isinstance(value, str) and length:
                row[key] = value[:length]
        with engine.begin() as conn:
            conn.execute(table.insert().values(**{k: v for k, v in row.items() if k in cols}))
    except sa.exc.SQLAlchemyError as exc:
        raise ActionError(f"audit record {record.id} could not be written to {TABLE}: {exc}") from exc


def find_in_db(engine: sa.Engine, audit_id: str) -> AuditRecord:
    """A record by id from the database (for undo on a machine without the JSONL log)."""
    try:
        table = _table(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.details).where(
                table.c.action.like("runbook.%"), sa.cast(table.c.details, sa.Text).contains(audit_id))).scalars().all()
    except sa.exc.SQLAlchemyError as exc:
        raise ActionError(f"audit record {audit_id!r} could not be read from {TABLE}: {exc}") from exc
    for details in rows:
        data = json.loads(details) if isinstance(details, str) else details
        if data and data.get("id") == audit_id:
            return AuditRecord.from_dict(data)
    raise ActionError(f"audit record {audit_id!r} not found in the audit log nor in {TABLE}")


def record_everywhere(ops: "Ops | None", record: AuditRecord, log: AuditLog, *, database: bool = True) -> str | None:
    """Append to the JSONL log, then insert into the database; returns the database error, if any."""
    log.append(record)
    if not database or ops is None:
        return None
    try:
        _write_db(ops.database, record)
    except OpsError as exc:
        return str(exc)
    return None
