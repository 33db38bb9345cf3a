"""Cognito changes: force a user's password reset (no undo: the user must set a new password)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _pool_id(ops: "Ops", name: str, region: str = "primary") -> str:
    for page in ops.client("cognito-idp", region).get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return pool["Id"]
    raise ParameterError("user_pool", name, f"a Cognito user pool in {ops.region(region)}")


def _read(ops: "Ops", change: Change) -> str:
    p = change.params
    try:
        return ops.client("cognito-idp", change.region).admin_get_user(
            UserPoolId=p["UserPoolId"], Username=p["Username"])["UserStatus"]
    except ClientError as exc:
        raise ParameterError("username", p["Username"], "an existing user of the pool") from exc


def plan_reset_password(ops: "Ops", username: str, *, user_pool: str | None = None, region: str = "primary") -> Plan:
    """Force ``username`` to reset the password at next sign-in."""
    pool = _pool_id(ops, user_pool or ops.profile.security.cognito_user_pool, region)
    reg = ops.region(region)
    change = Change(kind="cognito.reset_password", resource=f"cognito user {username} of pool {pool} ({reg})",
                    attribute="UserStatus", current=None, new="RESET_REQUIRED", service="cognito-idp",
                    operation="admin_reset_user_password", params={"UserPoolId": pool, "Username": username},
                    cli=aws("cognito-idp", "admin-reset-user-password", reg, user_pool_id=pool, username=username),
                    target=username, region=region, note="cannot be undone: the user sets a new password")
    user = ops.client("cognito-idp", region).admin_get_user(UserPoolId=pool, Username=username)
    attrs = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    verified = attrs.get("email_verified") == "true" or attrs.get("phone_number_verified") == "true"
    change = replace(change, current=user["UserStatus"], meta={"verified_contact": verified})
    return Plan(f"reset password of {username}", [change], ops)


kinds.register("cognito.reset_password", read=_read)
