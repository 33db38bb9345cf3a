"""The runbook's alert tables as rules (profile ``alerts:``), evaluated against CloudWatch history:
which rule would page or warn now, and the windows in which each one fired."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..aws.alarms import (COMPARE, DESCRIPTION_LIMIT, OPERATORS, RUNBOOK_ALIASES, RuleResult,  # noqa: F401 - re-exported
                          alarm_definition, alarm_description, alarm_name, evaluate, rule_series, runbook_command,
                          runbook_for)
from ..aws.cloudwatch import alarms_in_alarm
from ..findings import Check


def firing_alarms(ops: Any) -> pd.DataFrame:
    """The CloudWatch alarms in ALARM state now (the runbook's `describe-alarms --state-value ALARM`)."""
    return alarms_in_alarm(ops.client("cloudwatch"))


def evaluate_rules(ops: Any, *, lookback_hours: float = 24, now: datetime | None = None) -> list[RuleResult]:
    """Every alert rule of the profile over the last ``lookback_hours`` (at least one full window)."""
    now = now or ops.now()
    cw = ops.client("cloudwatch")
    results = []
    for rule in ops.profile.alerts:
        span = max(timedelta(hours=lookback_hours), timedelta(minutes=2 * rule.window_minutes))
        start = now - span
        results.append(evaluate(rule, rule_series(cw, ops.profile, rule, start, now)))
    return results


def results_frame(results: list[RuleResult]) -> pd.DataFrame:
    return pd.DataFrame([{"rule": r.rule, "level": r.level, "channel": r.channel, "state": r.state,
                          "would": (r.level if r.state == "firing" else ""), "value": r.value,
                          "threshold": r.threshold, "detail": r.detail} for r in results])


def rule_checks(results: list[RuleResult]) -> list[Check]:
    """A rule that would page now fails; one that would warn now, fired earlier, or has no data warns."""
    checks = []
    for r in results:
        name = "alert-" + r.rule.lower().replace(" ", "-")
        figures = {"state": r.state, "value": r.value, "threshold": r.threshold, "level": r.level,
                   "windows": [[a.isoformat(), b.isoformat()] for a, b in r.windows]}
        if r.state == "firing" and r.level == "page":
            checks.append(Check.fail(name, f"would page ({r.channel}): {r.detail}", **figures))
        elif r.state in ("firing", "fired", "no-data"):
            verb = "would warn" if r.state == "firing" else r.state
            checks.append(Check.warn(name, f"{verb} ({r.channel}): {r.detail}", **figures))
        else:
            checks.append(Check.ok(name, r.detail, **figures))
    return checks
