"""opslib.sections.quality: the rules on synthetic hourly frames, the SQL per dialect, and the queries run on a
real DuckDB warehouse (built by the sandbox's generator) and on the sandbox's real PostgreSQL."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from duckdb_engine import Dialect as DuckDBDialect
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool

from opslib import charts
from opslib.sections import quality
from opslib.errors import ParameterError, QueryError
from opslib.sections.quality import queries as q
from opslib.sections.quality import rules
from opslib.sandbox.synthetic import HOURLY_PROFILE, build_warehouse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)      # a Wednesday
NOW_N = NOW.replace(tzinfo=None)
WIN = quality.window(NOW_N, hours=24)


# -- rules on synthetic frames --------------------------------------------------------------------

# A single-market day: traffic falls by more than half at midnight and climbs back in the morning.
MARKET_DAY = np.array([0.34, 0.25, 0.2, 0.2, 0.2, 0.25, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0,
                       1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85, 0.8, 0.8, 0.75])


def synthetic_hours(weeks: int = 5, *, peak: int = 10_000, seed: int = 1, day=MARKET_DAY) -> pd.Series:
    """``weeks`` weeks of hourly counts ending at NOW: MARKET_DAY (a 55% drop at midnight, as real
    traffic has), weekends at 70%, +-3% noise."""
    hours = pd.date_range(NOW_N - timedelta(weeks=weeks), NOW_N, freq="h", inclusive="left")
    rng = np.random.default_rng(seed)
    values = (peak * np.asarray(day)[hours.hour] * np.where(hours.day_of_week >= 5, 0.7, 1.0)
              * rng.uniform(0.97, 1.03, len(hours)))
    return pd.Series(values.round().astype("int64"), index=hours.astype("datetime64[us]"), name="event_count")


def split(series: pd.Series, win: quality.Window = WIN) -> tuple[pd.Series, pd.Series]:
    counts = series[(series.index >= win.start) & (series.index < win.end)]
    return counts, series[series.index < win.start]


def test_runbook_rule_misfires_on_a_trough_that_the_seasonal_rule_accepts():
    counts, history = split(synthetic_hours())
    out = rules.seasonal(counts, history)
    flagged_by_runbook = out.index[out["runbook_status"] == rules.RUNBOOK_ANOMALY]
    assert len(flagged_by_runbook) >= 1                          # the night drop halves the volume
    assert (out.loc[flagged_by_runbook, "seasonal"] == "ok").all()
    assert not out["anomaly"].any()
    assert rules.completeness_check(out, min_weeks=3).status == "ok"
    check = rules.runbook_rule_check(out)
    assert check.status == "warn" and check.figures["confirmed_by_seasonal"] == []


def test_slow_decline_is_caught_by_the_seasonal_rule_only():
    series = synthetic_hours().astype("float64")
    decline = (series.index >= WIN.end - timedelta(hours=12)) & (series.index < WIN.end)
    series[decline] *= 0.94 ** np.arange(1, 13)                  # -6% an hour: never a 50% step
    counts, history = split(series.round().astype("int64"))
    out = rules.seasonal(counts, history)
    assert (out["runbook_status"] == "OK").sum() >= len(out) - 2   # only the trough, if anything
    low = out.index[out["seasonal"] == "low"]
    assert len(low) >= 6 and low.max() == WIN.end - timedelta(hours=1)
    assert (low >= WIN.end - timedelta(hours=12)).all()             # nothing before the decline
    assert rules.completeness_check(out, min_weeks=3).status == "fail"


def test_one_dropped_hour_fails_exactly_that_hour_and_sensitivity_moves_the_band():
    series = synthetic_hours()
    hour = WIN.end - timedelta(hours=3)
    series[hour] = int(series[hour] * 0.1)
    counts, history = split(series)
    out = rules.seasonal(counts, history)
    assert list(out.index[out["anomaly"]]) == [hour]
    check = rules.completeness_check(out, min_weeks=3)
    assert check.status == "fail" and check.figures["anomalous_hours"] == [f"{hour:%Y-%m-%d %H}:00"]
    assert out.at[hour, "low"] > out.at[hour, "event_count"] and out.at[hour, "runbook_status"] == rules.RUNBOOK_ANOMALY
    # a 25% dip: inside a wide band, outside a narrow one
    series2 = synthetic_hours()
    series2[hour] = int(series2[hour] * 0.75)
    c2, h2 = split(series2)
    assert not rules.seasonal(c2, h2, sensitivity=8)["anomaly"].any()
    narrow = rules.seasonal(c2, h2, sensitivity=3)
    assert list(narrow.index[narrow["anomaly"]]) == [hour]


def test_missing_hour_and_spike():
    series = synthetic_hours()
    gone, spike = WIN.end - timedelta(hours=5), WIN.end - timedelta(hours=8)
    series[spike] *= 2
    counts, history = split(series.drop(gone))
    counts = rules.hourly_series(counts.rename("event_count").rename_axis("hour").reset_index(), WIN.start, WIN.end)
    assert counts[gone] == 0 and len(counts) == 24
    out = rules.seasonal(counts, history)
    assert out.at[gone, "seasonal"] == "low" and out.at[spike, "seasonal"] == "high"
    assert list(out.index[out["anomaly"]]) == [gone]              # a spike is not missing data
    assert rules.completeness_check(out, min_weeks=3).figures["high_hours"] == [f"{spike:%Y-%m-%d %H}:00"]


def test_without_history_the_runbook_rule_decides_and_the_check_warns():
    series = synthetic_hours(weeks=2, day=HOURLY_PROFILE)   # the sandbox's gentler day
    series = series[series.index >= WIN.start - timedelta(days=2)]     # two days: too few for any other rule
    hour = WIN.end - timedelta(hours=2)
    counts, history = split(series)
    healthy = rules.seasonal(counts, history, min_weeks=3)
    assert (healthy["seasonal"] == "no_history").all() and (healthy["weeks"] == 0).all()
    assert (healthy["method"] == rules.RUNBOOK_ONLY).all()
    assert rules.completeness_check(healthy, min_weeks=3).status == "warn"
    series[hour] = int(series[hour] * 0.3)
    counts, history = split(series)
    out = rules.seasonal(counts, history, min_weeks=3)
    assert list(out.index[out["anomaly"]]) == [hour]
    check = rules.completeness_check(out, min_weeks=3)
    assert check.status == "fail" and "50% rule" in check.detail


def test_two_weeks_of_history_judge_by_previous_weekdays():
    """Fewer than min_weeks weeks: the same hour of the previous weekdays decides (the window is a
    Tuesday-Wednesday), and a 70% drop still fails exactly that hour."""
    series = synthetic_hours(weeks=2, day=HOURLY_PROFILE)
    hour = WIN.end - timedelta(hours=2)
    counts, history = split(series)
    healthy = rules.seasonal(counts, history, min_weeks=3)
    assert (healthy["weeks"] == 1).all() and (healthy["method"] == rules.WEEKDAYS).all()
    assert not healthy["anomaly"].any() and (healthy["seasonal"] == "ok").all()
    assert rules.completeness_check(healthy, min_weeks=3).status == "ok"
    series[hour] = int(series[hour] * 0.3)
    counts, history = split(series)
    out = rules.seasonal(counts, history, min_weeks=3)
    assert list(out.index[out["anomaly"]]) == [hour] and out.at[hour, "seasonal"] == "low"
    assert rules.seasonal(counts, history, min_weeks=1)["method"].eq(rules.WEEKS).all()


@pytest.mark.parametrize("kwargs, name", [({"sensitivity": 0}, "sensitivity"), ({"min_weeks": 5}, "min_weeks"),
                                          ({"min_weeks": 0}, "min_weeks")])
def test_rule_parameters_are_validated(kwargs, name):
    counts, history = split(synthetic_hours())
    with pytest.raises(ParameterError) as info:
        rules.seasonal(counts, history, **kwargs)
    assert info.value.name == name


def test_freshness_validity_duplicates_and_score():
    fresh = rules.freshness(pd.Timestamp(NOW_N - timedelta(minutes=20)), None, as_of=NOW_N, max_minutes=15)
    assert fresh.age_minutes == pytest.approx(20) and fresh.to_check().status == "fail"
    assert rules.freshness(None, None, as_of=NOW_N, max_minutes=15).to_check().status == "fail"
    valid = rules.validity({"rows": 1000, "null_user_id": 20, "null_event_id": 0, "bad_revenue": 1})
    assert dict(zip(valid["check"], valid["rate"])) == {"user_id is null": 0.02, "event_id is null": 0.0,
                                                        "bad revenue": 0.001}
    assert rules.validity_check(valid, max_rate=0.01).status == "fail"
    assert rules.validity_check(valid, max_rate=0.05).status == "ok"
    ids = pd.DataFrame({"event_id": ["b", "a"], "duplicate_count": [2, 3]})
    dups = rules.Duplicates(start=NOW_N - timedelta(hours=1), end=NOW_N, ids=ids, duplicate_ids=2, extra_rows=3,
                            rows=100, threshold=2)
    assert dups.to_check().status == "ok" and dups.to_check().figures["event_ids"] == ["a", "b"]
    assert rules.Duplicates(**{**dups.__dict__, "threshold": 1}).to_check().status == "fail"
    counts, history = split(synthetic_hours())
    healthy = rules.seasonal(counts, history)
    perfect = rules.quality_score(healthy, rules.Duplicates(**{**dups.__dict__, "extra_rows": 0}),
                                  rules.freshness(NOW_N, NOW_N, as_of=NOW_N, max_minutes=15), valid.assign(rate=0.0))
    assert perfect.score == 100 and perfect.to_check().figures["quality_score"] == 100
    worse = rules.quality_score(healthy, dups, fresh, valid)
    # uniqueness 0.97, freshness 1 - 5/45, validity 0.98
    assert worse.score == pytest.approx(100 * (0.4 + 0.2 * 0.97 + 0.2 * (1 - 5 / 45) + 0.2 * 0.98))


def test_staleness_and_window():
    hourly = pd.DataFrame({"newest": [NOW_N - timedelta(hours=2, minutes=10), pd.NaT, NOW_N - timedelta(minutes=50)]},
                          index=pd.DatetimeIndex([NOW_N - timedelta(hours=h) for h in (3, 2, 1)]))
    assert list(rules.staleness(hourly, NOW_N - timedelta(minutes=30)).round(1)) == [10.0, 70.0, 20.0]
    win = quality.window(quality.resolve_as_of("2026-11-25T12:05:00Z", NOW), hours=24)
    assert (win.start, win.end, win.as_of) == (NOW_N - timedelta(hours=24), NOW_N, NOW_N + timedelta(minutes=5))
    assert win.last_hour == (NOW_N - timedelta(minutes=55), NOW_N + timedelta(minutes=5))
    assert quality.resolve_as_of(None, NOW) == NOW_N
    assert quality.resolve_as_of("2026-11-25T13:00:00+01:00", NOW) == NOW_N
    for bad in ("yesterday", "2026-13-01"):
        with pytest.raises(ParameterError) as info:
            quality.resolve_as_of(bad, NOW)
        assert info.value.name == "as_of"
    with pytest.raises(ParameterError):
        quality.window(NOW_N, hours=1)


# -- SQL per dialect --------------------------------------------------------------------------------

def redshift_dialect():
    rs = pytest.importorskip("sqlalchemy_redshift.dialect")
    return rs.RedshiftDialect_psycopg2()


DIALECTS = {"postgresql": postgresql.dialect, "duckdb": DuckDBDialect, "redshift": redshift_dialect}
T = q.events_table()
QUERIES = {
    "runbook_completeness": q.runbook_completeness(T, WIN.start, WIN.end),
    "runbook_duplicates": q.runbook_duplicates(T, *WIN.last_hour, 1000),
    "duplicate_totals": q.duplicate_totals(T, *WIN.last_hour),
    "hourly_profile": q.hourly_profile(T, [(WIN.start, WIN.as_of)]),
    "hourly_counts": q.hourly_counts(T, [(WIN.start - timedelta(weeks=k), WIN.end - timedelta(weeks=k))
                                         for k in (1, 2)]),
    "duplicates_by_hour": q.duplicates_by_hour(T, WIN.start, WIN.end),
    "newest_event": q.newest_event(T, WIN.start, WIN.as_of),
    "column_quality": q.column_quality(T, WIN.start, WIN.end),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", QUERIES)
def test_queries_compile_per_dialect_with_bound_times(dialect, name):
    d = DIALECTS[dialect]()
    params = QUERIES[name].compile(dialect=d).params
    sql = quality.compiled_sql(QUERIES[name], d)
    assert "now()" not in sql.lower() and "interval" not in sql.lower()
    assert "'2026-11-" in sql                                     # the bound window, inlined for display
    assert all(isinstance(v, (datetime, int, float, str, list)) for v in params.values())
    if "hour" in name or "completeness" in name:
        assert "date_trunc('hour', events.event_timestamp)" in sql     # the unit is literal, not a parameter
    if name == "hourly_profile":
        assert ("DATEDIFF(millisecond" in sql) == (dialect == "redshift")
        assert ("EXTRACT(EPOCH FROM" in sql) == (dialect != "redshift")
    if name == "runbook_completeness":
        assert "'ANOMALY: 50% drop'" in sql
        assert "lag(hourly_counts.event_count) OVER (ORDER BY hourly_counts.hour)" in sql


def test_engine_for_names_the_sources():
    class FakeOps:        # only attribute lookup matters here
        warehouse, database = "W", "D"
    assert quality.engine_for(FakeOps, "warehouse") == "W" and quality.engine_for(FakeOps, "database") == "D"
    with pytest.raises(ParameterError) as info:
        quality.engine_for(FakeOps, "lake")
    assert info.value.name == "source"


# -- on a real DuckDB warehouse ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A sandbox-style warehouse (35 days, 20,000 events) and a faulty copy: hour 09:00 lost 90%, ten
    events of 11:00 stored twice, every user_id of 10:00 null, 2 unknown event_types at 08:00."""
    folder = tmp_path_factory.mktemp("dq")
    healthy = folder / "healthy.duckdb"
    build_warehouse(healthy, now=NOW, seed=7, events=20_000)
    faulty = folder / "faulty.duckdb"
    shutil.copy(healthy, faulty)
    con = duckdb.connect(str(faulty))
    con.execute("DELETE FROM events WHERE event_timestamp >= '2026-11-25 09:00' "
                "AND event_timestamp < '2026-11-25 10:00' AND hash(event_id) % 10 <> 0")
    con.execute("INSERT INTO events SELECT * FROM events WHERE event_timestamp >= '2026-11-25 11:00' "
                "ORDER BY event_id LIMIT 10")
    dup_ids = [r[0] for r in con.execute("SELECT event_id FROM events GROUP BY 1 HAVING count(*) > 1 "
                                         "ORDER BY 1").fetchall()]
    con.execute("UPDATE events SET user_id = NULL WHERE event_timestamp >= '2026-11-25 10:00' "
                "AND event_timestamp < '2026-11-25 11:00'")
    con.execute("UPDATE events SET event_type = 'pageview' WHERE event_id IN (SELECT event_id FROM events "
                "WHERE event_timestamp >= '2026-11-25 08:00' AND event_timestamp < '2026-11-25 09:00' "
                "ORDER BY event_id LIMIT 2)")
    con.close()
    engines = {name: sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=NullPool)
               for name, path in (("healthy", healthy), ("faulty", faulty))}
    yield engines, dup_ids
    for e in engines.values():
        e.dispose()


def test_healthy_warehouse_passes_every_check(warehouse):
    engine = warehouse[0]["healthy"]
    hourly = quality.completeness(engine, WIN)
    assert len(hourly) == 24 and (hourly["weeks"] == 4).all() and not hourly["anomaly"].any()
    trough = hourly["event_count"].idxmin()
    assert HOURLY_PROFILE[trough.hour] <= 0.35 and hourly.at[trough, "event_count"] < 0.45 * hourly["event_count"].max()
    assert hourly.at[trough, "seasonal"] == "ok"           # the nightly trough is in the window, and expected
    direct = duckdb.connect(str(engine.url.database), read_only=True)
    try:
        total = direct.execute("SELECT count(*) FROM events WHERE event_timestamp >= ? AND event_timestamp < ?",
                               [WIN.start, WIN.end]).fetchone()[0]
    finally:
        direct.close()
    assert hourly["event_count"].sum() == total
    dups = quality.duplicates(engine, WIN)
    fresh = quality.freshness(engine, WIN, max_minutes=15)
    valid = quality.validity(engine, WIN)
    checks = [quality.completeness_check(hourly, min_weeks=3), quality.runbook_rule_check(hourly), dups.to_check(),
              fresh.to_check(), quality.validity_check(valid, max_rate=0.01)]
    assert [c.status for c in checks] == ["ok"] * 5, checks
    assert dups.rows > 0 and 0 <= fresh.age_minutes < 15
    with quality.open_connection(engine, duckdb_memory_limit="256MB") as conn:   # one connection, as the notebook
        assert conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar() == "244.1 MiB"
        pd.testing.assert_frame_equal(quality.completeness(conn, WIN), hourly)
        pd.testing.assert_frame_equal(quality.validity(conn, WIN), valid)
        assert not conn.closed
    with pytest.raises(ParameterError):
        quality.open_connection(engine, duckdb_memory_limit="lots")
    assert quality.quality_score(hourly, dups, fresh, valid).score > 99.9


def test_faulty_warehouse_fails_where_the_faults_are(warehouse):
    engines, dup_ids = warehouse
    engine = engines["faulty"]
    hourly = quality.completeness(engine, WIN)
    assert list(hourly.index[hourly["anomaly"]]) == [pd.Timestamp("2026-11-25 09:00")]
    assert hourly.at[pd.Timestamp("2026-11-25 09:00"), "runbook_status"] == rules.RUNBOOK_ANOMALY
    dups = quality.duplicates(engine, WIN)
    assert sorted(dups.ids["event_id"]) == dup_ids and len(dup_ids) == 10
    assert (dups.duplicate_ids, dups.extra_rows, dups.to_check().status) == (10, 10, "fail")
    by_hour = quality.duplicates_hourly(engine, WIN)
    assert by_hour["duplicate_rows"].to_dict() == {h: (10 if h == pd.Timestamp("2026-11-25 11:00") else 0)
                                                   for h in by_hour.index}
    valid = quality.validity(engine, WIN).set_index("check")
    ten = hourly.at[pd.Timestamp("2026-11-25 10:00"), "event_count"]
    assert ten > 0 and ten <= valid.at["user_id is null", "rows"] <= ten + 3 and valid.at["bad event type", "rows"] == 2
    assert 0.02 < valid.at["user_id is null", "rate"] < 0.1                  # one hour in 24
    assert quality.validity_check(valid.reset_index(), max_rate=0.01).status == "fail"
    assert quality.validity_check(valid.reset_index(), max_rate=0.1).status == "ok"


def test_runbook_sql_matches_the_rule_and_misfires_on_the_partial_hour(warehouse):
    engine = warehouse[0]["healthy"]
    # the runbook as written, run at 11:05: [NOW() - 24 h, NOW()) ends with five minutes of the new hour
    as_of = NOW_N - timedelta(minutes=55)
    as_written = quality.runbook_completeness(engine, quality.Window(as_of, as_of - timedelta(hours=23), as_of))
    newest = as_written.iloc[0]
    assert newest["hour"] == pd.Timestamp(NOW_N - timedelta(hours=1)) and newest["status"] == rules.RUNBOOK_ANOMALY
    # the notebook's window: complete hours only, nothing flagged; the SQL agrees with the pandas rule
    hourly = quality.completeness(engine, quality.window(as_of, hours=24))
    assert not hourly["anomaly"].any() and (hourly["runbook_status"] == "OK").all()
    sql = quality.runbook_completeness(engine, WIN).set_index("hour").sort_index()
    pandas = rules.runbook_rule(sql["event_count"])
    assert (pandas["runbook_status"] == sql["status"]).all()
    assert pandas["prev_hour_count"].iloc[1:].tolist() == sql["prev_hour_count"].iloc[1:].tolist()


def test_activity_freshness_and_a_chart(warehouse):
    engine = warehouse[0]["healthy"]
    win = quality.window(NOW_N + timedelta(minutes=30), hours=24)
    activity = quality.hourly_activity(engine, win)
    assert len(activity) == 25 and activity.index[-1] == pd.Timestamp(NOW_N)      # the current hour, to as_of
    assert activity["event_count"].iloc[-1] == 0 and activity["age_minutes"].iloc[-1] > 30
    complete = activity.iloc[:-1]
    assert (complete["mean_delay_s"] > 0).all() and (complete["max_delay_s"] >= complete["mean_delay_s"]).all()
    assert quality.freshness(engine, win, max_minutes=15).to_check().status == "fail"    # nothing for 30 min
    fig = charts.completeness(quality.completeness(engine, WIN))
    names = [t.name for t in fig.data]
    assert "expected band" in names and "events" in names and "anomalous hour" not in names


def test_query_errors_are_query_errors(tmp_path):
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'empty.duckdb'}", poolclass=NullPool)
    with pytest.raises(QueryError, match="duckdb"):
        quality.completeness(engine, WIN)


# -- on the sandbox's PostgreSQL --------------------------------------------------------------------

def test_postgresql_gives_the_same_answers_as_the_warehouse(ops):
    """The sandbox's database holds the last 7 days (all of them at the session's size): the same
    counts, validity and freshness as the warehouse; no previous weeks, so the same hour of the previous
    weekdays decides (not the runbook's 50% rule)."""
    pg, wh = quality.completeness(ops.database, WIN), quality.completeness(ops.warehouse, WIN)
    assert ops.database.dialect.name == "postgresql"
    assert pg["event_count"].tolist() == wh["event_count"].tolist() and pg["event_count"].sum() > 0
    assert (pg["weeks"] == 0).all() and (pg["method"] == rules.WEEKDAYS).all() and (pg["compared"] >= 3).all()
    assert not pg["anomaly"].any() and (pg["seasonal"] != "no_history").all()
    assert quality.completeness_check(pg, min_weeks=3).figures["hours_without_history"] == 0
    assert (pg["runbook_status"] == wh["runbook_status"]).all()
    pd.testing.assert_frame_equal(quality.validity(ops.database, WIN), quality.validity(ops.warehouse, WIN))
    assert quality.freshness(ops.database, WIN).newest_event == quality.freshness(ops.warehouse, WIN).newest_event
    activity = quality.hourly_activity(ops.database, WIN)
    assert activity["mean_delay_s"].notna().all() and (activity["mean_delay_s"] > 0).all()


def test_postgresql_duplicates_and_history(ops):
    """A copy of the events table without the primary key, in its own schema: duplicates and the
    seasonal history query run on PostgreSQL."""
    with ops.database.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS dq_test CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA dq_test"))
        conn.execute(sa.text("CREATE TABLE dq_test.events AS SELECT * FROM public.events"))
        conn.execute(sa.text("INSERT INTO dq_test.events SELECT * FROM public.events WHERE event_timestamp >= :h "
                             "ORDER BY event_id LIMIT 3"), {"h": NOW_N - timedelta(minutes=30)})
        # the window's events again, one week earlier: a previous week of history (the database keeps 7 days)
        conn.execute(sa.text("INSERT INTO dq_test.events (event_id, event_type, event_timestamp, received_at) "
                             "SELECT event_id || '-w1', event_type, event_timestamp - interval '7 days', "
                             "received_at - interval '7 days' FROM public.events WHERE event_timestamp >= :s"),
                     {"s": WIN.start})
        expected = sorted(r[0] for r in conn.execute(sa.text(
            "SELECT event_id FROM public.events WHERE event_timestamp >= :h ORDER BY event_id LIMIT 3"),
            {"h": NOW_N - timedelta(minutes=30)}))
    try:
        t = q.events_table(schema="dq_test")
        dups = quality.duplicates(ops.database, WIN, table=t)
        assert sorted(dups.ids["event_id"]) == expected and dups.duplicate_ids == 3 and not dups.ok
        hourly = quality.completeness(ops.database, WIN, table=t, min_weeks=1, history_weeks=1)
        assert (hourly["weeks"] == 1).all() and (hourly["seasonal"] == "ok").all()
        assert (hourly["expected"] == hourly["event_count"] - hourly.index.map(
            lambda h: 3 if h == pd.Timestamp(NOW_N - timedelta(hours=1)) else 0)).all()
    finally:
        with ops.database.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA dq_test CASCADE"))
