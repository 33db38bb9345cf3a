"""One operation end to end: plan it, and after :func:`opslib.actions.apply` follow it up (watch a deploy and
roll it back automatically when it goes bad, promote or roll back a canary, show a backfill's progress)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

import pandas as pd

from ...actions import ApplyResult, apply
from ...actions import backfill as backfill_actions
from ...actions import ecs as ecs_actions
from ...actions import kinesis as kinesis_actions
from ...actions.plan import Plan
from ...findings import Check
from . import backfill, deploy_lambda, deploy_service
from .deploy_service import Watch
from .request import Request

if TYPE_CHECKING:
    from ...connection import Ops


@dataclass
class Operation:
    request: Request
    plan: Plan
    survey: pd.DataFrame | None = None      # backfill: per day objects/events/missing before the run


@dataclass
class Outcome:
    """What an operation came to: ``status`` is planned/applied/refused/failed, steady, rolled-back,
    promoted, canary-left (no verdict) or completed (backfill)."""
    operation: Operation
    result: ApplyResult
    status: str
    reason: str = ""
    watch: Watch | None = None
    followups: list[ApplyResult] = field(default_factory=list)
    progress: pd.DataFrame | None = None


def plan_operation(ops: "Ops", request: Request) -> Operation:
    r = request
    if r.operation == "status":
        return Operation(r, Plan("status: capacity picture only", [], ops, ["operation='status' plans nothing"]))
    if r.operation == "scale-service":
        return Operation(r, ecs_actions.plan_desired_count(ops, r.service, r.desired_count))
    if r.operation == "scaling-policy":
        return Operation(r, ecs_actions.plan_scaling_policy(ops, r.service, target_cpu=r.target_cpu,
                                                            min_capacity=r.min_capacity, max_capacity=r.max_capacity))
    if r.operation == "reshard":
        return Operation(r, kinesis_actions.plan_reshard(ops, r.target_shards))
    if r.operation == "deploy-service":
        return Operation(r, deploy_service.plan_deploy(ops, r.service, task_definition=r.task_definition, image=r.image))
    if r.operation == "deploy-lambda":
        return Operation(r, deploy_lambda.plan_deploy(ops, r.function, weight=r.canary_weight, version=r.lambda_version,
                                                      artifact_key=r.artifact_key))
    surveyed = backfill_actions.survey(ops, r.days)
    return Operation(r, backfill_actions.plan_backfill(ops, r.days, surveyed=surveyed), surveyed)


def follow_up(ops: "Ops", op: Operation, result: ApplyResult, *, dry_run: bool, confirm=None, now: datetime,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
              on_sample: Callable[[dict], None] | None = None, **apply_kwargs) -> Outcome:
    """After ``apply``: only an applied deploy is watched (and rolled back); a dry run stops at the plan."""
    r = op.request
    if r.operation == "backfill":
        prog = backfill.progress(op.survey, result)
        status = "completed" if result.status == "applied" else result.status
        return Outcome(op, result, status, progress=prog)
    if result.status != "applied" or not op.plan.changes or dry_run:
        return Outcome(op, result, result.status, result.reason or "")
    if r.operation == "deploy-service":
        change = op.plan.changes[-1]                      # the service's task definition: current -> new
        w = deploy_service.watch_deployment(ops, r.service, change.new, now=now, timeout_s=r.watch_seconds,
                                            interval_s=r.watch_interval, max_failed_tasks=r.max_failed_tasks,
                                            max_error_rate=r.max_error_rate, sleep=sleep, clock=clock,
                                            on_sample=on_sample)
        if w.good:
            return Outcome(op, result, "steady", w.reason, w)
        back = deploy_service.plan_rollback(ops, r.service, change.current, reason=w.reason)
        rolled = apply(back, dry_run=False, confirm=confirm, ops=ops, raise_on_error=False, **apply_kwargs)
        return Outcome(op, result, "rolled-back" if rolled.status == "applied" else "rollback-" + rolled.status,
                       f"{w.verdict}: {w.reason}; rollback to {change.current}: {rolled.status}", w, [rolled])
    if r.operation == "deploy-lambda":
        canary = op.plan.changes[-1]                      # the alias: {version, weights}
        new_version = next(iter(canary.new["weights"]))
        alias = canary.params["Name"]
        w = deploy_lambda.watch_canary(ops, r.function, alias, new_version, now=now, timeout_s=r.watch_seconds,
                                       interval_s=r.watch_interval, max_error_rate=r.max_error_rate, sleep=sleep,
                                       clock=clock)
        if w.verdict == "healthy":
            plan = deploy_lambda.plan_promote(ops, r.function, new_version, alias=alias)
            status = "promoted"
        elif w.verdict == "failed":
            plan = deploy_lambda.plan_rollback(ops, r.function, canary.current, reason=w.reason, alias=alias)
            status = "rolled-back"
        else:
            return Outcome(op, result, "canary-left", w.reason, w)
        done = apply(plan, dry_run=False, confirm=confirm, ops=ops, raise_on_error=False, **apply_kwargs)
        return Outcome(op, result, status if done.status == "applied" else f"{status}-{done.status}",
                       f"{w.reason}; {plan.title}: {done.status}", w, [done])
    return Outcome(op, result, result.status, result.reason or "")


def outcome_checks(outcome: Outcome) -> list[Check]:
    """The operation's result as findings: refused/failed/rolled back fail, a planned change warns."""
    r = outcome.operation.request
    checks = [outcome.result.check(f"operation {r.operation}")]
    for extra in outcome.followups:
        checks.append(extra.check(extra.plan.title))
    name = f"{r.operation} result"
    figures = {"status": outcome.status}
    if outcome.watch is not None:
        figures["samples"] = len(outcome.watch.samples)
    if outcome.status in ("steady", "promoted"):
        checks.append(Check.ok(name, outcome.reason, **figures))
    elif outcome.status == "canary-left":
        checks.append(Check.warn(name, f"canary left in place: {outcome.reason}", **figures))
    elif outcome.status.startswith("rolled-back") or outcome.status.startswith("rollback-"):
        checks.append(Check.fail(name, f"rolled back: {outcome.reason}", **figures))
    elif r.operation == "backfill" and outcome.progress is not None:
        p = outcome.progress
        still = int(p["missing_after"].sum())
        figures.update(days=len(p), objects=int(p["objects"].sum()), events=int(p["events"].sum()),
                       inserted=int(p["inserted"].sum()), missing_after=still)
        detail = (f"{len(p)} days, {figures['objects']} objects, {figures['events']} events: "
                  f"{figures['inserted']} inserted, {still} missing")
        if outcome.result.status in ("refused", "failed"):
            checks.append(Check.fail(name, f"{outcome.result.status}: {outcome.result.reason}", **figures))
        elif still and outcome.result.status == "planned":
            checks.append(Check.warn(name, f"planned (dry run): {detail}", **figures))
        elif still:
            checks.append(Check.fail(name, detail, **figures))
        else:
            checks.append(Check.ok(name, detail, **figures))
    return checks


def outcome_charts(outcome: Outcome) -> list:
    figs = []
    if outcome.watch is not None and outcome.operation.request.operation == "deploy-service":
        figs.append(deploy_service.deployment_chart(outcome.watch))
    if outcome.watch is not None and outcome.operation.request.operation == "deploy-lambda":
        figs.append(deploy_lambda.canary_chart(outcome.watch))
    if outcome.progress is not None:
        figs.append(backfill.progress_chart(outcome.progress))
    return figs
