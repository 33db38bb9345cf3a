"""Remedies, planned through the existing planners and applied only by ``apply(plan, dry_run=False)``:
scale the API up, roll back a bad deployment, debug logging, scale the stream processors, and skip a
shard's checkpoint past poison messages (the undo restores the old sequence number). The services are
the profile's by role: ingest (the API) and process (the stream consumers); a role the profile lacks
makes its remedies an empty plan that says so."""
from __future__ import annotations

from typing import Any, Callable

from ...actions import ecs as ecs_actions
from ...actions import kinesis as kinesis_actions
from ...actions.plan import Plan
from .diagnostics import PoisonScan
from .hints import SuspectDeployment
from .procedures import API_ROLE, PROCESSOR_ROLE, check_positive, check_remedy, missing_role, role_services


def choose_remedies(procedures: list[str], remedy: Any, *, suspect: SuspectDeployment | None,
                    poison: PoisonScan | None, regional: bool = False) -> list[tuple[str, str]]:
    """``(remedy, why)`` pairs. ``auto`` follows the hints: a bad deployment is rolled back (API Down, High
    Error Rate), poison messages are skipped, and otherwise the runbook's scale-up of the procedure's
    service is planned; High Error Rate without a suspect deployment plans nothing (``remedy="debug"``
    turns on debug logging). With a ``regional`` AWS issue nothing is planned for API Down: scaling in a
    region without capacity does not help; the Disaster Recovery runbook fails over. Explicit names are
    planned as asked."""
    chosen = check_remedy(remedy)
    if chosen == "none":
        return []
    if chosen != "auto":
        return [(name, "requested (remedy parameter)") for name in chosen]
    out: dict[str, str] = {}
    for p in procedures:
        if p in ("api-down", "high-error-rate") and suspect is not None and suspect.role == API_ROLE:
            out.setdefault("rollback", f"{p}: {suspect.task_definition} deployed at {suspect.deployed_at:%H:%M:%S}, "
                                       f"errors since {suspect.began:%H:%M}")
        elif p == "api-down" and regional:
            continue
        elif p == "api-down":
            out.setdefault("scale-api", "api-down: the runbook's step 4 (scale up if needed); no deployment to blame")
        elif p == "stream-backup" and poison is not None and poison.found:
            out.setdefault("skip-poison", f"stream-backup: {len(poison.bad)} poison record(s) block the consumer")
        elif p == "stream-backup" and suspect is not None and suspect.role == PROCESSOR_ROLE:
            out.setdefault("rollback", f"stream-backup: {suspect.task_definition} deployed at "
                                       f"{suspect.deployed_at:%H:%M:%S}, lag since {suspect.began:%H:%M}")
        elif p == "stream-backup":
            out.setdefault("scale-processors", "stream-backup: the runbook's step 2 (scale up processors)")
    return list(out.items())


def plan_skip_poison(ops: Any, poison: PoisonScan | None) -> Plan:
    """One checkpoint skip per shard with poison records, to its last invalid record (the undo puts the
    old sequence number back)."""
    if poison is None or not poison.found:
        return Plan("skip poison messages", [], ops, ["no poison records after the checkpoints: nothing to skip"])
    plan: Plan | None = None
    for row in poison.shards[poison.shards["invalid"] > 0].itertuples():
        step = kinesis_actions.plan_checkpoint_skip(ops, row.shard, row.last_invalid)
        step.notes.append(f"{row.shard}: skips {row.invalid} invalid record(s) and {row.valid_before_last_invalid} "
                          f"valid record(s) before {row.last_invalid}; the undo restores checkpoint {row.checkpoint}")
        plan = step if plan is None else plan + step
    return plan


def _per_service(ops: Any, role: str, title: str, make: Callable[[str], Plan]) -> Plan:
    """``make(name)`` for every ECS service with ``role``; without one, an empty plan saying which role is missing."""
    plans = [make(s.name) for s in role_services(ops.profile, role)]
    if not plans:
        return Plan(f"{title}: not possible", [], ops, [f"{title}: {missing_role(role)}"])
    total = plans[0]
    for p in plans[1:]:
        total = total + p
    return total


def plan_remedies(ops: Any, procedures: list[str], remedy: Any = "auto", *, suspect: SuspectDeployment | None = None,
                  poison: PoisonScan | None = None, regional: bool = False, api_desired_count: int = 10,
                  processor_desired_count: int = 20) -> Plan:
    """One plan with every chosen remedy (possibly none: apply it anyway, so the attempt is audited)."""
    check_positive(api_desired_count=api_desired_count, processor_desired_count=processor_desired_count)
    chosen = choose_remedies(procedures, remedy, suspect=suspect, poison=poison, regional=regional)
    plans = []
    for name, why in chosen:
        if name == "scale-api":
            plan = _per_service(ops, API_ROLE, name,
                                lambda svc: ecs_actions.plan_desired_count(ops, svc, api_desired_count))
        elif name == "scale-processors":
            plan = _per_service(ops, PROCESSOR_ROLE, name,
                                lambda svc: ecs_actions.plan_desired_count(ops, svc, processor_desired_count))
        elif name == "rollback" and suspect is not None:
            plan = ecs_actions.plan_rollback(ops, suspect.service, to=suspect.previous)
        elif name == "rollback":
            plan = _per_service(ops, API_ROLE, name, lambda svc: ecs_actions.plan_rollback(ops, svc))
        elif name == "debug" and suspect is not None:
            plan = ecs_actions.plan_debug(ops, suspect.service)
        elif name == "debug":
            plan = _per_service(ops, API_ROLE, name, lambda svc: ecs_actions.plan_debug(ops, svc))
        else:
            plan = plan_skip_poison(ops, poison)
        plan.notes.insert(0, f"{name}: {why}")
        plans.append(plan)
    if not plans:
        why = ("remedy='none'" if remedy == "none" else "no procedure's symptoms are present" if not procedures
               else "the primary region is down (AWS issue): fail over with the Disaster Recovery runbook"
               if regional else "the hints point at no remedy (remedy='debug' turns on debug logging)")
        return Plan("incident remedies: none", [], ops, [f"nothing planned: {why}"])
    total = plans[0]
    for p in plans[1:]:
        total = total + p
    return total
