"""Stream records as the consumer sees them: the fields an event must carry and why a record cannot be
processed. Shared by the Incident Response poison-message scan and the Performance Tuning batch measurement."""
from __future__ import annotations

import json
from datetime import datetime

#: The fields an event needs to be processed (present and not empty).
REQUIRED = ("event_id", "user_id", "event_type", "event_timestamp")


def validate_record(data: bytes) -> str | None:
    """Why a record cannot be processed (not JSON, not an object, a required field missing, a bad
    timestamp), or None when it is a valid event."""
    try:
        event = json.loads(data)
    except (ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(event, dict):
        return f"not a JSON object ({type(event).__name__})"
    missing = [k for k in REQUIRED if not event.get(k)]
    if missing:
        return "missing " + ", ".join(missing)
    try:
        datetime.fromisoformat(str(event["event_timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        return f"bad event_timestamp {event['event_timestamp']!r}"
    return None
