"""Root-cause hints backed by data: a recent deployment after which the errors began, a service's memory
trend, database connections against max_connections, poison messages, and an AWS regional issue (the
primary region down while the DR region is healthy)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ...findings import Check
from ...pg_connections import ConnectionUsage, connection_check
from .diagnostics import PoisonScan
from .procedures import API_ROLE, PROCESSOR_ROLE, memory_column, missing_role, role_services


@dataclass(frozen=True)
class SuspectDeployment:
    service: str
    task_definition: str
    previous: str | None
    deployed_at: datetime
    signal: str
    began: datetime
    before: float | None
    after: float | None
    role: str | None = None      # the service's role in the profile (remedies follow it)


def onset(series: pd.Series, threshold: float) -> datetime | None:
    """Start of the period from which ``series`` has stayed above ``threshold`` up to its latest value
    (None when the latest value is not above it)."""
    s = series.dropna()
    if s.empty or not s.iloc[-1] > threshold:
        return None
    below = s[~(s > threshold)]
    rest = s[s.index > below.index[-1]] if len(below) else s
    return rest.index[0].to_pydatetime()


def _signal(role: str | None, error_threshold: float, lag_threshold_s: float) -> tuple[str, float, str]:
    if role == PROCESSOR_ROLE:
        return "lag_seconds", lag_threshold_s, "consumer lag (s)"
    return "error_rate", error_threshold, "5xx error rate"


def deployment_hint(deployments: pd.DataFrame, frame: pd.DataFrame, *, error_threshold: float,
                    lag_threshold_s: float, minutes: int, roles: Mapping[str, str | None] | None = None
                    ) -> tuple[Check, SuspectDeployment | None]:
    """Fail when a deployment of the window is followed by its service's signal (consumer lag for a
    service with role process, the 5xx rate for the others) going above its alert threshold: the first
    period above it ends after the deployment. Warn when the trouble began before the deployment.
    ``roles``: service name -> role (:func:`~opslib.sections.incident.procedures.service_roles`)."""
    roles = roles or {}
    name = "hint-recent-deployment"
    if deployments.empty:
        return Check.ok(name, f"no ECS deployment in the last {minutes} min", deployments=0), None
    notes = []
    for d in deployments.itertuples():
        role = roles.get(d.service)
        column, threshold, label = _signal(role, error_threshold, lag_threshold_s)
        series = frame[column]
        began = onset(series, threshold)
        at = pd.Timestamp(d.created)
        cut = at.floor("60s")
        before, after = series[series.index < cut].dropna(), series[series.index >= cut].dropna()
        figures = {"service": d.service, "role": role, "task_definition": d.task_definition, "previous": d.previous,
                   "deployed_at": d.created, "signal": column, "threshold": threshold, "began": began,
                   "before": float(before.mean()) if len(before) else None,
                   "after": float(after.mean()) if len(after) else None}
        if began is None:
            notes.append(f"{d.task_definition} deployed {d.created:%H:%M:%S}, {label} below {threshold:g} since")
            continue
        if began + timedelta(seconds=60) > d.created:
            suspect = SuspectDeployment(d.service, d.task_definition, d.previous, d.created, column, began,
                                        figures["before"], figures["after"], role)
            return Check.fail(name, f"bad deployment: {d.service} got {d.task_definition} at {d.created:%H:%M:%S} "
                                    f"and its {label} has been above {threshold:g} since {began:%H:%M} "
                                    f"(mean {_num(figures['before'])} before, {_num(figures['after'])} after); "
                                    f"roll back to {d.previous or '(no older revision)'}", **figures), suspect
        return Check.warn(name, f"{d.service} got {d.task_definition} at {d.created:%H:%M:%S}, but its {label} was "
                                f"already above {threshold:g} since {began:%H:%M}: not its cause", **figures), None
    return Check.ok(name, "; ".join(notes), deployments=len(deployments)), None


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def memory_hint(frame: pd.DataFrame, service: str, stopped: pd.DataFrame | None = None, *, high: float = 90.0,
                warn_at: float = 80.0, rising_per_hour: float = 10.0) -> Check:
    """A service's MemoryUtilization over the window (column :func:`memory_column` of the signals): fail
    when it is high and climbing (a leak) or tasks were killed for memory; warn when only one of high or
    climbing, or when it was not measured."""
    name = f"hint-memory-{service}"
    column = memory_column(service)
    series = frame[column].dropna() if column in frame else pd.Series(dtype=float)
    ooms = 0
    if stopped is not None and len(stopped):
        mine = stopped[stopped["service"] == service]
        why = mine["stopped_reason"].fillna("") + " " + mine["container_reason"].fillna("")
        ooms = int(why.str.contains("OutOfMemory", case=False).sum())
    if len(series) < 2:
        return Check.warn(name, f"{service}: not enough MemoryUtilization data in the window", oom_stops=ooms)
    minutes = (series.index - series.index[0]).total_seconds() / 60
    slope = float(np.polyfit(minutes, series.to_numpy(), 1)[0]) * 60
    last = float(series.iloc[-5:].mean())
    figures = {"memory_percent": round(last, 1), "trend_points_per_hour": round(slope, 1), "oom_stops": ooms,
               "window_start_percent": round(float(series.iloc[:5].mean()), 1)}
    text = (f"{service} memory {last:.0f}% now, trend {slope:+.0f} points/hour over the window "
            f"(from {figures['window_start_percent']:.0f}%)"
            + (f"; {ooms} task(s) stopped OutOfMemory" if ooms else ""))
    if ooms or (last >= high and slope >= rising_per_hour):
        return Check.fail(name, f"memory leak likely: {text}", **figures)
    if last >= warn_at or slope >= rising_per_hour:
        return Check.warn(name, text, **figures)
    return Check.ok(name, text, **figures)


def memory_hints(profile: Any, frame: pd.DataFrame, stopped: pd.DataFrame | None = None, **kw: Any) -> list[Check]:
    """:func:`memory_hint` for every ECS service with role ingest or process; a role the profile lacks is
    a warn naming it (not measurable)."""
    out = []
    for role in (API_ROLE, PROCESSOR_ROLE):
        services = role_services(profile, role)
        if not services:
            out.append(Check.warn(f"hint-memory-{role}", missing_role(role), role=role))
        out += [memory_hint(frame, s.name, stopped, **kw) for s in services]
    return out


def db_connections_hint(usage: ConnectionUsage, metric: pd.Series | None) -> Check:
    """The runbook's "Database connection exhaustion" (:func:`opslib.pg_connections.connection_check`)."""
    return replace(connection_check(usage, metric), name="hint-db-connections")


def poison_hint(scan: PoisonScan) -> Check:
    read = int(scan.shards["read"].sum()) if len(scan.shards) else 0
    if not scan.found:
        return Check.ok("hint-poison-messages", f"{read} record(s) after the checkpoints of {len(scan.shards)} shards, "
                                                "all valid events", records_read=read, invalid=0)
    seqs = scan.sequence_numbers()
    text = "; ".join(f"{shard}: {', '.join(s)}" for shard, s in seqs.items())
    kinds = ", ".join(sorted(set(scan.bad["error"].str.split(":").str[0])))
    return Check.fail("hint-poison-messages", f"{len(scan.bad)} record(s) the consumer cannot process ({kinds}) "
                                              f"after its checkpoints: {text}",
                      records_read=read, invalid=len(scan.bad), sequence_numbers=seqs)


def aws_issue_hint(primary: pd.DataFrame, dr_checks: list[Any], *, primary_region: str,
                   dr_region: str | None) -> Check:
    """Every primary ECS service down while the DR side passes its pre-flight points at AWS, not at us.
    ``dr_region`` None: a single-region pipeline, with no DR side to compare with."""
    wanted = primary[primary["desired"] > 0]
    down = wanted[wanted["running"] == 0]["service"].tolist()
    dr_ok = bool(dr_checks) and all(c.ok for c in dr_checks)
    dr_text = "; ".join(f"{c.name}: {c.detail}" for c in dr_checks if not c.ok) or "pre-flight passed"
    figures = {"primary_down": down, "primary_services": len(wanted), "dr_ready": dr_ok}
    if wanted.empty or len(down) < len(wanted):
        scope = f"{len(down)}/{len(wanted)} ECS services down in {primary_region}" + (
            f" ({', '.join(down)}): not regional" if down else "")
        dr_part = f"DR {dr_region}: {dr_text}" if dr_region else "no DR region in the profile"
        return Check.ok("hint-aws-service-issues", f"{scope}; {dr_part}", **figures)
    if dr_region is None:
        return Check.warn("hint-aws-service-issues", f"every ECS service in {primary_region} is down and the profile "
                                                     "names no DR region to compare with or fail over to: check the "
                                                     "AWS Health Dashboard for a regional issue", **figures)
    if dr_ok:
        return Check.fail("hint-aws-service-issues",
                          f"every ECS service in {primary_region} is down while DR {dr_region} is healthy: likely an "
                          "AWS regional issue (check the AWS Health Dashboard; see Disaster Recovery: regional "
                          "failover)", **figures)
    return Check.warn("hint-aws-service-issues", f"every ECS service in {primary_region} is down and DR {dr_region} is "
                                                 f"not ready either: {dr_text}", **figures)


def error_log_check(patterns: pd.DataFrame, minutes: int) -> Check:
    if patterns.empty:
        return Check.ok("error-logs", f"no ERROR lines in the service logs in the last {minutes} min", errors=0)
    top = patterns.iloc[0]
    return Check.warn("error-logs", f"{int(patterns['count'].sum())} ERROR lines in the last {minutes} min; most "
                                    f"frequent ({int(top['count'])}x in {top['group']}): {top['pattern']}",
                      errors=int(patterns["count"].sum()), patterns=len(patterns))



def hint_table(checks: list[Check]) -> pd.DataFrame:
    """The hints as a table: status and the evidence."""
    return pd.DataFrame([{"hint": c.name, "status": c.status, "evidence": c.detail} for c in checks],
                        columns=["hint", "status", "evidence"])
