"""PagerDuty V3 webhooks: ``X-PagerDuty-Signature`` (HMAC-SHA256 of the raw body with the subscription's
secret, ``v1=<hex>``, several comma-separated while a secret rotates) and incident events."""
from __future__ import annotations

import hashlib
import hmac
import json

from ..errors import WebhookRejected
from .events import AlarmEvent, parse_time

FIRING = ("incident.triggered", "incident.reopened")


def _reject(reason: str, status: int = 400) -> WebhookRejected:
    return WebhookRejected(reason, status=status, source="pagerduty")


def signature(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: list[str]) -> None:
    """Raise :class:`WebhookRejected` (401) unless one ``v1=`` signature of ``header`` matches a secret."""
    if not secrets:
        raise _reject("no PagerDuty webhook secret configured: every request is refused", 401)
    if not header:
        raise _reject("unsigned request (no X-PagerDuty-Signature)", 401)
    given = [s.strip() for s in header.split(",") if s.strip().startswith("v1=")]
    expected = [signature(body, s) for s in secrets]
    if not any(hmac.compare_digest(g, e) for g in given for e in expected):
        raise _reject("X-PagerDuty-Signature does not match", 401)


def events(body: bytes) -> list[AlarmEvent]:
    try:
        data = json.loads(body)
        event = data["event"]
        kind, item = str(event["event_type"]), event["data"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise _reject(f"not a PagerDuty V3 webhook: {exc}") from exc
    if not isinstance(item, dict) or item.get("type") not in ("incident", "incident_reference") or not item.get("id"):
        raise _reject(f"{kind}: not an incident event")
    changed = parse_time(event.get("occurred_at"), "occurred_at", source="pagerduty")
    return [AlarmEvent(source="pagerduty", name=str(item.get("title") or item.get("summary") or ""), state=kind,
                       firing=kind in FIRING, changed_at=changed, incident_id=str(item["id"]),
                       message_id=str(event.get("id") or ""),
                       detail={"url": item.get("html_url"), "number": item.get("number"),
                               "service": (item.get("service") or {}).get("summary")})]
