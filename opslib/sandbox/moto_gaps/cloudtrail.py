"""CloudTrail: ``LookupEvents`` (moto 5.2 answers HTTP 500) over a per-account/region event store fed by
:func:`add_events`, with the API's lookup attributes, time window and ``NextToken`` pages."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ._common import LOCK, _epoch


def install() -> None:
    """Patch moto's CloudTrail responses (called once by :func:`opslib.sandbox.moto_gaps.install`)."""
    from moto.cloudtrail.responses import CloudTrailResponse

    CloudTrailResponse.lookup_events = _response_lookup_events


_LOOKUP_KEYS = {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
                "EventSource", "AccessKeyId"}


def add_events(backend: Any, events: Iterable[dict]) -> None:
    """Add events (LookupEvents shape, ``EventTime`` a datetime) to a CloudTrail backend's store."""
    with LOCK:
        store = backend.__dict__.setdefault("_opslib_events", [])
        store.extend(events)
        store.sort(key=lambda e: (_epoch(e["EventTime"]), e["EventId"]), reverse=True)


def stored_events(backend: Any) -> list[dict]:
    with LOCK:
        return list(backend.__dict__.get("_opslib_events", []))


def _lookup_error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError
    err = JsonRESTError(code, message)
    err.code = 400
    return err


def _time_param(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return _epoch(value)
    return _epoch(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _matches(event: dict, key: str, value: str) -> bool:
    if key in ("ResourceType", "ResourceName"):
        return any(r.get(key) == value for r in event.get("Resources", []))
    return str(event.get(key)) == value


def lookup(backend: Any, attributes: list[dict] | None = None, start: float | None = None,
           end: float | None = None) -> list[dict]:
    """Events matching the lookup attributes and [start, end] (epoch seconds), newest first."""
    attributes = attributes or []
    if len(attributes) > 1:
        raise _lookup_error("InvalidLookupAttributesException",
                            "LookupAttributes: only one lookup attribute is allowed per request.")
    for a in attributes:
        if a.get("AttributeKey") not in _LOOKUP_KEYS:
            raise _lookup_error("InvalidLookupAttributesException",
                                f"LookupAttributes: AttributeKey {a.get('AttributeKey')!r} is not supported; "
                                f"allowed: {', '.join(sorted(_LOOKUP_KEYS))}")
    out = []
    for event in stored_events(backend):
        t = _epoch(event["EventTime"])
        if (start is not None and t < start) or (end is not None and t > end):
            continue
        if all(_matches(event, a["AttributeKey"], a.get("AttributeValue", "")) for a in attributes):
            out.append(event)
    return out


def _response_lookup_events(self: Any) -> str:
    from moto.cloudtrail.models import cloudtrail_backends

    backend = cloudtrail_backends[self.current_account][self.region]
    max_results = int(self._get_param("MaxResults") or 50)
    if not 1 <= max_results <= 50:
        raise _lookup_error("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    token = self._get_param("NextToken")
    offset = 0
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _lookup_error("InvalidNextTokenException", "NextToken is invalid.") from exc
    if self._get_param("EventCategory") == "insight":
        events: list[dict] = []
    else:
        events = lookup(backend, self._get_param("LookupAttributes", []),
                        _time_param(self._get_param("StartTime")), _time_param(self._get_param("EndTime")))
    page = events[offset:offset + max_results]
    body: dict[str, Any] = {"Events": [
        {**e, "EventTime": _epoch(e["EventTime"])} for e in page]}
    if offset + max_results < len(events):
        body["NextToken"] = base64.urlsafe_b64encode(
            json.dumps({"offset": offset + max_results}).encode()).decode()
    return json.dumps(body)
