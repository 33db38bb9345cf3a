"""Critical Services: the runbook's service inventory table with live state per service."""
from __future__ import annotations

from typing import Any

import pandas as pd


from .. import health_checks
from ..aws import ecs as ecs_reads
from ..aws.access import blind_reason, describe
from ..findings import Check

COLUMNS = ["service", "type", "criticality", "dependencies", "status", "desired", "running", "pending",
           "deployments", "version", "health", "health_ms", "detail"]


def _ecs_row(ops: Any, svc: Any, timeout: float) -> dict:
    frame = ecs_reads.services(ops.client("ecs"), ops.profile.ecs.cluster, [svc.name])
    if frame.empty:
        return {"status": "down", "detail": f"service {svc.name} not found in {ops.profile.ecs.cluster}"}
    s = frame.iloc[0]
    row = {"desired": int(s.desired), "running": int(s.running), "pending": int(s.pending),
           "deployments": int(s.deployments), "version": s.task_definition}
    health = health_checks.check(ops.health_url(svc.health_url), timeout) if svc.health_url else None
    if health:
        row.update(health=health.status if health.status else health.error, health_ms=round(health.latency_ms, 1))
    problems = []
    if s.running == 0:
        problems.append("no running tasks")
    elif s.running < s.desired:
        problems.append(f"{s.running}/{s.desired} tasks running")
    if s.deployments > 1:
        problems.append(f"deployment in progress ({s.rollout_state})")
    unseen = health is not None and not health.ok and not health.seen
    if health and not health.ok:
        problems.append(f"/health {'not reachable from here' if unseen else 'failed'}: {health.error or health.status}")
    down = s.running == 0 or (health is not None and not health.ok and health.seen)
    row["status"] = "down" if down else ("unknown" if unseen else ("degraded" if problems else "up"))
    row["detail"] = "; ".join(problems) or f"{s.running}/{s.desired} running, /health OK"
    return row


def _lambda_row(ops: Any, svc: Any) -> dict:
    lam = ops.client("lambda")
    fn = lam.get_function(FunctionName=svc.name)["Configuration"]
    alias = lam.get_alias(FunctionName=svc.name, Name=svc.alias or "production")
    weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
    version = f"{alias['Name']}->{alias['FunctionVersion']}" + (
        "".join(f" +{v}@{w:.0%}" for v, w in weights.items()) if weights else "")
    state = fn.get("State", "Active")
    status = "up" if state == "Active" and fn.get("LastUpdateStatus", "Successful") != "Failed" else "down"
    return {"status": status, "version": version, "detail": f"state {state}, runtime {fn.get('Runtime')}"}


def _emr_row(ops: Any, svc: Any) -> dict:
    pages = ops.client("emr").get_paginator("list_clusters").paginate(
        ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])
    mine = [c for page in pages for c in page["Clusters"] if c["Name"] == svc.name]
    if not mine:
        return {"status": "down", "detail": f"no active EMR cluster named {svc.name}"}
    return {"status": "up", "version": mine[0]["Id"], "detail": f"cluster {mine[0]['Status']['State']}"}


def service_table(ops: Any, *, timeout: float = 3.0) -> pd.DataFrame:
    """One row per service of the profile with its live state and an overall status (up/degraded/down)."""
    rows = []
    for svc in ops.profile.services:
        base = {"service": svc.name, "type": svc.type, "criticality": svc.criticality,
                "dependencies": ", ".join(svc.dependencies)}
        try:
            live = {"ecs": lambda: _ecs_row(ops, svc, timeout), "lambda": lambda: _lambda_row(ops, svc),
                    "emr": lambda: _emr_row(ops, svc)}[svc.type]()
        except Exception as exc:  # noqa: BLE001 - every failure is reported on the service's row, with why
            # credentials/access/connectivity: we could not see, which says nothing about the service
            live = {"status": "unknown" if blind_reason(exc) else "down", "detail": describe(exc)}
        rows.append({**base, **live})
    return pd.DataFrame(rows, columns=COLUMNS)


def service_checks(table: pd.DataFrame) -> list[Check]:
    """A critical service down fails; a service that could not be read is unknown (never a failure: we
    did not see it); any other service not up warns."""
    checks = []
    for _, r in table.iterrows():
        name = f"service-{r.service}"
        figures = {"criticality": r.criticality, "status": r.status,
                   "running": None if pd.isna(r.running) else int(r.running),
                   "desired": None if pd.isna(r.desired) else int(r.desired)}
        if r.status == "unknown":
            checks.append(Check.unknown(name, f"{r.criticality} service not seen: {r.detail}", **figures))
        elif r.status == "down" and r.criticality == "critical":
            checks.append(Check.fail(name, f"critical service down: {r.detail}", **figures))
        elif r.status != "up":
            checks.append(Check.warn(name, f"{r.criticality} service {r.status}: {r.detail}", **figures))
        else:
            checks.append(Check.ok(name, r.detail, **figures))
    return checks
