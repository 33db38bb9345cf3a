"""Credentials that cannot read: the sandbox's moto server enforcing IAM (its /moto-api/reset-auth, the
server-side INITIAL_NO_AUTH_ACTION_COUNT), an IAM user allowed nothing but its own identity. Checks that
could not read ECS, Lambda or EMR are unknown (exit 5), never a failure about the services."""
from __future__ import annotations

import json
import os
import urllib.request

import boto3
import pytest

from opslib.config import load_profile
from opslib.connection import Ops
from opslib.runner.preflight import preflight
from opslib.sections.services import service_checks, service_table

from runbook_cli import findings, run

POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}


def _reset_auth(endpoint: str, count: str) -> None:
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})   # not a form: moto reads the raw body
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


@pytest.fixture
def no_read_credentials(sandbox):
    """(endpoint, access key, secret) of a user that may call nothing but sts:GetCallerIdentity, with IAM
    enforced by the moto server until the test ends."""
    import uuid
    iam = sandbox.client("iam")
    name = f"oncall-no-reads-{uuid.uuid4().hex[:8]}"      # a user per test (IAM allows two keys per user)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="identity-only", PolicyDocument=json.dumps(POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    _reset_auth(sandbox.endpoint, "0")
    try:
        yield sandbox.endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        _reset_auth(sandbox.endpoint, "inf")
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])    # leave the sandbox as it was
        iam.delete_user_policy(UserName=name, PolicyName="identity-only")
        iam.delete_user(UserName=name)


def _profile_file(tmp_path, endpoint: str):
    """A copy of the sandbox profile kept elsewhere, pointing at the moto server as at any AWS endpoint
    (so boto3's credential chain, not the sandbox's fixed keys, is used)."""
    path = tmp_path / "limited.yaml"
    path.write_text(f"extends: sandbox\nname: limited\naws:\n  endpoint_url: {endpoint}\n  max_attempts: 1\n")
    return path


def test_service_reads_refused_are_unknown(no_read_credentials, tmp_path):
    endpoint, key_id, secret = no_read_credentials
    prof = load_profile(_profile_file(tmp_path, endpoint))
    session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=prof.aws.primary_region)
    ops = Ops(prof, session=session)
    report = preflight(prof, needs=["aws"], connect=lambda p: ops)
    assert report.ok, report.message()                          # the credentials are good: the reads are refused
    table = service_table(ops, timeout=1.0)
    assert set(table["status"]) == {"unknown"}, table[["service", "status", "detail"]]
    assert table["detail"].str.contains("access").all()
    checks = service_checks(table)
    assert {c.status for c in checks} == {"unknown"}


def test_critical_services_run_with_refused_reads_exits_5(no_read_credentials, tmp_path, monkeypatch):
    endpoint, key_id, secret = no_read_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    code, entry = run("critical-services", tmp_path / "runs", profile=str(_profile_file(tmp_path, endpoint)))
    assert code == 5 and entry["status"] == "unknown", entry.get("error")
    statuses = {name: c["status"] for name, c in findings(entry).items()}
    assert statuses and "fail" not in statuses.values(), statuses
    assert statuses["service-ingestion-api"] == "unknown"


def test_system_overview_run_with_refused_reads_exits_5(no_read_credentials, tmp_path, monkeypatch):
    """The issue's system-overview exited 3 (the notebook raised) when it could not read: now every check
    that could not see is unknown and the run says so with exit 5."""
    endpoint, key_id, secret = no_read_credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    code, entry = run("system-overview", tmp_path / "runs", profile=str(_profile_file(tmp_path, endpoint)))
    assert code == 5 and entry["status"] == "unknown", entry.get("error")
    statuses = {name: c["status"] for name, c in findings(entry).items()}
    assert "fail" not in statuses.values(), statuses
    assert statuses["inventory-primary"] == statuses["throughput"] == statuses["retention"] == "unknown"


def test_s3_archive_probe(sandbox, ops):
    """An s3:// archive: the bucket reachable and a probe object put and deleted; a missing bucket fails."""
    from opslib.runner.archive import open_archive
    s3 = ops.client("s3")
    bucket = ops.profile.s3.archive_bucket
    good = open_archive(f"s3://{bucket}/runbook-runs", s3_client=s3)
    report = {p.name: p for p in preflight(ops.profile, needs=[], archive=good).probes}
    assert report["archive"].status == "ok", report["archive"]
    left = s3.list_objects_v2(Bucket=bucket, Prefix="runbook-runs/").get("KeyCount", 0)
    assert left == 0                                              # the probe object was removed
    bad = open_archive("s3://no-such-bucket-for-runs/x", s3_client=s3)
    report = {p.name: p for p in preflight(ops.profile, needs=[], archive=bad).probes}
    assert report["archive"].status == "fail" and "no-such-bucket-for-runs" in report["archive"].detail


def test_doctor_on_the_sandbox_is_green(sandbox, tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "doctor", "--archive",
                           str(tmp_path / "runs"), "--json"], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report
    names = [p["name"] for p in report["probes"]]
    assert names == ["aws-credentials", "aws-identity", "database-warehouse", "database-database", "archive", "notify"]
    assert all(p["status"] == "ok" for p in report["probes"])
    assert "123456789012" in report["probes"][1]["detail"]
