"""The alert rules as CloudWatch alarms: the sync action plans only what differs, applies it, undoes it."""
from __future__ import annotations

from opslib.actions import apply, plan_undo
from opslib.actions.cloudwatch import plan_alarm_sync
from opslib.sections.alerts import alarm_definition


def test_seeded_alarms_match_the_rules(ops):
    plan = plan_alarm_sync(ops)
    assert plan.changes == []
    assert any("Cost Spike" in n for n in plan.notes)   # relative rules have no static alarm


def test_a_drifted_alarm_is_planned_applied_and_undone(ops, healthy_sandbox, tmp_path):
    cw = ops.client("cloudwatch")
    rule = next(r for r in ops.profile.alerts if r.name == "Stream Backup")
    drifted = alarm_definition(ops.profile, rule, region="us-east-1", account="123456789012")
    drifted["Threshold"] = 900000.0
    cw.put_metric_alarm(**drifted)
    plan = plan_alarm_sync(ops)
    assert [c.target for c in plan.changes] == ["pipeline-stream-backup"]
    change = plan.changes[0]
    assert change.current["Threshold"] == 900000.0 and change.new["Threshold"] == 300000.0
    assert "put-metric-alarm" in change.cli and "--region us-east-1" in change.cli

    dry = apply(plan, dry_run=True, ops=ops, audit_dir=tmp_path, audit_database=False)
    assert cw.describe_alarms(AlarmNames=["pipeline-stream-backup"])["MetricAlarms"][0]["Threshold"] == 900000.0
    assert dry.audit_id

    done = apply(plan_alarm_sync(ops), dry_run=False, ops=ops, audit_dir=tmp_path, audit_database=False)
    assert cw.describe_alarms(AlarmNames=["pipeline-stream-backup"])["MetricAlarms"][0]["Threshold"] == 300000.0
    assert plan_alarm_sync(ops).changes == []

    undo = plan_undo(ops, done.audit_id, audit_dir=tmp_path)
    apply(undo, dry_run=False, ops=ops, audit_dir=tmp_path, audit_database=False)
    assert cw.describe_alarms(AlarmNames=["pipeline-stream-backup"])["MetricAlarms"][0]["Threshold"] == 900000.0


def test_a_missing_alarm_is_created(ops, healthy_sandbox, tmp_path):
    cw = ops.client("cloudwatch")
    cw.delete_alarms(AlarmNames=["pipeline-high-error-rate"])
    plan = plan_alarm_sync(ops)
    assert [c.target for c in plan.changes] == ["pipeline-high-error-rate"]
    assert plan.changes[0].current is None and "Metrics" in plan.changes[0].new   # a metric-math ratio alarm
    apply(plan, dry_run=False, ops=ops, audit_dir=tmp_path, audit_database=False)
    alarm = cw.describe_alarms(AlarmNames=["pipeline-high-error-rate"])["MetricAlarms"][0]
    assert alarm["Metrics"][0]["Expression"] == "m1/m2" and alarm["Threshold"] == 0.05
