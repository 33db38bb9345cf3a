"""Performance tuning (runbook "Performance Tuning"): API latency percentiles and throughput against
the p99 target, the runbook's pool and cache settings against the live task definitions, database
connections against ``max_connections``, the stream processor's batch size and worker count measured
on real records, and Redshift distribution/sort key advice as reviewed SQL."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from ..aws.cloudwatch import metric_frame
from ..errors import ParameterError, QueryError
from ..findings import Check

# -- API latency and throughput ----------------------------------------------------------------------
PERCENTILES = ("p50", "p90", "p99")


def api_performance(ops: Any, *, hours: float = 24, now: datetime | None = None, period_s: int = 60) -> pd.DataFrame:
    """Per period: latency p50/p90/p99 (ms) and requests per second (ALB RequestCount)."""
    now = now or ops.now()
    m = ops.profile.metrics
    metrics = {f"{p}_ms": m["latency_ms"] for p in PERCENTILES} | {"requests": m["requests"]}
    stats = {f"{p}_ms": p for p in PERCENTILES} | {"requests": "Sum"}
    raw = metric_frame(ops.client("cloudwatch"), metrics, now - timedelta(hours=hours), now, period_s, stats=stats)
    raw["requests_per_s"] = raw.pop("requests") / period_s
    return raw


def latency_check(frame: pd.DataFrame, *, target_ms: float, recent_minutes: int = 15, period_s: int = 60) -> Check:
    """p99 over the last ``recent_minutes``: fail when its median breaches the target (a sustained
    breach), warn when only single periods do."""
    recent = frame["p99_ms"].iloc[-max(1, recent_minutes * 60 // period_s):].dropna()
    if recent.empty:
        return Check.warn("api-latency-p99", f"no p99 latency data in the last {recent_minutes} min", target=target_ms)
    typical, worst = float(recent.median()), float(recent.max())
    text = f"p99 over the last {recent_minutes} min: median {typical:.0f} ms, worst {worst:.0f} ms (target < {target_ms:g} ms)"
    figures = {"p99_median_ms": typical, "p99_worst_ms": worst, "target_ms": target_ms}
    if typical >= target_ms:
        return Check.fail("api-latency-p99", text, **figures)
    return Check("api-latency-p99", "warn" if worst >= target_ms else "ok", text, figures)


# -- the runbook's pool and cache settings -----------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    label: str
    runbook: Any
    env: str | None          # the task definition variable carrying it, when there is one


RUNBOOK_SETTINGS = (
    Setting("pool max connections (max)", 20, "DB_POOL_MAX"),
    Setting("pool idle timeout ms (idleTimeoutMillis)", 30000, "DB_POOL_IDLE_TIMEOUT_MS"),
    Setting("pool connection timeout ms (connectionTimeoutMillis)", 2000, "DB_CONNECT_TIMEOUT_MS"),
    Setting("cache TTL s (stdTTL)", 600, "CACHE_TTL_SECONDS"),
    Setting("cache check period s (checkperiod)", 120, "CACHE_CHECK_PERIOD_SECONDS"),
    Setting("response compression (compression())", "enabled", None),
)


def service_environments(ecs: Any, cluster: str, services: Iterable[str]) -> dict[str, dict]:
    """Per ECS service: running/desired count and the environment of its current task definition."""
    names = list(services)
    out: dict[str, dict] = {}
    for i in range(0, len(names), 10):
        for svc in ecs.describe_services(cluster=cluster, services=names[i:i + 10])["services"]:
            td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
            env: dict[str, str] = {}
            for container in td["containerDefinitions"]:
                env.update({e["name"]: e["value"] for e in container.get("environment", [])})
            out[svc["serviceName"]] = {"running": svc.get("runningCount", 0), "desired": svc.get("desiredCount", 0),
                                       "task_definition": td["taskDefinitionArn"].rsplit("/", 1)[-1], "env": env}
    return out


def settings_checklist(environments: dict[str, dict], settings: Sequence[Setting] = RUNBOOK_SETTINGS) -> pd.DataFrame:
    """One row per (setting, service): the runbook's value, the live one, and whether they match."""
    rows = []
    for s in settings:
        for service, info in environments.items():
            live = info["env"].get(s.env) if s.env else None
            if live is None:
                state = "not readable"
            else:
                state = "matches" if str(live) == str(s.runbook) else "differs"
            rows.append({"setting": s.label, "service": service, "runbook": s.runbook,
                         "live": live if live is not None else ("(not in the task definition)" if s.env
                                                                else "(application code)"),
                         "source": f"env {s.env} of {info['task_definition']}" if s.env else "-", "state": state})
    return pd.DataFrame(rows, columns=["setting", "service", "runbook", "live", "source", "state"])


def settings_check(checklist: pd.DataFrame) -> Check:
    differs = checklist[checklist["state"] == "differs"]
    unread = sorted(set(checklist.loc[checklist["state"] == "not readable", "setting"]))
    tail = f"; not readable live: {', '.join(unread)}" if unread else ""
    if len(differs):
        items = ", ".join(f"{r.service} {r.setting}={r.live} (runbook {r.runbook})" for r in differs.itertuples())
        return Check.warn("api-settings", f"differ from the runbook: {items}{tail}", differs=len(differs))
    matched = int((checklist["state"] == "matches").sum())
    return Check.ok("api-settings", f"{matched} live values match the runbook{tail}", matches=matched)


# -- database connections ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionUsage:
    in_use: int                       # client backends now (pg_stat_activity), not counting this one
    max_connections: int
    reserved: int                     # superuser_reserved_connections
    by_state: pd.DataFrame = field(repr=False)

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved

    @property
    def ratio(self) -> float:
        return self.in_use / self.max_connections


def connection_usage(engine: sa.Engine) -> ConnectionUsage:
    """pg_stat_activity's client backends by application and state, and the server's limits."""
    q = """SELECT coalesce(nullif(application_name, ''), '(none)') AS application, coalesce(state, '?') AS state,
                  count(*) AS connections, max(now() - state_change) AS longest_in_state
           FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
           GROUP BY 1, 2 ORDER BY connections DESC"""
    try:
        with engine.connect() as conn:
            res = conn.execute(sa.text(q))
            frame = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
            max_conn = int(conn.execute(sa.text("SHOW max_connections")).scalar())
            reserved = int(conn.execute(sa.text("SHOW superuser_reserved_connections")).scalar())
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"cannot read pg_stat_activity: {getattr(exc, 'orig', None) or exc}") from exc
    return ConnectionUsage(int(frame["connections"].sum()) if len(frame) else 0, max_conn, reserved, frame)


def db_connections_metric(ops: Any, *, minutes: int = 60, now: datetime | None = None) -> pd.Series:
    """The RDS DatabaseConnections metric (profile metric ``db_connections``), per minute."""
    now = now or ops.now()
    frame = metric_frame(ops.client("cloudwatch"), {"db_connections": ops.profile.metrics["db_connections"]},
                         now - timedelta(minutes=minutes), now, 60)
    return frame["db_connections"]


def pool_capacity(environments: dict[str, dict], *, env: str = "DB_POOL_MAX") -> pd.DataFrame:
    """Connections the services' pools may open: running tasks x pool max, per service."""
    rows = [{"service": s, "running tasks": i["running"], "pool max": int(i["env"][env]),
             "connections at full pools": i["running"] * int(i["env"][env])}
            for s, i in environments.items() if str(i["env"].get(env, "")).isdigit()]
    return pd.DataFrame(rows, columns=["service", "running tasks", "pool max", "connections at full pools"])


def connection_check(usage: ConnectionUsage, metric: pd.Series | None = None, *, recent_minutes: int = 15,
                     warn_ratio: float = 0.6, fail_ratio: float = 0.8) -> Check:
    """The runbook's "Database connection exhaustion": connections in use (live, and the RDS metric's
    recent peak) against max_connections."""
    peak = None
    if metric is not None:
        recent = metric.iloc[-recent_minutes:].dropna()
        peak = float(recent.max()) if len(recent) else None
    worst = max(usage.in_use, peak or 0)
    ratio = worst / usage.max_connections
    limit = usage.max_connections
    text = (f"PostgreSQL pg_stat_activity: {usage.in_use} client connections now of max_connections {limit} "
            f"({usage.in_use / limit:.0%})"
            + (f"; CloudWatch DatabaseConnections: peak {peak:.0f} in the last {recent_minutes} min "
               f"({peak / limit:.0%} of the same max_connections)" if peak is not None else ""))
    figures = {"in_use": usage.in_use, "metric_peak": peak, "max_connections": usage.max_connections,
               "ratio": round(ratio, 3)}
    if ratio >= fail_ratio:
        return Check.fail("db-connections", f"connection exhaustion: {text}", **figures)
    return Check("db-connections", "warn" if ratio >= warn_ratio else "ok", text, figures)


# -- stream processing: batch size and workers, measured on real records --------------------------------
def read_stream_records(kinesis: Any, stream: str, *, limit: int = 5000, per_call: int = 1000) -> list[bytes]:
    """Up to ``limit`` records from every shard of ``stream``, oldest first (``GetRecords`` over HTTP)."""
    shards = [s["ShardId"] for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream)
              for s in page["Shards"]]
    out: list[bytes] = []
    for shard in shards:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it and len(out) < limit:
            resp = kinesis.get_records(ShardIterator=it, Limit=min(per_call, limit - len(out)))
            out.extend(r["Data"] for r in resp["Records"])
            if not resp["Records"] or resp.get("MillisBehindLatest", 0) == 0:
                break
            it = resp.get("NextShardIterator")
    return out


REQUIRED = ("event_id", "user_id", "event_type", "event_timestamp")


@dataclass
class BatchResult:
    valid: int = 0
    invalid: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_minute: dict[str, int] = field(default_factory=dict)

    def merge(self, other: "BatchResult") -> "BatchResult":
        self.valid += other.valid
        self.invalid += other.invalid
        for mine, theirs in ((self.by_type, other.by_type), (self.by_minute, other.by_minute)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        return self


def process_batch(records: Sequence[bytes]) -> BatchResult:
    """What the stream processor does per batch: parse, validate, aggregate (per type and minute)."""
    out = BatchResult()
    for data in records:
        try:
            event = json.loads(data)
            if not isinstance(event, dict) or any(not event.get(k) for k in REQUIRED):
                raise ValueError("missing field")
            minute = datetime.fromisoformat(str(event["event_timestamp"]).replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M")
        except (ValueError, TypeError, UnicodeDecodeError):
            out.invalid += 1
            continue
        out.valid += 1
        out.by_type[event["event_type"]] = out.by_type.get(event["event_type"], 0) + 1
        out.by_minute[minute] = out.by_minute.get(minute, 0) + 1
    return out


def process_records(records: Sequence[bytes], *, batch_size: int, workers: int,
                    process: Callable[[Sequence[bytes]], BatchResult] = process_batch) -> BatchResult:
    """The runbook's ``BatchProcessor.process_records``: chunks of ``batch_size`` on ``workers`` threads."""
    total = BatchResult()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(process, [records[i:i + batch_size] for i in range(0, len(records), batch_size)]):
            total.merge(result)
    return total


def measure_batch_settings(records: Sequence[bytes], *, batch_sizes: Iterable[int] = (100, 500, 1000, 2000),
                           workers: Iterable[int] = (1, 2, 4, 10), working_set: int = 4000, repeat: int = 3,
                           timer: Callable[[], float] = time.perf_counter,
                           process: Callable[[Sequence[bytes]], BatchResult] = process_batch) -> pd.DataFrame:
    """Throughput (records/s, best of ``repeat`` rounds) of :func:`process_records` for every batch size and
    worker count, over ``working_set`` records cycled from the real ``records`` (so timings are measurable).
    Rounds interleave the settings, so a noisy moment does not favour one setting."""
    if not records:
        raise ParameterError("records", 0, "at least one record read from the stream")
    grid = [(size, w) for size in batch_sizes for w in workers]
    if any(size < 1 or w < 1 for size, w in grid):
        raise ParameterError("batch_sizes/workers", grid, "positive integers")
    data = [records[i % len(records)] for i in range(max(working_set, len(records)))]
    best = {key: float("inf") for key in grid}
    invalid = 0
    for _ in range(max(1, repeat)):
        for size, w in grid:
            t0 = timer()
            result = process_records(data, batch_size=size, workers=w, process=process)
            best[(size, w)] = min(best[(size, w)], timer() - t0)
            invalid = result.invalid
    return pd.DataFrame([{"batch_size": size, "workers": w, "records": len(data), "seconds": s,
                          "records_per_s": len(data) / s if s > 0 else float("inf"), "invalid": invalid}
                         for (size, w), s in best.items()])


@dataclass(frozen=True)
class BatchRecommendation:
    batch_size: int
    workers: int
    records_per_s: float
    best_records_per_s: float
    runbook_records_per_s: float | None
    reason: str


def recommend_batch_setting(measured: pd.DataFrame, *, tolerance: float = 0.1, runbook: tuple[int, int] = (1000, 10)
                            ) -> BatchRecommendation:
    """The fewest workers, then the smallest batch (lower latency per batch), within ``tolerance`` of the
    best measured throughput."""
    best = float(measured["records_per_s"].max())
    good = measured[measured["records_per_s"] >= best * (1 - tolerance)].sort_values(["workers", "batch_size"])
    pick = good.iloc[0]
    rb = measured[(measured["batch_size"] == runbook[0]) & (measured["workers"] == runbook[1])]
    rb_rate = float(rb["records_per_s"].iloc[0]) if len(rb) else None
    reason = (f"batch_size={int(pick.batch_size)}, workers={int(pick.workers)}: {pick.records_per_s:,.0f} records/s, "
              f"within {tolerance:.0%} of the best ({best:,.0f}/s) with the fewest threads and the smallest batch")
    if rb_rate is not None:
        reason += f"; the runbook's {runbook[0]} x {runbook[1]} measured {rb_rate:,.0f}/s"
    return BatchRecommendation(int(pick.batch_size), int(pick.workers), float(pick.records_per_s), best, rb_rate, reason)


def batch_check(recommendation: BatchRecommendation, records_read: int, invalid: int) -> Check:
    figures = {"batch_size": recommendation.batch_size, "workers": recommendation.workers,
               "records_per_s": round(recommendation.records_per_s), "records_read": records_read,
               "invalid_records": invalid}
    if invalid:
        return Check.warn("stream-batch-setting", f"{invalid} of {records_read} stream records are invalid (see "
                          f"Stream Backup: poison messages); recommended {recommendation.reason}", **figures)
    return Check.ok("stream-batch-setting", f"measured on {records_read} stream records; recommended "
                    f"{recommendation.reason}", **figures)


# -- Redshift distribution and sort keys ---------------------------------------------------------------
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
    from .quality.table import as_events, reflect
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
            per_user = per_user.where(events.col("event_timestamp") >= since.replace(tzinfo=None))
        sub = per_user.subquery()
        # NULL user_ids form one group: with DISTKEY user_id they all land on one slice, so they count for skew
        q = sa.select(sa.func.coalesce(sa.func.sum(sub.c.n), 0), sa.func.count(sub.c[uid.name]),
                      sa.func.coalesce(sa.func.max(sub.c.n), 0))
    else:
        q = sa.select(sa.func.count(), sa.literal(0), sa.literal(0)).select_from(events.table)
        if since is not None:
            q = q.where(events.col("event_timestamp") >= since.replace(tzinfo=None))
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
    from ..actions.redshift import plan_keys
    return plan_keys(ops, advice)


# -- S3 intelligent tiering ---------------------------------------------------------------------------
def plan_tiering(ops: Any, **kwargs: Any):
    """:func:`opslib.actions.s3.plan_intelligent_tiering`; where the current configuration cannot be read
    (an S3 endpoint without the API, e.g. moto 5.2) an empty plan whose note says why, so the rest of the
    notebook still runs. Other errors propagate."""
    from ..actions.plan import Plan
    from ..actions.s3 import plan_intelligent_tiering
    from ..errors import ActionError
    try:
        return plan_intelligent_tiering(ops, **kwargs)
    except ActionError as exc:
        bucket = kwargs.get("bucket") or ops.profile.s3.events_bucket
        return Plan(f"intelligent tiering on {bucket}", [], ops,
                    [f"not planned: {exc}. Nothing will be changed; on AWS this plans "
                     "put-bucket-intelligent-tiering-configuration"])
