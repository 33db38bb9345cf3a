"""Lambda changes: point an alias at a version, or route a weighted share to a canary version."""
from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _alias_value(alias: dict) -> dict:
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return {"version": alias["FunctionVersion"], "weights": {str(k): float(v) for k, v in weights.items()}}


def _read_alias(ops: "Ops", change: Change) -> dict:
    alias = ops.client("lambda", change.region).get_alias(FunctionName=change.params["FunctionName"],
                                                          Name=change.params["Name"])
    return _alias_value(alias)


def _alias_change(ops: "Ops", function: str, alias: str, current: dict, new: dict, region: str,
                  undo: Change | None = None) -> Change:
    reg = ops.region(region)
    routing = {"AdditionalVersionWeights": new["weights"]}
    cli_routing = "AdditionalVersionWeights={" + ",".join(f"{k}={v:g}" for k, v in new["weights"].items()) + "}"
    return Change(kind="lambda.alias", resource=f"lambda {function}:{alias} ({reg})",
                  attribute="FunctionVersion/AdditionalVersionWeights", current=current, new=new, service="lambda",
                  operation="update_alias",
                  params={"FunctionName": function, "Name": alias, "FunctionVersion": new["version"],
                          "RoutingConfig": routing},
                  cli=aws("lambda", "update-alias", reg, function_name=function, name=alias,
                          function_version=new["version"], routing_config=cli_routing),
                  target=function, region=region, undo=undo)


def plan_alias(ops: "Ops", function: str, version: str | int, *, weights: dict | None = None,
               alias: str | None = None, region: str = "primary") -> Plan:
    """Point ``alias`` at ``version``; ``weights`` ({version: share}) routes shares to other versions."""
    alias = alias or _profile_alias(ops, function)
    lam = ops.client("lambda", region)
    try:
        current = _alias_value(lam.get_alias(FunctionName=function, Name=alias))
    except ClientError as exc:
        raise ParameterError("function", f"{function}:{alias}", f"an existing alias in {ops.region(region)}") from exc
    new = {"version": str(version), "weights": {str(k): float(v) for k, v in (weights or {}).items()}}
    for v in [new["version"], *new["weights"]]:
        try:
            lam.get_function(FunctionName=function, Qualifier=v)
        except ClientError as exc:
            raise ParameterError("version", v, f"a published version of {function}") from exc
    title = f"{function}:{alias} -> {new['version']}" + (f" with {new['weights']}" if new["weights"] else "")
    if current == new:
        return Plan(title, [], ops, [f"{function}:{alias} already routes {new}"])
    undo = _alias_change(ops, function, alias, new, current, region)
    return Plan(title, [_alias_change(ops, function, alias, current, new, region, undo)], ops)


def plan_canary(ops: "Ops", function: str, new_version: str | int, weight: float, *, alias: str | None = None,
                region: str = "primary") -> Plan:
    """Keep the alias on its current version and send ``weight`` of the traffic to ``new_version``.

    The runbook's ``--function-version 15 --routing-config AdditionalVersionWeights={14=0.9,15=0.1}`` is not
    accepted by Lambda (the primary version cannot be an additional version); this is the form that is."""
    alias = alias or _profile_alias(ops, function)
    current = _read_alias(ops, Change("lambda.alias", "", "", None, None, "lambda", "get_alias",
                                      {"FunctionName": function, "Name": alias}, "", function, region))
    plan = plan_alias(ops, function, current["version"], weights={str(new_version): weight}, alias=alias, region=region)
    plan.notes.append(f"canary: {1 - weight:.0%} of invocations stay on version {current['version']}, {weight:.0%} go "
                      f"to {new_version}; finish with plan_alias(ops, {function!r}, {new_version!r})")
    return plan


def _profile_alias(ops: "Ops", function: str) -> str:
    for s in ops.profile.services:
        if s.name == function and s.alias:
            return s.alias
    return "production"


kinds.register("lambda.alias", read=_read_alias)


# -- publishing a new version (a deploy from the artifacts bucket) --------------------------------------
def _published_versions(ops: "Ops", function: str, region: str = "primary") -> list[int]:
    """The published version numbers of ``function``, oldest first (``$LATEST`` left out)."""
    pages = ops.client("lambda", region).get_paginator("list_versions_by_function").paginate(FunctionName=function)
    return sorted(int(v["Version"]) for page in pages for v in page["Versions"] if v["Version"].isdigit())


def _read_latest_version(ops: "Ops", change: Change) -> str | None:
    versions = _published_versions(ops, change.params["FunctionName"], change.region)
    return str(versions[-1]) if versions else None


def _execute_version(ops: "Ops", change: Change) -> None:
    """Publishing is two calls (update-function-code, publish-version); removing a version is one."""
    if change.operation != "publish_version":
        kinds.call_boto3(ops, change)
        return
    lam, p = ops.client("lambda", change.region), change.params
    lam.update_function_code(FunctionName=p["FunctionName"], S3Bucket=p["S3Bucket"], S3Key=p["S3Key"])
    lam.get_waiter("function_updated_v2").wait(FunctionName=p["FunctionName"],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lam.publish_version(FunctionName=p["FunctionName"], Description=p["Description"])


def _version_change(ops: "Ops", function: str, current: str, new: str, params: dict, region: str,
                    undo: Change | None = None) -> Change:
    reg = ops.region(region)
    if "S3Key" in params:
        op = "publish_version"
        cli = (aws("lambda", "update-function-code", reg, function_name=function, s3_bucket=params["S3Bucket"],
                   s3_key=params["S3Key"]) + " && " + aws("lambda", "publish-version", reg, function_name=function))
    else:
        op = "delete_function"
        cli = aws("lambda", "delete-function", reg, function_name=function, qualifier=params["Qualifier"])
    return Change(kind="lambda.version", resource=f"lambda {function} ({reg})", attribute="latest published version",
                  current=current, new=new, service="lambda", operation=op, params=params, cli=cli, target=function,
                  region=region, undo=undo)


def plan_publish_canary(ops: "Ops", function: str, artifact_key: str, weight: float, *, alias: str | None = None,
                        region: str = "primary") -> Plan:
    """Publish ``artifact_key`` from the profile's artifacts bucket as the next version, then a canary: the alias
    stays on its version and sends ``weight`` of the invocations to the new one (undo: the alias as it was, then
    delete the new version)."""
    alias = alias or _profile_alias(ops, function)
    try:
        current = _alias_value(ops.client("lambda", region).get_alias(FunctionName=function, Name=alias))
    except ClientError as exc:
        raise ParameterError("function", f"{function}:{alias}", f"an existing alias in {ops.region(region)}") from exc
    latest = str(_published_versions(ops, function, region)[-1])
    new = str(int(latest) + 1)
    bucket = ops.profile.s3.lambda_artifacts_bucket
    params = {"FunctionName": function, "S3Bucket": bucket, "S3Key": artifact_key,
              "Description": artifact_key.rsplit("/", 1)[-1]}
    undo = _version_change(ops, function, new, latest, {"FunctionName": function, "Qualifier": new}, region)
    publish = _version_change(ops, function, latest, new, params, region, undo)
    canary_value = {"version": current["version"], "weights": {new: float(weight)}}
    canary = _alias_change(ops, function, alias, current, canary_value, region,
                           _alias_change(ops, function, alias, canary_value, current, region))
    notes = [f"canary: {1 - weight:.0%} of invocations stay on version {current['version']}, {weight:.0%} go to {new}",
             "the runbook's `--function-version 15 --routing-config AdditionalVersionWeights={14=0.9,15=0.1}` is "
             "refused by Lambda (the alias's own version cannot be an additional version): the alias stays on the "
             "old version and routes the canary share to the new one"]
    return Plan(f"deploy s3://{bucket}/{artifact_key} to {function} as version {new}, canary {weight:.0%}",
                [publish, canary], ops, notes)


kinds.register("lambda.version", read=_read_latest_version, execute=_execute_version)
