"""Backfill changes (the runbook's ``scripts/backfill_data.py``): for each day of a range, list the archived raw
events under ``raw-events/year=/month=/day=`` with a paginator and load them into the operational database's
events table (the profile's ``databases.database.events_table``, its own column names; only the columns the
table has), inserting only the event_ids it does not hold (idempotent). One change per day; each day
prints one progress line as it completes. There is no undo: the inserted rows are the archive's own events."""
from __future__ import annotations

import gzip
import json
import time
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from ..aws import s3 as s3_reads
from ..config import EVENT_COLUMNS
from ..errors import ParameterError, QueryError
from ..events_table import EventsTable, as_events, for_source
from . import kinds
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops

KIND = "events.backfill"
SURVEY_COLUMNS = ["day", "prefix", "objects", "pages", "bytes", "events", "present", "missing"]


def insert_statement(events: EventsTable | None = None):
    """``INSERT INTO <events table> (<the columns it has>) ... ON CONFLICT (<event_id>) DO NOTHING``, for rows
    keyed by the table's own column names (:func:`table_rows`)."""
    from sqlalchemy.dialects import postgresql
    events = as_events(events)
    if not events.has("event_id"):
        raise QueryError(f"cannot backfill {events.display} idempotently: {events.describe_missing(['event_id'])}")
    return postgresql.insert(events.table).on_conflict_do_nothing(index_elements=[events.real("event_id")])


def table_rows(events: EventsTable, rows: list[dict]) -> list[dict]:
    """``to_row`` rows (runbook column names) keyed by the table's own names, only the columns it has, times as
    the table stores them (:meth:`EventsTable.encode`)."""
    keep = [(name, events.real(name)) for name in EVENT_COLUMNS if events.has(name)]
    return [{real: events.encode(name, row.get(name)) for name, real in keep} for row in rows]


def day_prefix(day: date) -> str:
    return f"raw-events/year={day.year}/month={day.month:02d}/day={day.day:02d}/"


def list_day_objects(s3, bucket: str, prefix: str, *, page_size: int = 1000) -> tuple[list[dict], int]:
    """Every object under ``prefix`` and the number of pages it took (``list_objects_v2`` returns at most
    1,000 keys a call: the runbook's single call misses the rest)."""
    objects, pages = [], 0
    for page in s3_reads.object_pages(s3, bucket, prefix, page_size=page_size):
        pages += 1
        objects.extend({"key": o["Key"], "size": o["Size"]} for o in page)
    return objects, pages


def read_events(s3, bucket: str, keys: list[str]) -> list[dict]:
    """The JSON-lines events of the objects (gzip when the key ends in .gz)."""
    out = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        text = (gzip.decompress(body) if key.endswith(".gz") else body).decode()
        out.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return out


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def to_row(event: dict) -> dict:
    """A raw event as an ``events`` row (naive UTC timestamps; revenue from its properties)."""
    props = event.get("properties") or {}
    ts = _ts(event["event_timestamp"])
    return {"event_id": event["event_id"], "user_id": event.get("user_id"), "session_id": event.get("session_id"),
            "event_type": event["event_type"], "event_timestamp": ts, "received_at": ts,
            "platform": event.get("platform"), "country": event.get("country"), "page": event.get("page"),
            "revenue": props.get("revenue")}


def present_ids(db: sa.Engine, ids: list[str], events: EventsTable | None = None) -> set[str]:
    """The ``ids`` the events table already holds (its own event_id column)."""
    events = as_events(events)
    if not events.has("event_id"):
        raise QueryError(f"cannot backfill {events.display} idempotently: {events.describe_missing(['event_id'])}")
    col = events.col("event_id")
    found: set[str] = set()
    with db.connect() as conn:
        for i in range(0, len(ids), 5000):
            found |= set(conn.execute(sa.select(col).where(col.in_(ids[i:i + 5000]))).scalars())
    return found


def _day(ops: "Ops", day: date, bucket: str, page_size: int) -> tuple[list[dict], int, dict[str, dict], set[str]]:
    """A day's objects, pages, archived events by id (as rows) and the ids the database already holds."""
    s3 = ops.client("s3")
    objects, pages = list_day_objects(s3, bucket, day_prefix(day), page_size=page_size)
    rows = {e["event_id"]: to_row(e) for e in read_events(s3, bucket, [o["key"] for o in objects])}
    return objects, pages, rows, present_ids(ops.database, list(rows), for_source(ops, "database"))


def _survey_day(ops: "Ops", day: date, *, bucket: str, page_size: int = 1000) -> dict:
    """What a day's backfill would do: objects, pages, events in them, how many the database lacks."""
    objects, pages, rows, present = _day(ops, day, bucket, page_size)
    return {"day": day, "prefix": day_prefix(day), "objects": len(objects), "pages": pages,
            "bytes": sum(o["size"] for o in objects), "events": len(rows), "present": len(present),
            "missing": len(rows) - len(present)}


def survey(ops: "Ops", days: list[date], *, bucket: str | None = None, page_size: int = 1000) -> pd.DataFrame:
    bucket = bucket or ops.profile.s3.archive_bucket
    return pd.DataFrame([_survey_day(ops, d, bucket=bucket, page_size=page_size) for d in days], columns=SURVEY_COLUMNS)


def _read_missing(ops: "Ops", change: Change) -> int:
    p = change.params
    return _survey_day(ops, date.fromisoformat(p["day"]), bucket=p["bucket"], page_size=p["page_size"])["missing"]


def _progress_line(change: Change, *, objects: int, events: int, inserted: int, seconds: float) -> str:
    """One line per completed day: ``[2/3] 2026-11-24: 4 objects, 9,876 events, 1,234 inserted (1.2 s)``."""
    m = change.meta
    step = f"[{m['index']}/{m['of']}] " if "index" in m and "of" in m else ""
    return (f"{step}{change.params['day']}: {objects:,} objects, {events:,} events, {inserted:,} inserted "
            f"({seconds:.1f} s)")


def _execute(ops: "Ops", change: Change) -> int:
    """Insert the day's events the database lacks (a second run inserts nothing: ON CONFLICT DO NOTHING), then
    print the day's progress line at once, so a long backfill shows each day as it completes."""
    started = time.monotonic()
    p = change.params
    objects, _, rows, present = _day(ops, date.fromisoformat(p["day"]), p["bucket"], p["page_size"])
    missing = [r for k, r in rows.items() if k not in present]
    events = for_source(ops, "database")
    insert = insert_statement(events)
    with ops.database.begin() as conn:
        for i in range(0, len(missing), 1000):
            conn.execute(insert, table_rows(events, missing[i:i + 1000]))
    print(_progress_line(change, objects=len(objects), events=len(rows), inserted=len(missing),
                        seconds=time.monotonic() - started), flush=True)
    return len(missing)


def plan_backfill(ops: "Ops", days: list[date], *, bucket: str | None = None, page_size: int = 1000,
                  surveyed: pd.DataFrame | None = None) -> Plan:
    """One change per day whose archived events the database lacks (days with nothing missing: no change)."""
    if not 1 <= page_size <= 1000:
        raise ParameterError("page_size", page_size, "1 to 1000 keys per ListObjectsV2 page")
    bucket = bucket or ops.profile.s3.archive_bucket
    frame = surveyed if surveyed is not None else survey(ops, days, bucket=bucket, page_size=page_size)
    todo = frame[frame["missing"] > 0]
    changes, notes = [], []
    for r in frame.itertuples():
        if r.missing == 0:
            notes.append(f"{r.day}: {r.objects} objects, {r.events} events, all already loaded" if r.objects
                         else f"{r.day}: no archived objects under s3://{bucket}/{r.prefix}")
            continue
        day = r.day.isoformat()
        changes.append(Change(
            kind=KIND, resource=f"events of {day} from s3://{bucket}/{r.prefix}",
            attribute="archived events missing from the database", current=r.missing, new=0, service="sql",
            operation="insert", params={"day": day, "bucket": bucket, "page_size": page_size},
            cli=(f"runbook run common-operations -p operation=backfill -p start_date={day} -p end_date={day} "
                 f"-p dry_run=False"),
            target=ops.profile.databases.database.events_table, note="no undo: the rows inserted are the archived events themselves",
            meta={"objects": r.objects, "pages": r.pages, "events": r.events, "index": len(changes) + 1,
                  "of": len(todo)}))
    first, last = (days[0], days[-1]) if days else (None, None)
    return Plan(f"backfill events {first} to {last} from s3://{bucket}/raw-events/", changes, ops, notes)


kinds.register(KIND, read=_read_missing, execute=_execute)
