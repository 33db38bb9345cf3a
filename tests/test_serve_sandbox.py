"""The whole loop in the sandbox, end to end: `runbook serve` (the CLI, in its own process) subscribed over
HTTP to the API Down alarm's SNS topic in moto; `inject api-down`; the alarm published to the topic; moto
delivers it signed (certificate served by the sandbox on loopback); the receiver runs incident-response
read-only, tagged with the incident, into the archive (a folder, or an S3 prefix in the sandbox's S3 with the
queue and decisions in a local state folder); a loopback Slack fake receives the summary. A message with a bad
signature runs nothing and is recorded as rejected."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from opslib.actions.audit import AuditLog
from opslib.runner.archive import open_archive
from opslib.sandbox import alarm_topic
from opslib.sandbox.sns_signing import SigningAuthority

from test_webhook import Fake, post

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return None


def healthz(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_alarm_to_triage_run_and_summary(healthy_sandbox, tmp_path, capsys, kind):
    sb = healthy_sandbox
    fake = Fake()
    if kind == "s3":
        s3 = sb.client("s3")
        s3.create_bucket(Bucket="runbook-serve-evidence")
        target, state = "s3://runbook-serve-evidence/triage", tmp_path / "state"
        archive, where = open_archive(target, s3_client=s3), ["--archive", target, "--state", str(state)]
    else:
        target = state = tmp_path / "runs"
        archive, where = open_archive(target), ["--archive", str(target)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # the actions' audit log: the archive's own for a folder; for S3, the default archive's, which is the checkout's
    # runs/ unless $OPSLIB_AUDIT_DIR says otherwise (README, "Actions")
    env = {**os.environ, "OPSLIB_SLACK_WEBHOOK": f"{fake.url}/slack", "OPSLIB_AUDIT_DIR": str(tmp_path / "audit")}
    proc = subprocess.Popen([sys.executable, "-c", "from opslib.cli import run; run()", "serve", "--profile", "sandbox",
                             *where, "--port", str(port)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "w"))
    try:
        assert wait_for(lambda: healthz(url), 60), (tmp_path / "serve.log").read_text()
        sb.inject("api-down")
        t0 = time.monotonic()
        alarm_topic.main(["API Down", "--subscribe", f"{url}/sns"])   # CloudWatch's notification, through SNS
        published = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert published["state"] == "ALARM" and published["alarm"] == "pipeline-api-down"   # inject set it
        assert published["topic"].endswith(":pagerduty")            # the alarm's own action topic
        topic = published["topic"]

        def triage_run():
            runs = [e for e in archive.manifest() if e["notebook"] == "incident-response"]
            return runs[0] if runs and [c for c in fake.calls if c["path"] == "/slack"] else None

        entry = wait_for(triage_run, 240)
        elapsed = time.monotonic() - t0
        assert entry is not None, (tmp_path / "serve.log").read_text()[-3000:]
        print(f"alarm -> archived triage run and Slack summary in {elapsed:.1f}s")
        assert elapsed < 90      # the goal is one minute (41 s measured on 2 busy cores); 90 s keeps it stable
        assert entry["incident_id"].startswith("ALARM-pipeline-api-down-20261125T1200Z-")
        assert entry["parameters"]["procedure"] == "api-down" and entry["parameters"]["dry_run"] is True
        assert entry["parameters"]["incident_id"] == entry["incident_id"]
        failing = [c["name"] for c in entry["findings"] if c["status"] == "fail"]
        assert failing, entry["findings"]                 # API Down is present: the triage says so
        text = [c for c in fake.calls if c["path"] == "/slack"][0]["json"]["blocks"][0]["text"]["text"]
        assert entry["incident_id"] in text and f"FAIL {failing[0]}" in text and entry["files"]["html"]["path"] in text

        # a message signed with a key other than the certificate's: 403, recorded, nothing runs
        authority = SigningAuthority(sb.sns_certs)
        other = SigningAuthority(sb.sns_certs)
        message = {"Type": "Notification", "MessageId": "forged-1", "TopicArn": topic,
                   "Message": json.dumps({"AlarmName": "pipeline-api-down", "NewStateValue": "ALARM",
                                          "StateChangeTime": "2026-11-25T12:30:00.000+0000"}),
                   "Timestamp": "2026-11-25T12:30:00.000Z"}
        forged = {**other.sign(message), "SigningCertURL": authority.url}
        status, body = post(f"{url}/sns", forged)
        assert status == 403 and "signature" in body["reason"]
        time.sleep(1.0)
        records = AuditLog(state / "audit").records()
        decisions = [r.status for r in records if r.title.startswith("webhook:")]
        assert decisions.count("rejected") == 1 and decisions.count("queued") == 1 and decisions.count("run") == 1
        assert len([e for e in archive.manifest() if e["notebook"] == "incident-response"]) == 1
        assert (state / "serve" / "triage.sqlite").is_file()
        assert entry["files"]["ipynb"]["path"].startswith("s3://runbook-serve-evidence/triage/" if kind == "s3"
                                                           else str(target))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        fake.stop()
