"""The test-restore drill: restore a DynamoDB backup into a scratch table
(:func:`opslib.actions.dynamodb.plan_test_restore`), count its items against the backup's, and delete the
scratch table again (its own audited step), even when counting fails."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

from ...actions import apply
from ...actions import dynamodb as dynamodb_actions
from ...actions.apply import ApplyResult
from ...actions.plan import Plan
from ...findings import Check

if TYPE_CHECKING:
    from ...connection import Ops


def count_items(ops: "Ops", table: str, region: str = "primary") -> int:
    """Items of ``table`` by a paginated ``Scan`` with ``Select=COUNT`` (ItemCount is refreshed only every ~6 h)."""
    pages = ops.client("dynamodb", region).get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(p["Count"] for p in pages)


@dataclass
class RestoreDrill:
    plan: Plan
    result: ApplyResult
    scratch: str | None = None
    backup_items: int | None = None
    restored_items: int | None = None
    source_items: int | None = None
    tolerance: float = 0.0
    error: str | None = None
    cleanup: ApplyResult | None = None
    left_behind: bool = False

    @property
    def matches(self) -> bool:
        if self.backup_items is None or self.restored_items is None:
            return False
        return abs(self.restored_items - self.backup_items) <= self.tolerance * self.backup_items

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"scratch table": self.scratch, "items in backup": self.backup_items,
                              "items restored": self.restored_items, "items in source now": self.source_items,
                              "match": self.matches, "scratch deleted": None if self.cleanup is None
                              else not self.left_behind}])

    def check(self) -> Check:
        name = "test-restore"
        if self.result.status in ("refused", "failed"):
            return Check.fail(name, f"{self.plan.title}: {self.result.status}: {self.result.reason}"
                              + (" ; scratch table LEFT BEHIND" if self.left_behind else ""),
                              audit_id=self.result.audit_id)
        if not self.plan.changes:
            return Check.fail(name, "; ".join(self.plan.notes) or "nothing to restore")
        if self.result.status == "planned":
            return Check.ok(name, f"{self.plan.title}: planned only (dry run); set dry_run=False to restore into "
                            f"{self.scratch} and delete it afterwards", audit_id=self.result.audit_id)
        figures = {"backup_items": self.backup_items, "restored_items": self.restored_items,
                   "source_items": self.source_items, "scratch_deleted": not self.left_behind,
                   "audit_ids": [self.result.audit_id] + ([self.cleanup.audit_id] if self.cleanup else [])}
        if self.left_behind:
            return Check.fail(name, f"the scratch table {self.scratch} was NOT deleted: "
                              f"aws dynamodb delete-table --table-name {self.scratch}", **figures)
        if self.error or not self.matches:
            return Check.fail(name, f"restored {self.restored_items} items, the backup had {self.backup_items}"
                              + (f" ({self.error})" if self.error else "") + "; scratch table deleted", **figures)
        return Check.ok(name, f"restored {self.restored_items} items = the backup's {self.backup_items} "
                        f"(source has {self.source_items} now); scratch table {self.scratch} deleted", **figures)


def run_test_restore(ops: "Ops", plan: Plan, *, dry_run: bool = True, confirm: Any = None, run_id: str | None = None,
                     tolerance: float = 0.0) -> RestoreDrill:
    """Apply the test-restore plan; when applied, count the restored items against the backup's, and
    always delete the scratch table afterwards (its own audited step), even when counting fails."""
    result = apply(plan, dry_run=dry_run, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
    change = plan.changes[0] if plan.changes else None
    out = RestoreDrill(plan, result, change.params["TargetTableName"] if change else None, tolerance=tolerance)
    if change is None or result.status != "applied":
        out.left_behind = (change is not None
                           and dynamodb_actions.table_status(ops, out.scratch, change.region) != "absent")
        return out
    try:
        desc = dynamodb_actions.describe_backup(ops, change.params["BackupArn"], change.region)
        out.backup_items = desc.get("SourceTableDetails", {}).get("ItemCount")
        out.restored_items = count_items(ops, out.scratch, change.region)
        out.source_items = count_items(ops, change.meta["source_table"], change.region)
    except (ClientError, KeyError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        cleanup = Plan(f"delete scratch table {out.scratch}", [change.undo], ops, undo_of=result.audit_id)
        out.cleanup = apply(cleanup, dry_run=False, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
        out.left_behind = dynamodb_actions.table_status(ops, out.scratch, change.region) != "absent"
    return out
