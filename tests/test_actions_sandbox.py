"""The action planners with the runbook's parameters against the seeded session sandbox: dry runs change
nothing; applied, they change exactly what their plans said (the sandbox is reset afterwards)."""
from __future__ import annotations

import pytest

from test_actions_env import snapshot

from opslib.actions import AuditLog, apply, cognito, ecs, iam, kinesis, lambda_, rds, route53, secrets, sql, waf


@pytest.fixture
def audit_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))


def _plans(ops):
    key = ops.client("iam").list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"][0]["AccessKeyId"]
    shard = "shardId-000000000000"
    seq = kinesis.read_checkpoint(ops, shard)
    with ops.database.connect() as conn:
        user = conn.exec_driver_sql("SELECT user_id FROM events WHERE user_id IS NOT NULL LIMIT 1").scalar()
    return [
        ecs.plan_desired_count(ops, "ingestion-api", 20),
        ecs.plan_rollback(ops, "ingestion-api"),
        ecs.plan_scaling_policy(ops, "ingestion-api", target_cpu=70, min_capacity=4, max_capacity=40),
        kinesis.plan_reshard(ops, 10),
        kinesis.plan_checkpoint_skip(ops, shard, str(int(seq) + 1000)),
        lambda_.plan_alias(ops, "event-validator", 13),
        route53.plan_regional_failover(ops),
        secrets.plan_update_secret(ops, value={"host": "analytics-db-replica-1.sandbox"}),
        iam.plan_deactivate_key(ops, key),
        waf.plan_block_ip(ops, "203.0.113.9"),
        sql.plan_vacuum(ops),
        sql.plan_create_index(ops, "idx_events_user_timestamp", "events", ["user_id", "event_timestamp"]),
        sql.plan_delete(ops, "events", "user_id = :user", {"user": user}, reason="GDPR deletion"),
    ]


def test_default_plans_dry_run_change_nothing_in_the_sandbox(ops, audit_tmp):
    before = snapshot(ops)
    plans = _plans(ops) + [rds.plan_promote_replica(ops), cognito.plan_reset_password(ops, "affected-user")]
    results = [apply(p, raise_on_error=False) for p in plans]
    # every plan dry-runs, the password reset too (the seeded users are CONFIRMED, their email verified)
    assert [r.status for r in results] == ["planned"] * len(plans), [(r.status, r.reason) for r in results]
    assert all(p.changes for p in plans), [p.title for p in plans if not p.changes]
    assert snapshot(ops) == before
    assert len(AuditLog().records()) == len(plans)


def test_default_plans_applied_change_exactly_what_they_said(healthy_sandbox, ops, audit_tmp):
    before = snapshot(ops)
    for plan in _plans(ops):
        result = apply(plan, dry_run=False)
        assert result.status == "applied", result.to_text()
        for step, change in zip(result.steps, plan.changes):
            if change.meta.get("verify") != "changed":
                assert step.after == change.new, (plan.title, step)
    after = snapshot(ops)
    changed = {k for k in before if before[k] != after.get(k)} | (after.keys() - before.keys())
    key = ops.client("iam").list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"][0]["AccessKeyId"]
    expected = {
        "ecs/prod-cluster/ingestion-api/desired", "ecs/prod-cluster/ingestion-api/taskdef",
        "aas/service/prod-cluster/ingestion-api/cpu-scaling", "kinesis/user-events-prod/shards",
        "checkpoint/shardId-000000000000", "lambda/event-validator/production",
        "ecs/dr-cluster/ingestion-api/desired", "dns/api.analytics.company.com./A", "secret/version", "secret/sha",
        f"iam/{key}", "waf/blocked-ips", "db/last_vacuum", "db/indexes", "db/events"}
    if before["kinesis/user-events-dr/encryption"] != "KMS":      # the failover encrypts the DR stream if needed
        expected.add("kinesis/user-events-dr/encryption")
    assert changed == expected
    assert after["ecs/prod-cluster/ingestion-api/desired"] == 20 and after["kinesis/user-events-prod/shards"] == 10
