"""The profile's alert rules against CloudWatch: the series a rule compares (read from CloudWatch), its
evaluation, the alarm that stands for it (name, description, ``put_metric_alarm`` arguments) and the runbook
an alarm of it starts. Infrastructure: the Monitoring and Incident Response runbooks evaluate rules with it,
the alarm-sync action and the sandbox build alarms with it, ``runbook serve`` routes alarms with it."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from .cloudwatch import metric_frame
from .partitions import arn

COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class RuleResult:
    rule: str
    level: str                 # page | warn
    channel: str
    condition: str
    state: str                 # firing | fired | ok | no-data
    value: float | None        # the latest evaluated value
    threshold: float
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def detail(self) -> str:
        if self.state == "no-data":
            return f"{self.condition}: no data for the rule's metric in the evaluated window"
        value = "n/a" if self.value is None else f"{self.value:,.4g}"
        spans = "; ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.windows[-3:])
        if self.state == "firing":
            return f"{self.condition}: now {value} (threshold {self.threshold:g}); breaching {spans}"
        if self.state == "fired":
            return f"{self.condition}: fired {spans}, not now (now {value})"
        return f"{self.condition}: now {value} (threshold {self.threshold:g})"


def rule_series(cw: Any, profile: Any, rule: Any, start: datetime, end: datetime) -> pd.Series:
    """The value the rule compares per period: the metric's statistic, a ratio ``a/b`` of two sums, or
    (``relative_to_average_days``) the value over its trailing average."""
    period = rule.period_minutes * 60
    parts = rule.metric.split("/")
    lead = rule.relative_to_average_days or 0
    frame = metric_frame(cw, {p: profile.metrics[p] for p in parts}, start - timedelta(minutes=lead * rule.period_minutes),
                         end, period, stats={p: rule.statistic for p in parts})
    if len(parts) == 2:
        den = frame[parts[1]].where(frame[parts[1]] > 0)
        values = frame[parts[0]].fillna(0).where(den.notna()) / den
    else:
        values = frame[parts[0]]
    if lead:
        baseline = values.shift(1).rolling(lead, min_periods=max(1, lead // 2)).mean()
        values = values / baseline
    return values[values.index >= pd.Timestamp(start)]


def evaluate(rule: Any, values: pd.Series) -> RuleResult:
    """Fire where ``datapoints_to_alarm`` (default: all) of the last ``window/period`` periods breach."""
    n = max(1, rule.window_minutes // rule.period_minutes)
    required = rule.datapoints_to_alarm or n
    breach = COMPARE[rule.comparison](values, rule.threshold) & values.notna()
    firing = breach.astype(int).rolling(n, min_periods=n).sum() >= required
    recent = values.iloc[-n:]
    latest = values.dropna()
    latest_value = float(latest.iloc[-1]) if len(latest) else None
    windows = _runs(firing, pd.Timedelta(minutes=rule.period_minutes))
    if values.notna().sum() == 0 or recent.notna().sum() == 0:
        state = "no-data"
    elif bool(firing.iloc[-1]):
        state = "firing"
    elif windows:
        state = "fired"
    else:
        state = "ok"
    return RuleResult(rule.name, rule.level, rule.channel, rule.condition, state, latest_value, rule.threshold, windows)


def _runs(flags: pd.Series, step: pd.Timedelta) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    start = prev = None
    for ts, on in flags.items():
        if on and start is None:
            start = ts
        if not on and start is not None:
            out.append((start.to_pydatetime(), (prev + step).to_pydatetime()))
            start = None
        prev = ts
    if start is not None:
        out.append((start.to_pydatetime(), (prev + step).to_pydatetime()))
    return out


# -- the rules as CloudWatch alarms ------------------------------------------------------------------
OPERATORS = {">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold",
             "<=": "LessThanOrEqualToThreshold"}


def alarm_name(rule: Any) -> str:
    return "pipeline-" + rule.name.lower().replace(" ", "-")


# -- the rule's runbook: what an alarm of the rule starts ---------------------------------------------
# ``alerts[].runbook`` names an incident procedure (incident-response, procedure=<name>), one of these
# aliases, or a notebook directly.
#: the Incident Response notebook's procedures (its ``procedure`` parameter; :data:`opslib.sections.incident.PROCEDURES`
#: names the same three, which a test holds them to)
INCIDENT_PROCEDURES = ("api-down", "high-error-rate", "stream-backup")
RUNBOOK_ALIASES = {"data-loss": "data-quality"}
DESCRIPTION_LIMIT = 1024        # CloudWatch's AlarmDescription


def runbook_for(rule: Any) -> tuple[str, dict] | None:
    """(notebook, parameters) that triage an alarm of ``rule``; None when the rule names no runbook."""
    name = (rule.runbook or "").strip()
    if not name:
        return None
    if name in INCIDENT_PROCEDURES:
        return "incident-response", {"procedure": name}
    return RUNBOOK_ALIASES.get(name, name), {}


def runbook_command(rule: Any, profile: str, incident: str = "<incident-id>") -> str | None:
    """The command a person runs for an alarm of ``rule`` (what the receiver of ``runbook serve`` runs)."""
    found = runbook_for(rule)
    if found is None:
        return None
    notebook, params = found
    return " ".join([f"runbook run {notebook} --profile {profile} --incident {incident}",
                     *(f"-p {k}={v}" for k, v in params.items())])


def alarm_description(profile: Any, rule: Any) -> str:
    """``<condition>. Runbook: <command>``, within CloudWatch's 1024 characters (the command is kept whole)."""
    command = runbook_command(rule, profile.name)
    if command is None:
        return rule.condition[:DESCRIPTION_LIMIT]
    tail = f". Runbook: {command}"
    return rule.condition[:max(0, DESCRIPTION_LIMIT - len(tail))] + tail[:DESCRIPTION_LIMIT]


def _metric_stat(metric: Any, period_s: int, stat: str) -> dict:
    return {"Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()]},
            "Period": period_s, "Stat": stat}


def alarm_definition(profile: Any, rule: Any, *, region: str, account: str) -> dict | None:
    """``put_metric_alarm`` arguments for ``rule``: a plain metric alarm, or a metric-math alarm for a
    ratio rule. None for rules relative to a trailing average, which CloudWatch cannot express as a
    static alarm (the Monitoring runbook evaluates those)."""
    if rule.relative_to_average_days:
        return None
    period = rule.period_minutes * 60
    periods = max(1, rule.window_minutes // rule.period_minutes)
    topic = "pagerduty" if rule.level == "page" else "ops-alerts"
    common = {"AlarmName": alarm_name(rule), "AlarmDescription": alarm_description(profile, rule),
              "EvaluationPeriods": periods, "DatapointsToAlarm": rule.datapoints_to_alarm or periods,
              "Threshold": float(rule.threshold), "ComparisonOperator": OPERATORS[rule.comparison],
              "TreatMissingData": "breaching" if rule.level == "page" else "missing", "ActionsEnabled": True,
              "AlarmActions": [arn("sns", region, account, topic)]}
    parts = rule.metric.split("/")
    if len(parts) == 2:
        num, den = (profile.metrics[p] for p in parts)
        return {**common, "Metrics": [
            {"Id": "ratio", "Expression": "m1/m2", "Label": rule.metric, "ReturnData": True},
            {"Id": "m1", "MetricStat": _metric_stat(num, period, rule.statistic), "ReturnData": False},
            {"Id": "m2", "MetricStat": _metric_stat(den, period, rule.statistic), "ReturnData": False}]}
    m = profile.metrics[rule.metric]
    stat = {"ExtendedStatistic": rule.statistic} if rule.statistic.startswith("p") else {"Statistic": rule.statistic}
    return {**common, "Namespace": m.namespace, "MetricName": m.name, "Period": period,
            "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions.items()], **stat}
