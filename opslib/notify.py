"""Run notifications: a Slack incoming webhook and PagerDuty Events API v2.

* Slack gets a message when a run is not ``ok`` (warn, unknown, fail, error, died, timeout) and when a job
  recovers (its previous run did not exit 0, this one does).
* PagerDuty gets ``trigger`` when a run exits non-zero and ``resolve`` on the next run of the same
  job that exits 0, with one ``dedup_key`` per job, so repeated failures update one incident.
* A run that could not see (status ``unknown``, exit 5) alerts as **blind**, not as down: the
  headline says so and PagerDuty gets severity ``warning``, class ``blind``.

URLs come from the profile's ``notify:`` (``${OPSLIB_SLACK_WEBHOOK}``, ``${OPSLIB_PAGERDUTY_URL}``,
default the public Events API); the PagerDuty routing key from $OPSLIB_PAGERDUTY_ROUTING_KEY.
Sending never changes a run's exit code: failures are recorded in the manifest entry.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .config import Profile, expand_env
from .errors import ParameterError
from .settings import PAGERDUTY_ROUTING_KEY_ENV, SLACK_WEBHOOK_ENV, resolve_routing_key

TARGETS = ("slack", "pagerduty")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
Post = Callable[[str, dict], int]


@dataclass(frozen=True)
class Endpoint:
    target: str
    url: str
    routing_key: str | None = None


def endpoints(profile: Profile, targets: list[str], environ: Mapping[str, str] | None = None) -> list[Endpoint]:
    """Resolve ``--notify`` targets against the profile, before anything runs (ParameterError if unusable)."""
    env = os.environ if environ is None else environ
    out = []
    for target in dict.fromkeys(targets):
        if target not in TARGETS:
            raise ParameterError("--notify", target, ", ".join(TARGETS))
        raw = profile.notify.get(target, "")
        url = expand_env(raw, key=f"notify.{target}", environ=env) if raw else ""
        if target == "slack":
            if not url:
                raise ParameterError("--notify", target, "a Slack webhook URL in the profile's notify.slack "
                                     f"(sandbox: set {SLACK_WEBHOOK_ENV})")
            out.append(Endpoint(target, url))
        else:
            key = resolve_routing_key(environ=env)
            if not key:
                raise ParameterError("--notify", target, f"a routing key in ${PAGERDUTY_ROUTING_KEY_ENV}")
            out.append(Endpoint(target, url or PAGERDUTY_URL, key))
    return out


def post_json(url: str, payload: dict, timeout: float = 10) -> int:
    """POST ``payload`` as JSON; the HTTP status (errors raise :class:`urllib.error.URLError`)."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _job_key(entry: Mapping) -> str:
    return entry.get("job") or f"{entry['notebook']}@{entry['profile']}"


def _headline(entry: Mapping) -> str:
    failed = [c for c in entry.get("findings", []) if c["status"] == "fail"]
    unseen = [c for c in entry.get("findings", []) if c["status"] == "unknown"]
    if entry.get("error"):
        reason = f"{entry['error']['ename']}: {entry['error']['evalue']}"
    elif failed:
        reason = "; ".join(f"{c['name']}: {c['detail']}" for c in failed[:3])
    elif unseen:    # a run that could not see alerts as blind, not as an outage
        return (f"{entry['notebook']} on {entry['profile']}: BLIND (could not see, not down) - "
                + "; ".join(f"{c['name']}: {c['detail']}" for c in unseen[:3]))
    else:
        reason = "; ".join(f"{c['name']}: {c['detail']}" for c in entry.get("findings", []) if c["status"] == "warn")
    return f"{entry['notebook']} on {entry['profile']}: {entry['status'].upper()}" + (f" - {reason}" if reason else "")


def slack_payload(entry: Mapping, *, recovered: bool = False) -> dict:
    icon = ":white_check_mark:" if recovered else {"warn": ":warning:", "unknown": ":see_no_evil:"}.get(
        entry["status"], ":red_circle:")
    head = f"{entry['notebook']} on {entry['profile']}: recovered ({entry['status']})" if recovered else _headline(entry)
    files = entry.get("files", {})
    lines = [f"{icon} *{head}*", f"run `{entry['id']}` job `{_job_key(entry)}` at {entry['start']}"
             + (f" incident {entry['incident_id']}" if entry.get("incident_id") else "")]
    lines += [f"• {c['status'].upper()} {c['name']}: {c['detail']}" for c in entry.get("findings", [])
              if c["status"] != "ok"]
    if "html" in files:
        lines.append(f"evidence: {files['html']['path']}")
    return {"text": f"{icon} {head}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def pagerduty_payload(entry: Mapping, routing_key: str, action: str) -> dict:
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": f"runbook:{_job_key(entry)}"}
    if action == "trigger":
        body["payload"] = {
            "summary": _headline(entry)[:1024], "source": entry.get("host") or "runbook",
            "severity": {1: "critical", 5: "warning"}.get(entry["exit_code"], "error"), "timestamp": entry["end"],
            "component": entry["notebook"], "group": entry["profile"],
            "class": "blind" if entry["status"] == "unknown" else entry["status"],
            "custom_details": {"run_id": entry["id"], "findings": entry.get("findings", []),
                               "error": entry.get("error"), "files": {k: v["path"] for k, v in entry.get("files", {}).items()},
                               "incident_id": entry.get("incident_id")}}
    return body


def _paged(previous: Mapping | None) -> bool:
    events = [n.get("event") for n in (previous or {}).get("notifications", []) if n.get("target") == "pagerduty"]
    return bool(events) and events[-1] == "trigger"


def notify(entry: Mapping, targets: list[Endpoint], *, previous: Mapping | None = None,
           post: Post = post_json) -> list[dict]:
    """Send what ``entry`` calls for; ``previous`` is the job's last manifest entry. Returns records
    ``{target, event, http_status | error}`` for the manifest."""
    sent: list[dict] = []
    ok_now = entry["exit_code"] == 0
    was_bad = previous is not None and previous.get("exit_code", 0) != 0
    for ep in targets:
        if ep.target == "slack":
            if entry["status"] != "ok" and not (ok_now and was_bad):
                event, payload = "message", slack_payload(entry)
            elif ok_now and was_bad:
                event, payload = "recovered", slack_payload(entry, recovered=True)
            else:
                continue
        else:
            if not ok_now:
                event = "trigger"
            elif _paged(previous):
                event = "resolve"
            else:
                continue
            payload = pagerduty_payload(entry, ep.routing_key or "", event)
        record: dict[str, Any] = {"target": ep.target, "event": event}
        try:
            record["http_status"] = post(ep.url, payload)
        except (urllib.error.URLError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        sent.append(record)
    return sent


def undelivered(entry: Mapping) -> list[str]:
    """One line per notification of a run's entry that was not delivered (an error or an HTTP status >= 300)."""
    return [f"{n['target']} {n['event']} not delivered: {n.get('error') or n.get('http_status')}"
            for n in entry.get("notifications", []) if "error" in n or n.get("http_status", 200) >= 300]
