"""Actions: every change a runbook makes is a :class:`Plan` first, applied only by :func:`apply` (dry-run by
default, confirmation in production, guard rails, stepwise, audited, undoable).

Planners live in one module per kind of change (``ecs``, ``kinesis``, ``lambda_``, ``route53``, ``rds``,
``secrets``, ``iam``, ``waf``, ``cognito``, ``s3``, ``sql``, ``cloudwatch``, ``redshift``, ``dynamodb``, ``backfill``); they read live values and change nothing."""
from .apply import ApplyResult, apply
from .audit import AuditLog, AuditRecord, Operator
from .plan import Change, Plan, Precondition
from .undo import find_record, plan_undo

_MODULES = ("ecs", "kinesis", "lambda_", "route53", "rds", "secrets", "iam", "waf", "cognito", "s3", "sql", "cloudwatch", "redshift", "dynamodb", "backfill")


def _load_all() -> None:
    """Import every planner module so the registry of kinds is complete (for records and undo)."""
    import importlib
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


_load_all()

__all__ = ["Change", "Plan", "Precondition", "apply", "ApplyResult", "AuditLog", "AuditRecord", "Operator", "plan_undo",
           "find_record"]
