"""RDS changes: promote a read replica to a standalone primary (no undo: a promotion cannot be reversed)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _role(db: dict) -> str:
    src = db.get("ReadReplicaSourceDBInstanceIdentifier")
    return f"replica of {src}" if src else "standalone"


def describe(ops: "Ops", instance: str, region: str = "primary") -> dict:
    try:
        return ops.client("rds", region).describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    except ClientError as exc:
        raise ParameterError("instance", instance, f"an existing DB instance in {ops.region(region)}") from exc


def _read(ops: "Ops", change: Change) -> str:
    return _role(describe(ops, change.params["DBInstanceIdentifier"], change.region))


def plan_promote_replica(ops: "Ops", *, replica: str | None = None, backup_retention_days: int = 7,
                         region: str = "primary") -> Plan:
    """Promote ``replica`` (default: the profile's) to a standalone instance."""
    replica = replica or ops.profile.rds.replica
    if not replica:
        raise ParameterError("replica", replica, "a read replica to promote (the profile names none: rds.replica)")
    current = _role(describe(ops, replica, region))
    if current == "standalone":
        return Plan(f"promote {replica}", [], ops, [f"{replica} is not a read replica (already standalone)"])
    reg = ops.region(region)
    change = Change(kind="rds.promote", resource=f"rds instance {replica} ({reg})", attribute="role",
                    current=current, new="standalone", service="rds", operation="promote_read_replica",
                    params={"DBInstanceIdentifier": replica, "BackupRetentionPeriod": backup_retention_days},
                    cli=aws("rds", "promote-read-replica", reg, db_instance_identifier=replica,
                            backup_retention_period=backup_retention_days),
                    target=replica, region=region, undo=None,
                    note="cannot be undone: a promoted instance does not become a replica again")
    return Plan(f"promote {replica}", [change], ops,
                ["then point the connection secret at it (secrets.plan_update_secret) and verify connections"])


kinds.register("rds.promote", read=_read)
