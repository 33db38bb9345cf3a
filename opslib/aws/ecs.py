"""ECS reads: services with their deployments, tasks, task definitions and their revisions. Clients are
passed in; list calls go through boto3's paginators, ``describe_*`` calls in the API's chunks (10 services,
100 tasks a call)."""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from .arn import short_name, task_definition as short_task_definition

SERVICES_PER_CALL = 10
TASKS_PER_CALL = 100


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def service_names(ecs: Any, cluster: str) -> list[str]:
    """Every service of ``cluster`` (``list_services``, paginated)."""
    return [short_name(arn) for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
            for arn in page["serviceArns"]]


def describe_services(ecs: Any, cluster: str, names: Iterable[str] | None = None) -> list[dict]:
    """Raw service descriptions of ``cluster`` (all of them when ``names`` is None), 10 per call."""
    names = service_names(ecs, cluster) if names is None else list(names)
    out: list[dict] = []
    for chunk in _chunks(names, SERVICES_PER_CALL):
        out.extend(ecs.describe_services(cluster=cluster, services=chunk)["services"])
    return out


def describe_service(ecs: Any, cluster: str, service: str) -> dict | None:
    """The ACTIVE service ``service`` of ``cluster`` (None when there is none: missing, draining, inactive)."""
    return next((s for s in describe_services(ecs, cluster, [service]) if s.get("status") == "ACTIVE"), None)


def services(ecs: Any, cluster: str, names: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per service: desired/running/pending tasks, task definition, deployments, rollout."""
    rows = []
    for s in describe_services(ecs, cluster, names):
        primary = next((d for d in s.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        rows.append({
            "cluster": cluster, "service": s["serviceName"], "status": s.get("status"),
            "desired": s.get("desiredCount", 0), "running": s.get("runningCount", 0),
            "pending": s.get("pendingCount", 0),
            "task_definition": short_task_definition(s.get("taskDefinition")),
            "deployments": len(s.get("deployments", [])),
            "rollout_state": primary.get("rolloutState"),
            "last_event": (s.get("events") or [{}])[0].get("message"),
        })
    return pd.DataFrame(rows, columns=["cluster", "service", "status", "desired", "running", "pending",
                                       "task_definition", "deployments", "rollout_state", "last_event"])


def deployments(ecs: Any, cluster: str, service: str) -> pd.DataFrame:
    """The deployments of one service (what `watch aws ecs describe-services --query deployments` shows)."""
    s = describe_services(ecs, cluster, [service])
    rows = [{"id": d.get("id"), "status": d.get("status"), "task_definition": short_task_definition(d.get("taskDefinition")),
             "desired": d.get("desiredCount"), "running": d.get("runningCount"), "pending": d.get("pendingCount"),
             "rollout_state": d.get("rolloutState"), "created": d.get("createdAt"), "updated": d.get("updatedAt")}
            for d in (s[0].get("deployments", []) if s else [])]
    return pd.DataFrame(rows, columns=["id", "status", "task_definition", "desired", "running", "pending",
                                       "rollout_state", "created", "updated"])


def describe_tasks(ecs: Any, cluster: str, service: str, desired_status: str = "RUNNING") -> list[dict]:
    """Raw task descriptions of a service (``list_tasks`` paginated, ``describe_tasks`` 100 per call)."""
    arns = [a for page in ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, serviceName=service, desiredStatus=desired_status) for a in page["taskArns"]]
    out: list[dict] = []
    for chunk in _chunks(arns, TASKS_PER_CALL):
        out.extend(ecs.describe_tasks(cluster=cluster, tasks=chunk)["tasks"])
    return out


def tasks(ecs: Any, cluster: str, service: str, desired_status: str = "RUNNING") -> pd.DataFrame:
    """Tasks of a service with their status and, for stopped ones, why they stopped."""
    rows = [{"task": short_name(t["taskArn"]), "last_status": t.get("lastStatus"),
             "task_definition": short_task_definition(t.get("taskDefinitionArn")),
             "started": t.get("startedAt"), "stopped_reason": t.get("stoppedReason")}
            for t in describe_tasks(ecs, cluster, service, desired_status)]
    return pd.DataFrame(rows, columns=["task", "last_status", "task_definition", "started", "stopped_reason"])


def task_definition_revisions(ecs: Any, family: str, status: str = "ACTIVE") -> list[int]:
    """The revisions of exactly ``family`` with ``status`` (``ACTIVE`` or ``INACTIVE``), newest first
    (``familyPrefix`` also matches longer family names: they are left out)."""
    pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status, sort="DESC")
    revs = [int(rev) for page in pages for fam, rev in
            (short_task_definition(a).rsplit(":", 1) for a in page["taskDefinitionArns"]) if fam == family]
    return sorted(revs, reverse=True)


def task_definition_families(ecs: Any, status: str = "ACTIVE") -> list[str]:
    """Every task definition family with ``status`` (``list_task_definition_families``, paginated)."""
    return [f for page in ecs.get_paginator("list_task_definition_families").paginate(status=status)
            for f in page["families"]]


def describe_task_definition(ecs: Any, task_definition: str) -> dict:
    """The task definition (``family:revision``, ``family`` for its latest ACTIVE revision, or an ARN)."""
    return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def environment(task_definition: dict) -> dict[str, str]:
    """The environment variables of every container of a task definition (later containers win)."""
    env: dict[str, str] = {}
    for container in task_definition["containerDefinitions"]:
        env.update({e["name"]: e["value"] for e in container.get("environment", [])})
    return env


def service_environments(ecs: Any, cluster: str, services: Iterable[str]) -> dict[str, dict]:
    """Per ECS service: running/desired count and the environment of its current task definition."""
    out: dict[str, dict] = {}
    for svc in describe_services(ecs, cluster, services):
        td = describe_task_definition(ecs, svc["taskDefinition"])
        out[svc["serviceName"]] = {"running": svc.get("runningCount", 0), "desired": svc.get("desiredCount", 0),
                                   "task_definition": short_task_definition(td["taskDefinitionArn"]),
                                   "env": environment(td)}
    return out
