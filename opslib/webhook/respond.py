"""Back to the people: a triage run's findings (failing first) and its evidence, as a note on the
PagerDuty incident (REST API ``POST /incidents/{id}/notes``) and/or a Slack message."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..settings import DEFAULT_PAGERDUTY_API_URL, resolve_pagerduty_api
from .routing import Triage

PAGERDUTY_API = DEFAULT_PAGERDUTY_API_URL
ORDER = {"fail": 0, "error": 0, "warn": 1, "unknown": 2, "ok": 3}
Post = Callable[[str, dict, dict], int]


def post_json(url: str, payload: dict, headers: dict, timeout: float = 10) -> int:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:    # noqa: S310 (configured URLs)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _ordered_findings(entry: Mapping) -> list[dict]:
    return sorted(entry.get("findings", []), key=lambda c: ORDER.get(c.get("status"), 2))


def evidence(entry: Mapping) -> str:
    files = entry.get("files") or {}
    return (files.get("html") or files.get("ipynb") or {}).get("path", "")


def summary_text(triage: Triage, entry: Mapping, *, limit: int = 25) -> str:
    """Plain text: headline, findings (fail, warn, then the rest), evidence and the command to rerun."""
    head = (f"Triage {entry.get('notebook', triage.notebook)} for {triage.alarm} ({triage.rule}), incident "
            f"{triage.incident_id}: {str(entry.get('status', 'unknown')).upper()}")
    lines = [head, f"run {entry.get('id', '?')} (read-only), state change {triage.changed_at:%Y-%m-%d %H:%M}Z"]
    if entry.get("error"):
        lines.append(f"ERROR {entry['error'].get('ename')}: {entry['error'].get('evalue')}")
    found = _ordered_findings(entry)
    lines += [f"{c['status'].upper()} {c['name']}: {c['detail']}" for c in found[:limit]]
    if len(found) > limit:
        lines.append(f"... {len(found) - limit} more findings in the evidence")
    if evidence(entry):
        lines.append(f"evidence: {evidence(entry)}")
    params = " ".join(f"-p {k}={v}" for k, v in triage.parameters.items())
    lines.append(f"rerun: runbook run {triage.notebook} --incident {triage.incident_id} {params}".rstrip())
    return "\n".join(lines)


@dataclass(frozen=True)
class Responder:
    """Where summaries go: Slack (incoming webhook URL) and the PagerDuty REST API (token, From address)."""
    slack_url: str | None = None
    pagerduty_api: str = PAGERDUTY_API
    pagerduty_token: str | None = None
    pagerduty_from: str | None = None
    post: Post = post_json

    @classmethod
    def from_profile(cls, profile: Any, environ: Mapping[str, str] | None = None, post: Post = post_json) -> "Responder":
        from ..config import expand_env
        env = os.environ if environ is None else environ
        raw = profile.notify.get("slack", "")
        slack = expand_env(raw, key="notify.slack", environ=env) if raw else ""
        api, token, sender = resolve_pagerduty_api(env)
        return cls(slack_url=slack or None, pagerduty_api=api, pagerduty_token=token, pagerduty_from=sender, post=post)

    def send(self, triage: Triage, entry: Mapping) -> list[dict]:
        """Post the summary; records ``{target, http_status | error}`` (failures never raise)."""
        text = summary_text(triage, entry)
        sent: list[dict] = []
        if triage.pagerduty_incident and self.pagerduty_token:
            url = f"{self.pagerduty_api.rstrip('/')}/incidents/{triage.pagerduty_incident}/notes"
            headers = {"Authorization": f"Token token={self.pagerduty_token}",
                       "Accept": "application/vnd.pagerduty+json;version=2"}
            if self.pagerduty_from:
                headers["From"] = self.pagerduty_from
            sent.append(self._deliver("pagerduty", url, {"note": {"content": text[:25000]}}, headers))
        if self.slack_url:
            icon = {"ok": ":white_check_mark:", "warn": ":warning:"}.get(entry.get("status"), ":red_circle:")
            first, _, rest = text.partition("\n")
            payload = {"text": f"{icon} {first}",
                       "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{first}*\n{rest}"[:2900]}}]}
            sent.append(self._deliver("slack", self.slack_url, payload, {}))
        return sent

    def _deliver(self, target: str, url: str, payload: dict, headers: dict) -> dict:
        try:
            return {"target": target, "http_status": self.post(url, payload, headers)}
        except (urllib.error.URLError, OSError) as exc:
            return {"target": target, "error": f"{type(exc).__name__}: {exc}"}
