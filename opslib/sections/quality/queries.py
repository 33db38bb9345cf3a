"""The quality checks as SQLAlchemy Core selectables: aggregated in the database, a few rows out.

Every query takes the events table as an :class:`.table.EventsTable` (the profile's table and column names;
results are labelled with the runbook's column names) and explicit bounds (naive UTC, half-open ``[start, end)``) instead of ``NOW()``;
dialect differences live in :mod:`.dialects`. The first two are the runbook's own queries.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

import sqlalchemy as sa

from ...config import EVENT_COLUMNS
from .dialects import db_time, hour_trunc, seconds_between
from ...events_table import EventsTable, as_events
#: Columns every event must carry.
REQUIRED_COLUMNS = ("event_id", "user_id", "session_id", "event_type", "event_timestamp")
#: The pipeline's event types.
EVENT_TYPES = ("page_view", "click", "search", "add_to_cart", "login", "purchase", "signup")


#: The columns each query needs (runbook names); a table lacking one makes that check "not measurable".
NEEDS = {
    "runbook_completeness": ("event_timestamp",), "hourly_counts": ("event_timestamp",),
    "runbook_duplicates": ("event_id", "event_timestamp"), "duplicate_totals": ("event_id", "event_timestamp"),
    "duplicates_by_hour": ("event_id", "event_timestamp"), "hourly_profile": ("event_timestamp",),
    "newest_event": ("event_timestamp",), "column_quality": ("event_timestamp",),
}


def events_table(name: str = "events", schema: str | None = None,
                 columns: dict[str, str] | None = None) -> EventsTable:
    """A lightweight handle on the events table, every runbook column assumed present (no round trip);
    :func:`.table.reflect` gives the columns a real table has."""
    return EventsTable.assumed(name, columns, schema=schema)


def _in(t: EventsTable, start: datetime, end: datetime):
    return as_events(t).within("event_timestamp", db_time(start), db_time(end))


def runbook_completeness(t: EventsTable, start: datetime, end: datetime) -> sa.Select:
    """The runbook's completeness query over ``[start, end)``: hour, event_count, prev_hour_count and
    ``'ANOMALY: 50% drop'``/``'OK'``, newest hour first. Hours without rows are absent, as in the runbook."""
    t = as_events(t)
    hour = hour_trunc(t.col("event_timestamp"))
    hourly = (sa.select(hour.label("hour"), sa.func.count().label("event_count"))
              .where(_in(t, start, end)).group_by(hour).cte("hourly_counts"))
    prev = sa.func.lag(hourly.c.event_count).over(order_by=hourly.c.hour)
    status = sa.case((hourly.c.event_count < prev * sa.literal(0.5, sa.Float()), "ANOMALY: 50% drop"), else_="OK")
    return (sa.select(hourly.c.hour, hourly.c.event_count, prev.label("prev_hour_count"), status.label("status"))
            .order_by(hourly.c.hour.desc()))


def runbook_duplicates(t: EventsTable, start: datetime, end: datetime, limit: int | None = None) -> sa.Select:
    """The runbook's duplicate query over ``[start, end)``: event_id and duplicate_count (> 1)."""
    t = as_events(t)
    eid = t.col("event_id")
    query = (sa.select(t.label("event_id"), sa.func.count().label("duplicate_count"))
             .where(_in(t, start, end)).group_by(eid).having(sa.func.count() > 1)
             .order_by(sa.func.count().desc(), eid))
    return query.limit(limit) if limit is not None else query


def duplicate_totals(t: EventsTable, start: datetime, end: datetime) -> sa.Select:
    """How many event_ids are duplicated in ``[start, end)``, the extra rows they add, and all rows."""
    t = as_events(t)
    dup = runbook_duplicates(t, start, end).order_by(None).subquery("dup")
    rows = sa.select(sa.func.count()).select_from(t.table).where(_in(t, start, end)).scalar_subquery()
    return sa.select(sa.func.count().label("duplicate_ids"),
                     sa.func.coalesce(sa.func.sum(dup.c.duplicate_count - 1), 0).label("extra_rows"),
                     rows.label("rows")).select_from(dup)


def hourly_profile(t: EventsTable, ranges: Iterable[tuple[datetime, datetime]]) -> sa.Select:
    """Per hour within any of ``ranges``: event_count, distinct event_ids, newest event and the mean and
    max ingestion delay (received_at - event_timestamp, seconds; NULL when the table has no received_at)."""
    t = as_events(t)
    ranges = list(ranges)
    ts = t.col("event_timestamp")
    hour = hour_trunc(ts)
    if t.has("received_at"):
        delay = seconds_between(t.col("received_at"), ts)
        delays = [sa.func.avg(delay).label("mean_delay_s"), sa.func.max(delay).label("max_delay_s")]
    else:
        delays = [sa.null().label("mean_delay_s"), sa.null().label("max_delay_s")]
    return (sa.select(hour.label("hour"), sa.func.count().label("event_count"), sa.func.max(ts).label("newest"),
                      *delays)
            .where(sa.or_(*(_in(t, a, b) for a, b in ranges)))
            .group_by(hour).order_by(hour))


def hourly_counts(t: EventsTable, ranges: Iterable[tuple[datetime, datetime]]) -> sa.Select:
    """Per hour within any of ``ranges``: event_count only (the seasonality history). Ranges, not one
    span, so the history reads only the hours it compares with (zone maps / the timestamp index)."""
    t = as_events(t)
    hour = hour_trunc(t.col("event_timestamp"))
    return (sa.select(hour.label("hour"), sa.func.count().label("event_count"))
            .where(sa.or_(*(_in(t, a, b) for a, b in ranges))).group_by(hour).order_by(hour))


def duplicates_by_hour(t: EventsTable, start: datetime, end: datetime) -> sa.Select:
    """Per hour of ``[start, end)``: rows, distinct event_ids and the difference (duplicate rows)."""
    t = as_events(t)
    hour = hour_trunc(t.col("event_timestamp"))
    rows, ids = sa.func.count(), sa.func.count(sa.distinct(t.col("event_id")))
    return (sa.select(hour.label("hour"), rows.label("rows"), ids.label("distinct_ids"),
                      (rows - ids).label("duplicate_rows"))
            .where(_in(t, start, end)).group_by(hour).order_by(hour))


def newest_event(t: EventsTable, since: datetime, as_of: datetime) -> sa.Select:
    """The newest event_timestamp and received_at (NULL without the column) of events in ``[since, as_of)``."""
    t = as_events(t)
    received = sa.func.max(t.col("received_at")) if t.has("received_at") else sa.null()
    return sa.select(sa.func.max(t.col("event_timestamp")).label("newest_event"),
                     received.label("newest_received")).where(_in(t, since, as_of))


def _count_if(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


#: The validity counts beyond the null checks, and the runbook columns each needs.
VALIDITY_NEEDS = {"bad_event_type": ("event_type",), "bad_revenue": ("revenue", "event_type"),
                  "received_before_event": ("received_at", "event_timestamp")}


def column_quality(t: EventsTable, start: datetime, end: datetime,
                   required: Sequence[str] = REQUIRED_COLUMNS, event_types: Sequence[str] = EVENT_TYPES) -> sa.Select:
    """One row over ``[start, end)``: ``rows``, ``null_<column>`` per required column and the invalid
    counts ``bad_event_type`` (unknown type), ``bad_revenue`` (negative, or on a non-purchase) and
    ``received_before_event`` (received_at earlier than event_timestamp). Counts whose columns the table
    lacks are left out (see :data:`VALIDITY_NEEDS`)."""
    t = as_events(t)
    c = t.col
    cols = [sa.func.count().label("rows")]
    cols += [_count_if(c(name).is_(None)).label(f"null_{name}") for name in required if t.has(name)]
    if not t.missing(VALIDITY_NEEDS["bad_event_type"]):
        unknown_type = sa.and_(c("event_type").is_not(None), c("event_type").not_in(list(event_types)))
        cols.append(_count_if(unknown_type).label("bad_event_type"))
    if not t.missing(VALIDITY_NEEDS["bad_revenue"]):
        revenue, etype = c("revenue"), c("event_type")
        cols.append(_count_if(sa.or_(revenue < 0, sa.and_(revenue.is_not(None), etype != "purchase"))
                              ).label("bad_revenue"))
    if not t.missing(VALIDITY_NEEDS["received_before_event"]):
        cols.append(_count_if(c("received_at") < c("event_timestamp")).label("received_before_event"))
    return sa.select(*cols).where(_in(t, start, end))


def validity_missing(t: EventsTable, required: Sequence[str] = REQUIRED_COLUMNS) -> dict[str, list[str]]:
    """Validity counts :func:`column_quality` cannot compute on ``t``: check name -> missing columns."""
    t = as_events(t)
    out = {f"{name} is null": [name] for name in required if not t.has(name)}
    out.update({k.replace("_", " "): t.missing(v) for k, v in VALIDITY_NEEDS.items() if t.missing(v)})
    return out
