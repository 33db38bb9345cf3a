"""Disaster recovery against the sandbox: RTO/RPO status, readiness, the failover and database failover
plans, and the test restore that cleans up after itself."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from opslib.sections import disaster_recovery as dr
from opslib.actions import AuditLog, Plan, Precondition, apply
from opslib.actions import dynamodb as dynamodb_actions
from opslib.sections.disaster_recovery import restore
from opslib.errors import ActionError, ParameterError
from opslib.sandbox import metric_history, moto_gaps


@pytest.fixture
def audit(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    return AuditLog(tmp_path / "audit")


def _scratch_tables(ops) -> list[str]:
    pages = ops.client("dynamodb").get_paginator("list_tables").paginate()
    return [t for p in pages for t in p["TableNames"] if t.startswith(dr.SCRATCH_PREFIX)]


@pytest.mark.parametrize("kwargs, name", [
    ({"operation": "failover", "dry_run": True}, "operation"),
    ({"operation": "status", "dry_run": "no"}, "dry_run"),
    ({"operation": "status", "dry_run": True, "desired_count": 0}, "desired_count"),
    ({"operation": "status", "dry_run": True, "window_minutes": 2}, "window_minutes"),
    ({"operation": "test-restore", "dry_run": True, "tolerance": 1.5}, "tolerance"),
])
def test_bad_parameters_name_what_is_allowed(kwargs, name):
    with pytest.raises(ParameterError) as err:
        dr.validate_parameters(**kwargs)
    assert err.value.name == name
    if name == "operation":
        assert all(op in str(err.value) for op in dr.OPERATIONS)


def test_healthy_status(ops, sandbox):
    now = ops.now()
    backups = dr.backup_status(ops, now=now)
    ages = backups.ages()
    assert ages["ok"].all() and (ages["age_hours"] < 24).all()
    assert backups.check().status == "ok"
    verified = dr.verify_backups(ops, backups)
    assert len(verified) == 3 and verified["ok"].all()          # two S3 objects and the DynamoDB backup
    assert dr.verification_check(verified).status == "ok"
    rpo = dr.rpo_status(ops, now=now)
    assert len(rpo.lag.dropna()) == 60 and rpo.lag.max() < 60
    assert rpo.check().status == "ok", rpo.check().detail
    ready = dr.readiness(ops)
    assert not ready.primary_down and ready.dr_ready and not ready.on_dr and not ready.failover_advised
    assert [c.status for c in ready.checks()] == ["ok", "ok"]


def test_replica_lag_over_the_rpo_fails(ops, sandbox):
    now = ops.now()
    metric = dr.replica_lag_metric(ops)
    backend = sandbox.backend("cloudwatch")
    start = now - timedelta(minutes=10)
    points = [(start + timedelta(minutes=i), 420.0) for i in range(10)]
    try:
        moto_gaps.replace_datums(backend, metric.namespace, metric.name, metric.dimensions, start, now,
                                 moto_gaps.make_datums(metric.namespace, metric.name, metric.dimensions, "Seconds", points))
        rpo = dr.rpo_status(ops, now=now)
        check = rpo.check()
        assert check.status == "fail" and check.figures["replica_lag_s"] == 420.0
    finally:
        metric_history.seed(sandbox)
    assert dr.rpo_status(ops, now=now).check().status == "ok"


def test_faults_detected_then_database_failover_applied(ops, healthy_sandbox, audit):
    """One reset for everything that changes the sandbox: stale-backup, region-outage, a promoted replica."""
    injected = healthy_sandbox.inject("stale-backup")
    backups = dr.backup_status(ops, now=ops.now())
    check = backups.check()
    assert check.status == "fail"
    ages = backups.ages().set_index("backup")["age_hours"]
    assert ages["S3 daily"] == 84.0                               # 3 days + 12 h: today's and 2 days removed
    assert ages["DynamoDB"] > 3 * 24
    listed = {k for keys in backups.s3["keys"] for k in keys}
    assert injected["removed_s3_keys"] and not listed & set(injected["removed_s3_keys"])
    assert dr.verification_check(dr.verify_backups(ops, backups)).status == "ok"   # the older ones are intact

    healthy_sandbox.inject("region-outage")
    ready = dr.readiness(ops)
    assert ready.primary_down and ready.dr_ready and ready.failover_advised
    primary, readiness = ready.checks()
    assert primary.status == "fail" and "ADVISED" in primary.detail and readiness.status == "ok"
    plan = dr.plan_operation(ops, "regional-failover", now=ops.now())
    assert [c.kind for c in plan.changes] == ["ecs.desired_count", "kinesis.encryption", "route53.record"]
    assert all(c.meta["requires_preflight"] for c in plan.changes) and all(c.ok for c in plan.checks)
    assert "start-stream-encryption" in plan.commands and "enable-stream-encryption" not in plan.commands
    outcome = dr.run_operation(ops, "regional-failover", plan)              # dry run
    assert [c.status for c in outcome.checks()] == ["warn"]
    assert [r.status for r in audit.records()] == ["planned"]
    assert not dr.readiness(ops).on_dr                                      # nothing moved

    plan = dr.plan_operation(ops, "database-failover", now=ops.now())
    assert [c.kind for c in plan.changes] == ["rds.promote", "secrets.value"]
    assert "promote-read-replica" in plan.commands and "update-secret" in plan.commands
    before = dr.verify_database(ops)
    assert [c.ok for c in before[:2]] == [False, False]
    planned = dr.run_operation(ops, "database-failover", plan)
    assert [c.status for c in planned.checks()] == ["warn"] and planned.verified is None
    applied = dr.run_operation(ops, "database-failover", dr.plan_operation(ops, "database-failover", now=ops.now()),
                               dry_run=False)
    assert [c.status for c in applied.checks()] == ["ok", "ok"], applied.checks()
    assert all(c.ok for c in applied.verified)
    assert [r.status for r in audit.records()] == ["planned", "planned", "applied"]
    again = dr.plan_operation(ops, "database-failover", now=ops.now())
    assert again.changes == []                                              # promoted, and the secret points at it


def test_failover_refused_when_the_dr_side_fails_preflight(ops, sandbox, audit):
    plan = dr.plan_regional_failover(ops)
    plan.prechecks = [lambda _ops: [Precondition("DR stream user-events-dr", False, "status DELETING")]]
    run = dr.run_regional_failover(ops, plan, dry_run=False)
    assert run.status == "refused"
    assert [s.status for s in run.steps] == ["refused", "not_run", "not_run", "not_run"]
    assert [r.status for r in audit.records()] == ["refused"]
    assert [c.status for c in run.checks()] == ["fail", "fail"]
    assert not dr.readiness(ops).on_dr


def test_failover_over_the_rto_fails_its_timing():
    plan = Plan("regional failover to us-west-2", [], None)
    steps = [dr.TimedStep("pre-flight", "check", "ok", 0.0, 2.0),
             dr.TimedStep("wait for DR capacity", "wait", "ok", 2.0, 950.0)]
    run = dr.FailoverRun(plan, False, 15, steps)
    main, timing = run.checks()
    assert main.status == "ok" and timing.status == "fail" and timing.figures["elapsed_s"] == 952.0
    quick = dr.FailoverRun(plan, False, 15, steps[:1]).checks()[1]
    assert quick.status == "ok" and quick.figures["within_rto"] is True


def test_test_restore_restores_compares_and_cleans_up(ops, sandbox, audit):
    plan = dr.plan_operation(ops, "test-restore", now=ops.now())
    scratch = plan.changes[0].params["TargetTableName"]
    assert scratch.startswith(dr.SCRATCH_PREFIX) and plan.changes[0].undo.operation == "delete_table"
    planned = dr.run_operation(ops, "test-restore", plan)
    assert planned.checks()[0].status == "ok" and _scratch_tables(ops) == []
    applied = dr.run_operation(ops, "test-restore", dr.plan_operation(ops, "test-restore", now=ops.now()),
                               dry_run=False)
    check = applied.checks()[0]
    assert check.status == "ok", check.detail
    assert check.figures["restored_items"] == check.figures["backup_items"] == 60
    assert _scratch_tables(ops) == []
    statuses = [(r.title.split(" ")[0], r.status) for r in audit.records()]
    assert statuses == [("test", "planned"), ("test", "applied"), ("delete", "applied")]


def test_test_restore_cleans_up_when_the_comparison_fails(ops, sandbox, audit, monkeypatch):
    def broken(ops_, table, region="primary"):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Scan")
    monkeypatch.setattr(restore, "count_items", broken)
    drill = dr.run_test_restore(ops, dr.plan_test_restore(ops, now=ops.now()), dry_run=False)
    assert drill.check().status == "fail" and "ProvisionedThroughputExceeded" in drill.check().detail
    assert not drill.left_behind and _scratch_tables(ops) == []
    assert drill.cleanup is not None and drill.cleanup.status == "applied"


def test_delete_of_a_non_scratch_table_is_refused(ops, sandbox):
    change = dr.plan_test_restore(ops, now=ops.now()).changes[0].undo
    bad = replace(change, params={"TableName": ops.profile.dynamodb.events_table})
    with pytest.raises(ActionError):
        dynamodb_actions._delete_scratch(ops, bad)
    assert ops.client("dynamodb").describe_table(TableName=ops.profile.dynamodb.events_table)["Table"]


def test_wait_for_dr_capacity_times_out_on_the_rto_budget(ops, sandbox):
    ticks = iter(range(0, 10_000, 100))
    slept = []
    ok, detail = dr.wait_for_dr_capacity(ops, [(ops.profile.ecs.dr_cluster, "ingestion-api", 99)], timeout_s=300,
                                         clock=lambda: float(next(ticks)), sleep=slept.append)
    assert not ok and "timed out after 300 s" in detail and "1/99 running" in detail
    assert len(slept) == 2                                  # at 100 s and 200 s; out of time at 300 s
    ok, detail = dr.wait_for_dr_capacity(ops, [(ops.profile.ecs.dr_cluster, "ingestion-api", 1)], timeout_s=300,
                                         sleep=slept.append)
    assert ok and detail.endswith("1/1 running") and len(slept) == 2



def _runbook(*args: str) -> subprocess.Popen:
    """``runbook ...`` in a fresh interpreter (which knows only the kinds registered by opslib.actions)."""
    return subprocess.Popen([sys.executable, "-c", "from opslib.cli import run; run()", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_test_restore_records_are_read_back_and_undone_in_a_fresh_process(ops, sandbox, audit):
    """A restore applied without its drill (scratch table left behind) is cleaned up by ``runbook undo``; the
    drill's own deletion of its scratch table has no undo, and ``runbook undo`` says so."""
    plan = dr.plan_test_restore(ops, now=ops.now())
    scratch = plan.changes[0].params["TargetTableName"]
    try:
        restored = apply(plan, dry_run=False, ops=ops)
        assert restored.status == "applied" and _scratch_tables(ops) == [scratch]
        drill = dr.run_test_restore(ops, dr.plan_test_restore(ops, now=ops.now()), dry_run=False)
        assert drill.cleanup.status == "applied" and _scratch_tables(ops) == [scratch]

        undo, no_undo = [_runbook("undo", restored.audit_id, "--profile", "sandbox", "--apply"),
                         _runbook("undo", drill.cleanup.audit_id, "--profile", "sandbox", "--apply")]
        (rc, out), (rc_none, out_none) = _finish(undo), _finish(no_undo)
        assert rc == 0, out
        assert "APPLIED" in out and f"delete-table --table-name {scratch}" in out
        assert _scratch_tables(ops) == []
        record = next(r for r in audit.records() if r.undo_of == restored.audit_id)
        assert record.status == "applied"
        assert [(s.change["kind"], s.before, s.after) for s in record.steps] == [
            ("dynamodb.scratch_table", "ACTIVE", "absent")]

        assert rc_none == 0, out_none
        assert "cannot be undone (the scratch table of a test restore)" in out_none
        nothing = next(r for r in audit.records() if r.undo_of == drill.cleanup.audit_id)
        assert nothing.steps == [] and nothing.status == "applied"      # an empty plan: audited, changes nothing
    finally:
        for name in _scratch_tables(ops):
            ops.client("dynamodb").delete_table(TableName=name)


# -- a single-region pipeline (no aws.dr_region): what the DR runbook still checks ----------------------------
SINGLE_REGION = os.path.join(os.path.dirname(__file__), "profiles", "single-region.yaml")


def test_a_single_region_pipeline_without_a_replica_refuses_those_failovers():
    from opslib.config import load_profile
    prof = load_profile(SINGLE_REGION)
    with pytest.raises(ParameterError) as err:
        dr.validate_parameters(operation="regional-failover", dry_run=True, profile=prof)
    assert err.value.name == "operation" and "names no DR region" in err.value.allowed
    assert "regional-failover" not in err.value.allowed.split(" (")[0]
    for operation in ("status", "test-restore"):
        dr.validate_parameters(operation=operation, dry_run=True, profile=prof)
    # nor a read replica: a database failover needs one named
    with pytest.raises(ParameterError) as err:
        dr.validate_parameters(operation="database-failover", dry_run=True, profile=prof)
    assert err.value.name == "replica" and "rds.replica" in err.value.allowed
    dr.validate_parameters(operation="database-failover", dry_run=True, replica="clicks-meta-pg-2", profile=prof)
    dr.validate_parameters(operation="regional-failover", dry_run=True, profile=load_profile("sandbox"))


def test_single_region_readiness_and_rpo():
    import pandas as pd
    from opslib.actions import route53
    from opslib.sections.disaster_recovery.readiness import Readiness
    from opslib.sections.disaster_recovery.rpo import RpoStatus
    no_dr = [Precondition(route53.NO_DR_CHECK, False, "the profile names no DR region")]
    healthy = pd.DataFrame({"service": ["collector", "enricher"], "ok": [True, True]})
    found = {c.name: c for c in Readiness(healthy, no_dr, None, False, region="eu-west-1").checks()}
    assert found["dr-readiness"].status == "ok" and found["dr-readiness"].figures["dr_configured"] is False
    assert found["primary-region"].status == "ok"
    down = Readiness(healthy.assign(ok=False), no_dr, None, False, region="eu-west-1")
    found = {c.name: c for c in down.checks()}
    assert not down.failover_advised and found["primary-region"].status == "fail"
    assert "primary region eu-west-1 down" in found["primary-region"].detail
    assert "no DR region to fail over to" in found["primary-region"].detail
    now = pd.Timestamp("2026-11-25 12:00", tz="UTC").to_pydatetime()
    lag = pd.Series([2.0, 3.0], index=pd.date_range("2026-11-25 11:58", periods=2, freq="min", tz="UTC"))
    rpo = RpoStatus(5, now, lag, None, "ENABLED")
    assert list(rpo.rows()["data"]) == ["RDS analytics DB (replica lag)", "DynamoDB real-time events (PITR)"]
    check = rpo.check()
    assert check.status == "ok" and check.figures["dr_stream_idle_min"] is None and "no DR region" in check.detail
    assert dr.replication_chart(rpo).startswith("No DR region")
    bare = RpoStatus(5, now, None, None, "ENABLED")            # nor a read replica: the RPO rests on PITR and backups
    assert list(bare.rows()["data"]) == ["DynamoDB real-time events (PITR)"]
    assert bare.check().figures["replica_lag_s"] is None and "no read replica (rds.replica)" in bare.check().detail
    assert dr.replica_lag_chart(bare).startswith("No read replica")
