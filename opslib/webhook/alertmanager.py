"""Prometheus Alertmanager webhooks (version 4): one event per alert; an optional bearer token."""
from __future__ import annotations

import hmac
import json

from ..errors import WebhookRejected
from .events import AlarmEvent, parse_time



def _reject(reason: str, status: int = 400) -> WebhookRejected:
    return WebhookRejected(reason, status=status, source="alertmanager")


def verify(authorization: str | None, token: str | None) -> None:
    if not token:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise _reject("missing or wrong bearer token", 401)


def events(body: bytes) -> list[AlarmEvent]:
    try:
        data = json.loads(body)
        alerts = data["alerts"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise _reject(f"not an Alertmanager webhook: {exc}") from exc
    if not isinstance(alerts, list) or not alerts:
        raise _reject("no alerts")
    out = []
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not labels.get("alertname"):
            raise _reject("an alert without labels.alertname")
        status = str(alert.get("status") or data.get("status") or "")
        out.append(AlarmEvent(source="alertmanager", name=str(labels["alertname"]), state=status,
                              firing=status == "firing",
                              changed_at=parse_time(alert.get("startsAt"), "startsAt", source="alertmanager"),
                              message_id=str(alert.get("fingerprint") or "") or None,
                              detail={"labels": {k: str(v)[:200] for k, v in labels.items()},
                                      "group_key": str(data.get("groupKey", ""))[:200]}))
    return out
