"""The quality checks as SQLAlchemy Core selectables: aggregated in the database, a few rows out.

Every query takes explicit bounds (naive UTC, half-open ``[start, end)``) instead of ``NOW()``;
dialect differences live in :mod:`.dialects`. The first two are the runbook's own queries.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

import sqlalchemy as sa

from .dialects import db_time, hour_trunc, seconds_between

EVENT_COLUMNS = ("event_id", "user_id", "session_id", "event_type", "event_timestamp", "received_at",
                 "platform", "country", "page", "revenue")
#: Columns every event must carry.
REQUIRED_COLUMNS = ("event_id", "user_id", "session_id", "event_type", "event_timestamp")
#: The pipeline's event types.
EVENT_TYPES = ("page_view", "click", "search", "add_to_cart", "login", "purchase", "signup")


def events_table(name: str = "events", schema: str | None = None) -> sa.TableClause:
    """A lightweight handle on the events table (no reflection, so no round trip)."""
    return sa.table(name, *(sa.column(c) for c in EVENT_COLUMNS), schema=schema)


def _in(t: sa.TableClause, start: datetime, end: datetime):
    ts = t.c.event_timestamp
    return sa.and_(ts >= db_time(start), ts < db_time(end))


def runbook_completeness(t: sa.TableClause, start: datetime, end: datetime) -> sa.Select:
    """The runbook's completeness query over ``[start, end)``: hour, event_count, prev_hour_count and
    ``'ANOMALY: 50% drop'``/``'OK'``, newest hour first. Hours without rows are absent, as in the runbook."""
    hour = hour_trunc(t.c.event_timestamp)
    hourly = (sa.select(hour.label("hour"), sa.func.count().label("event_count"))
              .where(_in(t, start, end)).group_by(hour).cte("hourly_counts"))
    prev = sa.func.lag(hourly.c.event_count).over(order_by=hourly.c.hour)
    status = sa.case((hourly.c.event_count < prev * sa.literal(0.5, sa.Float()), "ANOMALY: 50% drop"), else_="OK")
    return (sa.select(hourly.c.hour, hourly.c.event_count, prev.label("prev_hour_count"), status.label("status"))
            .order_by(hourly.c.hour.desc()))


def runbook_duplicates(t: sa.TableClause, start: datetime, end: datetime, limit: int | None = None) -> sa.Select:
    """The runbook's duplicate query over ``[start, end)``: event_id and duplicate_count (> 1)."""
    query = (sa.select(t.c.event_id, sa.func.count().label("duplicate_count"))
             .where(_in(t, start, end)).group_by(t.c.event_id).having(sa.func.count() > 1)
             .order_by(sa.func.count().desc(), t.c.event_id))
    return query.limit(limit) if limit is not None else query


def duplicate_totals(t: sa.TableClause, start: datetime, end: datetime) -> sa.Select:
    """How many event_ids are duplicated in ``[start, end)``, the extra rows they add, and all rows."""
    dup = runbook_duplicates(t, start, end).order_by(None).subquery("dup")
    rows = sa.select(sa.func.count()).select_from(t).where(_in(t, start, end)).scalar_subquery()
    return sa.select(sa.func.count().label("duplicate_ids"),
                     sa.func.coalesce(sa.func.sum(dup.c.duplicate_count - 1), 0).label("extra_rows"),
                     rows.label("rows")).select_from(dup)


def hourly_profile(t: sa.TableClause, ranges: Iterable[tuple[datetime, datetime]]) -> sa.Select:
    """Per hour within any of ``ranges``: event_count, distinct event_ids, newest event and the mean and
    max ingestion delay (received_at - event_timestamp, seconds). Ranges, not one span, so the
    seasonality history reads only the same hours of previous weeks (zone maps / the timestamp index)."""
    ranges = list(ranges)
    hour = hour_trunc(t.c.event_timestamp)
    delay = seconds_between(t.c.received_at, t.c.event_timestamp)
    return (sa.select(hour.label("hour"), sa.func.count().label("event_count"),
                      sa.func.max(t.c.event_timestamp).label("newest"),
                      sa.func.avg(delay).label("mean_delay_s"), sa.func.max(delay).label("max_delay_s"))
            .where(sa.or_(*(_in(t, a, b) for a, b in ranges)))
            .group_by(hour).order_by(hour))


def hourly_counts(t: sa.TableClause, ranges: Iterable[tuple[datetime, datetime]]) -> sa.Select:
    """Per hour within any of ``ranges``: event_count only (the seasonality history)."""
    hour = hour_trunc(t.c.event_timestamp)
    return (sa.select(hour.label("hour"), sa.func.count().label("event_count"))
            .where(sa.or_(*(_in(t, a, b) for a, b in ranges))).group_by(hour).order_by(hour))


def duplicates_by_hour(t: sa.TableClause, start: datetime, end: datetime) -> sa.Select:
    """Per hour of ``[start, end)``: rows, distinct event_ids and the difference (duplicate rows)."""
    hour = hour_trunc(t.c.event_timestamp)
    rows, ids = sa.func.count(), sa.func.count(sa.distinct(t.c.event_id))
    return (sa.select(hour.label("hour"), rows.label("rows"), ids.label("distinct_ids"),
                      (rows - ids).label("duplicate_rows"))
            .where(_in(t, start, end)).group_by(hour).order_by(hour))


def newest_event(t: sa.TableClause, since: datetime, as_of: datetime) -> sa.Select:
    """The newest event_timestamp and received_at of events in ``[since, as_of)``."""
    return sa.select(sa.func.max(t.c.event_timestamp).label("newest_event"),
                     sa.func.max(t.c.received_at).label("newest_received")).where(_in(t, since, as_of))


def _count_if(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def column_quality(t: sa.TableClause, start: datetime, end: datetime,
                   required: Sequence[str] = REQUIRED_COLUMNS, event_types: Sequence[str] = EVENT_TYPES) -> sa.Select:
    """One row over ``[start, end)``: ``rows``, ``null_<column>`` per required column and the invalid
    counts ``bad_event_type`` (unknown type), ``bad_revenue`` (negative, or on a non-purchase) and
    ``received_before_event`` (received_at earlier than event_timestamp)."""
    c = t.c
    cols = [sa.func.count().label("rows")]
    cols += [_count_if(c[name].is_(None)).label(f"null_{name}") for name in required]
    unknown_type = sa.and_(c.event_type.is_not(None), c.event_type.not_in(list(event_types)))
    cols += [_count_if(unknown_type).label("bad_event_type"),
             _count_if(sa.or_(c.revenue < 0, sa.and_(c.revenue.is_not(None), c.event_type != "purchase"))
                       ).label("bad_revenue"),
             _count_if(c.received_at < c.event_timestamp).label("received_before_event")]
    return sa.select(*cols).where(_in(t, start, end))
