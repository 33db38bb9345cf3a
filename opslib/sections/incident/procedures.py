"""The runbook's three incident procedures (API Down, High Error Rate, Stream Backup): parameters,
severity levels, the live signals their symptoms are judged on, and the symptoms themselves."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

import pandas as pd

from ...aws import alarms
from ...aws.cloudwatch import metric_frame, share
from ...config import Metric
from ...errors import ParameterError
from ...findings import Check


@dataclass(frozen=True)
class Procedure:
    name: str
    title: str
    severity: str
    rule: str                   # the alert rule of the profile that pages for it


PROCEDURES: dict[str, Procedure] = {p.name: p for p in (
    Procedure("api-down", "API Down", "SEV1", "API Down"),
    Procedure("high-error-rate", "High Error Rate", "SEV2", "High Error Rate"),
    Procedure("stream-backup", "Stream Backup", "SEV2", "Stream Backup"),
)}
REMEDIES = ("scale-api", "rollback", "debug", "scale-processors", "skip-poison")
# The procedures find their services by role (``services[].role`` of the profile), never by name.
API_ROLE, PROCESSOR_ROLE = "ingest", "process"
ROLE_STEPS = {
    API_ROLE: "API Down's health checks and ALB targets, the API memory hint, the scale-api/rollback/debug remedies",
    PROCESSOR_ROLE: "Stream Backup's consumer memory pressure, the processor memory hint, the scale-processors remedy",
}


def role_services(profile: Any, role: str) -> list[Any]:
    """The profile's ECS services with ``role`` (the procedures' services; empty when the role is missing)."""
    return [s for s in profile.services_with_role(role) if s.type == "ecs"]


def missing_role(role: str) -> str:
    return f"not measurable: the profile declares no ECS service with role {role!r} (services[].role)"


def role_checks(profile: Any) -> list[Check]:
    """A warn per role the procedures need but the profile does not declare, naming the steps it leaves out."""
    return [Check.warn(f"role-{role}", f"{missing_role(role)}; not measured: {steps}", role=role)
            for role, steps in ROLE_STEPS.items() if not role_services(profile, role)]


def service_roles(profile: Any) -> dict[str, str | None]:
    """Service name -> role, for judging a deployment on its service's signal."""
    return {s.name: s.role for s in profile.services}


def check_procedure(procedure: Any) -> str:
    """``auto`` or one of :data:`PROCEDURES`; anything else is a ParameterError."""
    if procedure == "auto" or procedure in PROCEDURES:
        return procedure
    raise ParameterError("procedure", procedure, "auto, " + ", ".join(PROCEDURES))


def check_remedy(remedy: Any) -> list[str] | str:
    """``auto``, ``none``, or remedy names (a list or comma-separated) from :data:`REMEDIES`."""
    allowed = "auto, none, or one or more (comma-separated) of " + ", ".join(REMEDIES)
    if remedy in ("auto", "none"):
        return remedy
    if remedy is None:
        return "none"
    items = remedy if isinstance(remedy, (list, tuple)) else str(remedy).split(",")
    names = [str(i).strip() for i in items if str(i).strip()]
    if not names or any(n not in REMEDIES for n in names):
        raise ParameterError("remedy", remedy, allowed)
    return list(dict.fromkeys(names))


def check_positive(**values: Any) -> None:
    """Task counts and window lengths: positive whole numbers."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(name, value, "a positive whole number")


def check_parameters(*, procedure: Any = "auto", remedy: Any = "auto", window_minutes: Any = 60,
                     api_desired_count: Any = 10, processor_desired_count: Any = 20) -> None:
    """The Incident Response notebook's parameters (its metadata's ``check``: ``runbook run`` calls it before the
    kernel starts)."""
    check_procedure(procedure)
    check_remedy(remedy)
    check_positive(window_minutes=window_minutes, api_desired_count=api_desired_count,
                   processor_desired_count=processor_desired_count)


@dataclass(frozen=True)
class Thresholds:
    error_rate: float          # High Error Rate pages above this share of 5xx
    lag_seconds: float         # Stream Backup pages above this consumer lag
    lag_target_seconds: float  # the dashboard's target


def thresholds(profile: Any) -> Thresholds:
    """The paging thresholds of the profile's alert rules (the runbook's 5% and 5 minutes)."""
    return Thresholds(_rule(profile, "High Error Rate").threshold, _rule(profile, "Stream Backup").threshold / 1000,
                      profile.targets.stream_lag_seconds)


def severity_table(profile: Any) -> pd.DataFrame:
    """The profile's severity levels, with the procedures of this runbook that fall under each."""
    rows = []
    for s in profile.severity_levels:
        minutes = s.response_minutes
        response = "next business day" if minutes is None else (
            f"{minutes // 60} hours" if minutes >= 120 else f"{minutes} minutes")
        rows.append({"level": s.level, "description": s.description, "response": response,
                     "examples": ", ".join(s.examples),
                     "procedures": ", ".join(p.title for p in PROCEDURES.values() if p.severity == s.level)})
    return pd.DataFrame(rows, columns=["level", "description", "response", "examples", "procedures"])


# -- live signals -----------------------------------------------------------------------------------
def memory_column(service: str) -> str:
    """The column of :func:`signals` holding ``service``'s memory."""
    return f"memory {service}"


def memory_metric(profile: Any, service: str) -> Metric:
    """An ECS service's memory: ``AWS/ECS MemoryUtilization`` by ClusterName and ServiceName."""
    return Metric(namespace="AWS/ECS", name="MemoryUtilization", stat="Average", unit="Percent",
                  dimensions={"ClusterName": profile.ecs.cluster, "ServiceName": service})


def signals(ops: Any, *, now: datetime, minutes: int = 60) -> pd.DataFrame:
    """Per minute over ``[now - minutes, now)``: requests, 5xx/4xx counts and shares of requests, failed
    health checks, incoming records, the consumer lag (``GetRecords.IteratorAgeMilliseconds``; the
    runbook's ``describe-stream-consumer`` shows no lag at all) and the memory of the ECS services with role
    ingest or process (:func:`memory_column`)."""
    m = ops.profile.metrics
    metrics = {k: m[k] for k in ("requests", "http_5xx", "http_4xx", "health_check_failures", "incoming_records",
                                 "iterator_age_ms")}
    metrics |= {memory_column(s.name): memory_metric(ops.profile, s.name)
                for role in (API_ROLE, PROCESSOR_ROLE) for s in role_services(ops.profile, role)}
    frame = metric_frame(ops.client("cloudwatch"), metrics, now - timedelta(minutes=minutes), now, 60)
    frame["error_rate"] = share(frame["http_5xx"], frame["requests"])
    frame["client_error_rate"] = share(frame["http_4xx"], frame["requests"])
    frame["lag_seconds"] = frame["iterator_age_ms"] / 1000
    return frame


def rule_states(ops: Any, *, now: datetime, minutes: int = 60) -> dict[str, alarms.RuleResult]:
    """The alert rules behind the three procedures, evaluated now (see :mod:`opslib.aws.alarms`)."""
    cw = ops.client("cloudwatch")
    out = {}
    for p in PROCEDURES.values():
        rule = _rule(ops.profile, p.rule)
        span = max(timedelta(minutes=minutes), timedelta(minutes=2 * rule.window_minutes))
        out[p.name] = alarms.evaluate(rule, alarms.rule_series(cw, ops.profile, rule, now - span, now))
    return out


def _rule(profile: Any, name: str) -> Any:
    for rule in profile.alerts:
        if rule.name == name:
            return rule
    raise ParameterError("alerts", name, "an alert rule of the profile named " + name)


# -- symptoms -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symptom:
    procedure: str
    symptom: str                 # the runbook's wording
    present: bool | None         # None: not measurable from here
    evidence: str
    figures: dict = field(default_factory=dict)


def _recent(series: pd.Series, minutes: int) -> pd.Series:
    return series.iloc[-minutes:].dropna()


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _api_down_symptoms(frame: pd.DataFrame, rule: alarms.RuleResult, health: pd.DataFrame, targets: pd.DataFrame,
                      *, error_threshold: float, services: list[Any], recent_minutes: int = 5) -> list[Symptom]:
    """``services``: the profile's ingest services (:func:`role_services`). Without one, the health checks
    are judged on the HealthCheckFailed rule alone (the HTTP and ALB-target checks are not measurable)."""
    names = [s.name for s in services]
    failing = health[health["service"].isin(names) & ~health["ok"].astype(bool)]
    mine = targets[targets["service"].isin(names)]
    healthy = int((mine["state"] == "healthy").sum())
    # a service whose target group the profile names but which has no healthy target there
    no_target = [s.name for s in services if s.target_group
                 and not ((mine["service"] == s.name) & (mine["state"] == "healthy")).any()]
    down = list(dict.fromkeys(list(failing["service"]) + no_target))
    http = "; ".join(f"GET {r.url}: {r.error or r.status}" for r in failing.itertuples()) or "GET /health OK"
    figures = {"http_failing": len(failing), "rule": rule.state, "healthy_targets": healthy, "targets": len(mine),
               "services": names, "services_down": down}
    if not services:
        present = True if rule.state == "firing" else None
        out = [Symptom("api-down", "Health checks failing", present,
                       f"HealthCheckFailed rule {rule.state} ({rule.detail}); HTTP and ALB target checks "
                       f"{missing_role(API_ROLE)}", figures)]
    else:
        out = [Symptom("api-down", "Health checks failing", bool(down) or rule.state == "firing",
                       f"{http}; HealthCheckFailed rule {rule.state} ({rule.detail}); {healthy}/{len(mine)} ALB "
                       f"targets healthy" + (f"; down: {', '.join(down)}" if down else ""), figures)]
    rate = _recent(frame["error_rate"], recent_minutes)
    share = float(rate.mean()) if len(rate) else None
    out.append(Symptom("api-down", "5xx errors from ALB", share is not None and share > error_threshold,
                       f"5xx share of requests over the last {recent_minutes} min: {_pct(share)} "
                       f"(alert threshold {error_threshold:.0%})", {"share_5xx": share}))
    incoming = frame["incoming_records"]
    recent = _recent(incoming, recent_minutes)
    before = incoming.iloc[:-recent_minutes].dropna()
    recent_sum = float(recent.sum()) if len(recent) else 0.0
    typical = float(before.mean()) * recent_minutes if len(before) else None
    stalled = recent_sum == 0 or (typical is not None and recent_sum < 0.1 * typical)
    out.append(Symptom("api-down", "No events being processed", stalled,
                       f"IncomingRecords {recent_sum:,.0f} in the last {recent_minutes} min"
                       + (f" against {typical:,.0f} typical" if typical is not None else ""),
                       {"incoming_recent": recent_sum, "incoming_typical": typical}))
    return out


def _high_error_rate_symptoms(frame: pd.DataFrame, rule: alarms.RuleResult, *, error_threshold: float,
                             recent_minutes: int = 5, increase: float = 2.0, min_points: float = 0.01) -> list[Symptom]:
    out = [Symptom("high-error-rate", f"Error rate >{error_threshold:.0%}", rule.state == "firing",
                   f"High Error Rate rule {rule.state}: {rule.detail}",
                   {"rule": rule.state, "error_rate": rule.value, "threshold": error_threshold})]
    both = frame["error_rate"] + frame["client_error_rate"]
    recent = _recent(both, recent_minutes)
    now_share = float(recent.mean()) if len(recent) else None
    baseline = float(both.dropna().median()) if both.notna().any() else None
    increased = (now_share is not None and baseline is not None and now_share >= increase * baseline
                 and now_share - baseline >= min_points)
    out.append(Symptom("high-error-rate", "Increased 4xx/5xx responses", increased,
                       f"4xx+5xx share {_pct(now_share)} over the last {recent_minutes} min against a window "
                       f"median of {_pct(baseline)}", {"share_now": now_share, "share_median": baseline}))
    out.append(Symptom("high-error-rate", "Customer complaints", None,
                       "not measurable from here: ask support for tickets since the errors began"))
    return out


def _stream_backup_symptoms(frame: pd.DataFrame, rule: alarms.RuleResult, checkpoints: pd.DataFrame, *,
                           lag_threshold_s: float, target_s: float, processors: list[str], recent_minutes: int = 15,
                           memory_pressure: float = 85.0) -> list[Symptom]:
    """``processors``: the names of the profile's process services (their memory is the consumers')."""
    lag = frame["lag_seconds"].dropna()
    now_lag = float(lag.iloc[-1]) if len(lag) else None
    recent = _recent(frame["lag_seconds"], recent_minutes)
    rising = len(recent) > 1 and float(recent.iloc[-1]) > float(recent.iloc[0])
    lagging = rule.state == "firing" or (now_lag is not None and now_lag > target_s and rising)
    out = [Symptom("stream-backup", "Kinesis consumer lag increasing", lagging,
                   f"GetRecords.IteratorAgeMilliseconds now {'n/a' if now_lag is None else f'{now_lag:,.1f}'} s "
                   f"(page above {lag_threshold_s:g} s, target < {target_s:g} s), "
                   f"{'rising' if rising else 'not rising'} over the last {recent_minutes} min",
                   {"lag_seconds": now_lag, "rising": rising, "rule": rule.state})]
    ages = pd.to_numeric(checkpoints["age_seconds"], errors="coerce").dropna() if len(checkpoints) else []
    oldest = float(ages.max()) if len(ages) else None
    if oldest is None and len(checkpoints):      # a KCL lease table records no checkpoint time
        out.append(Symptom("stream-backup", "Processing delays", None,
                           f"not measurable from the checkpoint table: its {len(checkpoints)} checkpoints carry no "
                           f"time (a KCL lease table); the consumer lag above measures the delay",
                           {"oldest_checkpoint_seconds": None}))
    else:
        out.append(Symptom("stream-backup", "Processing delays", oldest is not None and oldest > lag_threshold_s,
                           f"oldest shard checkpoint written {oldest if oldest is None else round(oldest)} s ago "
                           f"({len(checkpoints)} shards; delayed above {lag_threshold_s:g} s)",
                           {"oldest_checkpoint_seconds": oldest}))
    if not processors:
        out.append(Symptom("stream-backup", "Memory pressure on consumers", None, missing_role(PROCESSOR_ROLE)))
        return out
    peaks = {}
    for name in processors:
        column = memory_column(name)
        mem = _recent(frame[column], 5) if column in frame else pd.Series(dtype=float)
        peaks[name] = float(mem.max()) if len(mem) else None
    measured = {k: v for k, v in peaks.items() if v is not None}
    peak = max(measured.values()) if measured else None
    text = ", ".join(f"{k} {'n/a' if v is None else round(v, 1)}%" for k, v in peaks.items())
    out.append(Symptom("stream-backup", "Memory pressure on consumers", None if peak is None else peak >= memory_pressure,
                       f"memory at most {text} in the last 5 min (pressure at {memory_pressure:g}%)",
                       {"processor_memory": peak, "by_service": peaks}))
    return out


def symptoms(profile: Any, frame: pd.DataFrame, *, rules: dict[str, alarms.RuleResult], health: pd.DataFrame,
             targets: pd.DataFrame, checkpoints: pd.DataFrame) -> list[Symptom]:
    """Every symptom of the three procedures, judged on the live data."""
    t = thresholds(profile)
    processors = [s.name for s in role_services(profile, PROCESSOR_ROLE)]
    return (_api_down_symptoms(frame, rules["api-down"], health, targets, error_threshold=t.error_rate,
                              services=role_services(profile, API_ROLE))
            + _high_error_rate_symptoms(frame, rules["high-error-rate"], error_threshold=t.error_rate)
            + _stream_backup_symptoms(frame, rules["stream-backup"], checkpoints, lag_threshold_s=t.lag_seconds,
                                     target_s=t.lag_target_seconds, processors=processors))


def symptom_table(found: Iterable[Symptom]) -> pd.DataFrame:
    return pd.DataFrame([{"procedure": PROCEDURES[s.procedure].title, "symptom": s.symptom,
                          "present": {True: "YES", False: "no", None: "n/a"}[s.present], "evidence": s.evidence}
                         for s in found], columns=["procedure", "symptom", "present", "evidence"])


def _present_procedures(found: Iterable[Symptom]) -> list[str]:
    """Procedures whose symptoms are present. API Down is present on failing health checks or no events
    (5xx alone is High Error Rate); High Error Rate is then part of API Down, not a second incident."""
    found = list(found)
    on = {(s.procedure, s.symptom) for s in found if s.present}
    out = []
    if ("api-down", "Health checks failing") in on or ("api-down", "No events being processed") in on:
        out.append("api-down")
    if any(p == "high-error-rate" for p, _ in on) and "api-down" not in out:
        out.append("high-error-rate")
    if any(p == "stream-backup" for p, _ in on):
        out.append("stream-backup")
    return out


def select_procedures(found: Iterable[Symptom], procedure: str) -> list[str]:
    """``auto``: the procedures whose symptoms are present; otherwise the one named."""
    return _present_procedures(found) if check_procedure(procedure) == "auto" else [procedure]


def procedure_checks(found: Iterable[Symptom], profile: Any) -> list[Check]:
    """One check per procedure: fail when its symptoms are present (warn when they are part of API Down)."""
    found = list(found)
    active = _present_procedures(found)
    response = {s.level: s.response_minutes for s in profile.severity_levels}
    checks = []
    for p in PROCEDURES.values():
        mine = [s for s in found if s.procedure == p.name]
        shown = [s for s in mine if s.present]
        figures = {"severity": p.severity, "response_minutes": response.get(p.severity),
                   "present": [s.symptom for s in shown],
                   "services_down": list(dict.fromkeys(n for s in shown for n in s.figures.get("services_down", [])))}
        text = "; ".join(f"{s.symptom}: {s.evidence}" for s in shown)
        name = f"procedure-{p.name}"
        if p.name in active:
            checks.append(Check.fail(name, f"{p.title} ({p.severity}, respond within {response.get(p.severity)} "
                                           f"min): {text}", **figures))
        elif shown and "api-down" in active:
            checks.append(Check.warn(name, f"{p.title} symptoms are part of API Down: {text}", **figures))
        elif shown:
            checks.append(Check.ok(name, f"not {p.title}: health checks pass and events flow; {text} (see High "
                                         "Error Rate)", **figures))
        else:
            checks.append(Check.ok(name, f"no {p.title} symptom: " + "; ".join(s.evidence for s in mine
                                                                                 if s.present is False),
                                   **figures))
    return checks
