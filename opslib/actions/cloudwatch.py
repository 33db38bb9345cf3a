"""CloudWatch changes: create or update the alarms so they match the profile's alert rules."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..aws.alarms import alarm_definition
from . import kinds
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops

# describe_alarms fields that put_metric_alarm sets, compared to decide whether an alarm matches
FIELDS = ("AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic", "Period",
          "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
          "ActionsEnabled", "AlarmActions", "Metrics")


def _definition(alarm: dict | None) -> dict | None:
    """The comparable part of an alarm (from describe_alarms or from put_metric_alarm arguments)."""
    if alarm is None:
        return None
    out = {k: alarm[k] for k in FIELDS if alarm.get(k) not in (None, [], "")}
    if "Metrics" in out:   # AWS echoes ReturnData and Label; compare what we set
        out["Metrics"] = [{k: v for k, v in m.items() if k in ("Id", "Expression", "MetricStat", "ReturnData")}
                          for m in out["Metrics"]]
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def _read(ops: "Ops", change: Change) -> dict | None:
    found = ops.client("cloudwatch", change.region).describe_alarms(AlarmNames=[change.params["AlarmName"]])
    return _definition(found["MetricAlarms"][0]) if found["MetricAlarms"] else None


def _execute(ops: "Ops", change: Change) -> Any:
    cw = ops.client("cloudwatch", change.region)
    if change.new is None:
        return cw.delete_alarms(AlarmNames=[change.params["AlarmName"]])
    return cw.put_metric_alarm(**change.params)


kinds.register("cloudwatch.alarm", read=_read, execute=_execute)


def _cli(params: dict, region: str) -> str:
    return (f"aws cloudwatch put-metric-alarm --region {region} --cli-input-json "
            f"'{json.dumps(params, sort_keys=True)}'")


def _change(name: str, current: dict | None, new: dict | None, params: dict, region: str, reg: str,
            undo: Change | None = None) -> Change:
    cli = (_cli(params, reg) if new is not None
           else f"aws cloudwatch delete-alarms --region {reg} --alarm-names {name}")
    return Change(kind="cloudwatch.alarm", resource=f"cloudwatch alarm {name} ({reg})", attribute="definition",
                  current=current, new=new, service="cloudwatch",
                  operation="put_metric_alarm" if new is not None else "delete_alarms", params=params, cli=cli,
                  target=name, region=region, undo=undo)


def plan_alarm_sync(ops: "Ops", *, region: str = "primary") -> Plan:
    """Create or update one alarm per alert rule so CloudWatch pages and warns as the runbook says."""
    reg = ops.region(region)
    account = ops.caller_identity().get("account") or ops.profile.aws.account_id or "000000000000"
    changes, notes = [], []
    cw = ops.client("cloudwatch", region)
    for rule in ops.profile.alerts:
        params = alarm_definition(ops.profile, rule, region=reg, account=account)
        if params is None:
            notes.append(f"{rule.name} ({rule.condition}) is relative to a trailing average: no static alarm "
                         f"expresses it; the Monitoring & Alerts runbook evaluates it")
            continue
        name = params["AlarmName"]
        found = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        current = _definition(found[0]) if found else None
        new = _definition(params)
        if current == new:
            continue
        if found:
            previous = {k: v for k, v in found[0].items() if k in FIELDS and v not in (None, [], "")}
            undo = _change(name, new, current, {"AlarmName": name, **previous}, region, reg)
        else:
            undo = _change(name, new, None, {"AlarmName": name}, region, reg)
        changes.append(_change(name, current, new, params, region, reg, undo))
    if not changes:
        notes.append("every alarm already matches its rule")
    return Plan("sync CloudWatch alarms with the alert rules", changes, ops, notes)
