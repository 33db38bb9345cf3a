"""opslib.sections.incident: parameters, symptoms, hints and remedies, on synthetic series and against the sandbox
(healthy, and with a bad deployment plus poison messages injected)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from opslib.sections import incident, performance
from opslib.actions import apply, plan_undo
from opslib.actions import kinesis as kinesis_actions
from opslib.actions.plan import Precondition as PreflightCheck
from opslib.sections.alerts import RuleResult
from opslib.errors import ParameterError

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)


def minutes(n: int = 60) -> pd.DatetimeIndex:
    return pd.date_range(T0, periods=n, freq="60s")


def frame(error_rate=None, lag=None, api_memory=None, processor_memory=None, n: int = 60) -> pd.DataFrame:
    idx = minutes(n)
    f = pd.DataFrame(index=idx)
    f["error_rate"] = error_rate if error_rate is not None else [0.001] * n
    f["client_error_rate"] = [0.005] * n
    f["lag_seconds"] = lag if lag is not None else [0.5] * n
    f[incident.memory_column("ingestion-api")] = api_memory if api_memory is not None else [52.0] * n
    f[incident.memory_column("stream-processor")] = processor_memory if processor_memory is not None else [50.0] * n
    return f


def deployment(created: datetime, service: str = "ingestion-api", td: str = "ingestion-api:25",
               previous: str = "ingestion-api:24") -> pd.DataFrame:
    return pd.DataFrame([{"service": service, "deployment": "ecs-svc/1", "status": "PRIMARY", "task_definition": td,
                          "previous": previous, "created": created, "rollout_state": "COMPLETED"}])


# -- parameters ---------------------------------------------------------------------------------------
class NoAws:
    """An Ops stand-in that fails the test on any AWS or database access."""
    profile = None

    def client(self, *a, **k):
        raise AssertionError("an AWS call was made before the parameters were checked")


def test_bad_procedure_names_the_allowed_values():
    with pytest.raises(ParameterError) as err:
        incident.check_procedure("db-down")
    assert err.value.name == "procedure"
    assert err.value.allowed == "auto, api-down, high-error-rate, stream-backup"
    assert incident.check_procedure("stream-backup") == "stream-backup"


def test_remedy_parameter():
    assert incident.check_remedy("auto") == "auto" and incident.check_remedy(None) == "none"
    assert incident.check_remedy(" rollback, skip-poison ,rollback") == ["rollback", "skip-poison"]
    assert incident.check_remedy(["debug"]) == ["debug"]
    for bad in ("restart", "rollback,restart", ""):
        with pytest.raises(ParameterError) as err:
            incident.check_remedy(bad)
        assert "scale-api, rollback, debug, scale-processors, skip-poison" in err.value.allowed


def test_bad_values_stop_before_any_aws_call():
    with pytest.raises(ParameterError, match="remedy"):
        incident.plan_remedies(NoAws(), ["api-down"], "reboot")
    with pytest.raises(ParameterError, match="api_desired_count"):
        incident.plan_remedies(NoAws(), ["api-down"], "auto", api_desired_count=0)
    with pytest.raises(ParameterError, match="window_minutes"):
        incident.check_positive(window_minutes=2.5)


def test_severity_table_follows_the_profile(ops):
    table = incident.severity_table(ops.profile)
    assert list(table["level"]) == [s.level for s in ops.profile.severity_levels]
    row = table.set_index("level")
    assert row.loc["SEV1", "response"] == "15 minutes" and row.loc["SEV3", "response"] == "2 hours"
    assert row.loc["SEV4", "response"] == "next business day"
    assert row.loc["SEV1", "procedures"] == "API Down"
    assert row.loc["SEV2", "procedures"] == "High Error Rate, Stream Backup"


# -- pure pieces ----------------------------------------------------------------------------------------
def test_onset_is_the_start_of_the_last_breaching_run():
    s = pd.Series([0.0, 0.2, 0.0, 0.1, 0.2, 0.3], index=minutes(6))
    assert incident.onset(s, 0.05) == minutes(6)[3].to_pydatetime()
    assert incident.onset(s.iloc[:3], 0.05) is None            # not breaching at the end
    assert incident.onset(pd.Series([0.5, 0.6], index=minutes(2)), 0.05) == T0


def test_deployment_hint_fails_only_when_errors_follow_the_deployment():
    rates = [0.001] * 40 + [0.08] * 20
    errors = frame(error_rate=rates)
    at = T0 + timedelta(minutes=39, seconds=30)
    check, suspect = incident.deployment_hint(deployment(at), errors, error_threshold=0.05, lag_threshold_s=300,
                                              minutes=60)
    assert check.status == "fail" and "roll back to ingestion-api:24" in check.detail
    assert suspect.previous == "ingestion-api:24" and suspect.began == T0 + timedelta(minutes=40)
    assert check.figures["before"] == pytest.approx(0.001) and check.figures["after"] > 0.07
    later = T0 + timedelta(minutes=50)                           # errors already there: not its cause
    check, suspect = incident.deployment_hint(deployment(later), errors, error_threshold=0.05, lag_threshold_s=300,
                                              minutes=60)
    assert check.status == "warn" and suspect is None and "not its cause" in check.detail
    check, suspect = incident.deployment_hint(deployment(at), frame(), error_threshold=0.05, lag_threshold_s=300,
                                              minutes=60)
    assert check.status == "ok" and suspect is None
    lagging = frame(lag=[1.0] * 30 + [400.0] * 30)               # a stream-processor deployment is judged on lag
    check, suspect = incident.deployment_hint(
        deployment(T0 + timedelta(minutes=29, seconds=10), "stream-processor", "stream-processor:4", "stream-processor:3"),
        lagging, error_threshold=0.05, lag_threshold_s=300, minutes=60,
        roles={"stream-processor": "process", "ingestion-api": "ingest"})
    assert check.status == "fail" and suspect.signal == "lag_seconds" and suspect.role == "process"


def test_memory_hint():
    assert incident.memory_hint(frame(), "ingestion-api").status == "ok"
    leak = frame(api_memory=[70 + i * 0.5 for i in range(60)])
    check = incident.memory_hint(leak, "ingestion-api")
    assert check.status == "fail" and check.figures["trend_points_per_hour"] == pytest.approx(30, abs=0.5)
    stopped = pd.DataFrame([{"service": "ingestion-api", "stopped_reason": "Essential container in task exited",
                             "container_reason": "OutOfMemoryError: Container killed due to memory usage"}])
    check = incident.memory_hint(frame(), "ingestion-api", stopped)
    assert check.status == "fail" and check.figures["oom_stops"] == 1
    assert incident.memory_hint(frame(), "stream-processor", stopped).status == "ok"
    assert incident.memory_hint(frame(processor_memory=[82.0] * 60), "stream-processor").status == "warn"


def test_aws_issue_hint():
    up = pd.DataFrame({"service": ["ingestion-api", "stream-processor"], "desired": [6, 4], "running": [6, 4]})
    down = up.assign(running=[0, 0])
    ready, broken = [PreflightCheck("DR stream", True, "ACTIVE")], [PreflightCheck("DR health", False, "HTTP 503")]
    kw = {"primary_region": "us-east-1", "dr_region": "us-west-2"}
    assert incident.aws_issue_hint(up, ready, **kw).status == "ok"
    assert incident.aws_issue_hint(up.assign(running=[0, 4]), ready, **kw).status == "ok"
    check = incident.aws_issue_hint(down, ready, **kw)
    assert check.status == "fail" and check.figures["primary_down"] == ["ingestion-api", "stream-processor"]
    assert incident.aws_issue_hint(down, broken, **kw).status == "warn"
    # a single-region pipeline: nothing to compare with, so a warning that names what to check, never a failure
    alone = {"primary_region": "us-east-1", "dr_region": None}
    assert incident.aws_issue_hint(up, [], **alone).detail.endswith("no DR region in the profile")
    check = incident.aws_issue_hint(down, [], **alone)
    assert check.status == "warn" and "names no DR region" in check.detail and "AWS Health Dashboard" in check.detail


def test_validate_record():
    good = {"event_id": "e1", "user_id": "u1", "event_type": "click", "event_timestamp": "2026-11-25T11:59:00Z"}
    assert incident.validate_record(json.dumps(good).encode()) is None
    assert incident.validate_record(b"{not json").startswith("JSONDecodeError")
    assert incident.validate_record(b"\xff\xfe\x00garbage") is not None
    assert incident.validate_record(b"[1, 2]") == "not a JSON object (list)"
    assert incident.validate_record(json.dumps({**good, "event_id": None}).encode()) == "missing event_id"
    assert incident.validate_record(json.dumps({**good, "event_timestamp": "yesterday"}).encode()).startswith("bad")


def _rule(state: str) -> RuleResult:
    return RuleResult("r", "page", "pagerduty", "c", state, 1.0, 0.5)


def test_procedures_present_and_superseded():
    def s(proc, name, present):
        return incident.Symptom(proc, name, present, "evidence")
    only_5xx = [s("api-down", "Health checks failing", False), s("api-down", "5xx errors from ALB", True),
                s("api-down", "No events being processed", False), s("high-error-rate", "Error rate >5%", True)]
    assert incident.select_procedures(only_5xx, "auto") == ["high-error-rate"]
    down = [s("api-down", "Health checks failing", True)] + only_5xx[1:]
    assert incident.select_procedures(down, "auto") == ["api-down"]
    assert incident.select_procedures(down, "stream-backup") == ["stream-backup"]


def test_choose_remedies_follows_the_hints():
    suspect = incident.SuspectDeployment("ingestion-api", "ingestion-api:25", "ingestion-api:24",
                                         T0, "error_rate", T0, 0.0, 0.08, role="ingest")
    bad = pd.DataFrame([{"shard": "s0", "sequence_number": "9"}])
    poison = incident.PoisonScan(pd.DataFrame(), bad)
    clean = incident.PoisonScan(pd.DataFrame(), bad.iloc[:0])
    pick = lambda procs, **kw: [n for n, _ in incident.choose_remedies(procs, "auto", **kw)]  # noqa: E731
    assert pick(["high-error-rate"], suspect=suspect, poison=clean) == ["rollback"]
    assert pick(["high-error-rate"], suspect=None, poison=clean) == []
    assert pick(["api-down"], suspect=None, poison=clean) == ["scale-api"]
    assert pick(["api-down"], suspect=None, poison=clean, regional=True) == []
    assert pick(["stream-backup"], suspect=None, poison=poison) == ["skip-poison"]
    assert pick(["stream-backup"], suspect=None, poison=clean) == ["scale-processors"]
    assert pick([], suspect=suspect, poison=poison) == []
    assert [n for n, _ in incident.choose_remedies([], "debug,scale-api", suspect=None, poison=None)] == [
        "debug", "scale-api"]


def test_error_patterns_group_by_shape():
    t = [T0 + timedelta(seconds=i) for i in range(3)]
    events = pd.DataFrame({"time": t, "group": ["/ecs/x"] * 3, "stream": ["s"] * 3,
                           "message": ["ERROR timeout after 2000ms", "ERROR timeout after 1500ms", "ERROR bad"]})
    p = incident.error_patterns(events)
    assert list(p["count"]) == [2, 1] and p.iloc[0]["pattern"] == "ERROR timeout after Nms"
    assert p.iloc[0]["first_seen"] == t[0] and p.iloc[0]["last_seen"] == t[1]


# -- against the healthy sandbox -------------------------------------------------------------------------
def test_healthy_sandbox_has_no_symptom_and_no_hint(ops, sandbox):
    now = ops.now()
    f = incident.signals(ops, now=now, minutes=60)
    assert len(f) == 60 and f["requests"].notna().all() and f["error_rate"].max() < 0.01
    checkpoints = incident.checkpoints(ops, now=now)
    open_shards = ops.client("kinesis").describe_stream_summary(
        StreamName=ops.profile.kinesis.stream)["StreamDescriptionSummary"]["OpenShardCount"]
    assert len(checkpoints) == open_shards > 1 and checkpoints["age_seconds"].max() < 60
    found = incident.symptoms(ops.profile, f, rules=incident.rule_states(ops, now=now), health=incident.health_checks(ops),
                              targets=incident.target_health(ops), checkpoints=checkpoints)
    assert {s.procedure for s in found} == set(incident.PROCEDURES) and not any(s.present for s in found)
    assert [c.status for c in incident.procedure_checks(found, ops.profile)] == ["ok"] * 3
    deployments = incident.recent_deployments(ops, now=now, minutes=60)
    assert deployments.empty
    scan = incident.scan_poison(ops, checkpoints)
    assert not scan.found and list(scan.shards["read"]) == [0] * open_shards
    plan = incident.plan_remedies(ops, incident.select_procedures(found, "auto"), "auto", poison=scan)
    assert plan.changes == [] and "no procedure's symptoms" in plan.notes[0]
    usage = performance.connection_usage(ops.database)
    assert incident.db_connections_hint(usage, None).status == "ok"


def test_error_logs_summary_is_bound_to_as_of(ops):
    import sqlalchemy as sa
    as_of = ops.now()
    a = incident.error_logs_summary(ops.database, as_of=as_of, minutes=24 * 60)
    b = incident.error_logs_summary(ops.database, as_of=as_of, minutes=24 * 60)
    pd.testing.assert_frame_equal(a, b)
    end = as_of.replace(tzinfo=None)
    with ops.database.connect() as conn:
        direct = conn.execute(sa.text('SELECT count(*) FROM error_logs WHERE "timestamp" > :s AND "timestamp" <= :e'),
                              {"s": end - timedelta(days=1), "e": end}).scalar()
    assert int(a["count"].sum()) == direct > 0
    assert list(a["count"]) == sorted(a["count"], reverse=True)
    assert incident.error_logs_summary(ops.database, as_of=as_of - timedelta(days=365), minutes=60).empty


# -- a bad deployment and poison messages -----------------------------------------------------------------
def test_bad_deployment_and_poison_found_planned_applied_and_undone(ops, healthy_sandbox, tmp_path):
    deployed = healthy_sandbox.inject("high-error-rate")["recent_deployment"]
    poison = healthy_sandbox.inject("poison-messages")
    now = ops.now()
    f = incident.signals(ops, now=now, minutes=60)
    deployments = incident.recent_deployments(ops, now=now, minutes=60)
    assert list(deployments["task_definition"]) == [deployed]
    family, rev = deployed.split(":")
    assert deployments.iloc[0]["previous"] == f"{family}:{int(rev) - 1}"
    check, suspect = incident.deployment_hint(deployments, f, error_threshold=0.05, lag_threshold_s=300, minutes=60,
                                              roles=incident.service_roles(ops.profile))
    assert check.status == "fail" and suspect.task_definition == deployed and suspect.began >= now - timedelta(minutes=21)

    checkpoints = incident.checkpoints(ops, now=now)
    scan = incident.scan_poison(ops, checkpoints)
    assert scan.sequence_numbers() == {poison["shard"]: poison["poison_sequence_numbers"]}
    assert incident.poison_hint(scan).status == "fail"

    plan = incident.plan_remedies(ops, ["high-error-rate", "stream-backup"], "auto", suspect=suspect, poison=scan)
    rollback, skip = plan.changes
    assert (rollback.kind, rollback.current, rollback.new) == ("ecs.task_definition", deployed, f"{family}:{int(rev) - 1}")
    assert (skip.kind, skip.current, skip.new) == ("dynamodb.checkpoint", poison["stuck_checkpoint"],
                                                   poison["poison_sequence_numbers"][-1])
    assert skip.undo.new == poison["stuck_checkpoint"]

    result = apply(plan, dry_run=False, ops=ops, audit_dir=str(tmp_path))
    assert result.status == "applied"
    assert kinesis_actions.read_checkpoint(ops, poison["shard"]) == poison["poison_sequence_numbers"][-1]
    svc = ops.client("ecs").describe_services(cluster=ops.profile.ecs.cluster, services=["ingestion-api"])["services"][0]
    assert svc["taskDefinition"].endswith(f"/{family}:{int(rev) - 1}")
    assert not incident.scan_poison(ops, incident.checkpoints(ops, now=now)).found     # the consumer is unblocked

    undo = plan_undo(ops, result.audit_id, audit_dir=str(tmp_path))
    apply(undo, dry_run=False, ops=ops, audit_dir=str(tmp_path))
    assert kinesis_actions.read_checkpoint(ops, poison["shard"]) == poison["stuck_checkpoint"]
    assert incident.scan_poison(ops, incident.checkpoints(ops, now=now)).found
