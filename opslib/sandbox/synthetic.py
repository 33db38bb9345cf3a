"""Synthetic user-behaviour data for the sandbox warehouse, generated inside DuckDB.

Every value is a function of (seed, row number) through DuckDB's ``hash()`` (see :func:`hx`), and every timestamp is
placed relative to ``now``; the same seed, clock and size give the same tables, and nothing is
produced row by row in Python, so 100 million events build in minutes.

Shape of the data:

* ``events``: the ``days`` (35) days before ``now``. Each hour gets a share of the rows from a daily
  profile (night trough at 30% of the 20:00 UTC peak), a weekly one (Saturday 72%, Sunday 76% of a
  weekday) and +-3% seeded noise; the share is exact (cumulative rounding), so a healthy pipeline
  never shows the runbook's 50% hour-over-hour drop. Users follow a fixed skewed distribution, each
  with one platform and country. 0.05% of rows have a NULL ``user_id`` (ordinary invalid rows).
* ``error_logs``: about one error per hour (0.1% of events when larger), same seasonality.
* ``audit_logs``: ordinary staff/user activity over the 120 days before ``now``, ``details`` as JSON.

Timestamps are naive UTC (``TIMESTAMP``), as in the pipeline's warehouse.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from ..errors import SandboxError

DAYS = 35
AUDIT_DAYS = 120
NULL_USER_RATE = 0.0005
# Share of the 20:00 UTC peak, hour by hour (UTC 00..23).
HOURLY_PROFILE = (0.62, 0.50, 0.41, 0.35, 0.31, 0.30, 0.33, 0.40, 0.50, 0.60, 0.68, 0.74,
                  0.78, 0.80, 0.80, 0.81, 0.84, 0.89, 0.95, 0.99, 1.00, 0.96, 0.86, 0.74)
# ISO day of week (1 = Monday) -> factor.
WEEKLY_PROFILE = (1.03, 1.00, 1.00, 1.00, 1.02, 0.72, 0.76)
HOURLY_NOISE = 0.06           # total width of the seeded per-hour noise (+-3%)
EVENT_TYPES = (("page_view", 0.52), ("click", 0.22), ("search", 0.08), ("add_to_cart", 0.08),
               ("login", 0.05), ("purchase", 0.03), ("signup", 0.02))
PLATFORMS = (("web", 0.48), ("ios", 0.27), ("android", 0.23), ("api", 0.02))
COUNTRIES = (("US", 0.38), ("GB", 0.10), ("DE", 0.09), ("FR", 0.07), ("IN", 0.09), ("BR", 0.07),
             ("JP", 0.06), ("CA", 0.05), ("AU", 0.04), ("ES", 0.05))
SERVICES = ("ingestion-api", "stream-processor", "data-api", "event-validator")
HEALTHY_ERRORS = (("ValidationError", 0.55, 400, "event failed schema validation: missing field"),
                  ("RateLimitExceeded", 0.15, 429, "client exceeded 1000 requests/min"),
                  ("TimeoutError", 0.12, 504, "upstream call timed out after 5000 ms"),
                  ("InternalServerError", 0.10, 500, "unhandled exception in request handler"),
                  ("DatabaseConnectionError", 0.08, 503, "could not acquire a database connection from the pool"))
AUDIT_ACTIONS = (("login", 0.38), ("view_report", 0.24), ("logout", 0.12), ("update_settings", 0.10),
                 ("export_data", 0.08), ("create_api_key", 0.03), ("grant_role", 0.02),
                 ("delete_user_data", 0.02), ("update_retention_policy", 0.01))

_U64 = "18446744073709551616.0"


@dataclass(frozen=True)
class WarehouseSummary:
    """What :func:`build_warehouse` wrote."""
    path: Path
    events: int
    error_logs: int
    audit_logs: int
    users: int
    start: datetime          # first hour covered (naive UTC)
    end: datetime            # ``now`` (naive UTC, exclusive)
    seconds: float


def naive_utc(ts: datetime) -> datetime:
    """``ts`` as naive UTC, the convention of the tables' TIMESTAMP columns."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def user_count(events: int) -> int:
    """Number of distinct synthetic users for a warehouse of ``events`` rows."""
    return max(200, events // 40)


def error_count(events: int, days: int = DAYS) -> int:
    """Healthy ``error_logs`` rows: about one an hour, or 0.1% of events when that is more."""
    return max(days * 24, events // 1000)


def audit_count(events: int) -> int:
    return min(max(2_000, events // 200), 100_000)


def seed_key(seed: int, salt: str) -> int:
    """A 64-bit key for (seed, salt), derived in Python so the SQL carries it as a literal."""
    return int.from_bytes(hashlib.blake2b(f"{int(seed)}:{salt}".encode(), digest_size=8).digest(), "big")


def hx(expr: str, salt: str, seed: int) -> str:
    """SQL for a well-mixed 64-bit hash of the integer ``expr`` under ``seed`` and ``salt``.

    DuckDB's multi-argument ``hash(i, seed, 'a')`` combines its arguments weakly (it correlates with
    ``hash(i, seed, 'b')`` at 0.6-0.9), so every value here is one single-argument hash of ``expr``
    xor a key per (seed, salt)."""
    return f"hash(xor({seed_key(seed, salt)}::UBIGINT, ({expr})::UBIGINT))"


def uniform(expr: str, salt: str, seed: int) -> str:
    """SQL for a uniform double in [0, 1) from :func:`hx`."""
    return f"({hx(expr, salt, seed)}::DOUBLE / {_U64})"


def pick_sql(u: str, choices: tuple, value=lambda c: f"'{c[0]}'") -> str:
    """SQL CASE choosing among ``(name, weight, ...)`` with cumulative thresholds on ``u``."""
    total, acc, arms = sum(c[1] for c in choices), 0.0, []
    for c in choices[:-1]:
        acc += c[1] / total
        arms.append(f"WHEN {u} < {acc:.6f} THEN {value(c)}")
    return f"CASE {' '.join(arms)} ELSE {value(choices[-1])} END"


def _hours_sql(total: int, hours: int, salt: str, seed: int) -> str:
    """SQL (a subquery) giving each hour bucket before $now its row range [start_i, end_i)."""
    profile = "[" + ", ".join(map(str, HOURLY_PROFILE)) + "]"
    weekly = "[" + ", ".join(map(str, WEEKLY_PROFILE)) + "]"
    return f"""
      SELECT b, hour_start, COALESCE(LAG(end_i) OVER (ORDER BY b), 0) AS start_i, end_i
      FROM (
        SELECT b, hour_start,
               round({total} * SUM(w) OVER (ORDER BY b) / SUM(w) OVER ())::BIGINT AS end_i
        FROM (
          SELECT b, hour_start,
                 {profile}[hour(hour_start) + 1] * {weekly}[isodow(hour_start)]
                   * (1 - {HOURLY_NOISE / 2} + {HOURLY_NOISE} * {uniform('b', salt, seed)}) AS w
          FROM (SELECT b, $now::TIMESTAMP - to_hours({hours} - b) AS hour_start FROM range({hours}) t(b))
        )
      )"""


def events_sql(events: int, seed: int, days: int = DAYS) -> str:
    """The SELECT producing the ``events`` rows (parameter ``$now``).

    Hashes are computed once per row in the inner query; ids are built by casts and concatenation
    (``printf`` costs about twice as much at 100 million rows)."""
    users = user_count(events)
    u = lambda salt: uniform("i", salt, seed)      # noqa: E731  per-row uniform
    uu = lambda salt: uniform("uid", salt, seed)   # noqa: E731  per-user uniform
    H = lambda e, salt: hx(e, salt, seed)               # noqa: E731
    z = "sqrt(-2 * ln(1 - u_r1)) * cos(2 * pi() * u_r2)"
    # a version-4 UUID: 64 random bits, 14 more, and the row number in the last 12 hex digits (unique)
    uuid = ("((((h_id1 & 18446744073709490175) | 16384)::UHUGEINT << 64) "
            "| (9223372036854775808 | ((h_id2 & 16383) << 48) | i::UBIGINT))::UUID::VARCHAR")
    return f"""
    SELECT
      {uuid} AS event_id,
      CASE WHEN u_null < {NULL_USER_RATE} THEN NULL ELSE 'u_' || lpad(uid::VARCHAR, 7, '0') END AS user_id,
      's_' || lower(lpad(to_hex({H('uid * 16777216 + epoch(event_timestamp)::BIGINT // 1800', 'session')}), 16, '0')) AS session_id,
      event_type,
      event_timestamp,
      least(event_timestamp + to_microseconds((50000 - 400000 * ln(1 - u_lat))::BIGINT),
            $now::TIMESTAMP) AS received_at,
      {pick_sql('u_plat', PLATFORMS)} AS platform,
      {pick_sql('u_ctry', COUNTRIES)} AS country,
      CASE event_type WHEN 'page_view' THEN '/products/' || (h_page % 500)::VARCHAR
                      WHEN 'click' THEN '/products/' || (h_page % 500)::VARCHAR
                      WHEN 'search' THEN '/search' WHEN 'add_to_cart' THEN '/cart'
                      WHEN 'purchase' THEN '/checkout' WHEN 'signup' THEN '/signup' ELSE '/login' END AS page,
      CASE WHEN event_type = 'purchase' THEN round(exp(3.4 + 0.7 * {z}), 2) END AS revenue
    FROM (
      SELECT *, {pick_sql('u_type', EVENT_TYPES)} AS event_type, {uu('plat')} AS u_plat, {uu('ctry')} AS u_ctry
      FROM (
        SELECT i, hour_start + to_microseconds(({u('ts')} * 3600000000)::BIGINT) AS event_timestamp,
               (floor({users} * pow({u('user')}, 1.5)))::BIGINT AS uid,
               {u('type')} AS u_type, {u('null')} AS u_null, {u('lat')} AS u_lat,
               {u('r1')} AS u_r1, {u('r2')} AS u_r2,
               {H('i', 'id1')} AS h_id1, {H('i', 'id2')} AS h_id2, {H('i', 'pg')} AS h_page
        FROM ({_hours_sql(events, days * 24, 'events', seed)}) hrs, range(hrs.start_i, hrs.end_i) r(i)
      )
    )"""


def error_logs_sql(rows: int, seed: int, days: int = DAYS, services: tuple[str, ...] = SERVICES) -> str:
    u = lambda salt: uniform("i", f"err-{salt}", seed)   # noqa: E731
    H = lambda e, salt: hx(e, salt, seed)                 # noqa: E731
    return f"""
    SELECT {pick_sql(u('type'), HEALTHY_ERRORS)} AS error_type,
           {pick_sql(u('type'), HEALTHY_ERRORS, lambda c: repr(c[3]))} AS message,
           [{', '.join(repr(s) for s in services)}][1 + ({H('i', 'err-svc')} % {len(services)})::INTEGER] AS service,
           hour_start + to_microseconds(({u('ts')} * 3600000000)::BIGINT) AS "timestamp",
           printf('req-%016x', {H('i', 'err-req')}) AS request_id,
           {pick_sql(u('type'), HEALTHY_ERRORS, lambda c: str(c[2]))} AS status_code
    FROM ({_hours_sql(rows, days * 24, 'errors', seed)}) hrs, range(hrs.start_i, hrs.end_i) r(i)"""


def audit_logs_sql(rows: int, users: int, seed: int, days: int = AUDIT_DAYS) -> str:
    u = lambda salt: uniform("i", f"aud-{salt}", seed)   # noqa: E731
    H = lambda e, salt: hx(e, salt, seed)                 # noqa: E731
    staff = (f"({u('staff')} < 0.35 OR action IN "
             "('grant_role', 'create_api_key', 'delete_user_data', 'update_retention_policy'))")
    return f"""
    SELECT action,
           CASE WHEN {staff} THEN printf('admin_%02d', {H('i', 'aud-adm')} % 12)
                ELSE printf('u_%07d', {H('i', 'aud-usr')} % {users}) END AS user_id,
           ts AS "timestamp",
           CASE WHEN {staff} THEN printf('10.0.%d.%d', {H('i', 'ip1')} % 8, 10 + {H('i', 'ip2')} % 200)
                ELSE printf('%s.%d', ['203.0.113', '198.51.100', '192.0.2'][1 + ({H('i', 'ip0')} % 3)::INTEGER],
                            1 + {H('i', 'ip2')} % 250) END AS ip_address,
           json_object('result', CASE WHEN {u('fail')} < 0.03 THEN 'failure' ELSE 'success' END,
                       'user_agent', ['Mozilla/5.0', 'okhttp/4.12', 'aws-cli/2.15', 'python-requests/2.32'][1 + ({H('i', 'ua')} % 4)::INTEGER],
                       'resource', CASE action WHEN 'view_report' THEN 'dashboard/' || ({H('i', 'res')} % 20)::VARCHAR
                                               WHEN 'export_data' THEN 's3://analytics-exports/' || ({H('i', 'res')} % 100)::VARCHAR
                                               ELSE action END) AS details
    FROM (
      SELECT i, {pick_sql(u('act'), AUDIT_ACTIONS)} AS action, hour_start + to_microseconds(({u('ts')} * 3600000000)::BIGINT) AS ts
      FROM ({_hours_sql(rows, days * 24, 'audit', seed)}) hrs, range(hrs.start_i, hrs.end_i) r(i)
    )"""


EVENT_TYPES_SQL = {"event_id": "VARCHAR", "user_id": "VARCHAR", "session_id": "VARCHAR", "event_type": "VARCHAR",
                   "event_timestamp": "TIMESTAMP", "received_at": "TIMESTAMP", "platform": "VARCHAR",
                   "country": "VARCHAR", "page": "VARCHAR", "revenue": "DOUBLE"}
NOT_NULL = ("event_id", "event_type", "event_timestamp")


def quote_table(name: str) -> str:
    """``schema.table`` or ``table`` as quoted SQL identifiers."""
    return ".".join(f'"{part}"' for part in name.split("."))


def event_columns(columns: "dict[str, str] | None") -> dict[str, str]:
    """Runbook column -> table column of the events table: every runbook column under its own name when
    ``columns`` is empty, otherwise exactly the mapped ones (a table with fewer, renamed columns)."""
    if not columns:
        return {c: c for c in EVENT_TYPES_SQL}
    return {c: columns[c] for c in EVENT_TYPES_SQL if c in columns}


def build_warehouse(path: str | os.PathLike, *, now: datetime, seed: int, events: int,
                    days: int = DAYS, threads: int | None = None, table: str = "events",
                    columns: "dict[str, str] | None" = None,
                    services: "tuple[str, ...] | None" = None) -> WarehouseSummary:
    """(Re)build the DuckDB warehouse at ``path``: written beside it and renamed over it, so readers
    never see a half-built file; the connection is closed before returning.

    ``table`` may be schema-qualified (the schema is created); ``columns`` maps the runbook's column
    names to the table's (see :func:`event_columns`); ``services`` name the error_logs' services."""
    if events < 0:
        raise SandboxError(f"events must be >= 0, got {events}")
    path = Path(path)
    tmp = path.with_name(path.name + ".building")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    now_n = naive_utc(now)
    params = {"now": now_n}
    t0 = time.monotonic()
    n_err, n_aud = error_count(events, days), audit_count(events)
    try:
        con = duckdb.connect(str(tmp))
        try:
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            mapping = event_columns(columns)
            if "." in table:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.rsplit(".", 1)[0]}"')
            defs = ", ".join(f'"{col}" {EVENT_TYPES_SQL[c]}{" NOT NULL" if c in NOT_NULL else ""}'
                             for c, col in mapping.items())
            con.execute(f"CREATE TABLE {quote_table(table)} ({defs})")
            # stored in time order, as a warehouse sorted on event_timestamp would: time-window queries skip
            # the row groups outside their window (4-8x faster checks at 100M events)
            picked = ", ".join(mapping)
            con.execute(f"INSERT INTO {quote_table(table)} SELECT {picked} FROM ({events_sql(events, seed, days)}) "
                        f"ORDER BY event_timestamp", params)
            con.execute("""CREATE TABLE error_logs (error_type VARCHAR NOT NULL, message VARCHAR, service VARCHAR,
                "timestamp" TIMESTAMP NOT NULL, request_id VARCHAR, status_code INTEGER)""")
            con.execute("INSERT INTO error_logs " + error_logs_sql(n_err, seed, days, services or SERVICES), params)
            con.execute("""CREATE TABLE audit_logs (action VARCHAR NOT NULL, user_id VARCHAR, "timestamp" TIMESTAMP NOT NULL,
                ip_address VARCHAR, details JSON)""")
            con.execute("INSERT INTO audit_logs " + audit_logs_sql(n_aud, user_count(events), seed), params)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    except duckdb.Error as exc:
        raise SandboxError(f"could not build the warehouse at {path}: {exc}") from exc
    return WarehouseSummary(path=path, events=events, error_logs=n_err, audit_logs=n_aud, users=user_count(events),
                            start=now_n - timedelta(hours=days * 24), end=now_n, seconds=time.monotonic() - t0)
