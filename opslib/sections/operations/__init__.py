"""Common Operations (runbook section): the capacity picture, then one operation planned and applied
through :mod:`opslib.actions`: scale a service, its scaling policy, reshard a stream in allowed steps, a
blue-green ECS deploy watched and rolled back automatically, a Lambda canary promoted or rolled back, and
an idempotent backfill of archived raw events."""
from .capacity_picture import Capacity, capacity, capacity_checks, throughput_chart
from .deploy_service import Watch
from .request import OPERATIONS, Request, validate
from .run import Operation, Outcome, follow_up, outcome_charts, outcome_checks, plan_operation

__all__ = ["Capacity", "capacity", "capacity_checks", "throughput_chart", "Watch", "OPERATIONS", "Request",
           "validate", "Operation", "Outcome", "plan_operation", "follow_up", "outcome_checks", "outcome_charts"]
