"""Notifications against a local HTTP server that records the payloads: Slack on failure and
recovery, PagerDuty trigger on failure and resolve on the next good run of the same job."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opslib.config import load_profile
from opslib.errors import ParameterError
from opslib.notify import endpoints, notify


@pytest.fixture
def server():
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(202 if self.path.startswith("/pd") else 200)
            self.end_headers()

        def log_message(self, *args):
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", received
    httpd.shutdown()


def entry(status: str, exit_code: int, run_id: str, notifications=()) -> dict:
    findings = [{"name": "completeness", "status": "fail" if status == "fail" else "ok", "detail": "hour 11 dropped 62%",
                 "figures": {"drop_pct": 62}}]
    return {"id": run_id, "notebook": "data-quality", "profile": "sandbox", "job": "dq-hourly", "status": status,
            "exit_code": exit_code, "findings": findings, "start": "2026-11-25T12:05:00+00:00",
            "end": "2026-11-25T12:05:09+00:00", "host": "ops-1", "error": None, "incident_id": None,
            "files": {"html": {"path": "runs/2026/11/25/120500Z-data-quality-x.html"}},
            "notifications": list(notifications)}


def test_fail_then_ok_triggers_then_resolves(server):
    url, received = server
    env = {"OPSLIB_SLACK_WEBHOOK": f"{url}/slack/T0/B0/secret", "OPSLIB_PAGERDUTY_URL": f"{url}/pd/enqueue",
           "OPSLIB_PAGERDUTY_ROUTING_KEY": "R0UTINGKEY0000000000000000000000"}
    targets = endpoints(load_profile("sandbox"), ["slack", "pagerduty"], environ=env)
    failed = entry("fail", 1, "run1")
    failed["notifications"] = notify(failed, targets)
    assert failed["notifications"] == [{"target": "slack", "event": "message", "http_status": 200},
                                       {"target": "pagerduty", "event": "trigger", "http_status": 202}]
    (slack_path, slack), (pd_path, trigger) = received
    assert slack_path == "/slack/T0/B0/secret" and "FAIL" in slack["text"] and "completeness" in slack["text"]
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == env["OPSLIB_PAGERDUTY_ROUTING_KEY"]
    assert trigger["dedup_key"] == "runbook:dq-hourly" and trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["run_id"] == "run1" and trigger["payload"]["source"] == "ops-1"
    good = entry("ok", 0, "run2")
    sent = notify(good, targets, previous=failed)
    assert [n["event"] for n in sent] == ["recovered", "resolve"]
    resolve = received[-1][1]
    assert resolve == {"routing_key": env["OPSLIB_PAGERDUTY_ROUTING_KEY"], "event_action": "resolve",
                       "dedup_key": "runbook:dq-hourly"}
    assert "recovered" in received[-2][1]["text"]
    # a further ok run sends nothing: the page is already resolved
    assert notify(entry("ok", 0, "run3"), targets, previous={**good, "notifications": sent}) == []


def test_unconfigured_targets_are_bad_input():
    with pytest.raises(ParameterError, match="OPSLIB_SLACK_WEBHOOK"):
        endpoints(load_profile("sandbox"), ["slack"], environ={})
    with pytest.raises(ParameterError, match="OPSLIB_PAGERDUTY_ROUTING_KEY"):
        endpoints(load_profile("sandbox"), ["pagerduty"], environ={})


def test_unreachable_endpoint_is_recorded_not_raised():
    env = {"OPSLIB_SLACK_WEBHOOK": "http://127.0.0.1:9/hook"}
    sent = notify(entry("fail", 1, "r"), endpoints(load_profile("sandbox"), ["slack"], environ=env))
    assert sent[0]["target"] == "slack" and "error" in sent[0]
