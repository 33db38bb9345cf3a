"""Blue-green ECS deploy: register a new task definition revision, point the service at it, watch the
deployment until it is steady or goes bad, and plan the rollback to the previous revision."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

import pandas as pd
import plotly.graph_objects as go

from ... import charts
from ...actions import ecs as ecs_actions
from ...actions.plan import Plan
from ...aws import elb as elb_reads
from ...aws.arn import task_definition as short_task_definition
from ...aws.cloudwatch import window_share

if TYPE_CHECKING:
    from ...connection import Ops


def plan_deploy(ops: "Ops", service: str, *, task_definition: str | None = None, image: str | None = None,
                region: str = "primary") -> Plan:
    """The runbook's steps 1-2: register a revision of the running task definition with ``image`` (or take
    the existing ``task_definition``), then point the service at it. Undo: the previous revision."""
    if image is not None:
        return ecs_actions.plan_image(ops, service, image, region=region)
    running = short_task_definition(
        ecs_actions.describe_service(ops, ecs_actions._cluster(ops, None, region), service, region)["taskDefinition"])
    plan = ecs_actions.plan_task_definition(ops, service, task_definition, region=region,
                                            title=f"blue-green deploy of {task_definition} to {service}")
    plan.notes.append(f"previous revision (the rollback): {running}")
    return plan


# -- watching ---------------------------------------------------------------------------------------
@dataclass
class Watch:
    """Samples of a deployment (or canary) over the watch and how it ended: steady, failed or timeout."""
    subject: str
    verdict: str
    reason: str
    samples: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def good(self) -> bool:
        return self.verdict in ("steady", "healthy")


def _target_health(ops: "Ops", svc: dict, region: str) -> dict[str, int]:
    arns = [lb["targetGroupArn"] for lb in svc.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    return elb_reads.health_counts(ops.client("elbv2", region), arns)


def error_rate(ops: "Ops", end: datetime, minutes: int = 5) -> tuple[float, float, float | None]:
    """5xx, requests and their ratio at the load balancer over the ``minutes`` before ``end``."""
    m = ops.profile.metrics
    return window_share(ops.client("cloudwatch"), m["http_5xx"], m["requests"], end - timedelta(minutes=minutes), end)


def _deployment_sample(ops: "Ops", service: str, task_definition: str, *, now: datetime, elapsed: float,
                      region: str = "primary") -> dict:
    """One look at the deployment of ``task_definition``: its tasks, the old revisions', targets, 5xx."""
    cluster = ecs_actions._cluster(ops, None, region)
    svc = ecs_actions.describe_service(ops, cluster, service, region)
    new = [d for d in svc["deployments"] if short_task_definition(d["taskDefinition"]) == task_definition]
    old = [d for d in svc["deployments"] if d not in new]
    primary = next((d for d in svc["deployments"] if d["status"] == "PRIMARY"), {})
    health = _target_health(ops, svc, region)
    errors, requests, rate = error_rate(ops, now + timedelta(seconds=elapsed))
    return {"elapsed_s": round(elapsed, 1),
            "new_running": sum(d.get("runningCount", 0) for d in new),
            "new_pending": sum(d.get("pendingCount", 0) for d in new),
            "new_desired": sum(d.get("desiredCount", 0) for d in new),
            "new_failed": sum(d.get("failedTasks", 0) for d in new),
            "old_running": sum(d.get("runningCount", 0) for d in old),
            "deployments": len(svc["deployments"]),
            "primary": short_task_definition(primary.get("taskDefinition", "")),
            "rollout_state": primary.get("rolloutState"),
            "healthy_targets": health.get("healthy", 0), "unhealthy_targets": health.get("unhealthy", 0),
            "http_5xx": errors, "requests": requests, "error_rate": rate}


def judge_deployment(sample: dict, *, max_failed_tasks: int, max_error_rate: float,
                     baseline_error_rate: float | None = None) -> tuple[str | None, str]:
    """``failed``/``steady`` with the reason, or None while the deployment is still going.

    The 5xx rate counts against the deploy only above ``max_error_rate`` *and* above the rate when the watch
    began (``baseline_error_rate``): a fix deployed during an outage is not rolled back for the outage's errors."""
    if sample["new_failed"] >= max_failed_tasks:
        return "failed", f"{sample['new_failed']} task(s) of the new revision failed (threshold {max_failed_tasks})"
    if sample["rollout_state"] == "FAILED":
        return "failed", "ECS marked the rollout FAILED (deployment circuit breaker)"
    rate = sample["error_rate"]
    if rate is not None and rate > max_error_rate and (baseline_error_rate is None or rate > baseline_error_rate):
        return "failed", (f"5xx rate {rate:.1%} over the last 5 min (threshold {max_error_rate:.1%}"
                          + (f", {baseline_error_rate:.1%} when the watch began)" if baseline_error_rate is not None
                             else ")"))
    if (sample["deployments"] == 1 and sample["old_running"] == 0 and sample["new_desired"] > 0
            and sample["new_running"] == sample["new_desired"] and sample["new_pending"] == 0
            and sample["unhealthy_targets"] == 0):
        return "steady", (f"{sample['new_running']}/{sample['new_desired']} tasks of the new revision running, "
                          f"{sample['healthy_targets']} healthy targets, old revision drained")
    return None, ""


def watch(sample: Callable[[float], dict], judge: Callable[[dict], tuple[str | None, str]], *, subject: str,
          timeout_s: float, interval_s: float, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic, on_sample: Callable[[dict], None] | None = None,
          final: Callable[[dict], tuple[str, str]] | None = None) -> Watch:
    """Sample every ``interval_s`` until ``judge`` gives a verdict or ``timeout_s`` passes (then ``final``
    decides, by default a timeout)."""
    started = clock()
    rows = []
    while True:
        elapsed = clock() - started
        row = sample(elapsed)
        rows.append(row)
        if on_sample is not None:
            on_sample(row)
        verdict, reason = judge(row)
        if verdict is not None:
            break
        if elapsed + interval_s > timeout_s:
            verdict, reason = final(row) if final else ("timeout", f"not steady after {timeout_s:g} s")
            break
        sleep(interval_s)
    return Watch(subject, verdict, reason, pd.DataFrame(rows))


def watch_deployment(ops: "Ops", service: str, task_definition: str, *, now: datetime, timeout_s: float = 600,
                     interval_s: float = 5, max_failed_tasks: int = 1, max_error_rate: float = 0.05,
                     sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                     on_sample: Callable[[dict], None] | None = None) -> Watch:
    """The runbook's `watch -n 5 aws ecs describe-services ... deployments`, with a verdict. The first
    sample's 5xx rate is the baseline (see :func:`judge_deployment`)."""
    first: list[float | None] = []

    def judge(s: dict) -> tuple[str | None, str]:
        if not first:
            first.append(s["error_rate"])
        return judge_deployment(s, max_failed_tasks=max_failed_tasks, max_error_rate=max_error_rate,
                                baseline_error_rate=first[0])

    return watch(lambda e: _deployment_sample(ops, service, task_definition, now=now, elapsed=e), judge,
                 subject=f"{service} -> {task_definition}", timeout_s=timeout_s, interval_s=interval_s, sleep=sleep,
                 clock=clock, on_sample=on_sample)


def plan_rollback(ops: "Ops", service: str, previous: str, *, reason: str) -> Plan:
    """Point the service back at ``previous`` (the revision it ran before the deploy)."""
    plan = ecs_actions.plan_rollback(ops, service, to=previous)
    plan.notes.append(f"automatic rollback: {reason}")
    return plan


def deployment_chart(w: Watch) -> go.Figure:
    s = w.samples.set_index("elapsed_s")
    tasks = s[["new_running", "old_running", "new_failed", "unhealthy_targets"]].rename(columns={
        "new_running": "new revision running", "old_running": "old revision running",
        "new_failed": "new revision failed tasks", "unhealthy_targets": "unhealthy targets"})
    fig = charts.timeseries(tasks, title=f"Deployment watch: {w.subject} ({w.verdict})", y_title="tasks")
    fig.add_trace(go.Scatter(x=s.index, y=s["error_rate"].astype(float) * 100, mode="lines",
                             name="5xx % (last 5 min)", yaxis="y2", line={"color": charts.TARGET_COLOR}))
    fig.update_layout(xaxis_title="seconds since the update", yaxis2={"title": "5xx %", "overlaying": "y",
                                                                      "side": "right"})
    return fig
