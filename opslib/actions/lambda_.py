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
