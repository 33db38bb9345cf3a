"""Redshift distribution and sort key advice from the events table's own data, as reviewed SQL and an
actions plan."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ...errors import QueryError


@dataclass(frozen=True)
class KeyAdvice:
    table: str
    rows: int
    distinct_users: int
    top_user_share: float
    diststyle: str                 # KEY(user_id) or EVEN
    sortkey: tuple[str, ...]
    statements: list[str]
    reasons: list[str]

    @property
    def sql(self) -> str:
        return "\n".join(self.statements)


def key_advice(engine: sa.Engine, table: Any = None, *, since: datetime | None = None,
               max_skew_share: float = 0.01, min_distinct: int = 1000) -> KeyAdvice:
    """Distribution and sort key advice from the table's own data (computed in the warehouse): DISTKEY
    user_id when users are many and none dominates (even slices, co-located per-user joins), else EVEN;
    SORTKEY (event_timestamp, user_id) for the time-window filters every runbook query uses. ``table``: the
    profile's events table (:func:`opslib.sections.quality.events_table`), a name, or None for ``events``; its own
    column names are used. Without a user_id column the distribution stays EVEN (the skew is not measurable)."""
    from ...events_table import as_events, reflect
    events = as_events(table)
    if not events.reflected:
        events = reflect(engine, events)
    if not events.exists or not events.has("event_timestamp") and since is not None:
        raise QueryError(f"cannot profile {events.display}: {events.describe_missing(['event_timestamp'])}")
    name = events.sql_name(engine)
    user, ts = events.real("user_id"), events.real("event_timestamp")
    if events.has("user_id"):
        uid = events.col("user_id")
        per_user = sa.select(uid, sa.func.count().label("n")).group_by(uid)
        if since is not None:
            per_user = per_user.where(events.within("event_timestamp", since.replace(tzinfo=None)))
        sub = per_user.subquery()
        # NULL user_ids form one group: with DISTKEY user_id they all land on one slice, so they count for skew
        q = sa.select(sa.func.coalesce(sa.func.sum(sub.c.n), 0), sa.func.count(sub.c[uid.name]),
                      sa.func.coalesce(sa.func.max(sub.c.n), 0))
    else:
        q = sa.select(sa.func.count(), sa.literal(0), sa.literal(0)).select_from(events.table)
        if since is not None:
            q = q.where(events.within("event_timestamp", since.replace(tzinfo=None)))
    try:
        with engine.connect() as conn:
            rows, distinct, top = (int(v) for v in conn.execute(q).one())
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"cannot profile {events.display}: {getattr(exc, 'orig', None) or exc}") from exc
    table = name                  # as the warehouse's dialect writes it (schema-qualified, quoted where needed)
    share = top / rows if rows else 0.0
    reasons = []
    if not events.has("user_id"):
        dist = "EVEN"
        reasons.append(f"not measurable: {events.describe_missing(['user_id'])}; keep an even distribution")
        statements = [f"ALTER TABLE {table} ALTER DISTSTYLE EVEN;"]
    elif distinct >= min_distinct and share <= max_skew_share:
        dist = "KEY(user_id)"
        reasons.append(f"{distinct:,} users, the busiest has {share:.2%} of rows (<= {max_skew_share:.0%}): "
                       "user_id spreads rows evenly and co-locates each user's events")
        statements = [f"ALTER TABLE {table} ALTER DISTKEY {user};"]
    else:
        dist = "EVEN"
        reasons.append(f"{distinct:,} users, the busiest has {share:.2%} of rows: user_id would skew slices; "
                       "keep an even distribution")
        statements = [f"ALTER TABLE {table} ALTER DISTSTYLE EVEN;"]
    sortkey = tuple(c for c in (ts, user) if c in (events.real(k) for k in events.present))
    reasons.append("every runbook query filters on a time window (completeness, duplicates, retention): lead "
                   "the compound sort key with event_timestamp, then user_id as the runbook says")
    statements += [f"ALTER TABLE {table} ALTER SORTKEY ({', '.join(sortkey)});", f"ANALYZE {table};"]
    return KeyAdvice(str(events.name), rows, distinct, share, dist, sortkey, statements, reasons)


def plan_redshift_keys(ops: Any, advice: KeyAdvice):
    """The advice as an actions Plan (see :func:`opslib.actions.redshift.plan_keys`)."""
    from ...actions.redshift import plan_keys
    return plan_keys(ops, advice)
