"""The sandbox's SQL side: the DuckDB warehouse, the PostgreSQL ``analytics`` database, and the SQL
fault helpers the fault scenarios call.

* :func:`start_database` starts (or attaches to) PostgreSQL and returns the ``analytics`` URL;
  :func:`seed` rebuilds the warehouse and the database to the healthy state (start and every reset);
  :func:`stop_database` releases what :func:`start_database` took.
* Fault helpers change exactly one symptom and return what a test needs to check it:
  :func:`volume_drop`, :func:`duplicates`, :func:`error_burst`, :func:`slow_queries`,
  :func:`connection_exhaustion`, :func:`freshness_gap`.

All timestamps in the tables, and those returned here, are naive UTC.
"""
from __future__ import annotations

import logging
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import duckdb
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ..config import expand_env
from ..errors import SandboxError
from . import synthetic
from .synthetic import naive_utc

log = logging.getLogger("opslib.sandbox.sql")

DATABASE = "analytics"
HOT_DAYS = 7                  # the operational database keeps the last week of events
HOT_MAX_ROWS = 50_000         # ... sampled down to about this many rows
FAULT_APP_NAME = "opslib-sandbox-fault"

EVENT_COLUMNS = ("event_id", "user_id", "session_id", "event_type", "event_timestamp", "received_at",
                 "platform", "country", "page", "revenue")
ERROR_COLUMNS = ("error_type", "message", "service", "timestamp", "request_id", "status_code")
AUDIT_COLUMNS = ("action", "user_id", "timestamp", "ip_address", "details")

SCHEMA = [
    "DROP TABLE IF EXISTS events, error_logs, audit_logs",
    """CREATE TABLE events (
         event_id varchar(64) PRIMARY KEY, user_id varchar(32), session_id varchar(32), event_type varchar(32) NOT NULL,
         event_timestamp timestamp NOT NULL, received_at timestamp, platform varchar(16), country varchar(2),
         page varchar(128), revenue double precision)""",
    """CREATE TABLE error_logs (
         id bigserial PRIMARY KEY, error_type varchar(64) NOT NULL, message text, service varchar(64),
         "timestamp" timestamp NOT NULL, request_id varchar(64), status_code integer)""",
    """CREATE TABLE audit_logs (
         id bigserial PRIMARY KEY, action varchar(64) NOT NULL, user_id varchar(32), "timestamp" timestamp NOT NULL,
         ip_address varchar(45), details jsonb)""",
]
# Created after the load. idx_events_platform is never used by the runbook's queries (its
# "unused indexes" check finds it); the (user_id, event_timestamp) index the runbook creates is absent.
INDEXES = [
    "CREATE INDEX idx_events_event_timestamp ON events (event_timestamp)",
    "CREATE INDEX idx_events_platform ON events (platform)",
    'CREATE INDEX idx_error_logs_timestamp ON error_logs ("timestamp")',
    'CREATE INDEX idx_audit_logs_timestamp ON audit_logs ("timestamp")',
]


@dataclass
class PgState:
    """What :func:`start_database` started or attached to (kept on ``sb.pg``)."""
    url: str                                  # SQLAlchemy URL of the analytics database
    engine: sa.Engine
    embedded: bool
    server: Any = None                        # pg_embedded.EmbeddedServer when embedded
    held: list = field(default_factory=list)  # psycopg connections held by connection_exhaustion
    pg_stat_statements: bool = False
    pg_stat_statements_note: str = "not checked yet"


@dataclass(frozen=True)
class ErrorBurst:
    rows: int
    start: datetime                           # naive UTC, inclusive
    end: datetime                             # naive UTC (sandbox now), exclusive
    by_type: dict[str, int]


@dataclass(frozen=True)
class SlowQuery:
    sql: str
    seconds: float


@dataclass(frozen=True)
class SlowQueries:
    queries: list[SlowQuery]
    pg_stat_statements: bool                  # False: the statements ran but nothing records them


@dataclass(frozen=True)
class ConnectionExhaustion:
    held: int                                 # idle connections opened and held by the sandbox
    in_use: int                               # client backends on the server afterwards
    max_connections: int

    @property
    def ratio(self) -> float:
        return self.in_use / self.max_connections


# -- server lifecycle ----------------------------------------------------------------------------

def _psycopg_url(url: str) -> sa.URL:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if not u.drivername.startswith("postgresql"):
        raise SandboxError(f"the analytics database must be PostgreSQL, got a {u.drivername} URL")
    return u


def _libpq(url: sa.URL) -> str:
    """A libpq conninfo URI (for psycopg.connect) from a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def configured_url(sb) -> str | None:
    """The server the sandbox must use instead of its own: ``sb.config.database_url``, else the
    profile's ``databases.database.url`` unless that is ``sandbox``."""
    if sb.config.database_url:
        return sb.config.database_url
    url = expand_env(sb.profile.databases.database.url, key="databases.database.url")
    return None if url in ("", "sandbox") else url


def target_database(url: str) -> tuple[sa.URL, str]:
    """(server URL, database name) for a configured URL: the database it names, or ``analytics`` when it
    names none or ``postgres``."""
    server_url = _psycopg_url(url)
    name = server_url.database if server_url.database not in (None, "", "postgres") else DATABASE
    return server_url, name


def _ensure_database(server_url: sa.URL, name: str) -> None:
    admin = sa.create_engine(server_url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"could not create database {name!r} on {server_url.host or 'local socket'}: {exc}") from exc
    finally:
        admin.dispose()


def start_database(sb) -> str:
    """Start the embedded PostgreSQL (or use the configured server), ensure ``analytics`` exists, and
    return its SQLAlchemy URL. Keeps the handle on ``sb.pg``."""
    given = configured_url(sb)
    if given:
        server_url, name = target_database(given)
        server, embedded = None, False
    else:
        from . import pg_embedded
        server = pg_embedded.start(sb.config.dir)
        server_url, name, embedded = _psycopg_url(server.uri()), DATABASE, True
    _ensure_database(server_url, name)
    url = server_url.set(database=name)
    sb.pg = PgState(url=url.render_as_string(hide_password=False), embedded=embedded, server=server,
                    engine=sa.create_engine(url, poolclass=NullPool))
    log.info("analytics database: %s (%s)", url.render_as_string(hide_password=True),
             "embedded" if embedded else "external")
    return sb.pg.url


def stop_database(sb) -> None:
    """Close held connections and engines; stop the embedded server if this sandbox started it."""
    pg: PgState | None = getattr(sb, "pg", None)
    if pg is None:
        return
    release_connections(sb)
    pg.engine.dispose()
    if pg.server is not None:
        pg.server.stop()
    sb.pg = None


def _engine(sb) -> sa.Engine:
    pg: PgState | None = getattr(sb, "pg", None)
    if pg is None:
        raise SandboxError("the sandbox's analytics database is not started (call start_database first)")
    return pg.engine


# -- seeding ---------------------------------------------------------------------------------------

def seed(sb) -> None:
    """Rebuild the warehouse and, when started, the analytics database: the healthy seeded state."""
    seed_warehouse(sb)
    if getattr(sb, "pg", None) is not None:
        seed_database(sb)


def warehouse_events(sb) -> tuple[str, dict[str, str]]:
    """The warehouse's events table as the profile names it (quoted, maybe schema-qualified) and its
    runbook column -> table column map (only the columns the table has)."""
    w = sb.profile.databases.warehouse
    return synthetic.quote_table(w.events_table), synthetic.event_columns(w.columns)


def _col(sb, name: str) -> str | None:
    """The warehouse events table's quoted column for runbook column ``name`` (None when it has none)."""
    col = warehouse_events(sb)[1].get(name)
    return f'"{col}"' if col else None


def seed_warehouse(sb) -> synthetic.WarehouseSummary:
    w = sb.profile.databases.warehouse
    roles = [s.name for s in sb.profile.services if s.role in ("ingest", "process", "query", "validate")]
    summary = synthetic.build_warehouse(sb.warehouse_path, now=sb.now, seed=sb.config.seed, events=sb.config.events,
                                        table=w.events_table, columns=w.columns,
                                        services=tuple(roles) or synthetic.SERVICES)
    log.info("warehouse: %d events in %.2fs", summary.events, summary.seconds)
    return summary


def _hot_rows(sb) -> tuple[list, list, list]:
    """Rows for the database, read from the warehouse: last week of events (sampled down to about
    HOT_MAX_ROWS), last week of error_logs, all audit_logs."""
    now = naive_utc(sb.now)
    since = now - timedelta(days=HOT_DAYS)
    table, mapping = warehouse_events(sb)
    ts, eid = _col(sb, "event_timestamp"), _col(sb, "event_id")
    # the database's events table has every runbook column: those the warehouse lacks stay NULL
    picked = ", ".join(_warehouse_column(mapping, c) for c in EVENT_COLUMNS)
    with _warehouse(sb, read_only=True) as con:
        total = con.execute(f"SELECT count(*) FROM {table} WHERE {ts} >= ?", [since]).fetchone()[0]
        keep = min(1.0, HOT_MAX_ROWS / total) if total else 1.0
        events = con.execute(
            f"SELECT {picked} FROM {table} WHERE {ts} >= ? "
            f"AND hash({eid} || ':hot')::DOUBLE / 18446744073709551616.0 < ? ORDER BY {ts}",
            [since, keep]).fetchall()
        errors = con.execute(f'SELECT {", ".join(_q(ERROR_COLUMNS))} FROM error_logs WHERE "timestamp" >= ? '
                             'ORDER BY "timestamp"', [since]).fetchall()
        audit = con.execute(f'SELECT {", ".join(_q(AUDIT_COLUMNS))} FROM audit_logs ORDER BY "timestamp"').fetchall()
    return events, errors, audit


def _warehouse_column(mapping: dict[str, str], name: str) -> str:
    """The SELECT expression of runbook column ``name`` from the warehouse: its column, else NULL
    ('unknown' for event_type, NOT NULL in the database)."""
    if name in mapping:
        return f'"{mapping[name]}"'
    default = "'unknown'" if name == "event_type" else "NULL"
    return f"{default} AS {name}"


def _q(cols: tuple) -> list[str]:
    return [f'"{c}"' for c in cols]


def _copy(raw, table: str, columns: tuple, rows: list) -> None:
    with raw.cursor() as cur, cur.copy(f'COPY {table} ({", ".join(_q(columns))}) FROM STDIN') as cp:
        for row in rows:
            cp.write_row(row)


PG_TYPES = {"event_id": "varchar(64) PRIMARY KEY", "user_id": "varchar(32)", "session_id": "varchar(32)",
            "event_type": "varchar(32) NOT NULL", "event_timestamp": "timestamp NOT NULL", "received_at": "timestamp",
            "platform": "varchar(16)", "country": "varchar(2)", "page": "varchar(128)", "revenue": "double precision"}


def database_events(sb) -> tuple[str, dict[str, str]]:
    """The database's events table as the profile names it (quoted, maybe schema-qualified) and its runbook
    column -> table column map (see :func:`synthetic.event_columns`)."""
    d = sb.profile.databases.database
    return synthetic.quote_table(d.events_table), synthetic.event_columns(d.columns)


def _database_schema(sb) -> tuple[list[str], list[str]]:
    """(create statements, index statements) of the database: the runbook's ``events`` as always, or the
    profile's events table with exactly its mapped columns."""
    d = sb.profile.databases.database
    if d.events_table == "events" and not d.columns:
        return SCHEMA, INDEXES
    table, mapping = database_events(sb)
    create = [f"DROP TABLE IF EXISTS {table}, error_logs, audit_logs"]
    if "." in d.events_table:
        create.append(f'CREATE SCHEMA IF NOT EXISTS "{d.events_table.rsplit(".", 1)[0]}"')
    create.append(f"CREATE TABLE {table} ({', '.join(f'{_q((col,))[0]} {PG_TYPES[c]}' for c, col in mapping.items())})")
    create += SCHEMA[2:]
    indexes = [f'CREATE INDEX idx_events_{c} ON {table} ("{mapping[c]}")' for c in ("event_timestamp", "platform")
               if c in mapping] + INDEXES[2:]
    return create, indexes


def seed_database(sb) -> None:
    """(Re)create events (hot window), error_logs and audit_logs in ``analytics``, with indexes and
    statistics; reset pg_stat_statements where it exists."""
    release_connections(sb)
    events, errors, audit = _hot_rows(sb)
    create, indexes = _database_schema(sb)
    table, mapping = database_events(sb)
    keep = [i for i, c in enumerate(EVENT_COLUMNS) if c in mapping]     # the database's own columns only
    engine = _engine(sb)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
            for stmt in create:
                conn.execute(sa.text(stmt))
            raw = conn.connection.driver_connection
            _copy(raw, table, tuple(mapping.values()), [tuple(row[i] for i in keep) for row in events])
            _copy(raw, "error_logs", ERROR_COLUMNS, errors)
            _copy(raw, "audit_logs", AUDIT_COLUMNS, audit)
            for stmt in indexes:
                conn.execute(sa.text(stmt))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"ANALYZE {table}, error_logs, audit_logs"))
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"could not seed the analytics database: {exc}") from exc
    _setup_pg_stat_statements(sb)


def _setup_pg_stat_statements(sb) -> None:
    """Create the extension and reset this database's statistics where the server preloads it;
    otherwise record why it is absent. Never raises for a missing extension."""
    pg: PgState = sb.pg
    try:
        with pg.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            available = conn.execute(sa.text(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")).scalar()
            preload = conn.execute(sa.text("SELECT current_setting('shared_preload_libraries')")).scalar() or ""
            if not available:
                pg.pg_stat_statements, pg.pg_stat_statements_note = False, "extension not installed on the server"
                return
            if "pg_stat_statements" not in preload:
                pg.pg_stat_statements = False
                pg.pg_stat_statements_note = "installed but not in shared_preload_libraries"
                return
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            conn.execute(sa.text("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                                 "WHERE datname = current_database()), 0)"))
        pg.pg_stat_statements, pg.pg_stat_statements_note = True, "enabled"
    except sa.exc.SQLAlchemyError as exc:
        pg.pg_stat_statements, pg.pg_stat_statements_note = False, f"unavailable: {exc.orig or exc}"
    log.info("pg_stat_statements: %s", pg.pg_stat_statements_note)


def has_pg_stat_statements(engine: sa.Engine) -> bool:
    """True when ``pg_stat_statements`` is created in the engine's database and can be queried."""
    try:
        with engine.connect() as conn:
            if not conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).scalar():
                return False
            conn.execute(sa.text("SELECT 1 FROM pg_stat_statements LIMIT 1")).all()
            return True
    except sa.exc.DBAPIError:
        return False


# -- the warehouse, for faults -----------------------------------------------------------------------

@contextmanager
def _warehouse(sb, *, read_only: bool = False, attempts: int = 20) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file, retried briefly while another process holds its lock."""
    for attempt in range(attempts):
        try:
            con = duckdb.connect(str(sb.warehouse_path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == attempts - 1:
                raise SandboxError(f"could not open the warehouse {sb.warehouse_path}: {exc}") from exc
            time.sleep(0.25)
    try:
        yield con
    finally:
        con.close()


def _hour_floor(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _execute(sb, sql: str, params: dict) -> int:
    """Run one statement on the analytics database; the affected row count."""
    try:
        with _engine(sb).begin() as conn:
            return conn.execute(sa.text(sql), params).rowcount
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"fault could not change the analytics database: {exc}") from exc


# -- fault helpers ---------------------------------------------------------------------------------

def volume_drop(sb, hours_ago: int = 3, keep_fraction: float = 0.1) -> datetime:
    """Delete about ``1 - keep_fraction`` of the events of the hour starting ``hours_ago`` hours before
    the sandbox's current hour, in the warehouse and the database. Returns that hour (naive UTC)."""
    if not 0 <= keep_fraction < 1 or hours_ago < 1:
        raise SandboxError(f"volume_drop: need hours_ago >= 1 and 0 <= keep_fraction < 1, got {hours_ago}, {keep_fraction}")
    hour = _hour_floor(naive_utc(sb.now)) - timedelta(hours=hours_ago)
    end = hour + timedelta(hours=1)
    table, ts, eid = warehouse_events(sb)[0], _col(sb, "event_timestamp"), _col(sb, "event_id")
    with _warehouse(sb) as con:
        con.execute(f"DELETE FROM {table} WHERE {ts} >= ? AND {ts} < ? "
                    f"AND hash({eid} || ':drop')::DOUBLE / 18446744073709551616.0 >= ?", [hour, end, keep_fraction])
    if getattr(sb, "pg", None) is not None:
        table, m = database_events(sb)
        _execute(sb, f'DELETE FROM {table} WHERE "{m["event_timestamp"]}" >= :h AND "{m["event_timestamp"]}" < :e '
                     f'AND mod(abs(hashtext("{m["event_id"]}")::bigint), 10000) >= :k',
                 {"h": hour, "e": end, "k": keep_fraction * 10000})
    return hour


def duplicates(sb, count: int = 25) -> list[str]:
    """Re-insert ``count`` events of the last hour (a retried delivery, received 2 s later) into the
    warehouse. The database's events table has a primary key, so duplicates live in the warehouse only.
    Returns the duplicated event_ids, sorted."""
    if count < 1:
        raise SandboxError(f"duplicates: count must be >= 1, got {count}")
    now = naive_utc(sb.now)
    table, ts, eid, received = (warehouse_events(sb)[0], _col(sb, "event_timestamp"), _col(sb, "event_id"),
                                _col(sb, "received_at"))
    with _warehouse(sb) as con:
        con.execute(f"""CREATE TEMP TABLE dup AS SELECT * FROM {table}
                       WHERE {ts} >= ? AND {ts} < ?
                       ORDER BY hash({eid} || ':dup:' || ?) LIMIT ?""", [now - timedelta(hours=1), now, str(sb.config.seed), count])
        if received:
            con.execute(f"INSERT INTO {table} SELECT * REPLACE (least({received} + INTERVAL 2 SECOND, ?::TIMESTAMP) "
                        f"AS {received}) FROM dup", [now])
        else:
            con.execute(f"INSERT INTO {table} SELECT * FROM dup")
        ids = [r[0] for r in con.execute(f"SELECT {eid} FROM dup ORDER BY {eid}").fetchall()]
    return ids


def _role_name(sb, role: str) -> str:
    svc = sb.profile.service_for(role)
    return svc.name if svc else role


BURST_TYPES = (("DatabaseConnectionError", 0.5, 503, "could not acquire a database connection from the pool"),
               ("TimeoutError", 0.3, 504, "upstream call timed out after 5000 ms"),
               ("ValidationError", 0.2, 400, "event failed schema validation: missing field"))


def error_burst(sb, minutes: int = 30, rate: float = 40.0) -> ErrorBurst:
    """Add ``rate`` error_logs rows per minute over the last ``minutes`` minutes (mostly
    DatabaseConnectionError and TimeoutError from the ingest service) to the warehouse and the database."""
    rows = int(minutes * rate)
    if minutes < 1 or rows < 1:
        raise SandboxError(f"error_burst: need minutes >= 1 and at least one row, got minutes={minutes}, rate={rate}")
    end = naive_utc(sb.now)
    start = end - timedelta(minutes=minutes)
    u = lambda salt: synthetic.uniform("i", salt, sb.config.seed)   # noqa: E731
    pick = lambda k: synthetic.pick_sql(u("burst-type"), BURST_TYPES, k)                 # noqa: E731
    sql = f"""CREATE TEMP TABLE burst AS
        SELECT {pick(lambda c: repr(c[0]))} AS error_type, {pick(lambda c: repr(c[3]))} AS message,
               CASE WHEN {u('burst-svc')} < 0.8 THEN '{_role_name(sb, "ingest")}'
                    ELSE '{_role_name(sb, "process")}' END AS service,
               $start::TIMESTAMP + to_microseconds(({u('burst-ts')} * $span)::BIGINT) AS "timestamp",
               printf('req-%016x', {synthetic.hx('i', 'burst-req', sb.config.seed)}) AS request_id,
               {pick(lambda c: str(c[2]))} AS status_code
        FROM range($rows) t(i)"""
    with _warehouse(sb) as con:
        con.execute(sql, {"start": start, "span": minutes * 60_000_000, "rows": rows})
        con.execute("INSERT INTO error_logs SELECT * FROM burst")
        burst = con.execute(f'SELECT {", ".join(_q(ERROR_COLUMNS))} FROM burst').fetchall()
    if getattr(sb, "pg", None) is not None:
        try:
            with _engine(sb).begin() as conn:
                _copy(conn.connection.driver_connection, "error_logs", ERROR_COLUMNS, burst)
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
            raise SandboxError(f"error_burst could not write the analytics database: {exc}") from exc
    by_type: dict[str, int] = {}
    for row in burst:
        by_type[row[0]] = by_type.get(row[0], 0) + 1
    return ErrorBurst(rows=rows, start=start, end=end, by_type=by_type)


SLOW_STATEMENTS = (
    # per-user activity without the (user_id, event_timestamp) index the runbook asks for
    """SELECT user_id, count(*) AS events, max(event_timestamp) AS last_seen FROM events
       WHERE event_timestamp > :since AND (SELECT count(*) FROM pg_sleep(:pause)) = 1
       GROUP BY user_id ORDER BY events DESC LIMIT 20""",
    """SELECT date_trunc('hour', event_timestamp) AS hour, count(DISTINCT session_id) AS sessions FROM events
       WHERE (SELECT count(*) FROM pg_sleep(:pause)) = 1 GROUP BY 1 ORDER BY 1""",
    """SELECT e.user_id, sum(e.revenue) AS revenue FROM events e
       WHERE e.event_type = 'purchase' AND (SELECT count(*) FROM pg_sleep(:pause)) = 1
       GROUP BY e.user_id ORDER BY revenue DESC NULLS LAST LIMIT 50""",
)


def slow_queries(sb, pause: float = 1.05) -> SlowQueries:
    """Run three deliberately slow statements (about ``pause`` s each) against ``analytics``, so
    pg_stat_statements, where present, shows mean times above 1000 ms."""
    since = naive_utc(sb.now) - timedelta(days=1)
    done = []
    try:
        with _engine(sb).connect() as conn:
            for stmt in SLOW_STATEMENTS:
                t0 = time.monotonic()
                conn.execute(sa.text(stmt), {"since": since, "pause": pause}).all()
                done.append(SlowQuery(sql=" ".join(stmt.split()), seconds=time.monotonic() - t0))
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"slow_queries failed: {exc}") from exc
    return SlowQueries(queries=done, pg_stat_statements=sb.pg.pg_stat_statements)


def _client_backends(conn) -> int:
    return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")).scalar()


def connection_exhaustion(sb, count: int | None = None, target: float = 0.85) -> ConnectionExhaustion:
    """Open and hold idle connections (application_name ``opslib-sandbox-fault``) until the client
    backends reach ``target`` of max_connections (or ``count`` more), leaving the reserved slots and a
    few spare so the server keeps working. Released by reset and stop."""
    engine = _engine(sb)
    with engine.connect() as conn:
        max_conn = int(conn.execute(sa.text("SHOW max_connections")).scalar())
        reserved = int(conn.execute(sa.text("SHOW superuser_reserved_connections")).scalar())
        used = _client_backends(conn) - 1   # not counting this one
    if count is None:
        count = math.ceil(target * max_conn) - used
    count = max(0, min(count, max_conn - reserved - used - 3))
    conninfo = _libpq(make_url(sb.pg.url))
    try:
        for _ in range(count):
            sb.pg.held.append(psycopg.connect(conninfo, application_name=FAULT_APP_NAME, autocommit=True))
    except psycopg.Error as exc:
        raise SandboxError(f"connection_exhaustion opened {len(sb.pg.held)} of {count} connections: {exc}") from exc
    with engine.connect() as conn:
        in_use = _client_backends(conn) - 1
    return ConnectionExhaustion(held=len(sb.pg.held), in_use=in_use, max_connections=max_conn)


RELEASE_WAIT_SECONDS = 10.0


def release_connections(sb, wait: float = RELEASE_WAIT_SECONDS) -> int:
    """Close the connections held by :func:`connection_exhaustion` (and terminate any left over by an
    earlier process), then wait up to ``wait`` seconds until their backends have left pg_stat_activity (a
    backend exits after its client closes or it is terminated, not at once: a check right after a reset would
    still count them); the number closed."""
    pg: PgState | None = getattr(sb, "pg", None)
    if pg is None:
        return 0
    closed = len(pg.held)
    for conn in pg.held:
        conn.close()
    pg.held.clear()
    mine = ("FROM pg_stat_activity WHERE application_name = :app AND datname = current_database() "
            "AND pid <> pg_backend_pid()")
    try:
        with pg.engine.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) {mine}"), {"app": FAULT_APP_NAME}).all()
            conn.commit()
            deadline = time.monotonic() + wait
            while conn.execute(sa.text(f"SELECT count(*) {mine}"), {"app": FAULT_APP_NAME}).scalar():
                conn.commit()            # a new snapshot of pg_stat_activity
                if time.monotonic() > deadline:
                    raise SandboxError(f"the sandbox's held connections were still open {wait:g}s after release")
                time.sleep(0.05)
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"could not release the sandbox's held connections: {exc}") from exc
    return closed


def freshness_gap(sb, minutes: int = 90) -> datetime:
    """Delete the newest ``minutes`` of events from the warehouse and the database (data stopped
    arriving). Returns the cutoff: no event at or after it remains (naive UTC)."""
    if minutes < 1:
        raise SandboxError(f"freshness_gap: minutes must be >= 1, got {minutes}")
    cutoff = naive_utc(sb.now) - timedelta(minutes=minutes)
    with _warehouse(sb) as con:
        con.execute(f"DELETE FROM {warehouse_events(sb)[0]} WHERE {_col(sb, 'event_timestamp')} >= ?", [cutoff])
    if getattr(sb, "pg", None) is not None:
        table, m = database_events(sb)
        _execute(sb, f'DELETE FROM {table} WHERE "{m["event_timestamp"]}" >= :c', {"c": cutoff})
    return cutoff
