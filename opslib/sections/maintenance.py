"""Maintenance procedures (runbook "Maintenance Procedures") on the operational PostgreSQL: slow
statements from ``pg_stat_statements`` (or why they cannot be read), the missing
``(user_id, event_timestamp)`` index, unused indexes, vacuum state and progress, long-running
queries; and the weekly tasks' last runs from the run archive. Reads only: the changes (``CREATE
INDEX CONCURRENTLY``, ``VACUUM ANALYZE``) are planners of :mod:`opslib.actions.sql`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from ..errors import QueryError
from ..findings import Check

SLOW_MS = 1000                      # the runbook: WHERE mean_time > 1000

ENABLE_PG_STAT_STATEMENTS = """\
pg_stat_statements is a PostgreSQL extension that must be loaded when the server starts.
Self-managed PostgreSQL (as a superuser):
    ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';   -- keep any libraries already listed
    -- restart the server, e.g. pg_ctlcluster 15 main restart  (or systemctl restart postgresql)
    CREATE EXTENSION pg_stat_statements;                                 -- in the analytics database
Amazon RDS / Aurora: in the instance's DB parameter group set shared_preload_libraries to include
pg_stat_statements (aws rds modify-db-parameter-group --db-parameter-group-name <group> --parameters
"ParameterName=shared_preload_libraries,ParameterValue=pg_stat_statements,ApplyMethod=pending-reboot"),
reboot the instance (aws rds reboot-db-instance --db-instance-identifier <instance>), then
CREATE EXTENSION pg_stat_statements; in the database."""


def _frame(conn: sa.Connection, query: str, params: dict | None = None) -> pd.DataFrame:
    result = conn.execute(sa.text(query), params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _query(engine: sa.Engine, query: str, params: dict | None = None, *, what: str) -> pd.DataFrame:
    try:
        with engine.connect() as conn:
            return _frame(conn, query, params)
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"{what} failed on {engine.url.render_as_string(hide_password=True)}: "
                         f"{getattr(exc, 'orig', None) or exc}") from exc


# -- pg_stat_statements -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementsStatus:
    """Whether ``pg_stat_statements`` can be read, and if not, why and how to enable it."""
    usable: bool
    available: bool               # the server has the extension's files
    preloaded: bool               # in shared_preload_libraries
    created: bool                 # CREATE EXTENSION done in this database
    mean_column: str | None       # mean_exec_time (PostgreSQL 13+) or mean_time (12 and older)
    server_version: int = 0
    reason: str = ""

    @property
    def explanation(self) -> str:
        return "" if self.usable else f"pg_stat_statements is not usable here: {self.reason}.\n\n{ENABLE_PG_STAT_STATEMENTS}"

    def _repr_markdown_(self) -> str:
        if self.usable:
            return (f"**pg_stat_statements** is enabled (PostgreSQL {self.server_version // 10000}; mean time column "
                    f"`{self.mean_column}`).")
        return (f"**pg_stat_statements is not usable here:** {self.reason}. Slow statements cannot be listed until "
                f"it is enabled:\n\n```\n{ENABLE_PG_STAT_STATEMENTS}\n```")


def statements_status(engine: sa.Engine) -> StatementsStatus:
    """Probe the extension without failing: files installed, preloaded, created, and its column names."""
    try:
        with engine.connect() as conn:
            version = int(conn.execute(sa.text("SHOW server_version_num")).scalar())
            available = bool(conn.execute(sa.text(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")).scalar())
            preload = conn.execute(sa.text("SELECT current_setting('shared_preload_libraries')")).scalar() or ""
            schema = conn.execute(sa.text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'pg_stat_statements'")).scalar()
            column = None
            if schema:
                cols = set(conn.execute(sa.text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:v) AND attnum > 0"),
                    {"v": f'"{schema}".pg_stat_statements'}).scalars())
                column = "mean_exec_time" if "mean_exec_time" in cols else ("mean_time" if "mean_time" in cols else None)
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"cannot inspect the database for pg_stat_statements: {getattr(exc, 'orig', None) or exc}") \
            from exc
    preloaded = "pg_stat_statements" in preload
    if not available:
        reason = "the extension is not installed on this server (no pg_stat_statements in pg_available_extensions)"
    elif not preloaded:
        reason = f"it is not in shared_preload_libraries (currently {preload!r})"
    elif not schema:
        reason = "the server preloads it but CREATE EXTENSION pg_stat_statements was not run in this database"
    else:
        reason = ""
    usable = bool(available and preloaded and schema and column)
    if available and preloaded and schema and not column:
        reason = "its view has neither mean_exec_time nor mean_time"
    return StatementsStatus(usable, available, preloaded, bool(schema), column, version, reason)


def slow_statements(engine: sa.Engine, status: StatementsStatus | None = None, *, min_mean_ms: float = SLOW_MS,
                    limit: int = 20) -> pd.DataFrame:
    """The runbook's query (``mean_time > 1000 ORDER BY mean_time DESC LIMIT 20``) for this database, with
    PostgreSQL 13+'s ``mean_exec_time``/``total_exec_time`` where the server has them. Columns: query,
    calls, mean_ms, total_ms, rows. Empty when the extension is not usable (see ``status.explanation``)."""
    status = status or statements_status(engine)
    columns = ["query", "calls", "mean_ms", "total_ms", "rows"]
    if not status.usable:
        return pd.DataFrame(columns=columns)
    mean, total = (("mean_exec_time", "total_exec_time") if status.mean_column == "mean_exec_time"
                   else ("mean_time", "total_time"))
    q = (f"SELECT query, calls, {mean} AS mean_ms, {total} AS total_ms, rows FROM pg_stat_statements "
         f"WHERE {mean} > :min_ms AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
         f"ORDER BY {mean} DESC LIMIT :limit")
    out = _query(engine, q, {"min_ms": min_mean_ms, "limit": limit}, what="pg_stat_statements")
    if out.empty:
        return pd.DataFrame(columns=columns)
    out["query"] = out["query"].map(lambda s: " ".join(str(s).split()))
    return out.astype({"calls": "int64", "mean_ms": "float64", "total_ms": "float64", "rows": "int64"})


def slow_statement_check(frame: pd.DataFrame, status: StatementsStatus, *, min_mean_ms: float = SLOW_MS) -> Check:
    if not status.usable:
        return Check.warn("slow-statements", f"not measurable: {status.reason} (how to enable it is shown above)",
                          pg_stat_statements=False)
    if frame.empty:
        return Check.ok("slow-statements", f"no statement averages over {min_mean_ms:g} ms", pg_stat_statements=True,
                        slow=0)
    worst = frame.iloc[0]
    return Check.fail("slow-statements", f"{len(frame)} statement(s) average over {min_mean_ms:g} ms; slowest "
                      f"{worst['mean_ms']:.0f} ms x {worst['calls']} calls: {worst['query'][:120]}",
                      pg_stat_statements=True, slow=len(frame), worst_mean_ms=float(worst["mean_ms"]))


# -- indexes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexCoverage:
    """Whether a valid index on ``table`` starts with ``columns`` (the runbook's missing index). ``missing``:
    runbook columns the table lacks (then the index cannot exist: not measurable)."""
    table: str
    columns: tuple[str, ...]
    covered_by: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    missing: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return bool(self.covered_by)


def index_coverage(engine: sa.Engine, table: Any = None,
                   columns: Iterable[str] = ("user_id", "event_timestamp")) -> IndexCoverage:
    """Indexes of the events table (``table``: an :class:`~opslib.events_table.EventsTable`, a name, or None
    for ``events``) whose leading columns are ``columns`` (runbook names, mapped to the table's own)."""
    from ..events_table import as_events, reflect
    events = as_events(table)
    if not events.reflected:
        events = reflect(engine, events)
    wanted = tuple(columns)
    missing = tuple(events.missing(wanted))
    cols = tuple(events.real(c) for c in wanted)
    if missing:
        return IndexCoverage(events.display, cols, missing=missing)
    q = """SELECT c.relname AS index, i.indisvalid AS valid,
                  array_agg(a.attname ORDER BY k.ord) AS columns
           FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_class t ON t.oid = i.indrelid
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
           WHERE t.relname = :t AND t.relnamespace = to_regnamespace(coalesce(:s, current_schema()))
           GROUP BY c.relname, i.indisvalid"""
    rows = _query(engine, q, {"t": str(events.name), "s": events.schema}, what="index listing")
    covered, invalid = [], []
    for _, r in rows.iterrows():
        if tuple(r["columns"][:len(cols)]) == cols:
            (covered if r["valid"] else invalid).append(r["index"])
    return IndexCoverage(events.display, cols, sorted(covered), sorted(invalid))


def plan_user_time_index(ops: Any, coverage: IndexCoverage, *, where: str | None = None,
                         name: str = "idx_events_user_timestamp"):
    """The runbook's ``CREATE INDEX CONCURRENTLY idx_events_user_timestamp ON events (user_id,
    event_timestamp)`` on the profile's table and columns; an empty plan when the table lacks a column."""
    from ..actions import Plan
    from ..actions.sql import plan_create_index
    if coverage.missing:
        return Plan(f"create index {name}", [], ops,
                    [f"not measurable: {coverage.table} has no {', '.join(coverage.missing)}; no index planned"])
    return plan_create_index(ops, name, coverage.table, list(coverage.columns), where=where)


def unused_indexes(engine: sa.Engine) -> pd.DataFrame:
    """The runbook's query (``idx_scan = 0`` and not a primary key), with each index's size."""
    q = """SELECT schemaname, relname AS tablename, indexrelname AS indexname, idx_scan,
                  pg_relation_size(indexrelid) AS bytes
           FROM pg_stat_user_indexes
           WHERE idx_scan = 0 AND indexrelname NOT LIKE '%\\_pkey' ESCAPE '\\'
           ORDER BY bytes DESC, indexname"""
    return _query(engine, q, what="unused indexes")


def stats_window(engine: sa.Engine) -> timedelta:
    """How long the index usage counters have been collecting (since the statistics reset, or the
    server's start when they were never reset)."""
    df = _query(engine, "SELECT now() - coalesce(stats_reset, pg_postmaster_start_time()) AS age "
                        "FROM pg_stat_database WHERE datname = current_database()", what="statistics age")
    return df.iloc[0, 0] if len(df) else timedelta(0)


def index_checks(coverage: IndexCoverage, unused: pd.DataFrame, window: timedelta, *,
                 min_window: timedelta = timedelta(days=7)) -> list[Check]:
    """The missing index is a warning; unused indexes are only evidence once the counters have run for
    ``min_window`` (a week covers the weekly jobs)."""
    cols = ", ".join(coverage.columns)
    if coverage.missing:
        missing = Check.warn("index-user-timestamp", f"not measurable: {coverage.table} has no column "
                             f"{', '.join(coverage.missing)}", not_measurable=True,
                             missing_columns=list(coverage.missing))
    elif coverage.present:
        missing = Check.ok("index-user-timestamp", f"({cols}) on {coverage.table} is indexed by "
                           f"{', '.join(coverage.covered_by)}")
    else:
        extra = f"; invalid leftover of a failed build: {', '.join(coverage.invalid)}" if coverage.invalid else ""
        missing = Check.warn("index-user-timestamp", f"no index on {coverage.table} ({cols}): the runbook's "
                             f"idx_events_user_timestamp is missing (plan below){extra}")
    names = list(unused["indexname"]) if len(unused) else []
    hours = window.total_seconds() / 3600
    figures = {"unused": len(names), "stats_hours": round(hours, 1)}
    if not names:
        unused_check = Check.ok("unused-indexes", "every index has been scanned since the statistics reset", **figures)
    elif window < min_window:
        unused_check = Check.ok("unused-indexes", f"{len(names)} index(es) not scanned yet ({', '.join(names)}), but "
                                f"the counters cover only {hours:.1f} h (< {min_window.days} days): not yet evidence "
                                "to drop them", **figures)
    else:
        unused_check = Check.warn("unused-indexes", f"{len(names)} index(es) never scanned in {hours / 24:.0f} days: "
                                  f"{', '.join(names)} (review, then DROP INDEX CONCURRENTLY)",
                                  bytes=int(unused["bytes"].sum()), **figures)
    return [missing, unused_check]


# -- vacuum and long-running queries -------------------------------------------------------------------
def vacuum_status(engine: sa.Engine, tables: Iterable[str] | None = None) -> pd.DataFrame:
    """Live/dead tuples and the last (auto)vacuum/analyze per table."""
    q = """SELECT relname AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows,
                  CASE WHEN n_live_tup + n_dead_tup > 0 THEN n_dead_tup::float / (n_live_tup + n_dead_tup)
                       ELSE 0 END AS dead_ratio,
                  last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
           FROM pg_stat_user_tables ORDER BY relname"""
    df = _query(engine, q, what="vacuum status")
    if tables is not None:
        df = df[df["table"].isin(list(tables))].reset_index(drop=True)
    return df


def vacuum_progress(engine: sa.Engine) -> pd.DataFrame:
    """Vacuums running now (``pg_stat_progress_vacuum``), with their phase and share of blocks scanned."""
    q = """SELECT p.pid, p.relid::regclass::text AS table, p.phase, p.heap_blks_total, p.heap_blks_scanned,
                  CASE WHEN p.heap_blks_total > 0 THEN p.heap_blks_scanned::float / p.heap_blks_total END AS scanned,
                  now() - a.query_start AS duration, a.query
           FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
           ORDER BY p.pid"""
    return _query(engine, q, what="vacuum progress")


def long_running_queries(engine: sa.Engine, *, like: str | None = "VACUUM%", min_seconds: float = 0) -> pd.DataFrame:
    """The runbook's view (``now() - query_start`` of ``pg_stat_activity`` rows ``LIKE 'VACUUM%'``), with
    the state and wait event; ``like=None`` lists every active statement of other sessions."""
    q = """SELECT pid, now() - query_start AS duration, state, wait_event_type, wait_event, query
           FROM pg_stat_activity
           WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'
             AND (CAST(:like AS text) IS NULL OR query ILIKE :like)
             AND now() - query_start >= make_interval(secs => :min_s)
           ORDER BY duration DESC"""
    return _query(engine, q, {"like": like, "min_s": min_seconds}, what="long-running queries")


def vacuum_checks(status: pd.DataFrame, *, dead_ratio_warn: float = 0.2, min_dead_rows: int = 1000) -> list[Check]:
    bloated = status[(status["dead_ratio"] > dead_ratio_warn) & (status["dead_rows"] >= min_dead_rows)]
    if bloated.empty:
        worst = float(status["dead_ratio"].max()) if len(status) else 0.0
        return [Check.ok("vacuum", f"no table has more than {dead_ratio_warn:.0%} dead rows "
                         f"(worst {worst:.1%})", worst_dead_ratio=worst)]
    names = ", ".join(f"{r.table} {r.dead_ratio:.0%}" for r in bloated.itertuples())
    return [Check.warn("vacuum", f"dead rows above {dead_ratio_warn:.0%}: {names}; VACUUM ANALYZE (plan below)",
                       worst_dead_ratio=float(bloated["dead_ratio"].max()))]


# -- weekly tasks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeeklyTask:
    day: str
    task: str
    runbook_commands: tuple[str, ...]
    notebooks: tuple[str, ...]       # runs of any of these notebooks count as doing the task


WEEKLY_TASKS = (
    WeeklyTask("Monday", "Capacity Review", ("./scripts/capacity_report.sh",),
               ("performance-tuning", "system-overview")),
    WeeklyTask("Wednesday", "Security Updates", ("./scripts/security_scan.sh", "./scripts/apply_patches.sh staging"),
               ("security-operations",)),
    WeeklyTask("Friday", "Backup Verification", ("./scripts/test_restore.sh", "./scripts/verify_replication.sh"),
               ("disaster-recovery",)),
)


def weekly_tasks(entries: Iterable[dict], *, now: datetime, tasks: Iterable[WeeklyTask] = WEEKLY_TASKS,
                 due_days: float = 7) -> pd.DataFrame:
    """The weekly checklist with each task's last archived run (any status but a crash) and whether it
    is overdue (no run within ``due_days`` days before ``now``)."""
    entries = [e for e in entries if e.get("status") in ("ok", "warn", "fail")]
    rows = []
    for t in tasks:
        runs = sorted((e for e in entries if e.get("notebook") in t.notebooks), key=lambda e: e["start"])
        last = runs[-1] if runs else None
        when = datetime.fromisoformat(last["start"]) if last else None
        when = when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when
        age = max(0.0, (now - when).total_seconds() / 86400) if when else None
        rows.append({"day": t.day, "task": t.task, "notebooks": ", ".join(t.notebooks),
                     "runbook commands": "; ".join(t.runbook_commands),
                     "last run": when, "last notebook": last["notebook"] if last else None,
                     "last status": last["status"] if last else None,
                     "age days": None if age is None else round(age, 1),
                     "done": age is not None and age <= due_days})
    return pd.DataFrame(rows)


def weekly_task_checks(frame: pd.DataFrame, *, due_days: float = 7) -> list[Check]:
    checks = []
    for r in frame.to_dict("records"):
        name = "weekly-" + r["task"].lower().replace(" ", "-")
        if r["last run"] is None or pd.isna(r["last run"]):
            checks.append(Check.warn(name, f"{r['day']}: never run in this archive (notebooks: {r['notebooks']})"))
            continue
        seen = f"last run {r['age days']:.1f} days ago ({r['last notebook']}, {r['last status']})"
        if r["done"]:
            checks.append(Check.ok(name, seen, age_days=r["age days"]))
        else:
            checks.append(Check.warn(name, f"{r['day']}: {seen}; due every {due_days:g} days", age_days=r["age days"]))
    return checks


def archive_entries(archive: str, ops=None) -> list[dict]:
    """The manifest entries of the run archive at ``archive`` (a folder, or ``s3://`` read with ``ops``'s
    S3 client); none when it does not exist yet."""
    from ..runner.archive import open_archive
    from ..runner.manifest import filter_entries
    s3 = ops.client("s3") if ops is not None and str(archive).startswith("s3://") else None
    return filter_entries(open_archive(archive, s3_client=s3).manifest())


def default_index_cutoff(now: datetime, days: int = 7, column: str = "event_timestamp") -> str:
    """The runbook's partial-index predicate with a fixed cut-off instead of ``NOW()`` (not immutable);
    ``column``: the table's own time column (``coverage.columns[-1]``)."""
    cutoff = (now - timedelta(days=days)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    return f"{column} > '{cutoff.isoformat(sep=' ')}'"
