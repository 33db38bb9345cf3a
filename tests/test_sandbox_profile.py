"""The sandbox follows the profile it is given, without starting one: the profile as a path, the warehouse's
events table (schema-qualified, fewer renamed columns) built by real DuckDB, faults resolving services by role."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from opslib.config import load_profile
from opslib.sandbox import control, ecs_scheduler, seed_aws, synthetic
from opslib.sandbox.core import Faults, SandboxConfig

from test_actions_env import act_pg  # noqa: F401  (fixture: a scratch PostgreSQL database)

OTHER = Path(__file__).resolve().parent / "profiles" / "other-pipeline.yaml"
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def test_config_takes_a_profile_path_and_keeps_names(tmp_path, monkeypatch):
    monkeypatch.chdir(OTHER.parent.parent)
    assert SandboxConfig(dir=tmp_path, profile=Path("profiles/other-pipeline.yaml")).profile == str(OTHER)
    assert SandboxConfig(dir=tmp_path).profile == "sandbox"


def test_up_refuses_a_bad_profile_before_starting_anything(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    with pytest.raises(Exception, match="required"):
        control.up(tmp_path / "sb", profile=str(bad))
    assert not (tmp_path / "sb").exists()


def test_warehouse_events_table_schema_qualified_with_the_mapped_columns(tmp_path):
    w = load_profile(OTHER).databases.warehouse
    summary = synthetic.build_warehouse(tmp_path / "w.duckdb", now=NOW, seed=1, events=3_000, table=w.events_table,
                                        columns=w.columns, services=("collector", "enricher"))
    with duckdb.connect(str(summary.path), read_only=True) as con:
        cols = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                           "'analytics' AND table_name = 'user_events' ORDER BY ordinal_position").fetchall()
        n, first, last = con.execute("SELECT count(*), min(occurred_at), max(occurred_at) "
                                     "FROM analytics.user_events").fetchone()
        services = {r[0] for r in con.execute("SELECT DISTINCT service FROM error_logs").fetchall()}
    assert cols == [("id", "VARCHAR"), ("uid", "VARCHAR"), ("kind", "VARCHAR"), ("occurred_at", "TIMESTAMP")]
    assert n == 3_000 and first >= summary.start and last < summary.end
    assert services == {"collector", "enricher"}
    # no map: every runbook column under its own name, as before
    assert list(synthetic.event_columns({})) == list(synthetic.EVENT_TYPES_SQL)


def test_api_down_outage_is_the_ingest_role_whatever_its_name():
    profile = load_profile(OTHER)
    sb = SimpleNamespace(profile=profile, faults=Faults(), region=lambda w: {"primary": "eu-west-1"}.get(w, w))
    sb.faults.add("api-down")                   # no explicit ecs_down: the built-in default, by role
    [outage] = ecs_scheduler.ecs_outages(sb)
    assert (outage.region, outage.cluster, outage.service, outage.mode) == ("eu-west-1", "clickstream-eu",
                                                                            "collector", "crash")


def test_load_balancer_names_come_from_the_profiles_dns_names():
    assert seed_aws.alb_name("edge-lb.eu-west-1.elb.amazonaws.com") == "edge-lb"
    assert seed_aws.alb_name("prod-alb-1234567890.us-east-1.elb.amazonaws.com") == "prod-alb"


def test_database_events_table_follows_the_profile_too(act_pg, tmp_path):
    """PostgreSQL (a scratch database): the profile's schema-qualified events table with its mapped columns,
    seeded from the warehouse, and the volume-drop helper deleting from it."""
    from datetime import timedelta

    import sqlalchemy as sa

    from opslib.sandbox import sql
    base = load_profile(OTHER)
    db = base.databases.database.model_copy(update={"events_table": "ops.clicks",
                                                    "columns": {"event_id": "click_id", "event_timestamp": "at",
                                                                "event_type": "what"}})
    profile = base.model_copy(update={"databases": base.databases.model_copy(update={"database": db})})
    config = SandboxConfig(dir=tmp_path, seed=1, now=NOW, events=5_000, database_url=act_pg)
    sb = SimpleNamespace(profile=profile, config=config, now=config.now, warehouse_path=tmp_path / "w.duckdb", pg=None)
    sql.start_database(sb)
    try:
        sql.seed(sb)
        hour = sql.volume_drop(sb, hours_ago=3, keep_fraction=0.1)
        with sb.pg.engine.connect() as conn:
            cols = conn.execute(sa.text("SELECT column_name FROM information_schema.columns WHERE table_schema = 'ops' "
                                        "AND table_name = 'clicks' ORDER BY ordinal_position")).scalars().all()
            total = conn.execute(sa.text("SELECT count(*) FROM ops.clicks")).scalar()
            dropped = conn.execute(sa.text("SELECT count(*) FROM ops.clicks WHERE at >= :h AND at < :e"),
                                   {"h": hour, "e": hour + timedelta(hours=1)}).scalar()
            before = conn.execute(sa.text("SELECT count(*) FROM ops.clicks WHERE at >= :h AND at < :e"),
                                  {"h": hour - timedelta(hours=1), "e": hour}).scalar()
            public = conn.execute(sa.text("SELECT to_regclass('public.events')")).scalar()
    finally:
        sql.stop_database(sb)
    assert cols == ["click_id", "what", "at"] and public is None
    assert total > 0 and before > 0 and dropped < before * 0.3
