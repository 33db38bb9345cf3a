"""IAM reads: the account's authorization details (users, groups, roles, policies), every user's access keys
and their age and last use. Clients are passed in; every list goes through boto3's paginators."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd


def authorization_details(iam: Any) -> dict[str, list]:
    """The account's users, groups, roles and managed policies (all pages merged)."""
    out: dict[str, list] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    for page in iam.get_paginator("get_account_authorization_details").paginate():
        for k in out:
            out[k] += page.get(k, [])
    return out


def access_keys(iam: Any) -> pd.DataFrame:
    """Every access key of every IAM user: user, access_key_id, status, created."""
    rows = []
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            for kp in iam.get_paginator("list_access_keys").paginate(UserName=user["UserName"]):
                for k in kp["AccessKeyMetadata"]:
                    rows.append({"user": user["UserName"], "access_key_id": k["AccessKeyId"], "status": k["Status"],
                                 "created": pd.Timestamp(k["CreateDate"]).tz_convert("UTC")})
    return pd.DataFrame(rows, columns=["user", "access_key_id", "status", "created"])


def key_ages(iam: Any, *, now: datetime, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every access key with its age and last use (days, ``None`` when never used)."""
    keys = access_keys(iam) if keys is None else keys.copy()
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    last_used, service = [], []
    for k in keys["access_key_id"]:
        info = iam.get_access_key_last_used(AccessKeyId=k).get("AccessKeyLastUsed", {})
        last_used.append(pd.Timestamp(info["LastUsedDate"]).tz_convert("UTC") if info.get("LastUsedDate") else None)
        service.append(info.get("ServiceName", ""))
    keys["last_used"] = last_used
    keys["last_service"] = service
    # a key created after the (fixed) clock counts as new, not as a negative age
    keys["age_days"] = [max(0.0, (now_ts - c).total_seconds() / 86400) for c in keys["created"]]
    keys["days_since_use"] = [max(0.0, (now_ts - u).total_seconds() / 86400) if u is not None else None
                              for u in keys["last_used"]]
    return keys
