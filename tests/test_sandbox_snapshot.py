"""``Sandbox.reset`` restores the snapshot taken after seeding (moto's backends, the warehouse file, the
database from its template, the certificate files): the same healthy pipeline as seeding again."""
from __future__ import annotations

import re
from datetime import timedelta

import duckdb
import sqlalchemy as sa
from cryptography import x509

FAULTS = ("leaked-credential", "high-error-rate", "volume-drop", "slow-queries", "expiring-certificate",
          "stale-backup", "connection-exhaustion", "api-down")


UUID = re.compile(r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")   # names moto makes unique


def _certificate(path) -> tuple:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.rfc4514_string(), cert.not_valid_after_utc.isoformat()


def fingerprint(sb) -> dict:
    """What the faults change, read through the public APIs, the files and the databases. Only what is
    stable across seeding (no generated ids)."""
    iam, lam, s3, ecs, cw = (sb.client(s) for s in ("iam", "lambda", "s3", "ecs", "cloudwatch"))
    buckets = {b["Name"]: sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"])
                                 for o in p.get("Contents", []))
               for b in s3.list_buckets()["Buckets"]}
    services = ecs.describe_services(cluster=sb.profile.ecs.cluster,
                                     services=[s.name for s in sb.profile.services if s.type == "ecs"])["services"]
    now = sb.now.replace(tzinfo=None)
    with duckdb.connect(str(sb.warehouse_path), read_only=True) as con:
        warehouse = con.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM error_logs), "
                                "(SELECT count(DISTINCT event_id) FROM events)").fetchone()
    with sb.pg.engine.connect() as conn:
        database = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM error_logs), "
            "(SELECT count(*) FROM pg_stat_statements WHERE mean_exec_time > 1000 AND dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())), "
            "(SELECT count(*) FROM pg_stat_activity WHERE application_name = 'opslib-sandbox-fault')")).one()
        analyzed = conn.execute(sa.text("SELECT reltuples > 0 FROM pg_class WHERE relname = 'events'")).scalar()
    dr = sb.client("dynamodb")
    return {
        "etl_keys": len(iam.list_access_keys(UserName="etl-service")["AccessKeyMetadata"]),
        "lambda_env": lam.get_function_configuration(FunctionName="real-time-aggregator").get("Environment"),
        "buckets": buckets,
        "services": sorted((s["serviceName"], s["taskDefinition"].rsplit("/", 1)[-1], s["desiredCount"],
                            s["runningCount"]) for s in services),
        "alarms": sorted((UUID.sub("", a["AlarmName"]), a["StateValue"]) for a in cw.describe_alarms()["MetricAlarms"]),
        "latency": [round(p["Maximum"], 3) for p in sorted(cw.get_metric_statistics(
            Namespace=sb.profile.metrics["latency_ms"].namespace, MetricName=sb.profile.metrics["latency_ms"].name,
            Dimensions=[{"Name": k, "Value": v} for k, v in sb.profile.metrics["latency_ms"].dimensions.items()],
            StartTime=sb.now - timedelta(minutes=30), EndTime=sb.now, Period=60, Statistics=["Maximum"])["Datapoints"],
            key=lambda p: p["Timestamp"])],
        "backups": sorted(b["BackupCreationDateTime"].isoformat() for b in dr.list_backups()["BackupSummaries"]),
        "warehouse": warehouse, "database": tuple(database), "analyzed": analyzed,
        "cert": _certificate(sb.config.dir / "certs" / "api.crt"),
        "faults": sorted(sb.faults.active), "hour": now.isoformat(),
    }


def test_reset_by_snapshot_restores_every_fault_and_matches_a_reseed(sandbox):
    assert sandbox.snapshot is not None and sandbox.snapshot.template == "analytics_seed"
    healthy = fingerprint(sandbox)
    assert healthy["database"][2:] == (0, 0) and healthy["analyzed"]
    for fault in FAULTS:
        sandbox.inject(fault)
    faulty = fingerprint(sandbox)
    changed = {k for k in healthy if healthy[k] != faulty[k]}
    assert {"etl_keys", "lambda_env", "buckets", "services", "alarms", "latency", "backups", "warehouse",
            "database", "cert", "faults"} <= changed
    sandbox.reset()
    assert fingerprint(sandbox) == healthy
    sandbox.reset(reseed=True)                 # the slow path gives the same pipeline
    assert fingerprint(sandbox) == healthy
    sandbox.inject("duplicates")
    sandbox.reset()                            # the snapshot retaken after the reseed restores too
    assert fingerprint(sandbox) == healthy


def test_services_first_used_after_the_snapshot_are_emptied(sandbox):
    sqs = sandbox.client("sqs")
    sqs.create_queue(QueueName="made-by-a-drill")
    assert any(u.endswith("/made-by-a-drill") for u in sqs.list_queues().get("QueueUrls", []))
    sandbox.reset()
    assert not any(u.endswith("/made-by-a-drill") for u in sqs.list_queues().get("QueueUrls", []))


def test_reset_is_repeatable_and_the_restored_state_is_independent_of_the_snapshot(sandbox):
    """A fault after a restore must not leak into the snapshot: the next restore is healthy again."""
    healthy = fingerprint(sandbox)
    for _ in range(2):
        sandbox.inject("leaked-credential")
        assert fingerprint(sandbox)["etl_keys"] == healthy["etl_keys"] + 1
        sandbox.reset()
        assert fingerprint(sandbox) == healthy


def test_reset_restores_after_moto_itself_was_reset_in_this_process(sandbox):
    """Another test in the same process may call moto's BackendDict.reset() (or end a mock_aws()); moto
    then serves fresh, empty accounts: the snapshot restore puts the seeded ones back."""
    from moto.core.base_backend import BackendDict
    healthy = fingerprint(sandbox)
    sandbox.scheduler.pause()
    BackendDict.reset()
    assert sandbox.client("iam").list_users()["Users"] == []        # moto made a new, empty account
    sandbox.reset()
    assert fingerprint(sandbox) == healthy
