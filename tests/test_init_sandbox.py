"""`runbook init` on the sandbox: the draft of an account nobody described finds what the hand-written profile
says (roles, checkpoint layout, dimensions, the DR side, the warehouse's columns), and every notebook gives the
same findings on it as on the hand-written one (their golden outputs); the differently named "other pipeline"
is drafted in test_other_pipeline.py, on its sandbox. An account refusing half of the calls still gives a
draft that loads, its gaps listed."""
from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

import golden
from runbook_cli import run_init, same_findings

from opslib.config import load_profile

# -- the default sandbox --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def drafted(sandbox, tmp_path_factory):
    # moto's backends are per process: a module that ran a moto server of its own in this worker after the sandbox
    # started (test_roles) left its clusters in them, and an extra cluster in us-west-2 would make it the primary
    sandbox.reset()
    folder = tmp_path_factory.mktemp("init")
    out = folder / "mine.yaml"
    proc = run_init("--endpoint", sandbox.endpoint, "-o", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out, proc


def test_the_draft_finds_what_the_hand_written_profile_says(drafted):
    out, proc = drafted
    draft, reference = load_profile(str(out)), load_profile("sandbox")
    assert draft.aws.endpoint_url == "sandbox" and draft.aws.account_id == "123456789012"
    assert (draft.aws.primary_region, draft.aws.dr_region) == ("us-east-1", "us-west-2")
    for section in ("ecs", "kinesis", "dynamodb", "s3", "dns", "rds", "secrets", "security"):
        assert getattr(draft, section) == getattr(reference, section), section
    assert draft.metrics == reference.metrics
    roles = {s.name: (s.role, s.type, s.target_group, s.log_group, s.alias, s.health_url) for s in draft.services}
    assert roles == {s.name: (s.role, s.type, s.target_group, s.log_group, s.alias, s.health_url)
                     for s in reference.services}
    assert sorted(draft.log_groups) == sorted(reference.log_groups)
    text = out.read_text()
    assert "# ingest, confidence high: its target group ingestion-api-tg is behind the internet-facing" in text
    assert "kinesis-checkpoints's key schema is {ShardId: HASH}" in text
    # proved: loaded, preflight run, what to review printed
    assert "it loads as profile 'mine'" in proc.stdout and "OK      aws-identity" in proc.stdout
    assert "WARN    profile-todo" in proc.stdout and "security.trusted_cidrs" in proc.stdout
    assert "password" not in text.lower() and "sandbox-only" not in text


@pytest.mark.slow
def test_every_read_only_notebook_gives_the_same_findings_as_sandbox_yaml(drafted, tmp_path):
    same_findings(str(drafted[0]), tmp_path, golden.findings)


def test_init_refuses_to_overwrite_and_doctor_reports_the_todos(drafted):
    out, _ = drafted
    before = out.read_text()
    proc = run_init("--endpoint", "sandbox", "-o", str(out))
    assert proc.returncode == 2 and "--force" in proc.stderr and out.read_text() == before
    doctor = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "doctor", "--profile", str(out)],
                            capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert doctor.returncode == 0 and "profile-todo" in doctor.stdout and "trusted_cidrs" in doctor.stdout


def test_half_the_calls_denied_still_drafts_with_the_gaps_listed(sandbox, tmp_path):
    from opslib.discovery import Reader, discover
    denied = {"ListStreams", "DescribeDBInstances", "ListFunctions", "ListBuckets", "ListHostedZones", "ListSecrets",
              "LookupEvents", "DescribeTargetGroups", "ListTables", "ListUserPools", "GetCallerIdentity",
              "DescribeTaskDefinition", "ListIPSets", "ListMetrics"}
    seen: set[str] = set()

    def deny(model, **_):
        seen.add(model.name)
        if model.name in denied:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied by the test"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, model.name)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    session.events.register("before-call", deny)
    result = discover(Reader(session, endpoint_url=sandbox.endpoint), primary="us-east-1", dr="us-west-2",
                      name="half", endpoint_url=sandbox.endpoint)
    assert denied <= seen and len(seen - denied) >= len(denied) / 2       # about half of the calls refused
    path = tmp_path / "half.yaml"
    path.write_text(result.text)
    profile = load_profile(str(path))
    assert profile.ecs.cluster == "prod-cluster" and profile.service_for("ingest").name == "ingestion-api"
    assert profile.kinesis.stream == "TODO" and profile.aws.account_id is None
    # not the sandbox's state: an account's draft (its environment and contacts are for a person to say)
    assert profile.aws.endpoint_url == sandbox.endpoint and profile.contacts.on_call[0].name == "TODO"
    refused = {g.api for g in result.draft.gaps}
    assert {"kinesis:ListStreams", "rds:DescribeDBInstances", "cloudwatch:ListMetrics", "sts:GetCallerIdentity"} <= refused
    assert "# Calls refused" in result.text and "kinesis:ListStreams in us-east-1: access (AccessDenied)" in result.text
    todo = dict(result.draft.todos())
    assert "refused: " in todo["kinesis.stream"] and "kinesis:ListStreams (us-east-1)" in todo["kinesis.stream"]
    assert "cloudwatch:ListMetrics" in todo["metrics.requests"] and "environment" in todo and "contacts" in todo
