"""The runbook's two dashboards: System Health (CloudWatch) and Business Metrics (CloudWatch and the
warehouse), as DataFrames the notebook charts, plus checks of the current values against targets."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..aws.cloudwatch import metric_frame, share
from ..findings import Check


def system_health(ops: Any, *, hours: float = 24, now: datetime | None = None, period_s: int = 60) -> pd.DataFrame:
    """Per period: API success rate, p99 latency (ms), stream processing lag (s), error rate."""
    now = now or ops.now()
    m = ops.profile.metrics
    raw = metric_frame(ops.client("cloudwatch"),
                       {k: m[k] for k in ("requests", "http_5xx", "latency_ms", "iterator_age_ms")},
                       now - timedelta(hours=hours), now, period_s,
                       stats={"requests": "Sum", "http_5xx": "Sum", "latency_ms": "p99", "iterator_age_ms": "Maximum"})
    out = pd.DataFrame(index=raw.index)
    out["error_rate"] = share(raw["http_5xx"], raw["requests"])
    out["success_rate"] = 1 - out["error_rate"]
    out["p99_latency_ms"] = raw["latency_ms"]
    out["lag_seconds"] = raw["iterator_age_ms"] / 1000
    return out


TARGETS = (  # column, comparison that is healthy, profile target attribute, label
    ("success_rate", ">", "api_success_rate", "API success rate"),
    ("p99_latency_ms", "<", "p99_latency_ms", "API latency p99 (ms)"),
    ("lag_seconds", "<", "stream_lag_seconds", "stream processing lag (s)"),
    ("error_rate", "<", "error_rate", "error rate"),
)


def health_checks(ops: Any, frame: pd.DataFrame, *, recent_minutes: int = 15) -> list[Check]:
    """The System Health dashboard's critical metrics over the last ``recent_minutes`` against targets."""
    checks = []
    recent = frame.iloc[-recent_minutes:]
    for column, healthy, attr, label in TARGETS:
        target = getattr(ops.profile.targets, attr)
        series = recent[column].dropna()
        name = "dashboard-" + column.replace("_", "-")
        if series.empty:
            checks.append(Check.warn(name, f"{label}: no data in the last {recent_minutes} min", target=target))
            continue
        worst = float(series.min() if healthy == ">" else series.max())
        ok = worst > target if healthy == ">" else worst < target
        text = f"{label}: worst {worst:.4g} in the last {recent_minutes} min (target {healthy} {target:g})"
        checks.append((Check.ok if ok else Check.warn)(name, text, worst=worst, target=target))
    return checks


def events_per_second(ops: Any, *, hours: float = 24, now: datetime | None = None) -> pd.Series:
    now = now or ops.now()
    frame = metric_frame(ops.client("cloudwatch"), {"incoming_records": ops.profile.metrics["incoming_records"]},
                         now - timedelta(hours=hours), now, 60, stats={"incoming_records": "Sum"})
    return (frame["incoming_records"] / 60).rename("events_per_second")


def daily_activity(engine: sa.Engine, *, days: int = 14, now: datetime, table: Any = None) -> pd.DataFrame:
    """Daily active users, events and revenue from the warehouse, aggregated in the database. ``table``: the
    profile's events table (:func:`opslib.sections.quality.events_table`; default ``events`` reflected here); a
    column it lacks (user_id, revenue) leaves its measure empty (NaN), never a failed query. Without an
    event_timestamp there is nothing to aggregate: an empty frame whose ``attrs['missing']`` says why."""
    from ..events_table import as_events, reflect
    events = as_events(table)
    if not events.reflected:
        events = reflect(engine, events)
    columns = ["day", "daily_active_users", "events", "revenue"]
    if not events.exists or not events.has("event_timestamp"):
        frame = pd.DataFrame(columns=columns)
        frame.attrs["missing"] = events.describe_missing(["event_timestamp"])
        return frame
    ts = events.col("event_timestamp")
    day = sa.func.date_trunc("day", ts).label("day")
    start = (now - timedelta(days=days)).replace(tzinfo=None)
    users = (sa.func.count(sa.distinct(events.col("user_id"))) if events.has("user_id")
             else sa.cast(sa.null(), sa.BigInteger))
    revenue = (sa.func.coalesce(sa.func.sum(events.col("revenue")), 0) if events.has("revenue")
               else sa.cast(sa.null(), sa.Float))
    query = (sa.select(day, users.label("daily_active_users"), sa.func.count().label("events"),
                       revenue.label("revenue"))
             .where(events.within("event_timestamp", start, now.replace(tzinfo=None)))
             .group_by(day).order_by(day))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    gaps = events.missing(["user_id", "revenue"])
    if gaps:
        frame.attrs["missing"] = events.describe_missing(gaps)
    return frame


def latest_quality_score(ops: Any, archive: str) -> float | None:
    """The data quality score recorded by the newest archived data-quality run, or None."""
    from ..runner.archive import open_archive
    from ..runner.manifest import latest_figure
    entries = open_archive(archive, s3_client=ops.client("s3") if archive.startswith("s3://") else None).manifest()
    return latest_figure(entries, notebook="data-quality", figure="quality_score")
