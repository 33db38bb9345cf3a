"""The database failover: promote the read replica, point the connection secret's ``host`` at it (one
plan), then verify the connection (the runbook's ``psql -h <replica> ...``)."""
from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ...actions import rds as rds_actions
from ...actions import secrets as secrets_actions
from ...actions.apply import ApplyResult
from ...actions.plan import Precondition
from ...actions.plan import Plan
from ...errors import ParameterError
from ...findings import Check

if TYPE_CHECKING:
    from ...connection import Ops


def _secret_json(ops: "Ops", secret_id: str, region: str) -> dict:
    try:
        return json.loads(ops.client("secretsmanager", region).get_secret_value(SecretId=secret_id)["SecretString"])
    except (ClientError, ValueError, KeyError) as exc:
        raise ParameterError("secret_id", secret_id, "an existing secret holding a JSON object") from exc


def plan_database_failover(ops: "Ops", *, replica: str | None = None, secret_id: str | None = None,
                           region: str = "primary") -> Plan:
    """Promote the replica and point the connection secret's ``host`` at it: one plan."""
    replica = replica or ops.profile.rds.replica
    secret_id = secret_id or ops.profile.secrets.database_connection
    promote = rds_actions.plan_promote_replica(ops, replica=replica, region=region)
    endpoint = rds_actions.describe(ops, replica, region).get("Endpoint", {}).get("Address")
    if not endpoint:
        raise ParameterError("replica", replica, "a DB instance with an endpoint address")
    if _secret_json(ops, secret_id, region).get("host") == endpoint:
        secret = Plan(f"update secret {secret_id}", [], ops, [f"{secret_id} already points at {endpoint}"])
    else:
        secret = secrets_actions.plan_update_secret(ops, secret_id, {"host": endpoint}, region=region)
    plan = promote + secret
    plan.title = f"database failover to {replica}"
    plan.notes.append("only the secret's host changes (the runbook's --secret-string '{\"host\": ...}' would drop "
                      "the user, password and port); then the connection is verified")
    return plan


def verify_database(ops: "Ops", *, replica: str | None = None, secret_id: str | None = None,
                    region: str = "primary", probe: bool | None = None, timeout: float = 5.0) -> list[Precondition]:
    """The runbook's ``psql -h <replica> ...``: the instance is standalone and available, the secret's host is
    its endpoint, and (``probe``; default: outside the sandbox) a TCP connection to it opens."""
    replica = replica or ops.profile.rds.replica
    secret_id = secret_id or ops.profile.secrets.database_connection
    db = rds_actions.describe(ops, replica, region)
    address, port = db.get("Endpoint", {}).get("Address"), db.get("Endpoint", {}).get("Port", 5432)
    source = db.get("ReadReplicaSourceDBInstanceIdentifier")
    checks = [Precondition(f"{replica} is a writable primary", not source and db["DBInstanceStatus"] == "available",
                        f"status {db['DBInstanceStatus']}, " + (f"still a replica of {source}" if source else "standalone")),
              Precondition(f"secret {secret_id} host", _secret_json(ops, secret_id, region).get("host") == address,
                        f"host should be {address}")]
    if probe is None:
        probe = ops.sandbox is None
    if probe:
        try:
            with socket.create_connection((address, int(port)), timeout=timeout):
                checks.append(Precondition(f"connect {address}:{port}", True, "TCP connection opened"))
        except OSError as exc:
            checks.append(Precondition(f"connect {address}:{port}", False, str(exc)))
    else:
        checks.append(Precondition(f"connect {address}:{port}", True,
                                "not probed (the sandbox has no server behind RDS endpoints)"))
    return checks


def database_checks(result: ApplyResult, verified: list[Precondition] | None) -> list[Check]:
    """The failover's apply result as a finding, and (once applied) the connection verification."""
    out = [result.check("database-failover")]
    if verified is not None:
        failed = [c for c in verified if not c.ok]
        out.append(Check.when("database-connection", not failed,
                              "; ".join(f"{'ok' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in verified)))
    return out
