"""The safety mechanism end to end against a moto server and PostgreSQL: dry runs change nothing, applying
changes exactly what the plans said, production confirmation, a failure midway and its undo, the audit trail."""
from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from test_actions_env import act_env, act_ops, act_db, older_events, production_copy, snapshot  # noqa: F401

from opslib import connect
from opslib.actions import AuditLog, apply, ecs, iam, kinesis, lambda_, plan_undo, route53, secrets, sql, waf, cognito
from opslib.actions import rds
from opslib.cli import main as cli_main
from opslib.errors import ActionFailed, ActionRefused

NEW_HOST = "analytics-db-replica-1.example"


def _secret(ops) -> dict:
    return json.loads(ops.client("secretsmanager").get_secret_value(
        SecretId=ops.profile.secrets.database_connection, VersionStage="AWSCURRENT")["SecretString"])


def default_plans(ops, ids):
    """Every planner of opslib.actions with the runbook's parameters, and what each changes in the snapshot
    (the values the seed decided read from the seeded world, the others from the profile)."""
    from opslib.sandbox.seed_aws import ALB_ZONE_ID
    p = ops.profile
    world = snapshot(ops)
    secret_plan = secrets.plan_update_secret(ops, value={"host": NEW_HOST})
    merged = json.dumps({**_secret(ops), "host": NEW_HOST})
    failover = route53.plan_regional_failover(ops, preflight=lambda o: route53.dr_preflight(o, check_health=False))
    dr_alias = json.dumps({"DNSName": p.dns.dr_alb_dns, "EvaluateTargetHealth": True,
                           "HostedZoneId": ALB_ZONE_ID[p.aws.dr_region]}, sort_keys=True)
    dr_desired = p.service("ingestion-api").dr_desired_count
    family, revision = world["ecs/prod-cluster/ingestion-api/taskdef"].rsplit(":", 1)
    alias = world["lambda/event-validator/production"][0]
    canary = str(int(alias) - 1)
    shard = "shardId-000000000001"
    skip_to = str(int(world[f"checkpoint/{shard}"]) + 1000)
    cutoff, older, _ = older_events(ops)
    blocked = tuple(sorted(world["waf/blocked-ips"] + ("198.51.100.7/32",)))
    return [
        (ecs.plan_desired_count(ops, "ingestion-api", 20), {"ecs/prod-cluster/ingestion-api/desired": 20}),
        (ecs.plan_rollback(ops, "ingestion-api"),
         {"ecs/prod-cluster/ingestion-api/taskdef": f"{family}:{int(revision) - 1}"}),
        (ecs.plan_scaling_policy(ops, "stream-processor", target_cpu=70, min_capacity=2, max_capacity=30),
         {"aas/service/prod-cluster/stream-processor": (2, 30),
          "aas/service/prod-cluster/stream-processor/cpu-scaling": 70.0}),
        (kinesis.plan_reshard(ops, 10), {"kinesis/user-events-prod/shards": 10}),
        (kinesis.plan_checkpoint_skip(ops, shard, skip_to), {f"checkpoint/{shard}": skip_to}),
        (lambda_.plan_canary(ops, "event-validator", int(canary), 0.1),
         {"lambda/event-validator/production": (alias, json.dumps({canary: 0.1}))}),
        (failover, {"ecs/dr-cluster/ingestion-api/desired": dr_desired, "kinesis/user-events-dr/encryption": "KMS",
                    "dns/api.analytics.company.com./A": dr_alias}),
        (secret_plan, {"secret/version": secret_plan.changes[0].params["ClientRequestToken"],
                       "secret/sha": hashlib.sha256(merged.encode()).hexdigest()}),
        (iam.plan_deactivate_key(ops, ids["access_key"]), {f"iam/{ids['access_key']}": "Inactive"}),
        (waf.plan_block_ip(ops, "198.51.100.7"), {"waf/blocked-ips": blocked}),
        (cognito.plan_reset_password(ops, "affected-user"), {"cognito/affected-user": "RESET_REQUIRED"}),
        (sql.plan_create_index(ops, "idx_events_user_timestamp", "events", ["user_id", "event_timestamp"]),
         {"db/indexes": tuple(sorted(world["db/indexes"] + ("idx_events_user_timestamp",)))}),
        (sql.plan_delete(ops, "events", "event_timestamp < :cutoff", {"cutoff": cutoff}),
         {"db/events": world["db/events"] - older}),
        (sql.plan_vacuum(ops), {"db/last_vacuum": "changed"}),
    ]


def test_dry_run_changes_nothing_and_apply_changes_exactly_the_plan(act_env):
    ops, ids, tmp = act_env
    before = snapshot(ops)
    plans = default_plans(ops, ids)
    assert all(len(p) for p, _ in plans), [p.title for p, _ in plans if not len(p)]
    promote = rds.plan_promote_replica(ops)          # dry run only: moto keeps the replica's source after promotion
    for plan, _ in plans + [(promote, {})]:
        result = apply(plan)                          # the notebooks' default: dry_run=True
        assert result.status == "planned" and not result.applied
    assert snapshot(ops) == before

    for plan, _ in plans:
        result = apply(plan, dry_run=False)
        assert result.status == "applied", result.to_text()
        for step, change in zip(result.steps, plan.changes):
            assert step.before == change.current
            if change.meta.get("verify") != "changed":
                assert step.after == change.new, step
    after = snapshot(ops)
    expected = dict(before)
    for _, changes in plans:
        expected.update(changes)
    assert after["db/last_vacuum"] is not None and after["db/last_vacuum"] != before["db/last_vacuum"]
    expected["db/last_vacuum"] = after["db/last_vacuum"]
    assert after == expected
    records = AuditLog().records()
    assert [r.status for r in records] == ["planned"] * (len(plans) + 1) + ["applied"] * len(plans)


def test_production_profile_refuses_a_confirmation_that_does_not_name_the_resource(act_env, tmp_path):
    _, _, sandbox_dir = act_env
    prod = connect(str(production_copy(tmp_path)), sandbox_dir=str(sandbox_dir))
    assert prod.profile.production
    plan = ecs.plan_desired_count(prod, "ingestion-api", 12) + ecs.plan_desired_count(prod, "stream-processor", 8)
    before = snapshot(prod)
    for confirm in (None, "stream-processor", "ingestion-api", "prod-cluster"):
        with pytest.raises(ActionRefused) as info:
            apply(plan, dry_run=False, confirm=confirm)
        assert "confirmation must name" in info.value.reason
        assert info.value.result.status == "refused"
    assert snapshot(prod) == before
    assert apply(plan, confirm=None).status == "planned"          # a dry run needs no confirmation
    result = apply(plan, dry_run=False, confirm="ingestion-api,stream-processor")
    assert result.status == "applied"
    after = snapshot(prod)
    assert after["ecs/prod-cluster/ingestion-api/desired"] == 12 and after["ecs/prod-cluster/stream-processor/desired"] == 8
    statuses = [r.status for r in AuditLog().records()]
    assert statuses == ["refused"] * 4 + ["planned", "applied"]
    prod.close()


def test_failure_midway_is_recorded_and_undo_restores_the_first_change(act_env, monkeypatch):
    ops, _, sandbox_dir = act_env
    before = snapshot(ops)
    plan = ecs.plan_desired_count(ops, "ingestion-api", 20) + ecs.plan_desired_count(ops, "stream-processor", 9) \
        + kinesis.plan_reshard(ops, before["kinesis/user-events-prod/shards"] // 2)      # one call
    ops.client("ecs").delete_service(cluster="prod-cluster", service="stream-processor", force=True)
    with pytest.raises(ActionFailed) as info:
        apply(plan, dry_run=False)
    result = info.value.result
    assert [s.status for s in result.steps] == ["applied", "failed", "not_applied"]
    assert result.steps[0].before == before["ecs/prod-cluster/ingestion-api/desired"] and result.steps[0].after == 20
    assert "stream-processor" in result.reason and "1 applied" in result.reason and "1 not applied" in result.reason
    assert snapshot_value(ops, "kinesis/user-events-prod/shards") == before["kinesis/user-events-prod/shards"]  # never sent
    record = AuditLog().get(result.audit_id)
    assert record.status == "failed" and [s.status for s in record.steps] == ["applied", "failed", "not_applied"]

    undo = plan_undo(ops, result.audit_id)
    assert [(c.current, c.new) for c in undo.changes] == [(20, before["ecs/prod-cluster/ingestion-api/desired"])]
    assert apply(undo).status == "planned" and snapshot_value(ops, "ecs/prod-cluster/ingestion-api/desired") == 20
    # through the CLI, as an operator would: `runbook undo AUDIT_ID --apply`
    monkeypatch.setenv("OPSLIB_SANDBOX_DIR", str(sandbox_dir))
    dry = CliRunner().invoke(cli_main, ["undo", result.audit_id, "--profile", "sandbox"], standalone_mode=False)
    assert "PLANNED" in dry.output and "run again with --apply" in dry.output and "dry_run=False" not in dry.output
    out = CliRunner().invoke(cli_main, ["undo", result.audit_id, "--profile", "sandbox", "--apply"],
                             standalone_mode=False)
    assert out.exception is None, out.output
    assert out.return_value == 0 and "APPLIED" in out.output
    assert f"--desired-count {before['ecs/prod-cluster/ingestion-api/desired']}" in out.output
    assert snapshot_value(ops, "ecs/prod-cluster/ingestion-api/desired") == before["ecs/prod-cluster/ingestion-api/desired"]
    last = AuditLog().records()[-1]
    assert last.undo_of == result.audit_id and last.status == "applied"
    listing = CliRunner().invoke(cli_main, ["audit", "list"], standalone_mode=False)
    assert result.audit_id in listing.output and "failed" in listing.output


def snapshot_value(ops, key):
    return snapshot(ops)[key]


def test_every_attempt_is_audited_in_the_log_and_the_database(act_env):
    ops, _, _ = act_env
    desired = snapshot_value(ops, "ecs/prod-cluster/ingestion-api/desired")
    apply(ecs.plan_desired_count(ops, "ingestion-api", 8))                                     # planned
    apply(ecs.plan_desired_count(ops, "ingestion-api", 8), dry_run=False)                      # applied
    apply(ecs.plan_desired_count(ops, "ingestion-api", 500), dry_run=False, raise_on_error=False)  # refused
    stale = ecs.plan_desired_count(ops, "stream-processor", 5)
    ops.client("ecs").update_service(cluster="prod-cluster", service="stream-processor", desiredCount=2)
    apply(stale, dry_run=False, raise_on_error=False)                                          # failed (stale plan)
    records = AuditLog().records()
    assert [r.status for r in records] == ["planned", "applied", "refused", "failed"]
    for r in records:
        assert r.operator.user and r.operator.aws_arn.startswith("arn:aws:")
        assert r.profile == "sandbox" and r.run_id == "test-run-1" and r.timestamp.startswith("2026-11-25T12:00")
        assert r.steps[0].change["cli"].startswith("aws ecs update-service")
    assert (records[1].steps[0].before, records[1].steps[0].after) == (desired, 8)
    assert "outside the profile's bounds" in records[2].reason
    assert "plan again" in records[3].reason
    # the Security notebook's audit-trail query (the runbook's, with a bound as_of) shows them
    query = sa.text("SELECT action, user_id, timestamp, ip_address, details FROM audit_logs "
                    "WHERE timestamp > CAST(:as_of AS timestamptz) - INTERVAL '90 days' ORDER BY id")
    with ops.database.connect() as conn:
        rows = conn.execute(query, {"as_of": "2026-11-25T12:00:00+00:00"}).all()
    ids = [r.id for r in records]
    mine = [row for row in rows if (row.details or {}).get("id") in ids]      # not the seeded audit rows
    assert [row.action.split(":")[0] for row in mine] == ["runbook.planned", "runbook.applied", "runbook.refused",
                                                          "runbook.failed"]
    assert all(row.user_id == records[0].operator.user for row in mine)


def test_secret_values_never_reach_the_audit_trail(act_env):
    ops, _, _ = act_env
    seeded_password = _secret(ops)["password"]
    plan = secrets.plan_update_secret(ops, value={"password": "n3w-Sup3r-Secret"})
    assert "keys password" in plan.changes[0].attribute
    apply(plan, dry_run=False)
    log_text = AuditLog().path.read_text()
    with ops.database.connect() as conn:
        db_text = json.dumps(conn.execute(sa.text("SELECT details FROM audit_logs")).scalars().all())
    for text in (log_text, db_text, plan.to_text(), plan._repr_html_()):
        assert "n3w-Sup3r-Secret" not in text and seeded_password not in text
    undo = plan_undo(ops, AuditLog().records()[-1].id)
    assert apply(undo, dry_run=False).status == "applied"
    # AWSCURRENT named explicitly: moto 5.2 answers a request without a stage from the last *written* version
    value = ops.client("secretsmanager").get_secret_value(SecretId=ops.profile.secrets.database_connection,
                                                          VersionStage="AWSCURRENT")
    assert json.loads(value["SecretString"])["password"] == seeded_password
