"""The notebook's ``operation`` parameter: validated, planned, and run through :func:`opslib.actions.apply`
(so every attempt is audited, even the empty plan of ``status``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from ...actions import apply
from ...actions.apply import ApplyResult
from ...actions.dynamodb import plan_test_restore
from ...actions.plan import Precondition
from ...actions.plan import Plan
from ...errors import ParameterError
from ...findings import Check
from .charts import failover_timing_chart
from .database import database_checks, plan_database_failover, verify_database
from .failover import FailoverRun, plan_regional_failover, run_regional_failover
from .restore import RestoreDrill, run_test_restore

if TYPE_CHECKING:
    from ...connection import Ops

OPERATIONS = ("status", "regional-failover", "database-failover", "test-restore")


def validate_parameters(*, operation: str, dry_run: Any, confirm: Any = None, desired_count: Any = None,
                        window_minutes: Any = 60, tolerance: Any = 0.0, replica: Any = None,
                        profile: Any = None) -> None:
    """Raise :class:`ParameterError` for a bad notebook parameter (before any AWS call). With the ``profile``, a
    regional failover of a single-region pipeline is refused too, and a database failover with no replica to
    promote (none given, none in the profile)."""
    if operation not in OPERATIONS:
        raise ParameterError("operation", operation, " | ".join(OPERATIONS))
    if operation == "regional-failover" and profile is not None and not profile.has_dr:
        others = " | ".join(o for o in OPERATIONS if o != operation)
        raise ParameterError("operation", operation, f"{others} (profile {profile.name!r} names no DR region to fail "
                                                     f"over to: aws.dr_region)")
    if operation == "database-failover" and profile is not None and not (replica or profile.rds.replica):
        raise ParameterError("replica", replica, f"the read replica to promote: profile {profile.name!r} names none "
                                                 f"(rds.replica)")
    if not isinstance(dry_run, bool):
        raise ParameterError("dry_run", dry_run, "True or False")
    if confirm is not None and not isinstance(confirm, (str, list, tuple)):
        raise ParameterError("confirm", confirm, "None, a resource name, or a list of names")
    if desired_count is not None and (isinstance(desired_count, bool) or not isinstance(desired_count, int)
                                      or desired_count < 1):
        raise ParameterError("desired_count", desired_count, "None (each ingest service's dr_desired_count) or a "
                                                             "positive number of DR tasks per ingest service")
    if isinstance(window_minutes, bool) or not isinstance(window_minutes, int) or not 5 <= window_minutes <= 1440:
        raise ParameterError("window_minutes", window_minutes, "whole minutes between 5 and 1440")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance <= 1:
        raise ParameterError("tolerance", tolerance, "a fraction in [0, 1] of the backup's item count")


def plan_operation(ops: "Ops", operation: str, *, now: datetime, desired_count: int | None = None,
                   replica: str | None = None,
                   backup_arn: str | None = None) -> Plan:
    """The plan of ``operation`` (``status`` plans nothing)."""
    if operation == "regional-failover":
        return plan_regional_failover(ops, desired_count=desired_count)
    if operation == "database-failover":
        return plan_database_failover(ops, replica=replica)
    if operation == "test-restore":
        return plan_test_restore(ops, now=now, backup_arn=backup_arn)
    if operation == "status":
        return Plan(f"disaster recovery {operation}: nothing to change", [], ops)
    raise ParameterError("operation", operation, " | ".join(OPERATIONS))


@dataclass
class Outcome:
    """What running an operation's plan did: apply results, and the failover timing, the database
    verification or the test restore it involved."""
    operation: str
    plan: Plan
    results: list[ApplyResult]
    failover: FailoverRun | None = None
    verified: list[Precondition] | None = None
    restore: RestoreDrill | None = None

    def frame(self) -> pd.DataFrame | None:
        if self.failover is not None:
            return self.failover.frame()
        if self.restore is not None:
            return self.restore.frame()
        if self.verified is not None:
            return pd.DataFrame([c.to_dict() for c in self.verified])
        return None

    def figures(self) -> list[go.Figure]:
        if self.failover is not None and not self.failover.dry_run:
            return [failover_timing_chart(self.failover)]
        return []

    def checks(self) -> list[Check]:
        if self.failover is not None:
            return self.failover.checks()
        if self.restore is not None:
            return [self.restore.check()]
        if self.operation == "database-failover":
            return database_checks(self.results[0], self.verified)
        return []


def run_operation(ops: "Ops", operation: str, plan: Plan, *, dry_run: bool = True, confirm: Any = None,
                  run_id: str | None = None, tolerance: float = 0.0) -> Outcome:
    """Apply ``plan`` as ``operation`` does (always through :func:`apply`, so even an empty plan is audited)."""
    if operation == "regional-failover":
        run = run_regional_failover(ops, plan, dry_run=dry_run, confirm=confirm, run_id=run_id)
        return Outcome(operation, plan, run.results, failover=run)
    if operation == "test-restore":
        drill = run_test_restore(ops, plan, dry_run=dry_run, confirm=confirm, run_id=run_id, tolerance=tolerance)
        return Outcome(operation, plan, [drill.result] + ([drill.cleanup] if drill.cleanup else []), restore=drill)
    result = apply(plan, dry_run=dry_run, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
    verified = None
    if operation == "database-failover" and result.status == "applied":
        replica = next((c.target for c in plan.changes if c.kind == "rds.promote"), None)
        verified = verify_database(ops, replica=replica)
    return Outcome(operation, plan, [result], verified=verified)
