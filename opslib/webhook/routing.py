"""From an alarm to its triage: the profile's alert rule (by alarm name, as alarm-sync names them),
the rule's runbook, the incident id, and time parameters bound to the state change. Read-only always."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..aws import alarms
from .events import AlarmEvent

READ_ONLY = {"dry_run": True}     # the receiver never applies a remedy
BEFORE = timedelta(minutes=30)    # read the signals from this long before the state change


@dataclass(frozen=True)
class Triage:
    """One read-only run to make for an alarm."""
    notebook: str
    parameters: dict
    incident_id: str
    rule: str
    alarm: str
    changed_at: datetime
    source: str
    pagerduty_incident: str | None = None
    detail: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Dedupe key: one triage per incident and runbook."""
        return f"{self.incident_id}|{self.notebook}|{self.parameters.get('procedure', '')}"

    def to_dict(self) -> dict:
        return {"notebook": self.notebook, "parameters": self.parameters, "incident_id": self.incident_id,
                "rule": self.rule, "alarm": self.alarm, "changed_at": self.changed_at.isoformat(),
                "source": self.source, "pagerduty_incident": self.pagerduty_incident, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict) -> "Triage":
        return cls(**{**data, "changed_at": datetime.fromisoformat(data["changed_at"])})


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def rule_for(profile: Any, name: str) -> Any | None:
    """The alert rule an alarm named ``name`` belongs to: its alarm-sync name or rule name, exactly, else
    the only rule whose alarm name or rule name appears in ``name`` (a PagerDuty incident's title)."""
    wanted = _norm(name)
    rules = list(profile.alerts)
    for rule in rules:
        if wanted in (alarms.alarm_name(rule), _norm(rule.name)):
            return rule
    inside = [r for r in rules if alarms.alarm_name(r) in wanted or _norm(r.name) in wanted]
    if len(inside) > 1:       # the longest name wins ("API Down" inside "API Down Region" is not the rule)
        inside.sort(key=lambda r: len(alarms.alarm_name(r)), reverse=True)
        if len(alarms.alarm_name(inside[0])) == len(alarms.alarm_name(inside[1])):
            return None
    return inside[0] if inside else None


def incident_id(event: AlarmEvent) -> str:
    """The source's incident (PagerDuty), else ``ALARM-<name>-<state change, minute>-<hash>``."""
    if event.incident_id:
        return event.incident_id
    stamp = f"{event.changed_at:%Y%m%dT%H%MZ}"
    digest = hashlib.sha256(f"{event.name}|{event.changed_at.isoformat()}".encode()).hexdigest()[:6]
    return f"ALARM-{_norm(event.name)[:60]}-{stamp}-{digest}"


def time_parameters(notebook_params: dict, notebook: str, changed_at: datetime, now: datetime) -> dict:
    """Bind the run's time window to the state change: data-quality checks ``as_of`` it; notebooks with a
    ``window_minutes`` read from :data:`BEFORE` the change up to the profile's now."""
    out: dict = {}
    if "as_of" in notebook_params:
        out["as_of"] = changed_at.isoformat()
    if "window_minutes" in notebook_params:
        span = max(now - changed_at, timedelta(0)) + BEFORE
        default = notebook_params.get("window_minutes")
        minutes = max(math.ceil(span.total_seconds() / 60), default if isinstance(default, int) else 0)
        out["window_minutes"] = min(minutes, 7 * 24 * 60)
    return out


def plan(profile: Any, event: AlarmEvent, *, now: datetime, parameters_of) -> Triage | None:
    """The triage for ``event``, or None when its alarm matches no rule with a runbook.

    ``parameters_of(notebook)`` gives the notebook's declared parameters and defaults."""
    rule = rule_for(profile, event.name)
    found = alarms.runbook_for(rule) if rule is not None else None
    if found is None:
        return None
    notebook, params = found
    declared = parameters_of(notebook)
    values = {**params, **time_parameters(declared, notebook, event.changed_at, now)}
    if "dry_run" in declared:
        values.update(READ_ONLY)
    if "remedy" in declared:
        values["remedy"] = "auto"       # planned, shown, never applied (dry_run)
    return Triage(notebook=notebook, parameters=values, incident_id=incident_id(event), rule=rule.name,
                  alarm=event.name, changed_at=event.changed_at, source=event.source,
                  pagerduty_incident=event.incident_id if event.source == "pagerduty" else None,
                  detail=event.detail)
