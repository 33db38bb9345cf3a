"""What every webhook source is turned into: one alarm state change (:class:`AlarmEvent`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import WebhookRejected


@dataclass(frozen=True)
class AlarmEvent:
    source: str                     # sns | pagerduty | alertmanager
    name: str                       # the alarm's name (SNS, Alertmanager) or the incident's title (PagerDuty)
    state: str                      # ALARM | OK | INSUFFICIENT_DATA | incident.triggered | firing | resolved ...
    firing: bool                    # a state that starts a triage
    changed_at: datetime            # when the state changed (aware, UTC)
    incident_id: str | None = None  # the source's incident (PagerDuty)
    message_id: str | None = None   # the source's message id (replays carry the same)
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.name, "state": self.state, "firing": self.firing,
                "changed_at": self.changed_at.isoformat(), "incident_id": self.incident_id,
                "message_id": self.message_id, "detail": self.detail}


def parse_time(text: object, what: str, *, source: str) -> datetime:
    """ISO 8601 as the sources write it (``2026-11-27T03:00:00.000+0000``, ``...Z``), as aware UTC."""
    if not isinstance(text, str) or not text:
        raise WebhookRejected(f"{what} missing", status=400, source=source)
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":   # +0000 -> +00:00
        value = f"{value[:-2]}:{value[-2:]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WebhookRejected(f"{what} {text!r} is not an ISO time", status=400, source=source) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
