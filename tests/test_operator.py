"""One operator record for runs and audited actions (:mod:`opslib.operator`): one shape written, the shapes
written before it still read, and an archive holding both still verifies. No kernel, no sandbox."""
from __future__ import annotations

import json

from opslib.actions.audit import AuditLog, AuditRecord
from opslib.operator import Operator
from opslib.runner.archive import LocalArchive
from opslib.runner.manifest import entry_text
from opslib.runner.verify import verify_archive
from opslib.sections.postmortem import load_incident, timeline

OLD_RUN = {"user": "alice", "aws": {"account": "123456789012", "arn": "arn:aws:iam::123456789012:user/alice"}}
OLD_RUN_BLIND = {"user": "alice", "aws": {"error": "NoCredentialsError"}}
OLD_AUDIT = {"local_user": "bob", "aws_arn": "arn:aws:iam::123456789012:user/bob", "aws_account": "123456789012",
             "host": "ops-1", "ip_address": "10.0.0.5"}
OLD_WEBHOOK = {"local_user": "svc", "host": "ops-2", "role": "runbook serve", "ip_address": "203.0.113.9"}


def test_one_shape_written():
    who = Operator("carol", aws_account="1", aws_arn="arn:x", host="h", ip_address="10.0.0.1")
    assert who.to_dict() == {"user": "carol", "host": "h", "ip_address": "10.0.0.1", "role": None,
                             "aws": {"account": "1", "arn": "arn:x", "error": None}}
    assert Operator.from_dict(who.to_dict()) == who
    assert set(Operator.from_identity({"error": "NoCredentialsError"}).to_dict()) == set(who.to_dict())


def test_older_shapes_are_read():
    run = Operator.from_dict(OLD_RUN)
    assert (run.user, run.aws_account, run.aws_arn, run.aws_error) == (
        "alice", "123456789012", "arn:aws:iam::123456789012:user/alice", None)
    assert Operator.from_dict(OLD_RUN_BLIND).aws_error == "NoCredentialsError"
    assert Operator.from_dict(OLD_RUN_BLIND).aws_text == "unknown (NoCredentialsError)"
    audit = Operator.from_dict(OLD_AUDIT)
    assert (audit.user, audit.aws_arn, audit.aws_account, audit.host, audit.ip_address) == (
        "bob", "arn:aws:iam::123456789012:user/bob", "123456789012", "ops-1", "10.0.0.5")
    hook = Operator.from_dict(OLD_WEBHOOK)
    assert (hook.user, hook.role, hook.ip_address) == ("svc", "runbook serve", "203.0.113.9")
    assert Operator.from_dict(None).user is None


def _record(audit_id: str, run_id: str, operator) -> AuditRecord:
    return AuditRecord(id=audit_id, timestamp="2026-11-27T12:00:05+00:00", status="applied", title="scale",
                       profile="sandbox", environment="sandbox", production=False, dry_run=False, run_id=run_id,
                       operator=operator, steps=[])


def test_an_archive_with_old_and_new_records_reads_and_verifies(tmp_path):
    archive = LocalArchive(tmp_path / "runs")
    base = {"notebook": "incident-response", "incident_id": "INC-9", "status": "ok", "files": {}, "profile": "sandbox",
            "exit_code": 0, "duration_seconds": 1.0, "parameters": {}, "host": "h", "opslib_version": "0"}
    archive.append_manifest({**base, "id": "old00001", "operator": OLD_RUN,
                             "start": "2026-11-27T12:00:00+00:00", "end": "2026-11-27T12:00:30+00:00"})
    new = Operator("carol", aws_arn="arn:aws:iam::123456789012:user/carol").to_dict()
    archive.append_manifest({**base, "id": "new00002", "operator": new,
                             "start": "2026-11-27T12:01:00+00:00", "end": "2026-11-27T12:01:30+00:00"})
    log = AuditLog(tmp_path / "runs" / "audit")
    log.path.parent.mkdir(parents=True)
    old_line = {**_record("20261127T120005Z-old", "old00001", {}).to_dict(), "operator": OLD_AUDIT}
    log.path.write_text(json.dumps(old_line) + "\n", encoding="utf-8")          # as written before
    log.append(_record("20261127T120105Z-new", "new00002", Operator.from_identity({"arn": "arn:x"})))

    report = verify_archive(archive)
    assert report.ok and report.entries == 2
    first, second = log.records()
    assert first.operator.user == "bob" and first.operator.aws_arn.endswith("user/bob")
    assert json.loads(log.path.read_text().splitlines()[1])["operator"]["aws"]["arn"] == "arn:x"
    assert "bob" in log.table()

    incident = load_incident("INC-9", archive, audit_directory=log.directory)
    operators = {(t.kind, t.run_id): t.operator for t in timeline(incident)}
    assert operators[("run", "old00001")] == "alice" and operators[("run", "new00002")] == "carol"
    assert operators[("action", "old00001")] == "bob"
    shown = [entry_text(e) for e in incident.entries]
    assert "operator alice  aws arn:aws:iam::123456789012:user/alice" in shown[0]
    assert "operator carol  aws arn:aws:iam::123456789012:user/carol" in shown[1]
