"""IAM changes: deactivate an access key (undo: activate) or delete it (no undo)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _key_owner(ops: "Ops", access_key_id: str) -> str:
    try:
        return ops.client("iam").get_access_key_last_used(AccessKeyId=access_key_id)["UserName"]
    except (ClientError, KeyError) as exc:
        raise ParameterError("access_key_id", access_key_id, "an access key of this account") from exc


def key_status(ops: "Ops", user: str, access_key_id: str) -> str:
    """``Active``, ``Inactive`` or ``deleted``."""
    for page in ops.client("iam").get_paginator("list_access_keys").paginate(UserName=user):
        for key in page["AccessKeyMetadata"]:
            if key["AccessKeyId"] == access_key_id:
                return key["Status"]
    return "deleted"


def _read(ops: "Ops", change: Change) -> str:
    return key_status(ops, change.params["UserName"], change.params["AccessKeyId"])


def _status_change(user: str, key: str, current: str, new: str, undo: Change | None = None) -> Change:
    return Change(kind="iam.access_key_status", resource=f"iam access key {key} of {user}", attribute="Status",
                  current=current, new=new, service="iam", operation="update_access_key",
                  params={"UserName": user, "AccessKeyId": key, "Status": new},
                  cli=aws("iam", "update-access-key", None, user_name=user, access_key_id=key, status=new),
                  target=key, undo=undo)


def plan_deactivate_key(ops: "Ops", access_key_id: str, *, user: str | None = None) -> Plan:
    """Deactivate a key (contains a leak at once and can be undone, unlike delete)."""
    user = user or _key_owner(ops, access_key_id)
    current = key_status(ops, user, access_key_id)
    if current != "Active":
        return Plan(f"deactivate {access_key_id}", [], ops, [f"{access_key_id} is {current}"])
    undo = _status_change(user, access_key_id, "Inactive", "Active")
    return Plan(f"deactivate {access_key_id} of {user}",
                [_status_change(user, access_key_id, current, "Inactive", undo)], ops)


def plan_delete_key(ops: "Ops", access_key_id: str, *, user: str | None = None) -> Plan:
    """Delete a key (the runbook's revoke). Cannot be undone; deactivate first to keep a way back."""
    user = user or _key_owner(ops, access_key_id)
    current = key_status(ops, user, access_key_id)
    if current == "deleted":
        return Plan(f"delete {access_key_id}", [], ops, [f"{access_key_id} does not exist (already deleted)"])
    change = Change(kind="iam.delete_access_key", resource=f"iam access key {access_key_id} of {user}",
                    attribute="existence", current=current, new="deleted", service="iam", operation="delete_access_key",
                    params={"UserName": user, "AccessKeyId": access_key_id},
                    cli=aws("iam", "delete-access-key", None, user_name=user, access_key_id=access_key_id),
                    target=access_key_id, meta={"count": 1},
                    note="deletes 1 access key; cannot be undone (plan_deactivate_key can)")
    return Plan(f"delete {access_key_id} of {user}", [change], ops)


kinds.register("iam.access_key_status", read=_read)
kinds.register("iam.delete_access_key", read=_read)
