"""`runbook serve`'s receiver over real HTTP on loopback, with a fake runner passed in (no kernel): SNS
signatures (v1, v2, bad, untrusted host, unsigned), PagerDuty V3 and Alertmanager authentication, replay
and storm dedupe, queue full, restart, and the summary sent to a loopback Slack/PagerDuty fake."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opslib import webhook
from opslib.sections import alerts
from opslib.config import load_profile
from opslib.sandbox.sns_signing import CertServer, SigningAuthority
from opslib.webhook import pagerduty
from opslib.webhook.routing import time_parameters

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
TOPIC = "arn:aws:sns:us-east-1:123456789012:pagerduty"
DEFAULTS = {"incident-response": {"profile": "sandbox", "incident_id": None, "procedure": "auto", "remedy": "auto",
                                  "window_minutes": 60, "dry_run": True, "confirm": None},
            "data-quality": {"profile": "sandbox", "as_of": None, "window_hours": 24}}


@pytest.fixture(scope="module")
def profile():
    return load_profile("sandbox")


class Fake:
    """A loopback Slack / PagerDuty REST fake: records every POST."""

    def __init__(self):
        self.calls: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.calls.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def certs():
    server = CertServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def authority(certs):
    return SigningAuthority(certs)


class FakeRunner:
    def __init__(self, gate: threading.Event | None = None):
        self.calls: list = []
        self.gate = gate
        self.done = threading.Event()

    def __call__(self, triage):
        self.calls.append(triage)
        if self.gate is not None:
            self.gate.wait(30)
        self.done.set()
        return {"id": f"run{len(self.calls)}", "notebook": triage.notebook, "status": "fail", "exit_code": 1,
                "findings": [{"name": "ok-check", "status": "ok", "detail": "fine"},
                             {"name": "health", "status": "fail", "detail": "ingestion-api 503"},
                             {"name": "lag", "status": "warn", "detail": "slow"}],
                "files": {"html": {"path": "/archive/2026/11/25/x.html"}}}


def make_server(tmp_path, profile, certs, *, runner, fake=None, capacity=20, concurrency=1, dedupe=30.0,
                secrets=("pd-secret",), token=None):
    settings = webhook.Settings(sns_policy=webhook.TrustPolicy.for_region("us-east-1", extra_origins=(certs.origin,)),
                                pagerduty_secrets=list(secrets), alertmanager_token=token, max_body=64 * 1024)
    responder = webhook.Responder(slack_url=f"{fake.url}/slack" if fake else None,
                                  pagerduty_api=fake.url if fake else "http://127.0.0.1:9",
                                  pagerduty_token="pd-token", pagerduty_from="oncall@example.com")
    return webhook.build(profile, tmp_path, settings, runner=runner, respond=responder.send,
                         clock=lambda: datetime.now(timezone.utc), data_clock=lambda: NOW + timedelta(minutes=5),
                         options=webhook.Options(capacity=capacity, concurrency=concurrency, dedupe_minutes=dedupe,
                                                 port=0),        # any free port: other processes may serve 8787
                         parameters_of=lambda nb: DEFAULTS.get(nb, {}))


def alarm_notification(name="pipeline-api-down", state="ALARM", changed=NOW, message_id="m-1"):
    alarm = {"AlarmName": name, "NewStateValue": state, "OldStateValue": "OK", "NewStateReason": "Threshold Crossed",
             "StateChangeTime": changed.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "Region": "US East (N. Virginia)"}
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC, "Subject": f"ALARM: {name}",
            "Message": json.dumps(alarm), "Timestamp": "2026-11-25T12:00:05.000Z"}


def post(url, body, headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "text/plain; charset=UTF-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def statuses(tmp_path):
    from opslib.actions.audit import AuditLog
    return [r.status for r in AuditLog(tmp_path / "audit").records()]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- routing and alarm descriptions (no HTTP) ----------------------------------------------------------
def test_rules_map_to_their_runbooks(profile):
    by_name = {r.name: alerts.runbook_for(r) for r in profile.alerts}
    assert by_name["API Down"] == ("incident-response", {"procedure": "api-down"})
    assert by_name["High Error Rate"] == ("incident-response", {"procedure": "high-error-rate"})
    assert by_name["Stream Backup"] == ("incident-response", {"procedure": "stream-backup"})
    assert by_name["Data Loss"] == ("data-quality", {})


def test_alarm_description_is_the_command_and_fits(profile):
    rule = next(r for r in profile.alerts if r.name == "API Down")
    definition = alerts.alarm_definition(profile, rule, region="us-east-1", account="123456789012")
    text = definition["AlarmDescription"]
    assert "runbook run incident-response --profile sandbox --incident <incident-id> -p procedure=api-down" in text
    assert definition["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:pagerduty"]
    for region, partition in (("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("xx-newregion-9", "aws")):
        actions = alerts.alarm_definition(profile, rule, region=region, account="123456789012")["AlarmActions"]
        assert actions == [f"arn:{partition}:sns:{region}:123456789012:pagerduty"]
    long_rule = rule.model_copy(update={"condition": "x" * 3000})
    long_text = alerts.alarm_description(profile, long_rule)
    assert len(long_text) <= 1024 and long_text.endswith("-p procedure=api-down")


def test_time_parameters_bound_to_the_state_change():
    changed = NOW - timedelta(hours=2)
    assert time_parameters(DEFAULTS["data-quality"], "data-quality", changed, NOW) == {"as_of": changed.isoformat()}
    window = time_parameters(DEFAULTS["incident-response"], "incident-response", changed, NOW)["window_minutes"]
    assert window == 150          # from 30 minutes before the change up to now
    assert time_parameters(DEFAULTS["incident-response"], "incident-response", NOW, NOW)["window_minutes"] == 60


# -- SNS --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_alarm_runs_triage_and_reports_back(tmp_path, profile, certs, authority, fake, version):
    runner = FakeRunner()
    with make_server(tmp_path, profile, certs, runner=runner, fake=fake) as server:
        status, body = post(f"{server.url}/sns", authority.sign(alarm_notification(), version),
                            {"x-amz-sns-message-type": "Notification"})
        assert status == 202, body
        assert body["decisions"][0]["decision"] == "queued"
        assert wait_for(lambda: "run" in statuses(tmp_path))
    triage = runner.calls[0]
    assert triage.notebook == "incident-response" and triage.rule == "API Down"
    assert triage.parameters["procedure"] == "api-down" and triage.parameters["dry_run"] is True
    assert triage.parameters["window_minutes"] == 60
    assert triage.incident_id.startswith("ALARM-pipeline-api-down-20261125T1200Z-")
    slack = [c for c in fake.calls if c["path"] == "/slack"]
    assert len(slack) == 1 and not [c for c in fake.calls if "/notes" in c["path"]]   # no PagerDuty incident: no note
    text = slack[0]["json"]["blocks"][0]["text"]["text"]
    assert text.index("FAIL health") < text.index("WARN lag") < text.index("OK ok-check")
    assert "evidence: /archive/2026/11/25/x.html" in text
    assert statuses(tmp_path) == ["queued", "run"]


def test_bad_signature_is_rejected_recorded_and_runs_nothing(tmp_path, profile, certs, authority):
    runner = FakeRunner()
    signed = authority.sign(alarm_notification())
    tampered = {**signed, "Message": signed["Message"].replace("pipeline-api-down", "pipeline-stream-backup")}
    other = SigningAuthority(certs)
    wrong_key = {**other.sign(alarm_notification()), "SigningCertURL": authority.url}
    untrusted = {**signed, "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/x.pem"}
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    with make_server(tmp_path, profile, certs, runner=runner) as server:
        for message in (tampered, wrong_key, untrusted, unsigned):
            status, body = post(f"{server.url}/sns", message)
            assert status == 403, body
        assert post(f"{server.url}/sns", b"{not json")[0] == 400
        assert post(f"{server.url}/sns", b"x" * (65 * 1024))[0] == 413
        assert post(f"{server.url}/sns", {**signed, "SignatureVersion": "3"})[0] == 403
        time.sleep(0.3)
        assert server.app.receiver.queue.counts() == {}
    assert runner.calls == []
    assert statuses(tmp_path) == ["rejected"] * 7
    from opslib.actions.audit import AuditLog
    reasons = [r.reason for r in AuditLog(tmp_path / "audit").records()]
    assert "signature does not match the message" in reasons[0]
    assert "not on a trusted SNS host" in reasons[2]


def test_region_policy_trusts_only_the_regions_sns_host():
    policy = webhook.TrustPolicy.for_region("eu-west-1")
    assert policy.check_url("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem", "u")
    for url in ("http://sns.eu-west-1.amazonaws.com/a.pem", "https://sns.us-east-1.amazonaws.com/a.pem",
                "https://sns.eu-west-1.amazonaws.com.evil.example/a.pem", "https://evil.example/a.pem"):
        with pytest.raises(webhook.sns._reject("", 403).__class__):
            policy.check_url(url, "SigningCertURL")
    # China's partition has its own domain (botocore's endpoint data)
    china = webhook.TrustPolicy.for_region("cn-north-1")
    assert china.check_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem", "u")
    with pytest.raises(webhook.sns._reject("", 403).__class__):
        china.check_url("https://sns.cn-north-1.amazonaws.com/a.pem", "SigningCertURL")


def test_subscription_confirmation_visits_the_trusted_url_only(tmp_path, profile, certs, authority):
    visited = []
    with make_server(tmp_path, profile, certs, runner=FakeRunner()) as server:
        server.app.settings.confirm = lambda url: visited.append(url) or b"ok"
        base = {"Type": "SubscriptionConfirmation", "MessageId": "c-1", "TopicArn": TOPIC, "Token": "tok",
                "Message": "You have chosen to subscribe", "Timestamp": "2026-11-25T12:00:00.000Z"}
        good = authority.sign({**base, "SubscribeURL": f"{certs.origin}/?Action=ConfirmSubscription&Token=tok"})
        evil = authority.sign({**base, "MessageId": "c-2", "SubscribeURL": "https://evil.example/?Token=tok"})
        assert post(f"{server.url}/sns", good)[0] == 200
        assert post(f"{server.url}/sns", evil)[0] == 403
    assert visited == [f"{certs.origin}/?Action=ConfirmSubscription&Token=tok"]
    assert statuses(tmp_path) == ["subscribed", "rejected"]


def test_replay_and_storm_make_one_run(tmp_path, profile, certs, authority):
    runner = FakeRunner()
    with make_server(tmp_path, profile, certs, runner=runner) as server:
        first = authority.sign(alarm_notification(message_id="m-0"))
        assert post(f"{server.url}/sns", first)[0] == 202
        status, body = post(f"{server.url}/sns", first)             # the same message again
        assert status == 200 and body["decisions"][0]["decision"] == "deduped"
        assert "replay" in body["decisions"][0]["reason"]
        storm = [authority.sign(alarm_notification(message_id=f"m-{i}")) for i in range(1, 50)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda m: post(f"{server.url}/sns", m), storm))
        assert [s for s, _ in answers] == [200] * 49
        assert {b["decisions"][0]["decision"] for _, b in answers} == {"deduped"}
        assert wait_for(lambda: "run" in statuses(tmp_path))
        time.sleep(0.3)
    assert len(runner.calls) == 1
    recorded = statuses(tmp_path)
    assert recorded.count("queued") == 1 and recorded.count("deduped") == 50 and recorded.count("run") == 1


def test_queue_full_is_503_and_recorded(tmp_path, profile, certs, authority):
    gate = threading.Event()
    runner = FakeRunner(gate)
    server = make_server(tmp_path, profile, certs, runner=runner, capacity=1, concurrency=1).start()
    try:
        a = authority.sign(alarm_notification(changed=NOW, message_id="q-1"))
        b = authority.sign(alarm_notification(changed=NOW + timedelta(minutes=1), message_id="q-2"))
        c = authority.sign(alarm_notification(changed=NOW + timedelta(minutes=2), message_id="q-3"))
        assert post(f"{server.url}/sns", a)[0] == 202
        assert wait_for(lambda: len(runner.calls) == 1)              # a is running, the queue is empty
        assert post(f"{server.url}/sns", b)[0] == 202                # b waits: the queue is full
        status, body = post(f"{server.url}/sns", c)
        assert status == 503 and body["decisions"][0]["decision"] == "dropped"
        gate.set()                                                   # runs finish, the queue drains
        assert wait_for(lambda: len(runner.calls) == 2)
        status, body = post(f"{server.url}/sns", c)                  # SNS retries the dropped message: accepted
        assert status == 202, body
        assert wait_for(lambda: len(runner.calls) == 3)
    finally:
        gate.set()
        server.stop()
    assert statuses(tmp_path)[:3] == ["queued", "queued", "dropped"]
    assert [t.changed_at for t in runner.calls] == [NOW + timedelta(minutes=m) for m in (0, 1, 2)]


def test_restart_loses_no_accepted_triage(tmp_path, profile, certs, authority):
    gate = threading.Event()
    stuck = FakeRunner(gate)
    first = make_server(tmp_path, profile, certs, runner=stuck, concurrency=1).start()
    try:
        for i, minutes in enumerate((0, 1, 2)):
            msg = authority.sign(alarm_notification(changed=NOW + timedelta(minutes=minutes), message_id=f"r-{i}"))
            assert post(f"{first.url}/sns", msg)[0] == 202
        assert wait_for(lambda: len(stuck.calls) == 1)
    finally:
        first.stop(timeout=0.2)              # one run in progress, two queued: the receiver goes away
    runner = FakeRunner()
    second = make_server(tmp_path, profile, certs, runner=runner, concurrency=2).start()
    try:
        assert wait_for(lambda: len(runner.calls) == 3)
        assert wait_for(lambda: second.app.receiver.queue.counts() == {"done": 3})
    finally:
        second.stop()
        gate.set()
    assert sorted(t.changed_at for t in runner.calls) == [NOW + timedelta(minutes=m) for m in (0, 1, 2)]
    assert "requeued" in statuses(tmp_path)


def test_resolved_and_unknown_alarms_are_ignored(tmp_path, profile, certs, authority):
    runner = FakeRunner()
    with make_server(tmp_path, profile, certs, runner=runner) as server:
        ok = authority.sign(alarm_notification(state="OK", message_id="i-1"))
        unknown = authority.sign(alarm_notification(name="someone-elses-alarm", message_id="i-2"))
        for message in (ok, unknown):
            status, body = post(f"{server.url}/sns", message)
            assert status == 200 and body["decisions"][0]["decision"] == "ignored"
    assert runner.calls == [] and statuses(tmp_path) == ["ignored", "ignored"]


# -- PagerDuty V3 and Alertmanager --------------------------------------------------------------------
def pd_event(kind="incident.triggered", incident="Q1ABCDEF", title="pipeline-data-loss: Events dropped >1000/min"):
    return json.dumps({"event": {"id": "ev-1", "event_type": kind, "occurred_at": "2026-11-25T11:58:00.000Z",
                                 "data": {"id": incident, "type": "incident", "title": title, "number": 7,
                                          "html_url": "https://example.pagerduty.com/incidents/Q1ABCDEF"}}}).encode()


def test_pagerduty_signed_incident_runs_and_gets_a_note(tmp_path, profile, certs, fake):
    runner = FakeRunner()
    body = pd_event()
    with make_server(tmp_path, profile, certs, runner=runner, fake=fake, secrets=("old", "pd-secret")) as server:
        good = {"X-PagerDuty-Signature": f"v1=deadbeef,{pagerduty.signature(body, 'pd-secret')}",
                "Content-Type": "application/json"}
        assert post(f"{server.url}/pagerduty", body, {"X-PagerDuty-Signature": "v1=00"})[0] == 401
        assert post(f"{server.url}/pagerduty", body)[0] == 401
        status, answer = post(f"{server.url}/pagerduty", body, good)
        assert status == 202, answer
        assert wait_for(lambda: "run" in statuses(tmp_path))
    triage = runner.calls[0]
    assert (triage.notebook, triage.incident_id, triage.rule) == ("data-quality", "Q1ABCDEF", "Data Loss")
    assert triage.parameters == {"as_of": "2026-11-25T11:58:00+00:00"}
    note = [c for c in fake.calls if c["path"] == "/incidents/Q1ABCDEF/notes"]
    assert len(note) == 1 and note[0]["headers"]["Authorization"] == "Token token=pd-token"
    assert note[0]["headers"]["From"] == "oncall@example.com"
    assert note[0]["json"]["note"]["content"].splitlines()[2] == "FAIL health: ingestion-api 503"
    assert statuses(tmp_path) == ["rejected", "rejected", "queued", "run"]


def test_alertmanager_bearer_token(tmp_path, profile, certs):
    runner = FakeRunner()
    payload = {"version": "4", "status": "firing", "groupKey": "g", "alerts": [
        {"status": "firing", "labels": {"alertname": "High Error Rate", "severity": "page"},
         "startsAt": "2026-11-25T11:55:00Z", "fingerprint": "f1"}]}
    with make_server(tmp_path, profile, certs, runner=runner, token="am-token") as server:
        assert post(f"{server.url}/alertmanager", payload)[0] == 401
        assert post(f"{server.url}/alertmanager", payload, {"Authorization": "Bearer nope"})[0] == 401
        assert post(f"{server.url}/alertmanager", {"alerts": []}, {"Authorization": "Bearer am-token"})[0] == 400
        assert post(f"{server.url}/alertmanager", payload, {"Authorization": "Bearer am-token"})[0] == 202
        assert wait_for(lambda: runner.done.is_set())
    assert runner.calls[0].parameters["procedure"] == "high-error-rate"
    assert statuses(tmp_path)[:3] == ["rejected"] * 3


def test_moto_deliveries_verify_with_the_sandbox_certificates(certs):
    """moto signs without Subject and names an unreachable certificate; the sandbox's patch fixes both."""
    import boto3
    from moto.server import ThreadedMotoServer

    from opslib.sandbox.sns_signing import install, uninstall
    from opslib.webhook import sns

    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    install(certs)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        client = boto3.client("sns", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="test", aws_secret_access_key="test")
        topic = client.create_topic(Name="alarms")["TopicArn"]
        client.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{receiver.server_address[1]}/")
        client.publish(TopicArn=topic, Message="with subject", Subject="ALARM: x")
        client.publish(TopicArn=topic, Message="without subject")
    finally:
        moto.stop()
        uninstall(certs)                    # a sandbox of this process signs with its own server again
        receiver.shutdown()
        receiver.server_close()
    policy = webhook.TrustPolicy.for_region("us-east-1", extra_origins=(certs.origin,))
    assert [m.get("Subject") for m in got] == ["ALARM: x", None]
    for message in got:
        assert message["SigningCertURL"].startswith(certs.origin + "/SimpleNotificationService-")
        sns.verify(message, policy, webhook.CertificateCache(), now=datetime.now(timezone.utc))
    with pytest.raises(Exception, match="signature does not match"):
        sns.verify({**got[0], "Message": "changed"}, policy, webhook.CertificateCache(), now=datetime.now(timezone.utc))


def test_serve_refuses_a_state_folder_that_is_a_file_before_listening(tmp_path):
    import subprocess
    import sys
    (tmp_path / "state").write_text("")
    proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "serve", "--archive",
                           str(tmp_path / "runs"), "--state", str(tmp_path / "state")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--state" in proc.stderr and not (tmp_path / "runs").exists()


def test_the_default_state_of_an_s3_archive_is_a_local_folder_named_after_it(monkeypatch, tmp_path):
    from opslib.webhook.service import default_state_dir
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir("s3://evidence-bucket/runbooks/prod/") == \
        tmp_path / "opslib/serve/evidence-bucket/runbooks/prod"


def test_subprocess_runner_is_the_runbook_run_path_and_read_only(tmp_path):
    from opslib.errors import RunError
    from opslib.webhook.routing import Triage
    triage = Triage(notebook="incident-response", parameters={"procedure": "api-down", "window_minutes": 60,
                                                              "dry_run": True, "remedy": "auto"},
                    incident_id="INC-7", rule="API Down", alarm="pipeline-api-down", changed_at=NOW, source="sns")
    runner = webhook.SubprocessRunner(profile="sandbox", archive=str(tmp_path), command=("runbook",))
    argv = runner.argv(triage)
    assert argv[:3] == ["runbook", "run", "incident-response"]
    assert argv[argv.index("--incident") + 1] == "INC-7" and argv[argv.index("--archive") + 1] == str(tmp_path)
    assert "dry_run=True" in argv and "procedure=api-down" in argv and "--json" in argv
    unsafe = Triage(**{**triage.__dict__, "parameters": {**triage.parameters, "dry_run": False}})
    with pytest.raises(RunError, match="read-only"):
        runner.argv(unsafe)
    failing = webhook.SubprocessRunner(profile="sandbox", archive=str(tmp_path),
                                       command=("python3", "-c", "import sys; sys.stderr.write('boom'); sys.exit(2)"))
    with pytest.raises(RunError, match="exited 2 without a run: boom"):
        failing(triage)


def test_a_run_that_cannot_start_is_recorded_and_the_worker_goes_on(tmp_path, profile, certs, authority):
    from opslib.errors import RunError
    calls = []

    def runner(triage):
        calls.append(triage)
        if len(calls) == 1:
            raise RunError("runbook run incident-response exited 2 without a run: bad profile")
        return {"id": "ok-run", "status": "ok", "findings": [], "files": {}}

    with make_server(tmp_path, profile, certs, runner=runner) as server:
        for i in range(2):
            msg = authority.sign(alarm_notification(changed=NOW + timedelta(minutes=i), message_id=f"f-{i}"))
            assert post(f"{server.url}/sns", msg)[0] == 202
        assert wait_for(lambda: statuses(tmp_path).count("run") == 1)
        assert server.app.receiver.queue.counts() == {"failed": 1, "done": 1}
    assert statuses(tmp_path).count("run-failed") == 1
