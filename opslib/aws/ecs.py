"""ECS reads: services with their deployments, tasks and task definitions. Clients are passed in."""
from __future__ import annotations

from typing import Any

import pandas as pd


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def describe_services(ecs: Any, cluster: str, names: list[str] | None = None) -> list[dict]:
    """Raw service descriptions of ``cluster`` (all of them when ``names`` is None)."""
    if names is None:
        names = [arn.rsplit("/", 1)[-1] for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
                 for arn in page["serviceArns"]]
    out: list[dict] = []
    for chunk in _chunks(names, 10):
        out.extend(ecs.describe_services(cluster=cluster, services=chunk)["services"])
    return out


def services(ecs: Any, cluster: str, names: list[str] | None = None) -> pd.DataFrame:
    """One row per service: desired/running/pending tasks, task definition, deployments, rollout."""
    rows = []
    for s in describe_services(ecs, cluster, names):
        primary = next((d for d in s.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        rows.append({
            "cluster": cluster, "service": s["serviceName"], "status": s.get("status"),
            "desired": s.get("desiredCount", 0), "running": s.get("runningCount", 0),
            "pending": s.get("pendingCount", 0),
            "task_definition": s.get("taskDefinition", "").rsplit("/", 1)[-1],
            "deployments": len(s.get("deployments", [])),
            "rollout_state": primary.get("rolloutState"),
            "last_event": (s.get("events") or [{}])[0].get("message"),
        })
    return pd.DataFrame(rows, columns=["cluster", "service", "status", "desired", "running", "pending",
                                       "task_definition", "deployments", "rollout_state", "last_event"])


def deployments(ecs: Any, cluster: str, service: str) -> pd.DataFrame:
    """The deployments of one service (what `watch aws ecs describe-services --query deployments` shows)."""
    s = describe_services(ecs, cluster, [service])
    rows = [{"id": d.get("id"), "status": d.get("status"), "task_definition": d.get("taskDefinition", "").rsplit("/", 1)[-1],
             "desired": d.get("desiredCount"), "running": d.get("runningCount"), "pending": d.get("pendingCount"),
             "rollout_state": d.get("rolloutState"), "created": d.get("createdAt"), "updated": d.get("updatedAt")}
            for d in (s[0].get("deployments", []) if s else [])]
    return pd.DataFrame(rows, columns=["id", "status", "task_definition", "desired", "running", "pending",
                                       "rollout_state", "created", "updated"])


def tasks(ecs: Any, cluster: str, service: str, desired_status: str = "RUNNING") -> pd.DataFrame:
    """Tasks of a service with their status and, for stopped ones, why they stopped."""
    arns = [a for page in ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, serviceName=service, desiredStatus=desired_status) for a in page["taskArns"]]
    rows = []
    for chunk in _chunks(arns, 100):
        for t in ecs.describe_tasks(cluster=cluster, tasks=chunk)["tasks"]:
            rows.append({"task": t["taskArn"].rsplit("/", 1)[-1], "last_status": t.get("lastStatus"),
                         "task_definition": t.get("taskDefinitionArn", "").rsplit("/", 1)[-1],
                         "started": t.get("startedAt"), "stopped_reason": t.get("stoppedReason")})
    return pd.DataFrame(rows, columns=["task", "last_status", "task_definition", "started", "stopped_reason"])


def task_definition_revisions(ecs: Any, family: str) -> list[str]:
    """Active revisions of a task-definition family, newest first (``family:N``)."""
    arns = [a for page in ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=family, status="ACTIVE", sort="DESC") for a in page["taskDefinitionArns"]]
    return [a.rsplit("/", 1)[-1] for a in arns if a.rsplit("/", 1)[-1].split(":")[0] == family]
