"""The regional failover (the runbook's ``scripts/dr_failover.sh``), applied one audited change at a time
and timed against the RTO: DR pre-flight, DR capacity, DR stream encryption, a wait until the DR tasks
run, DNS last, then a check that the DR side serves. The plan itself is
:func:`opslib.actions.route53.plan_regional_failover`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from ...actions import apply, route53
from ...actions import ecs as ecs_actions
from ...actions.apply import ApplyResult
from ...actions.guards import check_confirmation
from ...actions.plan import Precondition
from ...actions.plan import Change, Plan
from ...aws import ecs as ecs_reads
from ...errors import ActionRefused
from ...findings import Check
from .readiness import api_record

if TYPE_CHECKING:
    from ...connection import Ops


@dataclass
class TimedStep:
    step: str
    kind: str                 # check | change | wait | verify
    status: str               # ok | applied | planned | failed | refused | not_run
    start_s: float | None = None
    seconds: float | None = None
    detail: str = ""
    audit_id: str | None = None


@dataclass
class FailoverRun:
    """A regional failover: planned (dry run) or applied step by step with each step's duration."""
    plan: Plan
    dry_run: bool
    rto_minutes: float
    steps: list[TimedStep]
    results: list[ApplyResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.dry_run:
            return "planned"
        bad = [s.status for s in self.steps if s.status in ("failed", "refused")]
        return bad[0] if bad else "applied"

    @property
    def elapsed_seconds(self) -> float | None:
        timed = [s for s in self.steps if s.seconds is not None]
        return round(max(s.start_s + s.seconds for s in timed), 2) if timed else None

    def frame(self) -> pd.DataFrame:
        rows = [{"#": i, "step": s.step, "kind": s.kind, "status": s.status, "start s": s.start_s,
                 "seconds": s.seconds, "elapsed s": None if s.seconds is None else round(s.start_s + s.seconds, 2),
                 "detail": s.detail, "audit": s.audit_id} for i, s in enumerate(self.steps, 1)]
        return pd.DataFrame(rows)

    def checks(self) -> list[Check]:
        name = "regional-failover"
        audits = [r.audit_id for r in self.results]
        if self.dry_run:
            if not self.plan.changes:
                return [Check.ok(name, f"{self.plan.title}: nothing to change (already failed over)")]
            return [Check.warn(name, f"{self.plan.title}: {len(self.plan.changes)} change(s) planned, not applied "
                               f"(dry run); set dry_run=False to fail over", planned=self.plan.targets, audit_ids=audits)]
        failed = [s for s in self.steps if s.status in ("failed", "refused")]
        rto_s = self.rto_minutes * 60
        elapsed = self.elapsed_seconds or 0.0
        timing = Check.when("failover-rto", not failed and elapsed <= rto_s,
                            f"failover took {elapsed:.1f} s of the {self.rto_minutes:g}-minute RTO ({rto_s:.0f} s)"
                            + (f", stopped at step '{failed[0].step}'" if failed else ""),
                            elapsed_s=elapsed, rto_s=rto_s, within_rto=elapsed <= rto_s)
        if failed:
            main = Check.fail(name, f"{self.plan.title}: {failed[0].status} at '{failed[0].step}': {failed[0].detail}",
                              audit_ids=audits)
        else:
            main = Check.ok(name, f"{self.plan.title}: applied {len(self.plan.changes)} change(s); the DR side serves "
                            f"the API", applied=self.plan.targets, audit_ids=audits)
        return [main, timing]


def plan_regional_failover(ops: "Ops", *, desired_count: int | None = None) -> Plan:
    """route53.plan_regional_failover (every ingest service's DR capacity, to ``desired_count`` or its
    ``dr_desired_count``; DR stream encryption; DNS last) with the DR pre-flight gating every step, not
    only the DNS change."""
    plan = route53.plan_regional_failover(ops, desired_count=desired_count)
    plan.changes = [replace(c, meta={**c.meta, "requires_preflight": True}) for c in plan.changes]
    plan.notes.append("each step is applied and audited on its own, timed against the RTO; the DR pre-flight "
                      "is re-run before every step")
    return plan


def _dr_capacity(ops: "Ops", plan: Plan) -> list[tuple[str, str, int]]:
    """(cluster, service, desired count) the DR side must be running before DNS moves: the plan's DR
    scaling, and for every ingest service the plan does not scale (already scaled), its DR desired count now."""
    out = [(c.params["cluster"], c.params["service"], c.new) for c in plan.changes
           if c.kind == "ecs.desired_count" and c.region == "dr"]
    cluster = ops.profile.ecs.dr_cluster
    scaled = {service for _, service, _ in out}
    for svc in route53.failover_services(ops):
        if svc.name not in scaled:
            out.append((cluster, svc.name, ecs_actions.describe_service(ops, cluster, svc.name, "dr")["desiredCount"]))
    return out


def wait_for_dr_capacity(ops: "Ops", targets: list[tuple[str, str, int]], *, timeout_s: float, poll_s: float = 1.0,
                         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                         ) -> tuple[bool, str]:
    """Poll the DR services until their running count reaches the desired count (or ``timeout_s``)."""
    ecs = ops.client("ecs", "dr")
    t0 = clock()
    while True:
        counts = {}
        for cluster, service, desired in targets:
            found = ecs_reads.describe_services(ecs, cluster, [service])
            counts[f"{cluster}/{service}"] = (found[0]["runningCount"] if found else 0, desired)
        detail = ", ".join(f"{k}: {r}/{d} running" for k, (r, d) in counts.items())
        if all(r >= d for r, d in counts.values()):
            return True, detail
        if clock() - t0 >= timeout_s:
            return False, f"timed out after {timeout_s:.0f} s: {detail}"
        sleep(poll_s)


def verify_dr_serving(ops: "Ops", *, timeout: float = 5.0) -> list[Precondition]:
    """After a failover: the API record aliases the DR ALB and the DR health endpoint answers 200."""
    d = ops.profile.dns
    dns, on_dr = api_record(ops)
    health = route53.http_check("DR health endpoint", ops.health_url(d.dr_health_url), timeout)
    return [Precondition(f"DNS {d.record}", on_dr, f"alias {(dns or {}).get('alias')}"), health]


def _change_label(change: Change) -> str:
    return f"{change.resource} {change.attribute} -> {change.new}"


def run_regional_failover(ops: "Ops", plan: Plan, *, dry_run: bool = True, confirm: Any = None,
                          run_id: str | None = None, poll_s: float = 0.5, health_timeout: float = 5.0,
                          clock: Callable[[], float] = time.monotonic,
                          sleep: Callable[[float], None] = time.sleep) -> FailoverRun:
    """Apply the failover plan one audited change at a time, timing each step against the RTO:
    pre-flight, the changes in plan order (waiting for DR capacity before DNS moves), then a check
    that the DR side serves. With ``dry_run`` (default) the whole plan is only recorded as planned."""
    rto = ops.profile.targets.rto_minutes

    def serving() -> tuple[str, str]:
        return _checks_step(verify_dr_serving(ops, timeout=health_timeout))

    if dry_run or not plan.changes:
        result = apply(plan, dry_run=dry_run, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
        steps = [TimedStep(_change_label(c), "change", "planned" if dry_run else "applied", detail=c.cli)
                 for c in plan.changes]
        run = FailoverRun(plan, dry_run, rto, steps, [result])
        if not dry_run:      # nothing to change: still say whether the DR side serves
            run.steps.append(_timed("verify the DR side serves", "verify", clock, clock(), serving))
        return run
    if ops.profile.production:
        try:
            check_confirmation(plan, confirm)
        except ActionRefused:    # refused as a whole (and audited) before any step
            result = apply(plan, dry_run=False, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
            return FailoverRun(plan, False, rto, [TimedStep("confirmation", "check", "refused", detail=result.reason or "",
                                                            audit_id=result.audit_id)], [result])
    t0 = clock()
    run = FailoverRun(plan, False, rto, [])
    measured: list[Precondition] = []

    def preflight() -> tuple[str, str]:
        measured.extend(c for p in plan.prechecks for c in p(ops))
        return _checks_step(measured, refuse=True)

    run.steps.append(_timed("DR pre-flight checks", "check", clock, t0, preflight))
    if run.status != "applied":      # audited as refused, with the checks just measured
        refused = Plan(plan.title, plan.changes, ops, plan.notes, [lambda _ops: list(measured)])
        result = apply(refused, dry_run=False, confirm=confirm, ops=ops, run_id=run_id, raise_on_error=False)
        run.results.append(result)
        run.steps[-1].audit_id = result.audit_id
    capacity = _dr_capacity(ops, plan)
    n = len(plan.changes)
    for i, change in enumerate(plan.changes, 1):
        if run.status != "applied":
            run.steps.append(TimedStep(_change_label(change), "change", "not_run"))
            continue
        if change.kind == "route53.record":
            remaining = max(1.0, rto * 60 - (clock() - t0))

            def wait() -> tuple[str, str]:
                ok, detail = wait_for_dr_capacity(ops, capacity, timeout_s=remaining, poll_s=poll_s, clock=clock,
                                                  sleep=sleep)
                return ("ok" if ok else "failed"), detail

            run.steps.append(_timed("wait for DR capacity (running = desired)", "wait", clock, t0, wait))
            if run.status != "applied":
                run.steps.append(TimedStep(_change_label(change), "change", "not_run"))
                continue
        sub = Plan(f"{plan.title}: step {i}/{n}", [change], ops, list(plan.notes) if i == 1 else [],
                   list(plan.prechecks))
        start = clock()
        result = apply(sub, dry_run=False, confirm=[change.target] if ops.profile.production else confirm, ops=ops,
                       run_id=run_id, raise_on_error=False)
        run.results.append(result)
        step_error = result.steps[0].error if result.steps else None
        run.steps.append(TimedStep(_change_label(change), "change", result.status, round(start - t0, 3),
                                   round(clock() - start, 3), result.reason or step_error or change.cli,
                                   result.audit_id))
    if run.status == "applied":
        run.steps.append(_timed("verify the DR side serves", "verify", clock, t0, serving))
    return run


def _checks_step(checks: list[Precondition], refuse: bool = False) -> tuple[str, str]:
    failed = [c for c in checks if not c.ok]
    detail = "; ".join(f"{'ok' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in checks)
    return ("refused" if refuse else "failed") if failed else "ok", detail


def _timed(name: str, kind: str, clock: Callable[[], float], t0: float,
           body: Callable[[], tuple[str, str]]) -> TimedStep:
    start = clock()
    status, detail = body()
    return TimedStep(name, kind, status, round(start - t0, 3), round(clock() - start, 3), detail)
