"""Drills: the Incident Response notebook headless (``runbook run``) against the sandbox. Quiet on a
healthy pipeline; each fault it is written for is detected with the right procedure and root-cause hint,
and the hinted remedy is planned (dry run: nothing changes) or applied (``dry_run=False``: exactly what
was planned changes, and the audit record holds the undo). Faults that touch different signals are
drilled together to keep the number of runs (and sandbox resets) down."""
from __future__ import annotations

import pytest

import golden
from runbook_cli import figures, findings, run

from opslib.actions import AuditLog, apply, plan_undo
from opslib.actions import kinesis as kinesis_actions
from opslib.drills import DRILLS, judge

pytestmark = pytest.mark.slow
NB = "incident-response"
CHECKS = {"procedure-api-down", "procedure-high-error-rate", "procedure-stream-backup", "hint-recent-deployment",
          "hint-memory-ingestion-api", "hint-memory-stream-processor", "hint-db-connections", "hint-poison-messages",
          "hint-aws-service-issues", "error-logs", "remedy"}


def records(archive, entry):
    return [r for r in AuditLog(archive / "audit").records() if r.run_id == entry["id"]]


def desired(ops, service: str) -> int:
    return ops.client("ecs").describe_services(cluster=ops.profile.ecs.cluster, services=[service])["services"][0][
        "desiredCount"]


def task_definition(ops, service: str) -> str:
    return ops.client("ecs").describe_services(cluster=ops.profile.ecs.cluster, services=[service])["services"][0][
        "taskDefinition"].rsplit("/", 1)[-1]


def drilled_together(entry, injected: dict) -> None:
    """Each fault's drill (opslib.drills) detects it in this run of faults injected together."""
    expects = {s: DRILLS[s].expect(NB) for s in injected}
    for scenario, details in injected.items():
        verdict = judge(expects[scenario], entry, details, together=[e for s, e in expects.items() if s != scenario])
        assert verdict.detected, (scenario, verdict.problem)


def figure(entry, words: str) -> dict:
    return next(f for f in figures(entry) if words in f["layout"]["title"]["text"])


@pytest.mark.golden
def test_healthy_sandbox_is_quiet(sandbox, healthy_runs, nb_regression):
    shared = healthy_runs[NB]                                 # the healthy run with defaults, shared
    rc, entry = shared.rc, shared.entry
    checks = findings(entry)
    assert rc == 0 and set(checks) == CHECKS, entry.get("error")
    assert {n: c["detail"] for n, c in checks.items() if c["status"] != "ok"} == {}
    assert checks["remedy"]["detail"].endswith("nothing to change")
    [record] = records(shared.archive, entry)                 # the empty plan is audited too
    assert record.dry_run and record.status == "planned" and record.steps == []
    assert len(figures(entry)) == 3
    golden.check(nb_regression, entry)


def test_drill_api_down_with_stream_backup_and_connection_exhaustion(ops, healthy_sandbox, tmp_path):
    injected = {s: healthy_sandbox.inject(s) for s in ("api-down", "stream-backup", "connection-exhaustion")}
    before = {s: desired(ops, s) for s in ("ingestion-api", "stream-processor")}
    rc, entry = run(NB, tmp_path)
    checks = findings(entry)
    status = {n: c["status"] for n, c in checks.items()}
    assert rc == 1, entry.get("error")
    drilled_together(entry, injected)
    assert status["procedure-api-down"] == status["procedure-stream-backup"] == "fail"
    assert checks["procedure-api-down"]["figures"]["present"] == [
        "Health checks failing", "5xx errors from ALB", "No events being processed"]
    assert checks["procedure-api-down"]["figures"]["severity"] == "SEV1"
    assert checks["procedure-api-down"]["figures"]["services_down"] == ["ingestion-api"]      # that one, no other
    assert "down: ingestion-api;" in checks["procedure-api-down"]["detail"] + ";"
    assert status["procedure-high-error-rate"] == "warn" and "part of API Down" in checks["procedure-high-error-rate"]["detail"]
    assert checks["procedure-stream-backup"]["figures"]["present"] == [
        "Kinesis consumer lag increasing", "Processing delays", "Memory pressure on consumers"]
    # root causes: the API's memory leak (OOM kills), the consumers' memory, connections near max_connections
    api_memory = checks["hint-memory-ingestion-api"]
    assert api_memory["status"] == "fail" and api_memory["figures"]["oom_stops"] > 0
    assert status["hint-memory-stream-processor"] == "fail"
    db = checks["hint-db-connections"]
    assert db["status"] == "fail" and db["figures"]["ratio"] >= 0.8
    assert status["hint-recent-deployment"] == status["hint-poison-messages"] == status["hint-aws-service-issues"] == "ok"
    assert "not regional" in checks["hint-aws-service-issues"]["detail"]
    # the runbook's scale-ups, planned and audited, not applied
    assert status["remedy"] == "warn" and checks["remedy"]["figures"]["planned"] == ["ingestion-api", "stream-processor"]
    [record] = records(tmp_path, entry)
    assert record.dry_run and record.status == "planned"
    steps = [(s.change["target"], s.change["current"], s.change["new"], s.change["undo"]["new"]) for s in record.steps]
    assert steps == [("ingestion-api", before["ingestion-api"], 10, before["ingestion-api"]),
                     ("stream-processor", before["stream-processor"], 20, before["stream-processor"])]
    assert {s: desired(ops, s) for s in before} == before
    lag = figure(entry, "Consumer lag")
    values = [v for v in lag["data"][0]["y"] if v is not None and v == v]
    assert max(values) > lag["layout"]["shapes"][0]["y0"] == 300


def test_drill_bad_deployment_and_poison_messages_applied(ops, healthy_sandbox, tmp_path):
    injected = {s: healthy_sandbox.inject(s) for s in ("high-error-rate", "poison-messages")}
    deployed, poison = injected["high-error-rate"]["recent_deployment"], injected["poison-messages"]
    family, rev = deployed.split(":")
    previous = f"{family}:{int(rev) - 1}"
    rc, entry = run(NB, tmp_path, "dry_run=False")
    checks = findings(entry)
    status = {n: c["status"] for n, c in checks.items()}
    assert rc == 1, entry.get("error")
    drilled_together(entry, injected)
    assert status["procedure-high-error-rate"] == status["procedure-stream-backup"] == "fail"
    assert status["procedure-api-down"] == "ok"
    hint = checks["hint-recent-deployment"]
    assert hint["status"] == "fail" and hint["figures"]["task_definition"] == deployed
    assert hint["figures"]["previous"] == previous and hint["figures"]["began"] >= hint["figures"]["deployed_at"][:16]
    bad = checks["hint-poison-messages"]
    assert bad["status"] == "fail"
    assert bad["figures"]["sequence_numbers"] == {poison["shard"]: poison["poison_sequence_numbers"]}
    assert status["remedy"] == "ok" and checks["remedy"]["figures"]["applied"] == [family, poison["shard"]]
    # what was planned is what changed, and the record holds each undo
    [record] = records(tmp_path, entry)
    assert not record.dry_run and record.status == "applied"
    steps = [(s.change["kind"], s.before, s.after, s.change["undo"]["new"]) for s in record.steps]
    assert steps == [("ecs.task_definition", deployed, previous, deployed),
                     ("dynamodb.checkpoint", poison["stuck_checkpoint"], poison["poison_sequence_numbers"][-1],
                      poison["stuck_checkpoint"])]
    assert task_definition(ops, family) == previous
    assert kinesis_actions.read_checkpoint(ops, poison["shard"]) == poison["poison_sequence_numbers"][-1]
    marks = [a["text"] for a in figure(entry, "ALB error rate")["layout"]["annotations"]]
    assert f"deploy {deployed}" in marks
    # the undo, planned from the audit record alone, puts both back
    undo = plan_undo(ops, record.id, audit_dir=str(tmp_path / "audit"))
    assert apply(undo, dry_run=False, ops=ops, audit_dir=str(tmp_path / "audit")).status == "applied"
    assert task_definition(ops, family) == deployed
    assert kinesis_actions.read_checkpoint(ops, poison["shard"]) == poison["stuck_checkpoint"]
