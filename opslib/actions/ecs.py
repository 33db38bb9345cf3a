"""ECS changes: desired count, the service's task definition (deploy, rollback, debug), and the
target-tracking scaling policy (Application Auto Scaling)."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..aws import arn
from ..aws import ecs as ecs_reads
from ..errors import ActionError, ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops

DIMENSION = "ecs:service:DesiredCount"


def _cluster(ops: "Ops", cluster: str | None, region: str) -> str:
    return cluster or (ops.profile.ecs.dr_cluster if region == "dr" else ops.profile.ecs.cluster)


def describe_service(ops: "Ops", cluster: str, service: str, region: str = "primary") -> dict:
    """The ACTIVE service (:func:`opslib.aws.ecs.describe_service`); none is a ParameterError naming it."""
    found = ecs_reads.describe_service(ops.client("ecs", region), cluster, service)
    if found is None:
        raise ParameterError("service", service, f"an ACTIVE service of cluster {cluster} in {ops.region(region)}")
    return found


#: ``arn:aws:ecs:...:task-definition/<family>:24`` -> ``<family>:24`` (:func:`opslib.aws.arn.task_definition`)
short_task_definition = arn.task_definition


# -- desired count ---------------------------------------------------------------------------------
def _read_desired(ops: "Ops", change: Change) -> int:
    return describe_service(ops, change.params["cluster"], change.params["service"], change.region)["desiredCount"]


def _desired_change(ops: "Ops", cluster: str, service: str, current: int, count: int, region: str,
                    undo: Change | None = None) -> Change:
    reg = ops.region(region)
    return Change(
        kind="ecs.desired_count", resource=f"ecs service {cluster}/{service} ({reg})", attribute="desiredCount",
        current=current, new=count, service="ecs", operation="update_service",
        params={"cluster": cluster, "service": service, "desiredCount": count}, region=region, target=service,
        cli=aws("ecs", "update-service", reg, cluster=cluster, service=service, desired_count=count), undo=undo)


def plan_desired_count(ops: "Ops", service: str, count: int, *, cluster: str | None = None,
                       region: str = "primary") -> Plan:
    """Scale an ECS service to ``count`` tasks (undo: the previous count)."""
    cluster = _cluster(ops, cluster, region)
    current = describe_service(ops, cluster, service, region)["desiredCount"]
    if current == count:
        return Plan(f"scale {service} to {count}", [], ops, [f"{service} already has desired count {count}"])
    undo = _desired_change(ops, cluster, service, count, current, region)
    return Plan(f"scale {service} to {count}",
                [_desired_change(ops, cluster, service, current, count, region, undo)], ops)


# -- task definition -------------------------------------------------------------------------------
def _read_taskdef(ops: "Ops", change: Change) -> str:
    svc = describe_service(ops, change.params["cluster"], change.params["service"], change.region)
    return short_task_definition(svc["taskDefinition"])


def _taskdef_change(ops: "Ops", cluster: str, service: str, current: str, new: str, region: str,
                    undo: Change | None = None) -> Change:
    reg = ops.region(region)
    return Change(
        kind="ecs.task_definition", resource=f"ecs service {cluster}/{service} ({reg})", attribute="taskDefinition",
        current=current, new=new, service="ecs", operation="update_service",
        params={"cluster": cluster, "service": service, "taskDefinition": new}, region=region, target=service,
        cli=aws("ecs", "update-service", reg, cluster=cluster, service=service, task_definition=new), undo=undo)


def _resolve_task_definition(ops: "Ops", task_definition: str, region: str = "primary") -> str:
    """``family:revision`` of an existing task definition (``family`` alone means its latest ACTIVE)."""
    try:
        td = ecs_reads.describe_task_definition(ops.client("ecs", region), task_definition)
    except ClientError as exc:
        raise ParameterError("task_definition", task_definition,
                             f"a registered task definition (family:revision) in {ops.region(region)}") from exc
    return f"{td['family']}:{td['revision']}"


def _active_revisions(ops: "Ops", family: str, region: str = "primary") -> list[int]:
    """The ACTIVE revisions of exactly ``family``, newest first."""
    return _family_revisions(ops, family, "ACTIVE", region)


def plan_task_definition(ops: "Ops", service: str, task_definition: str, *, cluster: str | None = None,
                         region: str = "primary", title: str | None = None) -> Plan:
    """Point the service at ``task_definition`` (a blue-green deploy; undo: the previous one)."""
    cluster = _cluster(ops, cluster, region)
    current = short_task_definition(describe_service(ops, cluster, service, region)["taskDefinition"])
    new = _resolve_task_definition(ops, task_definition, region)
    title = title or f"deploy {new} to {service}"
    if new == current:
        return Plan(title, [], ops, [f"{service} already runs {new}"])
    undo = _taskdef_change(ops, cluster, service, new, current, region)
    return Plan(title, [_taskdef_change(ops, cluster, service, current, new, region, undo)], ops)


def plan_rollback(ops: "Ops", service: str, *, to: str | None = None, cluster: str | None = None,
                  region: str = "primary") -> Plan:
    """Roll back to ``to``, or to the newest ACTIVE revision older than the running one."""
    cluster = _cluster(ops, cluster, region)
    if to is None:
        current = short_task_definition(describe_service(ops, cluster, service, region)["taskDefinition"])
        family, rev = arn.family_revision(current)
        older = [r for r in _active_revisions(ops, family, region) if r < rev]
        if not older:
            raise ActionError(f"{service} runs {current} and no older ACTIVE revision of {family} exists")
        to = f"{family}:{older[0]}"
    return plan_task_definition(ops, service, to, cluster=cluster, region=region, title=f"roll back {service} to {to}")


def plan_debug(ops: "Ops", service: str, *, cluster: str | None = None, region: str = "primary") -> Plan:
    """Switch to the latest ``<family>-debug`` task definition (the runbook's ``<service>:debug`` is not
    a valid revision: revisions are numbers)."""
    cluster = _cluster(ops, cluster, region)
    family, _ = arn.family_revision(describe_service(ops, cluster, service, region)["taskDefinition"])
    plan = plan_task_definition(ops, service, f"{family}-debug", cluster=cluster, region=region,
                                title=f"debug logging for {service}")
    plan.notes.append(f"the runbook's `--task-definition {family}:debug` is not valid (a revision is a number); "
                      f"this uses the latest revision of the {family}-debug family")
    return plan


# -- target-tracking scaling -----------------------------------------------------------------------
def _resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster}/{service}"


def _read_target(ops: "Ops", change: Change) -> dict | None:
    resp = ops.client("application-autoscaling", change.region).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[change.params["ResourceId"]], ScalableDimension=DIMENSION)
    t = resp["ScalableTargets"]
    return {"MinCapacity": t[0]["MinCapacity"], "MaxCapacity": t[0]["MaxCapacity"]} if t else None


def _read_policy(ops: "Ops", change: Change) -> dict | None:
    resp = ops.client("application-autoscaling", change.region).describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=change.params["ResourceId"], ScalableDimension=DIMENSION,
        PolicyNames=[change.params["PolicyName"]])
    if not resp["ScalingPolicies"]:
        return None
    return _policy_value(resp["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"])


def _policy_value(cfg: dict) -> dict:
    return {"TargetValue": float(cfg["TargetValue"]),
            "Metric": cfg.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType"),
            "ScaleInCooldown": cfg.get("ScaleInCooldown"), "ScaleOutCooldown": cfg.get("ScaleOutCooldown")}


def _policy_config(value: dict) -> dict:
    return {"TargetValue": value["TargetValue"],
            "PredefinedMetricSpecification": {"PredefinedMetricType": value["Metric"]},
            "ScaleInCooldown": value["ScaleInCooldown"], "ScaleOutCooldown": value["ScaleOutCooldown"]}


def _target_change(ops: "Ops", rid: str, service: str, current: Any, new: Any, region: str,
                   undo: Change | None = None) -> Change:
    reg = ops.region(region)
    base = {"ServiceNamespace": "ecs", "ResourceId": rid, "ScalableDimension": DIMENSION}
    if new is None:
        op, params = "deregister_scalable_target", base
        cli = aws("application-autoscaling", "deregister-scalable-target", reg, service_namespace="ecs",
                  resource_id=rid, scalable_dimension=DIMENSION)
    else:
        op, params = "register_scalable_target", {**base, **new}
        cli = aws("application-autoscaling", "register-scalable-target", reg, service_namespace="ecs",
                  resource_id=rid, scalable_dimension=DIMENSION, min_capacity=new["MinCapacity"],
                  max_capacity=new["MaxCapacity"])
    return Change(kind="appautoscaling.scalable_target", resource=f"scalable target {rid} ({reg})",
                  attribute="MinCapacity/MaxCapacity", current=current, new=new, service="application-autoscaling",
                  operation=op, params=params, cli=cli, target=service, region=region, undo=undo)


def _policy_change(ops: "Ops", rid: str, service: str, name: str, current: Any, new: Any, region: str,
                   undo: Change | None = None) -> Change:
    reg = ops.region(region)
    base = {"PolicyName": name, "ServiceNamespace": "ecs", "ResourceId": rid, "ScalableDimension": DIMENSION}
    if new is None:
        op, params = "delete_scaling_policy", base
        cli = aws("application-autoscaling", "delete-scaling-policy", reg, policy_name=name, service_namespace="ecs",
                  resource_id=rid, scalable_dimension=DIMENSION)
    else:
        op = "put_scaling_policy"
        params = {**base, "PolicyType": "TargetTrackingScaling",
                  "TargetTrackingScalingPolicyConfiguration": _policy_config(new)}
        cli = aws("application-autoscaling", "put-scaling-policy", reg, service_namespace="ecs",
                  scalable_dimension=DIMENSION, resource_id=rid, policy_name=name, policy_type="TargetTrackingScaling",
                  target_tracking_scaling_policy_configuration=_policy_config(new))
    return Change(kind="appautoscaling.policy", resource=f"scaling policy {name} of {rid} ({reg})",
                  attribute="TargetTrackingScalingPolicyConfiguration", current=current, new=new,
                  service="application-autoscaling", operation=op, params=params, cli=cli, target=service,
                  region=region, undo=undo)


def plan_scaling_policy(ops: "Ops", service: str, *, target_cpu: float = 70.0, min_capacity: int, max_capacity: int,
                        policy_name: str = "cpu-scaling", scale_in_cooldown: int = 300, scale_out_cooldown: int = 60,
                        metric: str = "ECSServiceAverageCPUUtilization", cluster: str | None = None,
                        region: str = "primary") -> Plan:
    """Register the service as a scalable target and put a target-tracking policy on it (undo: the previous
    target and policy, or their removal). The runbook's ``file://scaling-policy.json`` is spelled out."""
    cluster = _cluster(ops, cluster, region)
    describe_service(ops, cluster, service, region)
    rid = _resource_id(cluster, service)
    new_t = {"MinCapacity": min_capacity, "MaxCapacity": max_capacity}
    new_p = {"TargetValue": float(target_cpu), "Metric": metric, "ScaleInCooldown": scale_in_cooldown,
             "ScaleOutCooldown": scale_out_cooldown}
    cur_t = _read_target(ops, _target_change(ops, rid, service, None, new_t, region))
    cur_p = _read_policy(ops, _policy_change(ops, rid, service, policy_name, None, new_p, region))
    changes = []
    if cur_t != new_t:
        changes.append(_target_change(ops, rid, service, cur_t, new_t, region,
                                      _target_change(ops, rid, service, new_t, cur_t, region)))
    if cur_p != new_p:
        changes.append(_policy_change(ops, rid, service, policy_name, cur_p, new_p, region,
                                      _policy_change(ops, rid, service, policy_name, new_p, cur_p, region)))
    return Plan(f"target-tracking scaling for {service}: {metric} {target_cpu:g}, {min_capacity}-{max_capacity} tasks",
                changes, ops)


kinds.register("ecs.desired_count", read=_read_desired)
kinds.register("ecs.task_definition", read=_read_taskdef)
kinds.register("appautoscaling.scalable_target", read=_read_target)
kinds.register("appautoscaling.policy", read=_read_policy)


# -- a new task definition revision (blue-green deploy of a new image) ----------------------------------
REGISTER_KEYS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                 "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                 "proxyConfiguration", "runtimePlatform", "ephemeralStorage")


def _family_revisions(ops: "Ops", family: str, status: str, region: str = "primary") -> list[int]:
    """The revisions of exactly ``family`` with ``status`` (``ACTIVE`` or ``INACTIVE``), newest first."""
    return ecs_reads.task_definition_revisions(ops.client("ecs", region), family, status)


def _container_summary(definitions: list[dict]) -> dict:
    """What a plan or an audit record may hold of container definitions: each container's name and image, the
    *names* of its environment variables and secrets, and a digest of the whole (values included), never the
    values themselves."""
    digest = hashlib.sha256(json.dumps(definitions, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"containers": [{"name": c.get("name"), "image": c.get("image"),
                            "environment": sorted(e["name"] for e in c.get("environment") or []),
                            "secrets": sorted(x["name"] for x in c.get("secrets") or [])} for c in definitions],
            "sha256": digest}


def _read_latest_revision(ops: "Ops", change: Change) -> str | None:
    family = change.meta["family"]
    revs = _family_revisions(ops, family, "ACTIVE", change.region)
    return f"{family}:{revs[0]}" if revs else None


def _revision_change(ops: "Ops", family: str, current: str | None, new: str, params: dict, region: str,
                     undo: Change | None = None, note: str = "") -> Change:
    """Register ``params`` as revision ``new`` (its container definitions are redacted from the plan, the
    command and the audit record: they carry environment values), or deregister ``params['taskDefinition']``."""
    reg = ops.region(region)
    meta = {"family": family}
    if "containerDefinitions" in params:
        op, secret = "register_task_definition", ("containerDefinitions",)
        cli = aws("ecs", "register-task-definition", reg, cli_input_json="file://task-def.json")
        meta["containers"] = _container_summary(params["containerDefinitions"])
    else:
        op, secret = "deregister_task_definition", ()
        cli = aws("ecs", "deregister-task-definition", reg, task_definition=params["taskDefinition"])
    return Change(kind="ecs.task_definition_revision", resource=f"task definition family {family} ({reg})",
                  attribute="latest ACTIVE revision", current=current, new=new, service="ecs", operation=op,
                  params=params, cli=cli, target=family, region=region, undo=undo, note=note, meta=meta,
                  secret_params=secret)


def plan_image(ops: "Ops", service: str, image: str, *, cluster: str | None = None, region: str = "primary",
               title: str | None = None) -> Plan:
    """Register a revision of the service's running task definition with ``image`` in its first container, then
    point the service at it (a blue-green deploy; undo: the previous revision, then deregister the new one).
    Environment values and secrets are copied to the new revision but never shown nor recorded."""
    cluster = _cluster(ops, cluster, region)
    running = short_task_definition(describe_service(ops, cluster, service, region)["taskDefinition"])
    td = ecs_reads.describe_task_definition(ops.client("ecs", region), running)
    family = td["family"]
    params = {k: td[k] for k in REGISTER_KEYS if td.get(k) not in (None, [], {})}
    params["containerDefinitions"] = [dict(c) for c in td["containerDefinitions"]]
    params["containerDefinitions"][0]["image"] = image
    active = _family_revisions(ops, family, "ACTIVE", region)
    latest = f"{family}:{active[0]}"
    new = f"{family}:{max(active + _family_revisions(ops, family, 'INACTIVE', region)) + 1}"
    names = sorted({n for c in _container_summary(params["containerDefinitions"])["containers"]
                    for n in c["environment"] + c["secrets"]})
    note = (f"task-def.json: {running} with image {image}; environment values and secrets are copied but not shown"
            + (f" ({', '.join(names)})" if names else ""))
    undo = _revision_change(ops, family, new, latest, {"taskDefinition": new}, region)
    register = _revision_change(ops, family, latest, new, params, region, undo, note)
    point = _taskdef_change(ops, cluster, service, running, new, region,
                            _taskdef_change(ops, cluster, service, new, running, region))
    return Plan(title or f"blue-green deploy of {new} ({image}) to {service}", [register, point], ops,
                [f"previous revision (the rollback): {running}"])


kinds.register("ecs.task_definition_revision", read=_read_latest_revision)
