"""Escalation: who must be engaged for an incident of a severity that started at a time, now.

The runbook's escalation matrix and severity levels are data in the profile (``escalation`` and
``severity_levels`` of ``parameters/_common.yaml``). :func:`assess` turns them, a start time and
``now`` into an :class:`EscalationStatus`: every step with the time it is due, who must be engaged
by now, the next step and when, and the severity's response target and whether it is missed.

Boundaries: a step is due *at* its time (exactly 30 minutes after the start, the SEV2 step to the
Team Lead is due); the response target is missed only *after* its time. SEV4's "Next day" is the
profile's ``after_minutes: 1440``: 24 hours after the start.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable

import pandas as pd

from ..errors import ParameterError
from ..findings import Check

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..config import Profile

__all__ = ["EscalationStep", "EscalationStatus", "assess", "severities", "parse_time", "evaluation_time",
           "when_text", "matrix_table", "contacts_table", "escalation_chart", "for_incident"]


def when_text(minutes: int | None) -> str:
    """The runbook's wording of an escalation time: Immediate, 30 minutes, 2 hours, Next day."""
    if minutes is None:
        return "none"
    if minutes == 0:
        return "Immediate"
    if minutes == 1440:
        return "Next day"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minutes"


def parse_time(value: "str | datetime | None", *, name: str) -> datetime | None:
    """An ISO time (UTC when it has no zone) or a datetime -> an aware datetime; None stays None."""
    if value is None or isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ParameterError(name, value, "an ISO time such as 2026-11-25T11:30 (UTC if no zone)") from exc
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def severities(profile: "Profile") -> list[str]:
    return [s.level for s in profile.severity_levels]


@dataclass(frozen=True)
class EscalationStep:
    """One row of the matrix for an incident: ``initial`` holds the incident until ``due_at``, then
    ``to`` must be engaged."""
    severity: str
    initial: str
    after_minutes: int
    to: tuple[str, ...]
    due_at: datetime
    due: bool

    @property
    def when(self) -> str:
        return when_text(self.after_minutes)


@dataclass(frozen=True)
class EscalationStatus:
    severity: str
    description: str
    started_at: datetime
    now: datetime
    response_minutes: int | None
    steps: tuple[EscalationStep, ...]
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def elapsed(self) -> timedelta:
        return self.now - self.started_at

    @property
    def elapsed_minutes(self) -> float:
        return round(self.elapsed.total_seconds() / 60, 1)

    @property
    def response_due_at(self) -> datetime | None:
        if self.response_minutes is None:
            return None
        return self.started_at + timedelta(minutes=self.response_minutes)

    @property
    def response_missed(self) -> bool:
        """No response by the target time: the first response came after it, or none yet and now is after it."""
        due = self.response_due_at
        if due is None:
            return False
        if self.responded_at is not None:
            return self.responded_at > due
        return self.now > due

    @property
    def due_steps(self) -> list[EscalationStep]:
        return [s for s in self.steps if s.due]

    @property
    def next_step(self) -> EscalationStep | None:
        """The next step not yet due (none once the incident is resolved)."""
        if self.resolved_at is not None:
            return None
        return next((s for s in self.steps if not s.due), None)

    @property
    def engaged(self) -> list[str]:
        """Who must be engaged now: the first responder and everyone escalated to by now."""
        people: list[str] = [self.steps[0].initial] if self.steps else []
        for step in self.due_steps:
            for person in (step.initial, *step.to):
                if person not in people:
                    people.append(person)
        return people

    def table(self) -> pd.DataFrame:
        """The severity's steps with their due time and whether they are due now."""
        return pd.DataFrame([{"severity": s.severity, "initial response": s.initial, "escalation time": s.when,
                              "escalation to": ", ".join(s.to), "due at": s.due_at.replace(microsecond=0),
                              "state": "due" if s.due else ("next" if s is self.next_step else "later")}
                             for s in self.steps])

    def summary(self) -> str:
        lines = [f"{self.severity} ({self.description}) started {self.started_at:%Y-%m-%d %H:%M}Z, "
                 f"{self.elapsed_minutes:g} min ago (now {self.now:%Y-%m-%d %H:%M}Z)",
                 f"engaged now: {', '.join(self.engaged) or 'nobody'}"]
        nxt = self.next_step
        if nxt is not None:
            lines.append(f"next: {', '.join(nxt.to)} at {nxt.due_at:%Y-%m-%d %H:%M}Z ({nxt.when} after the start)")
        elif self.resolved_at is not None:
            lines.append(f"resolved at {self.resolved_at:%Y-%m-%d %H:%M}Z: no further escalation")
        else:
            lines.append("every escalation step of the matrix is due")
        if self.response_due_at is not None:
            lines.append(f"response target {self.response_minutes} min: due {self.response_due_at:%H:%M}Z"
                         + (" - MISSED" if self.response_missed else ""))
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_check(self) -> Check:
        """``escalation``: fail when the response target is missed, warn when an escalation is due."""
        figures = {"severity": self.severity, "started_at": self.started_at, "elapsed_minutes": self.elapsed_minutes,
                   "engaged": self.engaged, "response_due_at": self.response_due_at,
                   "next_due_at": self.next_step.due_at if self.next_step else None,
                   "next_to": list(self.next_step.to) if self.next_step else []}
        if self.response_missed:
            when = f"first response at {self.responded_at:%H:%M}Z" if self.responded_at else "no response recorded"
            return Check.fail("escalation", f"{self.severity} response target of {self.response_minutes} min missed "
                              f"(due {self.response_due_at:%H:%M}Z, {when}); engage {', '.join(self.engaged)}",
                              **figures)
        if self.due_steps and self.resolved_at is None:
            last = self.due_steps[-1]
            return Check.warn("escalation", f"{self.severity}: escalation due since {last.due_at:%H:%M}Z - "
                              f"engage {', '.join(self.engaged)}", **figures)
        nxt = self.next_step
        detail = (f"{self.severity}: {', '.join(self.engaged)} engaged; next escalation to {', '.join(nxt.to)} "
                  f"at {nxt.due_at:%H:%M}Z" if nxt else f"{self.severity}: resolved, no escalation pending")
        return Check.ok("escalation", detail, **figures)


def _level(profile: "Profile", severity: str):
    for level in profile.severity_levels:
        if level.level == severity:
            return level
    raise ParameterError("severity", severity, ", ".join(severities(profile)))


def assess(profile: "Profile", severity: str, *, started_at: "datetime | str", now: datetime,
           responded_at: datetime | None = None, resolved_at: datetime | None = None,
           notes: Iterable[str] = ()) -> EscalationStatus:
    """Where an incident of ``severity`` started at ``started_at`` stands in the escalation matrix at ``now``.

    ``responded_at``: the first response (e.g. the incident's first runbook run); ``resolved_at``:
    when it was resolved (no escalation is due after that). Raises :class:`ParameterError` for a
    severity the profile does not know or a start after ``now``."""
    level = _level(profile, str(severity).strip().upper() if isinstance(severity, str) else severity)
    now = parse_time(now, name="now")
    start = parse_time(started_at, name="started_at")
    if now is None or start is None:
        raise ParameterError("started_at" if start is None else "now", None, "a time")
    if start > now:
        raise ParameterError("started_at", start.isoformat(), f"a time at or before now ({now.isoformat()})")
    rows = sorted((e for e in profile.escalation if e.severity == level.level and e.after_minutes is not None),
                  key=lambda e: e.after_minutes)
    horizon = resolved_at if resolved_at is not None and resolved_at < now else now
    steps = []
    for e in rows:
        due_at = start + timedelta(minutes=e.after_minutes)
        steps.append(EscalationStep(level.level, e.initial, e.after_minutes, tuple(e.to), due_at, due_at <= horizon))
    return EscalationStatus(level.level, level.description, start, now, level.response_minutes, tuple(steps),
                            responded_at=responded_at, resolved_at=resolved_at, notes=tuple(notes))


def evaluation_time(clock_now: datetime, evidence_times: Iterable[datetime]) -> tuple[datetime, str | None]:
    """The time to evaluate the escalation at: the profile's clock, but never before the latest evidence.

    Runs are stamped with the wall clock while a sandbox profile has a fixed clock; an incident
    whose runs ended after the profile's "now" is evaluated at its latest run instead (a run cannot
    end in the future). Returns the time and a note when it was moved."""
    times = [t for t in evidence_times if t is not None]
    latest = max(times) if times else None
    if latest is not None and latest > clock_now:
        return latest, (f"the profile's clock ({clock_now:%Y-%m-%d %H:%M}Z) is before the incident's latest run "
                        f"({latest:%Y-%m-%d %H:%M}Z): evaluated at the latest run")
    return clock_now, None


def matrix_table(profile: "Profile") -> pd.DataFrame:
    """The runbook's escalation matrix with each severity's response target."""
    levels = {s.level: s for s in profile.severity_levels}
    return pd.DataFrame([{"severity": e.severity, "description": levels[e.severity].description if e.severity in levels
                          else "", "response target": when_text(levels[e.severity].response_minutes)
                          if e.severity in levels else "", "initial response": e.initial,
                          "escalation time": when_text(e.after_minutes), "escalation to": ", ".join(e.to)}
                         for e in profile.escalation])


def contacts_table(profile: "Profile") -> pd.DataFrame:
    """The runbook's Contact Information: on-call rotation, manager, vendor support, internal teams."""
    groups = (("on-call", profile.contacts.on_call), ("manager", profile.contacts.manager),
              ("vendor support", profile.contacts.vendors), ("internal team", profile.contacts.teams))
    return pd.DataFrame([{"group": group, "name": c.name, "role": c.role or "",
                          "reach": (f"check {c.via}" if c.via else "") or c.phone or c.email or c.url or ""}
                         for group, contacts in groups for c in contacts],
                        columns=["group", "name", "role", "reach"])


def escalation_chart(status: EscalationStatus) -> "go.Figure":
    """The escalation steps on a time axis from the start, each at its due time, with now marked."""
    import plotly.graph_objects as go
    labels = [f"{s.when}: {', '.join(s.to)}" for s in status.steps]
    colors = ["#d62728" if s.due else ("#ff7f0e" if s is status.next_step else "#7f7f7f") for s in status.steps]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[status.started_at], y=["start"], mode="markers+text", name="incident start",
                             text=[f"{status.steps[0].initial if status.steps else 'start'}"], textposition="middle right",
                             marker={"size": 12, "color": "#1f77b4", "symbol": "diamond"}))
    if status.steps:
        fig.add_trace(go.Scatter(x=[s.due_at for s in status.steps], y=labels, mode="markers", name="escalation due",
                                 marker={"size": 14, "color": colors, "symbol": "circle"},
                                 customdata=[("due" if s.due else "not yet") for s in status.steps],
                                 hovertemplate="%{y}<br>due %{x}<br>%{customdata}<extra></extra>"))
    if status.response_due_at is not None:
        fig.add_trace(go.Scatter(x=[status.response_due_at], y=[f"response target ({status.response_minutes} min)"],
                                 mode="markers", name="response target",
                                 marker={"size": 12, "color": "#9467bd", "symbol": "x"}))
    fig.add_shape(type="line", x0=status.now, x1=status.now, y0=0, y1=1, yref="paper",
                  line={"color": "#d62728", "dash": "dash"})
    fig.add_annotation(x=status.now, y=1, yref="paper", text=f"now {status.now:%H:%M}Z", showarrow=False,
                       yanchor="bottom")
    fig.update_layout(title=f"{status.severity} escalation: red due, orange next, grey later; dashed line = now",
                      height=300, margin={"l": 220, "r": 20, "t": 60, "b": 40},
                      showlegend=False)
    return fig


def for_incident(profile: "Profile", severity: str, incident=None, *, clock_now: datetime,
                 started_at: "datetime | str | None" = None) -> EscalationStatus:
    """:func:`assess` for an incident loaded from the archive (:func:`opslib.sections.postmortem.load_incident`;
    None: no incident, only ``started_at``): the start defaults to its first run (else now), the first run is the
    first response, its resolution ends the escalation, and now is never before its latest run
    (:func:`evaluation_time`). The notebook's call and ``runbook incident escalation``'s."""
    now, note = evaluation_time(clock_now, [incident.last_evidence_at] if incident is not None else [])
    first_run = incident.first_run_at if incident is not None else None
    start = parse_time(started_at, name="started_at") or first_run or now
    return assess(profile, severity, started_at=start, now=now, responded_at=first_run,
                  resolved_at=incident.resolved_at if incident is not None else None, notes=[note] if note else [])
