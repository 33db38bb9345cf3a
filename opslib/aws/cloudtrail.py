"""CloudTrail reads: management events of a window (``LookupEvents``, paginated; one region per client) as
rows, and a trail's settings and logging status. Clients are passed in."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

COLUMNS = ["time", "region", "event_name", "event_source", "username", "user_type", "access_key_id", "source_ip",
           "user_agent", "read_only", "error_code", "login_result", "resources", "request_parameters", "event_id"]


def _row(event: dict, region: str) -> dict:
    raw = json.loads(event.get("CloudTrailEvent") or "{}")
    identity = raw.get("userIdentity") or {}
    return {
        "time": pd.Timestamp(event["EventTime"]).tz_convert("UTC"), "region": region,
        "event_name": event.get("EventName", ""), "event_source": event.get("EventSource", ""),
        "username": event.get("Username") or identity.get("userName") or identity.get("arn", ""),
        "user_type": identity.get("type", ""),
        "access_key_id": event.get("AccessKeyId") or identity.get("accessKeyId") or "",
        "source_ip": raw.get("sourceIPAddress", ""), "user_agent": raw.get("userAgent", ""),
        "read_only": str(event.get("ReadOnly", raw.get("readOnly", ""))).lower() == "true",
        "error_code": raw.get("errorCode") or "",
        "login_result": (raw.get("responseElements") or {}).get("ConsoleLogin", "")
        if isinstance(raw.get("responseElements"), dict) else "",
        "resources": ", ".join(r.get("ResourceName", "") for r in event.get("Resources") or []),
        "request_parameters": json.dumps(raw.get("requestParameters"), sort_keys=True)
        if raw.get("requestParameters") else "",
        "event_id": event.get("EventId", ""),
    }


def lookup_events(cloudtrail: Any, *, start: datetime, end: datetime, region: str = "",
                  attribute: tuple[str, str] | None = None) -> pd.DataFrame:
    """Every management event in [start, end] (optionally matching one lookup attribute), oldest first."""
    kwargs: dict[str, Any] = {"StartTime": start, "EndTime": end}
    if attribute:
        kwargs["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]
    rows = [_row(e, region) for page in cloudtrail.get_paginator("lookup_events").paginate(**kwargs)
            for e in page.get("Events", [])]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def trail_status(cloudtrail: Any, name: str) -> dict:
    """The trail's settings and whether it is logging (``exists`` False when there is no such trail)."""
    trails = cloudtrail.describe_trails(trailNameList=[name]).get("trailList", [])
    if not trails:
        return {"trail": name, "exists": False}
    t = trails[0]
    try:
        status = cloudtrail.get_trail_status(Name=t.get("TrailARN", name))
    except ClientError as exc:
        status = {"error": exc.response["Error"]["Code"]}
    return {"trail": name, "exists": True, "logging": bool(status.get("IsLogging")),
            "multi_region": bool(t.get("IsMultiRegionTrail")), "log_file_validation": bool(t.get("LogFileValidationEnabled")),
            "global_service_events": bool(t.get("IncludeGlobalServiceEvents")), "bucket": t.get("S3BucketName"),
            "latest_delivery_error": status.get("LatestDeliveryError") or status.get("error") or ""}
