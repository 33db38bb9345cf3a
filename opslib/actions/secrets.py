"""Secrets Manager changes. Secret values are never shown nor recorded: plans and audit records carry
version ids and the names of the keys that change; the undo moves ``AWSCURRENT`` back to the old version."""
from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import REDACTED, Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _current_version(ops: "Ops", secret_id: str, region: str = "primary") -> str:
    try:
        meta = ops.client("secretsmanager", region).describe_secret(SecretId=secret_id)
    except ClientError as exc:
        raise ParameterError("secret_id", secret_id, f"an existing secret in {ops.region(region)}") from exc
    for version, stages in meta.get("VersionIdsToStages", {}).items():
        if "AWSCURRENT" in stages:
            return version
    raise ParameterError("secret_id", secret_id, "a secret with an AWSCURRENT version")


def _shown(version: str) -> str:
    return f"{REDACTED} (version {version})"


def _read(ops: "Ops", change: Change) -> str:
    return _shown(_current_version(ops, change.params["SecretId"], change.region))


def _stage_change(ops: "Ops", secret_id: str, from_version: str, to_version: str, region: str) -> Change:
    reg = ops.region(region)
    return Change(kind="secrets.version", resource=f"secret {secret_id} ({reg})", attribute="AWSCURRENT version",
                  current=_shown(from_version), new=_shown(to_version), service="secretsmanager",
                  operation="update_secret_version_stage",
                  params={"SecretId": secret_id, "VersionStage": "AWSCURRENT", "MoveToVersionId": to_version,
                          "RemoveFromVersionId": from_version},
                  cli=aws("secretsmanager", "update-secret-version-stage", reg, secret_id=secret_id,
                          version_stage="AWSCURRENT", move_to_version_id=to_version, remove_from_version_id=from_version),
                  target=secret_id, region=region)


def plan_update_secret(ops: "Ops", secret_id: str | None = None, value: dict | str | None = None, *,
                       merge: bool = True, region: str = "primary") -> Plan:
    """Store a new value of a secret. With ``merge`` (default) a dict updates only its keys of the current
    JSON value (the runbook's ``--secret-string '{"host": ...}'`` would drop the password, port...)."""
    secret_id = secret_id or ops.profile.secrets.database_connection
    if value is None:
        raise ParameterError("value", None, "the new secret value (a dict or a string)")
    sm = ops.client("secretsmanager", region)
    old_version = _current_version(ops, secret_id, region)
    changed = "value"
    if isinstance(value, dict):
        old = {}
        if merge:
            try:
                old = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
            except (ValueError, KeyError) as exc:
                raise ParameterError("merge", True, "False: the current secret is not a JSON object") from exc
        changed = "keys " + ", ".join(sorted(k for k in value if old.get(k) != value[k])) if merge else "whole value"
        text = json.dumps({**old, **value})
    else:
        text = value
    new_version = str(uuid.uuid4())
    reg = ops.region(region)
    undo = _stage_change(ops, secret_id, new_version, old_version, region)
    change = Change(kind="secrets.value", resource=f"secret {secret_id} ({reg})", attribute=f"SecretString ({changed})",
                    current=_shown(old_version), new=_shown(new_version), service="secretsmanager",
                    operation="update_secret",
                    params={"SecretId": secret_id, "SecretString": text, "ClientRequestToken": new_version},
                    secret_params=("SecretString",),
                    cli=aws("secretsmanager", "update-secret", reg, secret_id=secret_id,
                            secret_string="file://new-secret.json", client_request_token=new_version),
                    target=secret_id, region=region, undo=undo,
                    note="the value is not shown; the undo makes the previous version AWSCURRENT again")
    return Plan(f"update secret {secret_id}", [change], ops)


kinds.register("secrets.value", read=_read)
kinds.register("secrets.version", read=_read)
