"""Performance library (opslib.sections.performance) against the sandbox: CloudWatch over HTTP, ECS task
definitions, the embedded PostgreSQL, the Kinesis stream, the DuckDB warehouse."""
from __future__ import annotations

import itertools
import json
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from opslib import charts
from opslib.sections import performance
from opslib.sandbox import sql


# -- API latency and throughput ------------------------------------------------------------------------
def test_api_performance_percentiles_and_throughput(ops):
    frame = performance.api_performance(ops, hours=1)
    assert list(frame.columns) == ["p50_ms", "p90_ms", "p99_ms", "requests_per_s"]
    assert len(frame) == 60 and frame.notna().all().all()
    assert (frame["p50_ms"] <= frame["p90_ms"]).all() and (frame["p90_ms"] <= frame["p99_ms"]).all()
    assert frame["requests_per_s"].between(100, 10_000).all()
    check = performance.latency_check(frame, target_ms=ops.profile.targets.p99_latency_ms)
    assert check.status == "ok" and check.figures["p99_worst_ms"] < 100


@pytest.mark.parametrize("values, status", [([80] * 15, "ok"), ([80] * 13 + [150] * 2, "warn"),
                                            ([80] * 5 + [240] * 10, "fail")])
def test_latency_check_sustained_breach_fails(values, status):
    frame = pd.DataFrame({"p99_ms": [50.0] * 30 + values})
    assert performance.latency_check(frame, target_ms=100, recent_minutes=15).status == status


def test_latency_check_without_data_warns():
    assert performance.latency_check(pd.DataFrame({"p99_ms": [float("nan")] * 20}), target_ms=100).status == "warn"


# -- settings checklist and pools ----------------------------------------------------------------------
def test_settings_checklist_against_live_task_definitions(ops):
    envs = performance.service_environments(ops, ["ingestion-api", "stream-processor", "data-api"])
    assert envs["ingestion-api"]["task_definition"] == "ingestion-api:24"
    checklist = performance.settings_checklist(envs)
    assert len(checklist) == len(performance.RUNBOOK_SETTINGS) * 3
    states = checklist.groupby("setting")["state"].unique().map(list).to_dict()
    assert states["pool max connections (max)"] == ["matches"]
    assert states["response compression (compression())"] == ["not readable"]
    check = performance.settings_check(checklist)
    assert check.status == "ok" and check.figures["matches"] == 12
    envs["data-api"]["env"]["DB_POOL_MAX"] = "50"
    changed = performance.settings_check(performance.settings_checklist(envs))
    assert changed.status == "warn" and "data-api pool max connections (max)=50 (runbook 20)" in changed.detail
    capacity = performance.pool_capacity(envs)
    assert capacity.set_index("service")["connections at full pools"].to_dict() == {
        "ingestion-api": envs["ingestion-api"]["running"] * 20, "stream-processor": envs["stream-processor"]["running"] * 20,
        "data-api": envs["data-api"]["running"] * 50}


def test_connection_exhaustion_is_found(ops, sandbox):
    metric = performance.db_connections_metric(ops, minutes=30)
    assert len(metric) == 30 and metric.max() <= 40          # the seeded healthy RDS metric
    healthy = performance.connection_usage(ops.database)
    assert healthy.max_connections == 100 and healthy.in_use < 20, healthy.by_state.to_string()
    assert performance.connection_check(healthy, metric).status == "ok"
    try:
        held = sql.connection_exhaustion(sandbox)
        usage = performance.connection_usage(ops.database)
        assert usage.in_use >= held.held
        apps = usage.by_state.set_index("application")["connections"]
        assert apps[sql.FAULT_APP_NAME] == held.held
        check = performance.connection_check(usage, metric)
        assert check.status == "fail" and "connection exhaustion" in check.detail and check.figures["ratio"] >= 0.8
    finally:
        sql.release_connections(sandbox)
    assert performance.connection_usage(ops.database).in_use < 20


def test_connection_check_uses_the_rds_metric_peak():
    usage = performance.ConnectionUsage(10, 100, 3, pd.DataFrame())
    assert performance.connection_check(usage, pd.Series([30.0] * 10 + [65.0] * 5)).status == "warn"
    assert performance.connection_check(usage, pd.Series([30.0] * 10 + [205.0] * 5)).status == "fail"
    assert performance.connection_check(usage, pd.Series([90.0] * 10 + [30.0] * 15)).status == "ok"  # peak too old
    # both figures labelled with their source, each against the one max_connections
    detail = performance.connection_check(usage, pd.Series([30.0] * 10 + [85.0] * 5)).detail
    assert "pg_stat_activity: 10 client connections now of max_connections 100 (10%)" in detail
    assert "CloudWatch DatabaseConnections: peak 85 in the last 15 min (85% of the same max_connections)" in detail
    assert "CloudWatch" not in performance.connection_check(usage, None).detail      # no metric: one source


# -- stream batch processing -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stream_records(sandbox):
    from opslib import connect
    handle = connect("sandbox", sandbox_dir=str(sandbox.config.dir))
    return performance.read_stream_records(handle)


def test_stream_records_are_read_from_every_shard(stream_records, ops):
    assert len(stream_records) == 1200                      # the seeded stream
    result = performance.process_batch(stream_records)
    assert (result.valid, result.invalid) == (1200, 0)
    assert sum(result.by_type.values()) == 1200 and len(result.by_minute) >= 55
    assert len(performance.read_stream_records(ops, limit=50)) == 50


def test_process_batch_rejects_poison_records():
    good = json.dumps({"event_id": "e1", "user_id": "u1", "event_type": "click",
                       "event_timestamp": "2026-11-25T11:59:00.000Z"}).encode()
    bad = [b"{not json", json.dumps({"event_id": None, "user_id": "u"}).encode(), b"\xff\xfe\x00garbage",
           b"[1, 2]", json.dumps({"event_id": "e", "user_id": "u", "event_type": "x", "event_timestamp": "soon"}).encode()]
    result = performance.process_batch([good] + bad)
    assert (result.valid, result.invalid, result.by_minute) == (1, 5, {"2026-11-25T11:59": 1})


def test_every_batch_setting_processes_the_same_records(stream_records):
    expected = performance.process_batch(stream_records)
    for size, workers in itertools.product((1, 7, 1000, 5000), (1, 3, 10)):
        got = performance.process_records(stream_records, batch_size=size, workers=workers)
        assert (got.valid, got.by_type, got.by_minute) == (expected.valid, expected.by_type, expected.by_minute)


def test_measurement_on_real_records_is_quick_and_complete(stream_records):
    measured = performance.measure_batch_settings(stream_records, batch_sizes=(100, 1000), workers=(1, 10),
                                                  working_set=2000, repeat=2)
    assert len(measured) == 4 and (measured["records"] == 2000).all()
    assert (measured["records_per_s"] > 1000).all() and measured["seconds"].sum() < 5
    best = performance.recommend_batch_setting(measured)
    assert best.runbook_records_per_s == pytest.approx(float(measured.query("batch_size == 1000 and workers == 10")
                                                             ["records_per_s"].iloc[0]))
    fig = charts.grouped_lines(measured, x="batch_size", y="records_per_s", group="workers", title="t",
                               highlight={"x": best.batch_size, "y": best.records_per_s})
    assert [t.name for t in fig.data] == ["workers=1", "workers=10", "selected"]


def test_recommendation_prefers_fewest_workers_then_smallest_batch():
    # a deterministic timer: each measurement lasts the seconds listed (two calls per measurement)
    durations = {(100, 1): 0.20, (100, 4): 0.10, (1000, 1): 0.105, (1000, 4): 0.104}
    ticks = iter(itertools.chain.from_iterable((0.0, d) for d in durations.values()))
    measured = performance.measure_batch_settings([b"{}"], batch_sizes=(100, 1000), workers=(1, 4), working_set=10,
                                                  repeat=1, timer=lambda: next(ticks))
    assert measured.set_index(["batch_size", "workers"])["seconds"].to_dict() == pytest.approx(durations)
    assert (measured["invalid"] == 10).all()
    best = performance.recommend_batch_setting(measured, runbook=(1000, 4))
    assert (best.batch_size, best.workers) == (1000, 1)            # within 10% of the best, one thread
    check = performance.batch_check(best, 1, 1)
    assert check.status == "warn" and "invalid" in check.detail
    with pytest.raises(Exception, match="at least one record"):
        performance.measure_batch_settings([])


# -- Redshift keys ---------------------------------------------------------------------------------------
def test_key_advice_from_the_warehouse(ops):
    advice = performance.key_advice(ops.warehouse)
    with ops.warehouse.connect() as conn:
        rows, users = conn.execute(sa.text("SELECT count(*), count(DISTINCT user_id) FROM events")).one()
    assert (advice.rows, advice.distinct_users) == (rows, users)
    assert advice.diststyle == "KEY(user_id)" and advice.top_user_share < 0.01
    assert advice.statements == ["ALTER TABLE events ALTER DISTKEY user_id;",
                                 "ALTER TABLE events ALTER SORTKEY (event_timestamp, user_id);", "ANALYZE events;"]
    plan = performance.plan_redshift_keys(ops, advice)
    assert len(plan) == 0 and "not Redshift" in plan.notes[0]


def test_key_advice_keeps_even_distribution_for_a_skewed_table(tmp_path):
    path = tmp_path / "skew.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events AS SELECT CASE WHEN i % 2 = 0 THEN 'bot' ELSE 'user-' || i END AS user_id, "
                "TIMESTAMP '2026-11-25' + to_seconds(i) AS event_timestamp FROM range(5000) t(i)")
    con.close()
    engine = sa.create_engine(f"duckdb:///{path}")
    advice = performance.key_advice(engine)
    engine.dispose()
    assert advice.diststyle == "EVEN" and advice.top_user_share == pytest.approx(0.5)
    assert advice.statements[0] == "ALTER TABLE events ALTER DISTSTYLE EVEN;"


# -- S3 intelligent tiering -------------------------------------------------------------------------------
def test_tiering_is_planned_applied_and_undone(ops, healthy_sandbox, tmp_path):
    from opslib.actions import apply, plan_undo
    s3 = ops.client("s3")
    bucket = ops.profile.s3.events_bucket
    plan = performance.plan_tiering(ops, archive_days=90, deep_archive_days=180)
    assert plan.changes[0].new["tierings"] == [{"AccessTier": "ARCHIVE_ACCESS", "Days": 90},
                                               {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": 180}]
    assert "put-bucket-intelligent-tiering-configuration" in plan.changes[0].cli
    apply(plan, dry_run=True, ops=ops, audit_dir=tmp_path, audit_database=False)
    assert not s3.list_bucket_intelligent_tiering_configurations(Bucket=bucket).get("IntelligentTieringConfigurationList")
    done = apply(plan, dry_run=False, ops=ops, audit_dir=tmp_path, audit_database=False)
    config = s3.get_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="archive-old-data")
    assert [t["Days"] for t in config["IntelligentTieringConfiguration"]["Tierings"]] == [90, 180]
    assert performance.plan_tiering(ops, archive_days=90, deep_archive_days=180).changes == []
    apply(plan_undo(ops, done.audit_id, audit_dir=tmp_path), dry_run=False, ops=ops, audit_dir=tmp_path,
          audit_database=False)
    assert not s3.list_bucket_intelligent_tiering_configurations(Bucket=bucket).get("IntelligentTieringConfigurationList")