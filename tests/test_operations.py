"""Common Operations against the session sandbox: parameters refused before any call, the capacity picture,
reshard steps, a blue-green deploy that becomes steady and one that goes bad and is rolled back
automatically, the Lambda canary promoted or rolled back, and the backfill (paginated, idempotent)."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from opslib.sections import operations
from opslib.actions import AuditLog, apply
from opslib.actions import kinesis as kinesis_actions
from opslib.actions.plan import Plan
from opslib.errors import ParameterError
from opslib.actions import backfill
from opslib.sections.operations import capacity_picture as cap_mod, deploy_service


@pytest.fixture
def audit_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    return tmp_path / "audit"


@pytest.fixture(scope="module")
def changed_sandbox(sandbox):
    """The session sandbox, changed by the tests of this module that apply operations (they come last in the
    file, each on a different resource) and reset once after the module."""
    yield sandbox
    sandbox.reset()


def _service(ops, name="ingestion-api"):
    return ops.client("ecs").describe_services(cluster=ops.profile.ecs.cluster, services=[name])["services"][0]


def _events_count(ops) -> int:
    with ops.database.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM events").scalar()


SECRET = "hunter2-Zq9sEcReT-do-not-show"


@contextmanager
def planted_secret(sandbox, task_definition="ingestion-api:24"):
    """The running task definition's container given a secret-looking environment value and a secret (written
    into moto's backend: the API cannot change a registered revision); taken out again afterwards."""
    td = sandbox.backend("ecs").describe_task_definition(task_definition)
    container = td.container_definitions[0]
    saved = {k: container.get(k) for k in ("environment", "secrets")}
    container["environment"] = list(saved["environment"] or []) + [{"name": "DB_PASSWORD", "value": SECRET}]
    container["secrets"] = [{"name": "API_TOKEN", "valueFrom": f"arn:aws:secretsmanager:us-east-1:123456789012:"
                                                              f"secret:{SECRET}"}]
    try:
        yield SECRET
    finally:
        for k, v in saved.items():
            if v is None:
                container.pop(k, None)
            else:
                container[k] = v


def undo_in_fresh_process(audit_dir, audit_id: str) -> tuple[int, str]:
    """``runbook undo AUDIT_ID`` (a dry run) in a new interpreter, which loads only what ``opslib.actions``
    itself imports: every kind a record names must be registered there."""
    proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "undo", audit_id,
                           "--audit-dir", str(audit_dir)], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


# -- parameters --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, name", [
    ({"operation": "restart"}, "operation"),
    ({"operation": "scale-service", "service": "nope", "desired_count": 5}, "service"),
    ({"operation": "scale-service", "service": "ingestion-api", "desired_count": 0}, "desired_count"),
    ({"operation": "scale-service", "service": "ingestion-api", "desired_count": 101}, "desired_count"),
    ({"operation": "scale-service", "service": "event-validator", "desired_count": 5}, "service"),
    ({"operation": "scaling-policy", "service": "ingestion-api", "min_capacity": 10, "max_capacity": 5}, "max_capacity"),
    ({"operation": "reshard", "target_shards": 501}, "target_shards"),
    ({"operation": "deploy-service", "service": "ingestion-api"}, "task_definition"),
    ({"operation": "deploy-service", "service": "ingestion-api", "task_definition": "ingestion-api:latest"},
     "task_definition"),
    ({"operation": "deploy-lambda", "function": "event-validator", "lambda_version": 15, "canary_weight": 0.9},
     "canary_weight"),
    ({"operation": "backfill", "start_date": "2026-11-20", "end_date": "2026-11-26"}, "end_date"),
    ({"operation": "backfill", "start_date": "2026-11-24", "end_date": "2026-11-20"}, "start_date"),
])
def test_bad_parameters_are_refused_naming_the_parameter(ops, kwargs, name):
    with pytest.raises(ParameterError) as err:
        operations.validate(ops.profile, now=ops.now(), **kwargs)
    assert err.value.name == name and err.value.allowed


def test_backfill_defaults_to_the_last_week(ops):
    r = operations.validate(ops.profile, "backfill", now=ops.now())
    assert r.end_date == ops.now().date() and len(r.days) == 7 and r.days[0] == r.end_date - timedelta(days=6)


# -- capacity ------------------------------------------------------------------------------------------
def test_capacity_picture_reads_the_live_values(ops):
    now = ops.now()
    cap = operations.capacity(ops, now=now, minutes=30)
    services = cap.services.set_index("service")
    for name, svc in ((n, _service(ops, n)) for n in services.index):
        assert services.loc[name, "desired"] == svc["desiredCount"] == services.loc[name, "running"]
    assert services.loc["ingestion-api", "scaling_min"] == 4 and services.loc["ingestion-api", "scaling_max"] == 40
    assert services.loc["ingestion-api", "scaling_target"] == 60.0
    shards = cap.stream["open_shards"]
    assert shards == ops.client("kinesis").describe_stream_summary(
        StreamName=cap.stream["stream"])["StreamDescriptionSummary"]["OpenShardCount"] == 128
    # per-shard write rate = the stream's IncomingRecords per minute / 60 / open shards
    stats = ops.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Kinesis", MetricName="IncomingRecords", Dimensions=[{"Name": "StreamName",
                                                                            "Value": cap.stream["stream"]}],
        StartTime=now - timedelta(minutes=30), EndTime=now, Period=60, Statistics=["Sum"])["Datapoints"]
    assert cap.throughput["records_per_s_per_shard"].max() == pytest.approx(max(d["Sum"] for d in stats) / 60 / shards)
    aliases = cap.aliases.set_index("function")
    assert aliases.loc["event-validator", "version"] == "14" and aliases.loc["event-validator", "weights"] == {}
    checks = {c.name: c for c in operations.capacity_checks(cap)}
    assert checks["ecs-tasks"].status == checks["ecs-scaling"].status == checks["lambda-aliases"].status == "ok"
    shard = checks["kinesis-shard-throughput"]
    ratio = cap.throughput["records_per_s_per_shard"].max() / 1000
    assert shard.figures["ratio"] == pytest.approx(ratio)
    assert shard.status == ("fail" if ratio >= 1 else "warn" if ratio >= 0.8 else "ok")
    assert shard.figures["shards_needed"] == cap_mod.shards_needed(ratio * 1000 * shards, 0)


def test_capacity_checks_warn_near_the_shard_limit(ops):
    cap = operations.capacity(ops, now=ops.now(), minutes=10)
    cap.throughput["records_per_s_per_shard"] = 850.0
    assert {c.name: c.status for c in operations.capacity_checks(cap)}["kinesis-shard-throughput"] == "warn"
    cap.throughput["records_per_s_per_shard"] = 400.0
    assert {c.name: c.status for c in operations.capacity_checks(cap)}["kinesis-shard-throughput"] == "ok"


# -- reshard -----------------------------------------------------------------------------------------------
def test_reshard_is_planned_in_steps_and_the_runbooks_single_jump_is_refused(ops, audit_tmp):
    op = operations.plan_operation(ops, operations.validate(ops.profile, "reshard", now=ops.now(), target_shards=20))
    assert [(c.current, c.new) for c in op.plan.changes] == [(128, 64), (64, 32), (32, 20)]
    assert "at most double or halve" in " ".join(op.plan.notes)
    jump = kinesis_actions._shard_change(ops, ops.profile.kinesis.stream, 128, 20, "primary")
    refused = apply(Plan("the runbook's single update-shard-count", [jump], ops), raise_on_error=False)
    assert refused.status == "refused" and "at most double or half" in refused.reason
    assert apply(op.plan, raise_on_error=False).status == "planned"
    assert ops.client("kinesis").describe_stream_summary(
        StreamName=ops.profile.kinesis.stream)["StreamDescriptionSummary"]["OpenShardCount"] == 128


# -- blue-green deploy (watch loop and verdicts) -------------------------------------------------------------
def test_a_deploy_not_steady_by_the_deadline_times_out():
    """The watch loop with a fake clock: samples every interval until the deadline."""
    t = {"now": 0.0}
    samples = []

    def sample(elapsed):
        samples.append(elapsed)
        return {"elapsed_s": elapsed}

    w = deploy_service.watch(sample, lambda s: (None, ""), subject="x", timeout_s=10, interval_s=3,
                             sleep=lambda s: t.update(now=t["now"] + s), clock=lambda: t["now"])
    assert w.verdict == "timeout" and samples == [0, 3, 6, 9] and not w.good
    w = deploy_service.watch(sample, lambda s: ("steady", "ok") if s["elapsed_s"] >= 3 else (None, ""), subject="x",
                             timeout_s=10, interval_s=3, sleep=lambda s: t.update(now=t["now"] + s),
                             clock=lambda: t["now"])
    assert w.verdict == "steady" and len(w.samples) == 2


def test_dry_run_deploy_is_only_planned_and_not_watched(ops, audit_tmp):
    req = operations.validate(ops.profile, "deploy-service", now=ops.now(), service="ingestion-api",
                              task_definition="ingestion-api:23")
    op = operations.plan_operation(ops, req)
    result = apply(op.plan)
    outcome = operations.follow_up(ops, op, result, dry_run=True, now=ops.now())
    assert outcome.status == "planned" and outcome.watch is None and not outcome.followups
    assert _service(ops)["taskDefinition"].endswith("ingestion-api:24")


def test_deploy_plans_never_show_nor_record_environment_values_or_secrets(ops, sandbox, audit_tmp):
    req = operations.validate(ops.profile, "deploy-service", now=ops.now(), service="ingestion-api",
                              image="123456789012.dkr.ecr.us-east-1.amazonaws.com/ingestion-api:1.25.0")
    plain = operations.plan_operation(ops, req).plan.changes[0]
    with planted_secret(sandbox) as secret:
        op = operations.plan_operation(ops, req)
        result = apply(op.plan)
    register = op.plan.changes[0]
    assert register.operation == "register_task_definition" and result.status == "planned"
    # the new revision keeps the environment and the secrets (they are in the call's parameters) ...
    container = register.params["containerDefinitions"][0]
    assert {"name": "DB_PASSWORD", "value": secret} in container["environment"]
    assert container["image"].endswith(":1.25.0")
    # ... while the plan shows their names and a digest that changes with the values
    summary = register.meta["containers"]
    assert "DB_PASSWORD" in summary["containers"][0]["environment"] and summary["containers"][0]["secrets"] == ["API_TOKEN"]
    assert summary["sha256"] != plain.meta["containers"]["sha256"]
    assert "DB_PASSWORD" in op.plan.to_text() and "file://task-def.json" in register.cli
    shown = {"plan text": op.plan.to_text(), "plan html": op.plan._repr_html_(), "call": register.call,
             "commands": op.plan.commands, "result": result.to_text(), "result html": result._repr_html_(),
             "plan repr": repr(op.plan), "result repr": repr(result),
             "audit jsonl": (audit_tmp / "audit.jsonl").read_text()}
    assert len(shown["audit jsonl"]) > 1000
    assert [name for name, text in shown.items() if secret in text] == []


def test_deployment_judge_thresholds():
    base = {"new_failed": 0, "rollout_state": "IN_PROGRESS", "error_rate": 0.001, "deployments": 2,
            "old_running": 3, "new_desired": 6, "new_running": 3, "new_pending": 3, "unhealthy_targets": 0,
            "healthy_targets": 6}
    judge = lambda s: deploy_service.judge_deployment(s, max_failed_tasks=2, max_error_rate=0.05)  # noqa: E731
    assert judge(base)[0] is None
    assert judge({**base, "new_failed": 1})[0] is None
    assert judge({**base, "new_failed": 2})[0] == "failed"
    assert judge({**base, "error_rate": 0.2})[0] == "failed"
    assert judge({**base, "rollout_state": "FAILED"})[0] == "failed"
    # 5xx already at 30% when the watch began (a fix deployed during an outage): only a rise counts
    during_outage = lambda s: deploy_service.judge_deployment(  # noqa: E731
        s, max_failed_tasks=2, max_error_rate=0.05, baseline_error_rate=0.3)
    assert during_outage({**base, "error_rate": 0.3})[0] is None
    assert during_outage({**base, "error_rate": 0.35})[0] == "failed"
    assert judge({**base, "deployments": 1, "old_running": 0, "new_running": 6, "new_pending": 0})[0] == "steady"
    assert judge({**base, "deployments": 1, "old_running": 0, "new_running": 6, "new_pending": 0,
                  "unhealthy_targets": 1})[0] is None


def _lambda_metrics(ops, version: str, invocations: float, errors: float) -> None:
    dims = [{"Name": "FunctionName", "Value": "event-validator"},
            {"Name": "Resource", "Value": "event-validator:production"},
            {"Name": "ExecutedVersion", "Value": version}]
    ops.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": name, "Dimensions": dims, "Timestamp": ops.now() - timedelta(minutes=2), "Value": value,
         "Unit": "Count"} for name, value in (("Invocations", invocations), ("Errors", errors))])


def _alias(ops):
    a = ops.client("lambda").get_alias(FunctionName="event-validator", Name="production")
    return a["FunctionVersion"], (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


# -- backfill ------------------------------------------------------------------------------------------------
def _delete_events(ops, ids) -> None:
    with ops.database.begin() as conn:
        conn.execute(sa.text("DELETE FROM events WHERE event_id = ANY(:ids)"), {"ids": list(ids)})


def _archived_ids(ops, days) -> set[str]:
    s3, bucket = ops.client("s3"), ops.profile.s3.archive_bucket
    ids = set()
    for day in days:
        objects, _ = backfill.list_day_objects(s3, bucket, backfill.day_prefix(day))
        ids |= {e["event_id"] for e in backfill.read_events(s3, bucket, [o["key"] for o in objects])}
    return ids


def test_backfill_loads_missing_events_once(ops, audit_tmp):
    req = operations.validate(ops.profile, "backfill", now=ops.now(), start_date=ops.now().date() - timedelta(days=2))
    ids = _archived_ids(ops, req.days)
    with ops.database.connect() as conn:     # the seeded database holds none of the archived events
        assert conn.execute(sa.text("SELECT count(*) FROM events WHERE event_id = ANY(:ids)"),
                            {"ids": list(ids)}).scalar() == 0
    try:
        _backfill_twice(ops, req, len(ids), audit_tmp)
    finally:
        _delete_events(ops, ids)             # the backfill inserted exactly these rows: back to the seeded state


def _backfill_twice(ops, req, archived: int, audit_dir) -> None:
    op = operations.plan_operation(ops, req)
    survey = op.survey
    assert list(survey["day"]) == req.days and survey["events"].sum() == survey["missing"].sum() == archived
    assert list(survey["objects"]) == [4, 4, 3]            # 00/06/12/18 h files; today's 18 h not yet written
    assert [c.current for c in op.plan.changes] == list(survey["missing"]) and survey["missing"].sum() > 0
    before = _events_count(ops)
    seen = []                                # listings and progress lines, in the order they happen
    listing = backfill.list_day_objects
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backfill, "list_day_objects", lambda s3, bucket, prefix, **kw: (
            seen.append(("list", prefix)), listing(s3, bucket, prefix, **kw))[1])
        mp.setattr(backfill, "print", lambda line, **kw: seen.append(("line", line)), raising=False)
        result = apply(op.plan, dry_run=False)
    assert result.status == "applied", result.to_text()
    # one line per day, each printed as soon as its day is loaded (before the next day is listed)
    lines = [(i, text) for i, (what, text) in enumerate(seen) if what == "line"]
    assert len(lines) == len(req.days)
    for n, ((i, text), r) in enumerate(zip(lines, survey.itertuples()), 1):
        assert text.startswith(f"[{n}/{len(req.days)}] {r.day}: {r.objects} objects, {r.events:,} events, "
                               f"{r.missing:,} inserted (") and text.endswith(" s)")
        later = [j for j, (what, prefix) in enumerate(seen) if what == "list" and prefix == backfill.day_prefix(
            r.day + timedelta(days=1))]
        assert n == len(req.days) or min(later) > i
    outcome = operations.follow_up(ops, op, result, dry_run=False, now=ops.now())
    p = outcome.progress
    assert list(p["inserted"]) == list(survey["missing"]) and p["missing_after"].sum() == 0
    assert _events_count(ops) == before + survey["missing"].sum()
    check = {c.name: c for c in operations.outcome_checks(outcome)}["backfill result"]
    assert check.status == "ok" and check.figures["inserted"] == survey["missing"].sum()
    # the second run finds nothing missing and adds nothing
    again = operations.plan_operation(ops, req)
    assert not again.plan.changes and (again.survey["missing"] == 0).all()
    assert list(again.survey["present"]) == list(survey["events"])
    second = apply(again.plan, dry_run=False)
    assert second.status == "applied" and _events_count(ops) == before + survey["missing"].sum()
    # and a day re-run directly through its change inserts nothing either
    assert backfill._execute(ops, op.plan.changes[0]) == 0
    # a new interpreter reads the record and says clearly that a backfill has no undo
    rc, out = undo_in_fresh_process(audit_dir, result.audit_id)
    assert rc == 0 and "unknown kind" not in out, out
    assert out.count("cannot be undone (no undo: the rows inserted are the archived events themselves)") == len(req.days)
    assert "no applied change of that record can be undone" in out and "(nothing to change)" in out


def test_backfill_lists_every_page_where_the_runbooks_single_call_stops_at_1000(ops, sandbox):
    s3, bucket = ops.client("s3"), ops.profile.s3.archive_bucket
    backend = sandbox.backend("s3")          # 1,003 keys written in-process (over HTTP it takes ~30 s)
    day = ops.now().date() - timedelta(days=40)
    prefix = backfill.day_prefix(day)
    keys = [f"{prefix}part-{i:05d}.json" for i in range(1003)]
    body = json.dumps({"event_id": "x"}).encode()
    try:
        for key in keys:
            backend.put_object(bucket, key, body)
        single = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        assert len(single["Contents"]) == 1000 and single["IsTruncated"]
        objects, pages = backfill.list_day_objects(s3, bucket, prefix)
        assert len(objects) == 1003 and pages == 2 and {o["key"] for o in objects} == set(keys)
    finally:
        for key in keys:
            backend.delete_object(bucket, key)
    seeded, pages = backfill.list_day_objects(s3, bucket, backfill.day_prefix(ops.now().date() - timedelta(days=1)),
                                              page_size=3)
    assert len(seeded) == 4 and pages == 2


def test_raw_event_rows(ops):
    s3, bucket = ops.client("s3"), ops.profile.s3.archive_bucket
    objects, _ = backfill.list_day_objects(s3, bucket, backfill.day_prefix(ops.now().date()))
    events = backfill.read_events(s3, bucket, [objects[0]["key"]])
    raw = gzip.decompress(s3.get_object(Bucket=bucket, Key=objects[0]["key"])["Body"].read()).decode().splitlines()
    assert len(events) == len(raw) > 0
    row = backfill.to_row(events[0])
    assert row["event_id"] == json.loads(raw[0])["event_id"] and row["event_timestamp"].tzinfo is None


# -- applied operations (one sandbox reset for all of them, after the module) ----------------------------
def _deploy(ops, image: str, **kw):
    req = operations.validate(ops.profile, "deploy-service", now=ops.now(), service="ingestion-api",
                              image=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ingestion-api:{image}",
                              watch_seconds=30, watch_interval=0.5)
    op = operations.plan_operation(ops, req)
    result = apply(op.plan, dry_run=False)
    return op, result, operations.follow_up(ops, op, result, dry_run=False, now=ops.now())


def test_blue_green_deploy_steady_then_a_crashing_one_rolled_back(ops, changed_sandbox, audit_tmp):
    assert _service(ops)["taskDefinition"].endswith("ingestion-api:24")
    op, result, outcome = _deploy(ops, "1.25.0")
    assert [(c.current, c.new) for c in op.plan.changes] == [("ingestion-api:24", "ingestion-api:25")] * 2
    assert result.status == "applied"
    assert outcome.status == "steady", outcome.reason
    last = outcome.watch.samples.iloc[-1]
    assert last["new_running"] == last["new_desired"] == 6 and last["old_running"] == 0
    assert last["unhealthy_targets"] == 0 and last["healthy_targets"] >= 6
    svc = _service(ops)
    assert svc["taskDefinition"].endswith("ingestion-api:25") and svc["runningCount"] == 6
    td = ops.client("ecs").describe_task_definition(taskDefinition="ingestion-api:25")["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(":1.25.0")
    checks = {c.name: c.status for c in operations.outcome_checks(outcome)}
    assert checks["deploy-service result"] == "ok" and len(operations.outcome_charts(outcome)) == 1

    # the scheduler's crash mode (as api-down): the service's tasks start, then exit with OutOfMemory
    changed_sandbox.faults.add("bad-release", ecs_down=[("primary", "{cluster}", "ingestion-api", "crash")])
    op, result, outcome = _deploy(ops, "1.26.0")
    assert result.status == "applied" and op.plan.changes[-1].new == "ingestion-api:26"
    assert outcome.status == "rolled-back", outcome.reason
    assert outcome.watch.verdict == "failed" and "failed" in outcome.watch.reason
    assert outcome.watch.samples["new_failed"].iloc[-1] >= 1
    assert _service(ops)["taskDefinition"].endswith("ingestion-api:25")
    rollback = outcome.followups[0]
    assert rollback.status == "applied" and rollback.plan.changes[0].new == "ingestion-api:25"
    records = AuditLog(audit_tmp).records()
    assert [r.status for r in records] == ["applied"] * 3 and "roll back" in records[-1].title
    checks = {c.name: c for c in operations.outcome_checks(outcome)}
    assert checks["deploy-service result"].status == "fail" and "rolled back" in checks["deploy-service result"].detail
    with changed_sandbox.faults.lock:            # the later tests of the module run without the fault
        changed_sandbox.faults.active.pop("bad-release")
    # a new interpreter plans the undo of the first deploy: the service back to 24, revision 25 deregistered
    rc, out = undo_in_fresh_process(audit_tmp, records[0].id)
    assert rc == 0 and "unknown kind" not in out, out
    plan_text = out.split("Commands:")[1]
    assert plan_text.index("--task-definition ingestion-api:24") < plan_text.index(
        "deregister-task-definition --task-definition ingestion-api:25")
    assert "PLANNED: undo " + records[0].id in out


def _canary(ops, **kw):
    req = operations.validate(ops.profile, "deploy-lambda", now=ops.now(), function="event-validator",
                              watch_seconds=0.6, watch_interval=0.3, **kw)
    op = operations.plan_operation(ops, req)
    result = apply(op.plan, dry_run=False)
    assert result.status == "applied", result.to_text()
    return op, operations.follow_up(ops, op, result, dry_run=False, now=ops.now())


def test_lambda_canary_promoted_rolled_back_or_left(ops, changed_sandbox, audit_tmp):
    _lambda_metrics(ops, "15", 500, 0)          # version 15 serves its canary share without errors
    _lambda_metrics(ops, "16", 500, 60)         # version 16 fails 12% of its invocations
    op, outcome = _canary(ops, artifact_key="event-validator-v1.2.0.zip", canary_weight=0.1)
    assert [c.new for c in op.plan.changes] == ["15", {"version": "14", "weights": {"15": 0.1}}]
    assert outcome.status == "promoted", outcome.reason
    # a new interpreter plans the undo of the publish + canary: the alias back to 14, then version 15 deleted
    rc, out = undo_in_fresh_process(audit_tmp, outcome.result.audit_id)
    assert rc == 0 and "unknown kind" not in out, out
    plan_text = out.split("Commands:")[1]
    assert plan_text.index("--function-version 14") < plan_text.index("delete-function --function-name "
                                                                      "event-validator --qualifier 15")
    assert _alias(ops) == ("15", {})
    assert {c.name: c.status for c in operations.outcome_checks(outcome)}["deploy-lambda result"] == "ok"

    op, outcome = _canary(ops, artifact_key="event-validator-v1.2.0.zip", canary_weight=0.2)
    assert [c.new for c in op.plan.changes] == ["16", {"version": "15", "weights": {"16": 0.2}}]
    assert outcome.status == "rolled-back" and "60 errors in 500" in outcome.reason
    assert _alias(ops) == ("15", {})
    assert {c.name: c.status for c in operations.outcome_checks(outcome)}["deploy-lambda result"] == "fail"

    op, outcome = _canary(ops, lambda_version=13, canary_weight=0.05)     # no invocations recorded for 13
    assert outcome.status == "canary-left" and _alias(ops) == ("15", {"13": 0.05})
    assert {c.name: c.status for c in operations.outcome_checks(outcome)}["deploy-lambda result"] == "warn"
