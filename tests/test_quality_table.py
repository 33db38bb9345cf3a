"""Any events table (issue 9, part 3) and short history (part 4): the checks on a renamed, schema-qualified
table and on a four-column table, built in the test in real DuckDB files and a real PostgreSQL database;
the queries compiled for Redshift and Athena; completeness on 14 days of seasonal data."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from opslib.sections import quality
from opslib.config import EVENT_COLUMNS
from opslib.errors import ParameterError, ProfileError
from opslib.sections.quality import queries as q
from opslib.sections.quality import rules
from opslib.events_table import EventsTable, as_events, reflect, split_name

NOW = datetime(2026, 11, 25, 12, 0)          # a Wednesday, naive UTC
WIN = quality.window(NOW, hours=24)
FOUR = {"event_id": "id", "user_id": "uid", "event_type": "kind", "event_timestamp": "occurred_at"}


# -- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("events", (None, "events")), ("analytics.user_events", ("analytics", "user_events")),
    ('"Raw Data"."Events"', ("Raw Data", "Events")), (' analytics . "user.events" ', ("analytics", "user.events"))])
def test_table_names_split_into_schema_and_table(text, expected):
    assert split_name(text) == expected


@pytest.mark.parametrize("text", ["", "a.b.c", "a..b", "bad name", '"open'])
def test_bad_table_names_name_the_setting(text):
    with pytest.raises(ProfileError) as info:
        split_name(text, key="databases.warehouse.events_table")
    assert info.value.key == "databases.warehouse.events_table" and "schema.table" in str(info.value)


def test_columns_map_and_what_is_missing():
    t = EventsTable.assumed("analytics.user_events", FOUR).with_present(FOUR)
    assert t.schema == "analytics" and t.name == "user_events" and t.display == "analytics.user_events"
    assert str(t.col("event_timestamp")) == "analytics.user_events.occurred_at" and t.has("event_id") and not t.has("received_at")
    assert t.missing(["event_id", "received_at", "session_id"]) == ["received_at", "session_id"]
    assert t.describe_missing(["received_at"]) == "analytics.user_events has no column received_at"
    assert "event_id (mapped to id)" in EventsTable.assumed("x", FOUR).with_present(()).describe_missing(["event_id"])
    assert as_events(sa.table("events", schema="s")).display == "s.events"


# -- compiled per dialect --------------------------------------------------------------------------

def _dialects():
    from duckdb_engine import Dialect as DuckDBDialect
    from pyathena.sqlalchemy.base import AthenaDialect
    from sqlalchemy.dialects import postgresql
    from sqlalchemy_redshift.dialect import RedshiftDialect_psycopg2
    return {"duckdb": DuckDBDialect(), "postgresql": postgresql.dialect(), "redshift": RedshiftDialect_psycopg2(),
            "athena": AthenaDialect()}


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql", "redshift", "athena"])
def test_runbook_queries_compile_on_a_renamed_table_for_every_dialect(dialect):
    d = _dialects()[dialect]
    t = EventsTable.assumed('analytics."User Events"', FOUR).with_present(FOUR)
    sql = {name: quality.compiled_sql(query, d) for name, query in quality.runbook_queries(WIN, table=t).items()}
    quote = '"'
    table = f"analytics.{quote}User Events{quote}"
    assert set(sql) == {"completeness", "duplicates"}
    assert f"FROM {table}" in sql["completeness"] and f"FROM {table}" in sql["duplicates"]
    assert f"date_trunc('hour', {table}.occurred_at)" in sql["completeness"]
    assert f"{table}.id AS event_id" in sql["duplicates"]
    assert "received_at" not in " ".join(sql.values()) and "'2026-11-" in sql["completeness"]
    # the other checks compile too, without the columns the table lacks
    for query in (q.hourly_profile(t, [(WIN.start, WIN.end)]), q.column_quality(t, WIN.start, WIN.end),
                  q.newest_event(t, WIN.start, WIN.end), q.duplicate_totals(t, *WIN.last_hour)):
        text = quality.compiled_sql(query, d)
        assert f"FROM {table}" in text and "received_at" not in text.split("AS")[0] and "session_id" not in text


def test_a_query_the_table_cannot_answer_is_shown_as_not_measurable():
    t = EventsTable.assumed("events").with_present(["event_timestamp", "user_id"])
    assert set(quality.runbook_queries(WIN, table=t)) == {"completeness"}
    assert quality.runbook_sql(WIN, "duplicates", _dialects()["postgresql"], table=t) == \
        "-- not measurable: events has no column event_id"
    with pytest.raises(ParameterError):
        quality.runbook_sql(WIN, "volume", _dialects()["postgresql"], table=t)


# -- real tables ------------------------------------------------------------------------------------

DAYS = 14


#: A day whose night falls steeply (02:00 at 42% of 01:00: the runbook's 50% rule flags it every night).
DAY = (0.7, 0.6, 0.25, 0.2, 0.2, 0.25, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85,
       0.8, 0.8, 0.75)
SEASONAL = """
WITH counts AS (
  SELECT h AS hour_start,
         CAST(round(400 * {day}[hour(h) + 1] * (CASE WHEN isodow(h) >= 6 THEN 0.7 ELSE 1.0 END)
                    * (CASE WHEN h = TIMESTAMP '{drop}' THEN 0.4 ELSE 1.0 END)) AS INTEGER) AS n
  FROM generate_series(TIMESTAMP '{start}', TIMESTAMP '{end}', INTERVAL 1 HOUR) AS g(h))
SELECT hour_start + CAST(i * 3599 // n AS INTEGER) * INTERVAL 1 SECOND AS ts, row_number() OVER () AS rn
FROM counts, generate_series(0, n - 1) AS s(i)
"""


def seasonal_duckdb(path, *, table: str, columns: dict[str, str], drop: datetime | None, duplicates: int = 0,
                    days: int = DAYS) -> None:
    """A DuckDB file holding ``days`` of seasonal events (and the hour of ``NOW``) in ``table`` with only the ``columns`` given
    (runbook name -> real name), the hour ``drop`` at 40% of its volume and ``duplicates`` event_ids of
    the last hour stored twice."""
    con = duckdb.connect(str(path))
    schema = table.split(".")[0] if "." in table else None
    if schema:
        con.execute(f"CREATE SCHEMA {schema}")
    types = {"event_id": "VARCHAR", "user_id": "VARCHAR", "session_id": "VARCHAR", "event_type": "VARCHAR",
             "event_timestamp": "TIMESTAMP", "received_at": "TIMESTAMP", "platform": "VARCHAR", "country": "VARCHAR",
             "page": "VARCHAR", "revenue": "DOUBLE"}
    exprs = {"event_id": "'e' || rn", "user_id": "'u' || (rn % 97)", "session_id": "'s' || (rn % 301)",
             "event_type": "CASE WHEN rn % 10 = 0 THEN 'purchase' ELSE 'page_view' END",
             "event_timestamp": "ts", "received_at": "ts + INTERVAL 2 SECOND", "platform": "'web'",
             "country": "'DE'", "page": "'/'", "revenue": "CASE WHEN rn % 10 = 0 THEN 9.5 END"}
    con.execute(f"CREATE TABLE {table} (" + ", ".join(f"{real} {types[k]}" for k, real in columns.items()) + ")")
    select = SEASONAL.format(start=NOW - timedelta(days=days), end=NOW, drop=drop or datetime(1970, 1, 1),
                             day="[" + ", ".join(map(str, DAY)) + "]")
    con.execute(f"INSERT INTO {table} ({', '.join(columns.values())}) SELECT "
                + ", ".join(exprs[k] for k in columns) + f" FROM ({select})")
    if duplicates:
        ts, eid = columns["event_timestamp"], columns["event_id"]
        con.execute(f"INSERT INTO {table} SELECT * FROM {table} WHERE {ts} >= TIMESTAMP '{NOW - timedelta(hours=1)}' "
                    f"AND {ts} < TIMESTAMP '{NOW}' ORDER BY {eid} LIMIT {duplicates}")
    con.close()


def duckdb_engine(path) -> sa.Engine:
    return sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=NullPool)


def run_checks(bind, t: EventsTable) -> dict[str, object]:
    hourly = quality.completeness(bind, WIN, table=t)
    dups = quality.duplicates(bind, WIN, table=t)
    fresh = quality.freshness(bind, WIN, table=t)
    valid = quality.validity(bind, WIN, table=t)
    activity = quality.hourly_activity(bind, WIN, table=t)
    checks = [quality.completeness_check(hourly, min_weeks=3), quality.runbook_rule_check(hourly), dups.to_check(),
              fresh.to_check(), quality.validity_check(valid, max_rate=0.01),
              quality.quality_score(hourly, dups, fresh, valid).to_check()]
    return {"checks": {c.name: c for c in checks}, "hourly": hourly, "activity": activity, "dups": dups}


def _same(a: dict, b: dict) -> bool:
    """Two :func:`run_checks` results agree: every check's status and figures, and the hourly frame."""
    return {k: (c.status, c.figures) for k, c in a["checks"].items()} == \
        {k: (c.status, c.figures) for k, c in b["checks"].items()} and a["hourly"].equals(b["hourly"])


@pytest.fixture(scope="module")
def four_column(tmp_path_factory):
    path = tmp_path_factory.mktemp("four") / "wh.duckdb"
    seasonal_duckdb(path, table="analytics.user_events", columns=FOUR, drop=None, duplicates=3)
    engine = duckdb_engine(path)
    yield engine
    engine.dispose()


def test_reflection_finds_the_four_columns_and_a_missing_table(four_column):
    t = reflect(four_column, EventsTable.assumed("analytics.user_events", FOUR))
    assert t.reflected and t.exists and set(t.present) == set(FOUR)
    assert t.missing(EVENT_COLUMNS) == ["session_id", "received_at", "platform", "country", "page", "revenue"]
    gone = reflect(four_column, EventsTable.assumed("analytics.nothing_here"))
    assert not gone.exists and gone.present == frozenset()


def test_four_column_table_fails_for_duplicates_and_says_what_is_not_measurable(four_column):
    t = reflect(four_column, EventsTable.assumed("analytics.user_events", FOUR))
    out = run_checks(four_column, t)
    checks = out["checks"]
    assert checks["duplicates"].status == "fail" and checks["duplicates"].figures["duplicate_ids"] == 3
    assert checks["completeness"].status == "ok", checks["completeness"].detail
    assert checks["freshness"].status == "ok"
    validity = checks["validity"]
    assert validity.status == "warn" and "session_id" in validity.detail and "received_at" in validity.detail
    assert set(validity.figures["missing_columns"]) == {"session_id", "received_at", "revenue"}
    assert validity.figures["rates"]["event_id is null"] == 0            # what is there is still measured
    assert quality.delay_note(out["activity"]) == \
        "Ingestion delay not measurable: analytics.user_events has no column received_at."
    assert out["activity"]["mean_delay_s"].isna().all() and out["activity"]["event_count"].sum() > 0


def test_a_table_without_event_id_or_timestamp_is_not_measurable_not_a_crash(four_column):
    no_id = reflect(four_column, EventsTable.assumed("analytics.user_events", {**FOUR, "event_id": "nope"}))
    checks = run_checks(four_column, no_id)["checks"]
    assert checks["duplicates"].status == "warn" and checks["duplicates"].figures["missing_columns"] == ["event_id"]
    assert "event_id (mapped to nope)" in checks["duplicates"].detail
    assert checks["completeness"].status == "ok"
    absent = reflect(four_column, EventsTable.assumed("analytics.missing_events"))
    checks = run_checks(four_column, absent)["checks"]
    assert {c.status for c in checks.values()} == {"warn"}
    assert all(c.figures.get("not_measurable") for c in checks.values())
    assert "table analytics.missing_events not found" in checks["completeness"].detail


# -- PostgreSQL: the same findings -----------------------------------------------------------------

def _pg_server() -> str:
    return os.environ.get("OPSLIB_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_four_column(four_column):
    """A scratch database on the machine's PostgreSQL holding the four-column table's rows."""
    server = sa.make_url(_pg_server())
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"dq_table_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {server.render_as_string(hide_password=True)}: {exc.orig}")
    engine = sa.create_engine(server.set(database=name), poolclass=NullPool)
    with four_column.connect() as src:
        rows = src.exec_driver_sql("SELECT id, uid, kind, occurred_at FROM analytics.user_events").fetchall()
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA analytics')
        conn.exec_driver_sql('CREATE TABLE analytics.user_events (id text, uid text, kind text, occurred_at timestamp)')
        conn.execute(sa.text("INSERT INTO analytics.user_events VALUES (:a, :b, :c, :d)"),
                     [dict(zip("abcd", r)) for r in rows])
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.mark.system_postgres
def test_postgresql_gives_the_same_findings_as_duckdb(four_column, pg_four_column):
    settings = EventsTable.assumed("analytics.user_events", FOUR)
    duck, pg = run_checks(four_column, reflect(four_column, settings)), run_checks(pg_four_column, reflect(pg_four_column, settings))
    assert pg_four_column.dialect.name == "postgresql"
    assert {k: c.status for k, c in pg["checks"].items()} == {k: c.status for k, c in duck["checks"].items()}
    assert {k: c.figures for k, c in pg["checks"].items()} == {k: c.figures for k, c in duck["checks"].items()}
    pd.testing.assert_frame_equal(pg["hourly"], duck["hourly"], check_dtype=False)


# -- time columns stored as numbers (epoch milliseconds) --------------------------------------------

def _four_column_copy(four_column, path, occurred_at: str):
    """A DuckDB file at ``path`` holding the four-column table with ``occurred_at`` stored as the SQL expression
    ``occurred_at`` makes of the original TIMESTAMP (in a UTC session)."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH '{four_column.url.database}' AS src (READ_ONLY)")
    con.execute("CREATE SCHEMA analytics")
    con.execute(f"CREATE TABLE analytics.user_events AS SELECT id, uid, kind, {occurred_at} AS occurred_at "
                "FROM src.analytics.user_events")
    con.close()
    return path


@pytest.fixture(scope="module")
def epoch_ms(four_column, tmp_path_factory):
    """The four-column table with ``occurred_at`` as BIGINT milliseconds since the epoch, in a DuckDB file."""
    engine = duckdb_engine(_four_column_copy(four_column, tmp_path_factory.mktemp("epoch") / "wh.duckdb",
                                             "epoch_ms(occurred_at)"))
    yield engine
    engine.dispose()


def test_epoch_milliseconds_give_the_same_findings_as_timestamps(four_column, epoch_ms):
    native = run_checks(four_column, reflect(four_column, EventsTable.assumed("analytics.user_events", FOUR)))
    t = reflect(epoch_ms, EventsTable.assumed("analytics.user_events", FOUR, timestamps="epoch_ms"))
    assert t.stored == {"event_timestamp": "number"}        # read from the column's type
    assert _same(run_checks(epoch_ms, t), native)


def test_a_numeric_time_column_without_its_unit_says_what_to_set(epoch_ms):
    from opslib.errors import QueryError
    t = reflect(epoch_ms, EventsTable.assumed("analytics.user_events", FOUR))
    with pytest.raises(QueryError, match="occurred_at .event_timestamp. holds numbers.*epoch_ms"):
        quality.completeness(epoch_ms, WIN, table=t)
    with pytest.raises(QueryError, match="holds numbers"):            # nor is a time written in a guessed unit
        t.encode("event_timestamp", NOW)


def test_iso_text_times_give_the_same_findings_as_timestamps(four_column, tmp_path):
    """``2026-11-25T11:59:58.000000Z`` text, as JSON-fed raw tables hold it; without the setting: what to set."""
    from opslib.errors import QueryError
    engine = duckdb_engine(_four_column_copy(four_column, tmp_path / "text.duckdb",
                                             "strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ')"))
    try:
        native = run_checks(four_column, reflect(four_column, EventsTable.assumed("analytics.user_events", FOUR)))
        t = reflect(engine, EventsTable.assumed("analytics.user_events", FOUR, timestamps="iso_text"))
        assert t.stored == {"event_timestamp": "text"}
        assert _same(run_checks(engine, t), native)
        with pytest.raises(QueryError, match="holds text, not times.*iso_text"):
            quality.completeness(engine, WIN, table=reflect(engine, EventsTable.assumed("analytics.user_events", FOUR)))
    finally:
        engine.dispose()
    assert EventsTable.assumed("events", timestamps="iso_text").encode("received_at", NOW) == \
        "2026-11-25T12:00:00.000000Z"


@pytest.mark.parametrize("unit, expected", [("epoch_s", 1795608000), ("epoch_ms", 1795608000123),
                                            ("epoch_us", 1795608000123456)])
def test_times_are_written_in_the_stored_unit_and_read_back_per_dialect(unit, expected):
    from sqlalchemy.dialects import postgresql

    from opslib.events_table import epoch_timestamp
    t = EventsTable.assumed("events", timestamps=unit)
    assert t.encode("event_timestamp", datetime(2026, 11, 25, 12, 0, 0, 123456)) == expected
    assert t.encode("event_id", "e1") == "e1" and EventsTable.assumed("events").encode(
        "event_timestamp", NOW) == NOW
    expr = epoch_timestamp(sa.column("ts"), 1000)
    assert str(expr.compile(dialect=postgresql.dialect())) == "(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC')"
    redshift = str(expr.compile(dialect=_dialects()["redshift"]))
    assert "TIMESTAMP 'epoch' + (ts / 1000.0) * INTERVAL '1 second'" in redshift


def test_windows_on_a_numeric_time_column_compare_it_as_stored():
    """The window filter keeps the stored column on its own side (bounds in its unit), so a sort key or zone maps
    on it still prune; only what is selected and grouped is converted."""
    t = EventsTable.assumed("clicks", {"event_timestamp": "ts_ms"}, timestamps="epoch_ms")
    query = q.runbook_completeness(t, NOW - timedelta(hours=2), NOW)
    compiled = query.compile(dialect=_dialects()["redshift"])
    where = str(compiled).split("WHERE", 1)[1]
    assert "clicks.ts_ms >= %(ts_ms_1)s AND clicks.ts_ms < %(ts_ms_2)s" in where
    assert (compiled.params["ts_ms_1"], compiled.params["ts_ms_2"]) == (1795600800000, 1795608000000)
    assert "TIMESTAMP 'epoch'" in str(compiled).split("WHERE", 1)[0]        # the hours are converted


@pytest.mark.system_postgres
def test_postgresql_reads_epoch_milliseconds_as_duckdb_does(four_column, epoch_ms, pg_four_column):
    with pg_four_column.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE analytics.epoch_events AS SELECT id, uid, kind, "
                             "CAST(round(EXTRACT(EPOCH FROM occurred_at) * 1000) AS bigint) AS occurred_at "
                             "FROM analytics.user_events")
    settings = EventsTable.assumed("analytics.epoch_events", FOUR, timestamps="epoch_ms")
    pg = run_checks(pg_four_column, reflect(pg_four_column, settings))
    duck = run_checks(epoch_ms, reflect(epoch_ms, EventsTable.assumed("analytics.user_events", FOUR,
                                                                      timestamps="epoch_ms")))
    assert _same(pg, duck)


# -- TIMESTAMPTZ read from sessions not in UTC --------------------------------------------------------

NEW_YORK = "America/New_York"


def test_duckdb_sessions_read_timestamptz_in_utc_whatever_the_machines_zone(four_column, tmp_path):
    """DuckDB's session zone defaults to this machine's: a laptop in New York compared a TIMESTAMPTZ column with
    the checks' naive UTC bounds five hours off. Engines made by utc_sessions (every Ops engine) are in UTC."""
    from opslib.connection import utc_sessions
    path = _four_column_copy(four_column, tmp_path / "tz.duckdb", "CAST(occurred_at AS TIMESTAMPTZ)")
    settings = EventsTable.assumed("analytics.user_events", FOUR)
    native = run_checks(four_column, reflect(four_column, settings))

    def checks(utc: bool) -> dict:
        engine = duckdb_engine(path)
        sa.event.listen(engine, "connect", lambda c, _: c.cursor().execute(f"SET TimeZone = '{NEW_YORK}'"))
        engine = utc_sessions(engine) if utc else engine
        try:
            return run_checks(engine, reflect(engine, settings))
        finally:
            engine.dispose()

    assert not _same(checks(utc=False), native)          # the shift this guards against is real
    assert _same(checks(utc=True), native)


@pytest.mark.system_postgres
def test_postgresql_sessions_read_timestamptz_in_utc_whatever_the_servers_zone(four_column, pg_four_column):
    """The same on PostgreSQL whose sessions start in New York's zone (a server's ``timezone``, here as a startup
    option): utc_sessions' setting holds, also after a rollback."""
    from opslib.connection import utc_sessions
    with pg_four_column.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE analytics.tz_events AS SELECT id, uid, kind, "
                             "occurred_at AT TIME ZONE 'UTC' AS occurred_at FROM analytics.user_events")
    engine = utc_sessions(sa.create_engine(pg_four_column.url, poolclass=NullPool,
                                           connect_args={"options": f"-c timezone={NEW_YORK}"}))
    try:
        with engine.connect() as conn:
            conn.rollback()
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"
        pg = run_checks(engine, reflect(engine, EventsTable.assumed("analytics.tz_events", FOUR)))
    finally:
        engine.dispose()
    assert _same(pg, run_checks(four_column, reflect(four_column, EventsTable.assumed("analytics.user_events", FOUR))))


# -- short history: 14 days of seasonal data ------------------------------------------------------

@pytest.fixture(scope="module")
def fourteen_days(tmp_path_factory):
    path = tmp_path_factory.mktemp("short") / "wh.duckdb"
    seasonal_duckdb(path, table="events", columns={c: c for c in EVENT_COLUMNS}, drop=datetime(2026, 11, 25, 11))
    engine = duckdb_engine(path)
    yield engine
    engine.dispose()


def test_fourteen_days_flag_the_real_drop_and_not_the_night_trough(fourteen_days):
    hourly = quality.completeness(fourteen_days, WIN)
    drop, night = pd.Timestamp("2026-11-25 11:00"), pd.Timestamp("2026-11-25 02:00")
    # the runbook's rule (the old fallback) flags the night and the drop; only the drop is anomalous
    assert list(hourly.index[hourly["runbook_status"] == rules.RUNBOOK_ANOMALY]) == [night, drop]
    assert hourly.at[night, "seasonal"] == "ok" and hourly.at[drop, "seasonal"] == "low"
    assert list(hourly.index[hourly["anomaly"]]) == [drop]
    assert (hourly["method"] == rules.WEEKDAYS).all() and (hourly["compared"] >= 3).all()
    check = quality.completeness_check(hourly, min_weeks=3)
    assert check.status == "fail" and check.figures["anomalous_hours"] == ["2026-11-25 11:00"]
    assert check.figures["rules"] == {rules.WEEKDAYS: 24} and "previous weekdays" in check.detail
    assert check.figures["hours_without_history"] == 0


def test_with_two_days_only_the_runbook_rule_judges(tmp_path):
    path = tmp_path / "young.duckdb"
    seasonal_duckdb(path, table="events", columns={c: c for c in EVENT_COLUMNS}, drop=None, days=2)
    engine = duckdb_engine(path)
    try:
        hourly = quality.completeness(engine, WIN)
    finally:
        engine.dispose()
    assert (hourly["method"] == rules.RUNBOOK_ONLY).all() and (hourly["seasonal"] == "no_history").all()
    check = quality.completeness_check(hourly, min_weeks=3)
    assert check.status in ("warn", "fail") and check.figures["hours_without_history"] == 24
    assert set(hourly.index[hourly["anomaly"]]) == set(hourly.index[hourly["runbook_status"] == rules.RUNBOOK_ANOMALY])


def _hours(start: str, days: int, *, weekend=0.5, seed=3) -> pd.Series:
    idx = pd.date_range(start, periods=days * 24, freq="h").astype("datetime64[us]")
    rng = np.random.default_rng(seed)
    day = 1000 * (0.625 - 0.375 * np.cos(2 * np.pi * (idx.hour - 2) / 24))
    values = day * np.where(idx.day_of_week >= 5, weekend, 1.0) * rng.uniform(0.97, 1.03, len(idx))
    return pd.Series(values.round().astype("int64"), index=idx)


def test_weekend_hours_are_judged_against_weekend_days():
    series = _hours("2026-10-26", 20)                 # Monday 26 Oct .. Saturday 14 Nov 23:00: two weeks back
    window = (series.index >= pd.Timestamp("2026-11-14"))
    out = rules.seasonal(series[window], series[~window])
    # within 14 days: Sat 31 Oct, Sun 1 Nov, Sat 7, Sun 8 (weeks: only 2 < min_weeks)
    assert (out["method"] == rules.WEEKEND_DAYS).all() and (out["compared"] == 4).all() and (out["weeks"] == 2).all()
    assert not out["anomaly"].any()                    # a weekend at half the weekday volume is expected


def test_mixed_days_flag_only_below_half_the_lowest_day():
    series = _hours("2026-11-09", 6, weekend=0.7)    # Monday .. Saturday: no weekend day before Saturday
    window = series.index >= pd.Timestamp("2026-11-14")
    out = rules.seasonal(series[window], series[~window], min_days=3)
    assert (out["method"] == rules.DAYS).all()
    assert not out["anomaly"].any()                    # Saturday at 70% of weekdays is not below half their lowest
    counts = series[window].copy()
    counts.iloc[10] = int(counts.iloc[10] * 0.3)
    out = rules.seasonal(counts, series[~window], min_days=3)
    assert list(out.index[out["anomaly"]]) == [counts.index[10]]


@pytest.mark.parametrize("kwargs, name", [({"min_days": 1}, "min_days"), ({"history_days": 0}, "history_days"),
                                          ({"min_days": 20}, "min_days")])
def test_history_parameters_are_validated(kwargs, name):
    series = _hours("2026-11-09", 6)
    with pytest.raises(ParameterError) as info:
        rules.seasonal(series[-24:], series[:-24], **kwargs)
    assert info.value.name == name


def _statements(engine: sa.Engine, fn) -> list[str]:
    seen: list[str] = []
    listener = lambda conn, cursor, statement, *args: seen.append(statement)   # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return seen


def test_previous_days_are_read_only_when_weeks_are_missing(fourteen_days, tmp_path):
    """14 days: the weeks query finds too little, so the days are read too (three queries); with five weeks
    of history only the runbook's query and the weeks' hours are read (two)."""
    short = _statements(fourteen_days, lambda: quality.completeness(fourteen_days, WIN))
    path = tmp_path / "old.duckdb"
    seasonal_duckdb(path, table="events", columns={c: c for c in EVENT_COLUMNS}, drop=None, days=35)
    engine = duckdb_engine(path)
    try:
        frames = []
        long = _statements(engine, lambda: frames.append(quality.completeness(engine, WIN)))
    finally:
        engine.dispose()
    assert len(short) == 3 and len(long) == 2
    assert (frames[0]["method"] == rules.WEEKS).all() and not frames[0]["anomaly"].any()


def test_a_quoted_mixed_case_table_is_found_and_checked(tmp_path):
    path = tmp_path / "quoted.duckdb"
    con = duckdb.connect(str(path))
    con.execute('CREATE SCHEMA "Raw Data"')
    con.execute('CREATE TABLE "Raw Data"."Events" AS SELECT \'e\' || (i % 50) AS "EventId", '
                "TIMESTAMP '2026-11-25 11:00' + to_seconds(i) AS ts FROM range(60) t(i)")
    con.close()
    engine = duckdb_engine(path)
    try:
        t = reflect(engine, EventsTable.assumed('"Raw Data"."Events"', {"event_id": "EventId", "event_timestamp": "ts"}))
        dups = quality.duplicates(engine, WIN, table=t)
    finally:
        engine.dispose()
    assert t.exists and set(t.present) == {"event_id", "event_timestamp"}
    assert dups.duplicate_ids == 10 and dups.extra_rows == 10 and dups.to_check().status == "fail"
