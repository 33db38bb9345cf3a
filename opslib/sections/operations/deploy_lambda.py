"""Lambda deploy: publish the artifact as a new version (or take a published one), route a weighted canary
share of the alias to it, watch the new version's errors, then promote it or roll the alias back."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

import plotly.graph_objects as go

from ... import charts
from ...actions import lambda_ as lambda_actions
from ...actions.plan import Plan
from ...aws.cloudwatch import metric_frame
from ...config import Metric
from .deploy_service import Watch, watch

if TYPE_CHECKING:
    from ...connection import Ops


def plan_deploy(ops: "Ops", function: str, *, weight: float, version: str | None = None,
                artifact_key: str | None = None, alias: str | None = None, region: str = "primary") -> Plan:
    """Publish ``artifact_key`` from the artifacts bucket as the next version (or take ``version``), then a
    canary: the alias stays on its version and sends ``weight`` of the invocations to the new one."""
    if version is None:
        return lambda_actions.plan_publish_canary(ops, function, artifact_key, weight, alias=alias, region=region)
    plan = lambda_actions.plan_canary(ops, function, version, weight, alias=alias, region=region)
    plan.title = f"canary of {function} version {version} at {weight:.0%}"
    return plan


def _canary_sample(ops: "Ops", function: str, alias: str, version: str, *, now: datetime, elapsed: float,
                  minutes: int = 5) -> dict:
    """Invocations and errors of ``version`` behind ``alias`` over the ``minutes`` before now + elapsed."""
    dims = {"FunctionName": function, "Resource": f"{function}:{alias}", "ExecutedVersion": str(version)}
    metrics = {k: Metric(namespace="AWS/Lambda", name=k.capitalize(), dimensions=dims, stat="Sum", unit="Count")
               for k in ("invocations", "errors")}
    end = now + timedelta(seconds=elapsed)
    frame = metric_frame(ops.client("cloudwatch"), metrics, end - timedelta(minutes=minutes), end, 60)
    inv, err = float(frame["invocations"].sum()), float(frame["errors"].sum())
    return {"elapsed_s": round(elapsed, 1), "invocations": inv, "errors": err,
            "error_rate": err / inv if inv else None}


def watch_canary(ops: "Ops", function: str, alias: str, version: str, *, now: datetime, timeout_s: float = 600,
                 interval_s: float = 30, max_error_rate: float = 0.05, min_invocations: int = 1,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Watch:
    """Watch the canary for ``timeout_s``: an error rate above ``max_error_rate`` ends it as failed at once;
    at the end it is healthy if the version served at least ``min_invocations`` invocations, else
    ``no-traffic`` (not enough evidence to promote)."""
    def judge(s: dict):
        if s["error_rate"] is not None and s["invocations"] >= min_invocations and s["error_rate"] > max_error_rate:
            return "failed", (f"version {version}: {s['errors']:g} errors in {s['invocations']:g} invocations "
                              f"({s['error_rate']:.1%}, threshold {max_error_rate:.1%})")
        return None, ""

    def final(s: dict):
        if s["invocations"] >= min_invocations:
            return "healthy", (f"version {version}: {s['errors']:g} errors in {s['invocations']:g} invocations "
                               f"over {timeout_s:g} s")
        return "no-traffic", f"version {version} served {s['invocations']:g} invocations; too few to promote it"

    return watch(lambda e: _canary_sample(ops, function, alias, version, now=now, elapsed=e), judge,
                 subject=f"{function}:{alias} canary {version}", timeout_s=timeout_s, interval_s=interval_s,
                 sleep=sleep, clock=clock, final=final)


def plan_promote(ops: "Ops", function: str, version: str, *, alias: str | None = None) -> Plan:
    plan = lambda_actions.plan_alias(ops, function, version, alias=alias)
    plan.title = f"promote {function} version {version} (all invocations)"
    return plan


def plan_rollback(ops: "Ops", function: str, previous: dict, *, reason: str, alias: str | None = None) -> Plan:
    """The alias back to what it was before the canary (``previous`` = {version, weights})."""
    plan = lambda_actions.plan_alias(ops, function, previous["version"], weights=previous["weights"], alias=alias)
    plan.title = f"roll back {function} to version {previous['version']}"
    plan.notes.append(f"automatic rollback: {reason}")
    return plan


def canary_chart(w: Watch) -> go.Figure:
    s = w.samples.set_index("elapsed_s")[["invocations", "errors"]]
    fig = charts.timeseries(s.rename(columns={"invocations": "invocations (5 min)", "errors": "errors (5 min)"}),
                            title=f"Canary watch: {w.subject} ({w.verdict})", kind="bar")
    fig.update_layout(xaxis_title="seconds since the canary started", barmode="group")
    return fig
