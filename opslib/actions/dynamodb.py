"""DynamoDB changes: the test restore of a backup into a uniquely named scratch table, and the deletion of
that scratch table (the restore's undo; only tables named ``test-restore-*`` are ever deleted here)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..aws.arn import short_name
from ..errors import ActionError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops

SCRATCH_PREFIX = "test-restore-"


def list_backups(ops: "Ops", table: str, region: str = "primary") -> list[dict]:
    """The on-demand backups of ``table`` as ``ListBackups`` returns them (all pages), creation times in UTC."""
    out = []
    for page in ops.client("dynamodb", region).get_paginator("list_backups").paginate(TableName=table):
        for b in page.get("BackupSummaries", []):
            created = b["BackupCreationDateTime"]
            created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
            out.append({**b, "BackupCreationDateTime": created})
    return out


def describe_backup(ops: "Ops", backup_arn: str, region: str = "primary") -> dict:
    """``DescribeBackup``'s ``BackupDescription`` (status, and the source table's item count at backup time)."""
    return ops.client("dynamodb", region).describe_backup(BackupArn=backup_arn)["BackupDescription"]


def table_status(ops: "Ops", table: str, region: str = "primary") -> str:
    """``TableStatus`` of ``table`` (ACTIVE, CREATING, ...), or ``absent``."""
    try:
        return ops.client("dynamodb", region).describe_table(TableName=table)["Table"]["TableStatus"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return "absent"
        raise


def _read(ops: "Ops", change: Change) -> str:
    return table_status(ops, change.params.get("TargetTableName") or change.params["TableName"], change.region)


def _restore(ops: "Ops", change: Change) -> None:
    ddb = ops.client("dynamodb", change.region)
    ddb.restore_table_from_backup(**change.params)
    ddb.get_waiter("table_exists").wait(TableName=change.params["TargetTableName"],
                                        WaiterConfig={"Delay": 20, "MaxAttempts": 90})


def _delete_scratch(ops: "Ops", change: Change) -> None:
    name = change.params["TableName"]
    if not name.startswith(SCRATCH_PREFIX):
        raise ActionError(f"refusing to delete {name}: only scratch tables named {SCRATCH_PREFIX}* are deleted here")
    ddb = ops.client("dynamodb", change.region)
    ddb.delete_table(TableName=name)
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 60})


def _scratch_name(now: datetime) -> str:
    """``test-restore-<epoch>-<random>`` (the runbook's ``test-restore-$(date +%s)``, made unique)."""
    return f"{SCRATCH_PREFIX}{int(now.timestamp())}-{uuid.uuid4().hex[:6]}"


def plan_test_restore(ops: "Ops", *, now: datetime, backup_arn: str | None = None, table: str | None = None,
                      region: str = "primary") -> Plan:
    """Restore ``backup_arn`` (default: the newest AVAILABLE backup of ``table``, the profile's events table)
    into a uniquely named scratch table; its undo deletes the scratch table."""
    table = table or ops.profile.dynamodb.events_table
    if backup_arn is None:
        available = [b for b in list_backups(ops, table, region) if b["BackupStatus"] == "AVAILABLE"]
        if not available:
            return Plan(f"test restore of {table}", [], ops, [f"{table} has no AVAILABLE backup to restore"])
        backup_arn = max(available, key=lambda b: b["BackupCreationDateTime"])["BackupArn"]
    scratch = _scratch_name(now)
    reg = ops.region(region)
    undo = Change(kind="dynamodb.scratch_table", resource=f"dynamodb table {scratch} ({reg})", attribute="TableStatus",
                  current="ACTIVE", new="absent", service="dynamodb", operation="delete_table",
                  params={"TableName": scratch}, cli=aws("dynamodb", "delete-table", reg, table_name=scratch),
                  target=table, region=region, note="the scratch table of a test restore")
    change = Change(kind="dynamodb.restore_scratch", resource=f"dynamodb table {scratch} ({reg})",
                    attribute="TableStatus", current="absent", new="ACTIVE", service="dynamodb",
                    operation="restore_table_from_backup",
                    params={"TargetTableName": scratch, "BackupArn": backup_arn},
                    cli=aws("dynamodb", "restore-table-from-backup", reg, target_table_name=scratch,
                            backup_arn=backup_arn),
                    target=table, region=region, undo=undo, meta={"source_table": table},
                    note="deleted again right after its items are counted, even when the comparison fails")
    return Plan(f"test restore of {table}", [change], ops,
                [f"restores {short_name(backup_arn)} into the scratch table {scratch}, compares item counts "
                 f"with the backup, then deletes {scratch} (a second audited step)"])


kinds.register("dynamodb.restore_scratch", read=_read, execute=_restore)
kinds.register("dynamodb.scratch_table", read=_read, execute=_delete_scratch)
