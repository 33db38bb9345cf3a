"""Every reader of the events table uses the profile's table and columns (issue 9, part 3): dashboards,
index coverage and its plan, vacuum, Redshift key advice, GDPR erasure and data ages, backfill. Real
DuckDB files and a scratch database on the machine's PostgreSQL, built here; an Ops from a profile written
here (extends parameters/sandbox.yaml; no AWS call is made)."""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone

import duckdb
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.pool import NullPool

from opslib import connect
from opslib.sections import dashboards, maintenance, performance
from opslib.actions import backfill
from opslib.actions.sql import plan_vacuum
from opslib.config import parameters_dir
from opslib.events_table import EventsTable, reflect
from opslib.sections.security import compliance

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
COLUMNS = {"event_id": "id", "user_id": "uid", "event_type": "kind", "event_timestamp": "occurred_at"}


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    path = tmp_path_factory.mktemp("readers") / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA analytics")
    con.execute("CREATE TABLE analytics.user_events AS SELECT 'e' || i AS id, 'u' || (i % 2000) AS uid, "
                "'click' AS kind, TIMESTAMP '2026-11-20' + to_seconds(i * 60) AS occurred_at FROM range(7200) t(i)")
    con.execute("CREATE TABLE analytics.no_users AS SELECT id, kind, occurred_at FROM analytics.user_events")
    con.close()
    return path


@pytest.fixture(scope="module")
def pg():
    server = sa.make_url(os.environ.get("OPSLIB_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"readers_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server: {exc.orig}")
    url = server.set(database=name)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        _fill(engine)
        yield url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def _fill(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA analytics")
        conn.exec_driver_sql("CREATE TABLE analytics.user_events (id text PRIMARY KEY, uid text, kind text, "
                             "occurred_at timestamp)")
        conn.exec_driver_sql("INSERT INTO analytics.user_events SELECT 'e' || i, 'u' || mod(i, 50), 'click', "
                             "TIMESTAMP '2026-11-20' + i * INTERVAL '1 minute' FROM generate_series(0, 999) i")
        conn.exec_driver_sql("CREATE TABLE audit_logs (user_id text, timestamp timestamp)")
        conn.exec_driver_sql("CREATE TABLE error_logs (timestamp timestamp)")


@pytest.fixture(scope="module")
def ops(tmp_path_factory, duck, pg):
    folder = tmp_path_factory.mktemp("readers-profile")
    for base in ("_common.yaml", "sandbox.yaml"):
        shutil.copy(parameters_dir() / base, folder / base)
    table = {"events_table": "analytics.user_events", "columns": COLUMNS}
    data = {"extends": "sandbox", "name": "readers", "now": NOW.isoformat(), "aws": {"endpoint_url": "http://127.0.0.1:9"},
            "databases": {"warehouse": {"url": f"duckdb:///{duck}", "dialect_hint": "duckdb", **table},
                          "database": {"url": pg.render_as_string(hide_password=False), "dialect_hint": "postgresql",
                                       **table}}}
    (folder / "readers.yaml").write_text(yaml.safe_dump(data))
    handle = connect(str(folder / "readers.yaml"))
    yield handle
    handle.close()


def test_daily_activity_on_a_renamed_table_without_revenue(duck):
    engine = sa.create_engine(f"duckdb:///{duck}", connect_args={"read_only": True}, poolclass=NullPool)
    try:
        t = EventsTable.assumed("analytics.user_events", COLUMNS)
        daily = dashboards.daily_activity(engine, days=14, now=NOW, table=t)
        gone = dashboards.daily_activity(engine, days=14, now=NOW, table=EventsTable.assumed("analytics.nothing"))
    finally:
        engine.dispose()
    assert daily["events"].sum() == 7200 and daily["daily_active_users"].max() == 1440
    assert daily["revenue"].isna().all() and "revenue" in daily.attrs["missing"]
    assert gone.empty and gone.attrs["missing"] == "table analytics.nothing not found"


def test_key_advice_uses_the_tables_own_names(duck):
    engine = sa.create_engine(f"duckdb:///{duck}", connect_args={"read_only": True}, poolclass=NullPool)
    try:
        advice = performance.key_advice(engine, EventsTable.assumed("analytics.user_events", COLUMNS))
        blind = performance.key_advice(engine, EventsTable.assumed("analytics.no_users", COLUMNS))
    finally:
        engine.dispose()
    assert advice.rows == 7200 and advice.distinct_users == 2000 and advice.diststyle == "KEY(user_id)"
    assert advice.statements == ["ALTER TABLE analytics.user_events ALTER DISTKEY uid;",
                                 "ALTER TABLE analytics.user_events ALTER SORTKEY (occurred_at, uid);",
                                 "ANALYZE analytics.user_events;"]
    assert blind.diststyle == "EVEN" and blind.sortkey == ("occurred_at",)
    assert "not measurable: analytics.no_users has no column user_id (mapped to uid)" in blind.reasons[0]


@pytest.mark.system_postgres
def test_index_coverage_and_its_plan_on_the_profiles_table(ops):
    events = reflect(ops.database, EventsTable.from_settings(ops.profile.databases.database))
    coverage = maintenance.index_coverage(ops.database, events)
    assert coverage.table == "analytics.user_events" and coverage.columns == ("uid", "occurred_at")
    assert not coverage.present and maintenance.index_checks(coverage, maintenance.unused_indexes(ops.database),
                                                             maintenance.stats_window(ops.database))[0].status == "warn"
    where = maintenance.default_index_cutoff(NOW, 7, coverage.columns[-1])
    plan = maintenance.plan_user_time_index(ops, coverage, where=where)
    assert plan.changes[0].params["statement"] == ("CREATE INDEX CONCURRENTLY idx_events_user_timestamp ON "
        "analytics.user_events (uid, occurred_at) WHERE occurred_at > '2026-11-18 12:00:00'")
    lacking = maintenance.index_coverage(ops.database, events, ["user_id", "session_id"])
    assert lacking.missing == ("session_id",)
    check = maintenance.index_checks(lacking, maintenance.unused_indexes(ops.database), maintenance.stats_window(ops.database))[0]
    assert check.status == "warn" and check.figures["missing_columns"] == ["session_id"]
    assert len(maintenance.plan_user_time_index(ops, lacking)) == 0


@pytest.mark.system_postgres
def test_vacuum_gdpr_and_ages_use_the_profiles_table(ops):
    vacuum = plan_vacuum(ops)
    assert vacuum.changes[0].params["statement"] == "VACUUM ANALYZE analytics.user_events"
    plan = compliance.plan_gdpr_deletion(ops, "u7", tables=["events"])
    stores = {(c.params["database"], c.params["table"]): c for c in plan.changes}
    assert set(stores) == {("database", "analytics.user_events"), ("warehouse", "analytics.user_events")}
    assert stores[("database", "analytics.user_events")].meta["count"] == 20          # 1000 events over 50 users
    assert stores[("warehouse", "analytics.user_events")].meta["count"] == 4          # 7200 over 2000 users
    assert all(c.params["where"] == "uid = :user_id" for c in plan.changes)
    ages = compliance.data_ages(ops, now=NOW, engines={"database": ops.database})
    events = ages[ages["table"] == "analytics.user_events"].iloc[0]
    assert events["rows"] == 1000 and str(events["oldest"]) == "2026-11-20 00:00:00"


@pytest.mark.system_postgres
def test_backfill_inserts_only_the_columns_the_table_has(ops):
    events = reflect(ops.database, EventsTable.from_settings(ops.profile.databases.database))
    rows = [backfill.to_row({"event_id": f"bf-{i}", "user_id": "u1", "session_id": "s", "event_type": "purchase",
                             "event_timestamp": "2026-11-24T10:00:00Z", "properties": {"revenue": 9}})
            for i in range(3)]
    assert backfill.present_ids(ops.database, ["bf-0", "e1"], events) == {"e1"}
    with ops.database.begin() as conn:
        conn.execute(backfill.insert_statement(events), backfill.table_rows(events, rows))
        conn.execute(backfill.insert_statement(events), backfill.table_rows(events, rows))     # idempotent
    with ops.database.connect() as conn:
        got = conn.execute(sa.text("SELECT id, uid, kind FROM analytics.user_events WHERE id LIKE :p ORDER BY id"),
                           {"p": "bf-%"}).fetchall()
        conn.execute(sa.text("DELETE FROM analytics.user_events WHERE id LIKE :p"), {"p": "bf-%"})
        conn.commit()
    assert [tuple(r) for r in got] == [(f"bf-{i}", "u1", "purchase") for i in range(3)]
    assert backfill.table_rows(events, rows)[0] == {"id": "bf-0", "uid": "u1", "kind": "purchase",
                                                    "occurred_at": datetime(2026, 11, 24, 10)}
