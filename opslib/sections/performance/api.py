"""API latency percentiles (p50/p90/p99) and throughput from the load balancer's metrics, and the p99
latency against its target."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ...aws.cloudwatch import metric_frame
from ...findings import Check

PERCENTILES = ("p50", "p90", "p99")


def api_performance(ops: Any, *, hours: float = 24, now: datetime | None = None, period_s: int = 60) -> pd.DataFrame:
    """Per period: latency p50/p90/p99 (ms) and requests per second (ALB RequestCount)."""
    now = now or ops.now()
    m = ops.profile.metrics
    metrics = {f"{p}_ms": m["latency_ms"] for p in PERCENTILES} | {"requests": m["requests"]}
    stats = {f"{p}_ms": p for p in PERCENTILES} | {"requests": "Sum"}
    raw = metric_frame(ops.client("cloudwatch"), metrics, now - timedelta(hours=hours), now, period_s, stats=stats)
    raw["requests_per_s"] = raw.pop("requests") / period_s
    return raw


def latency_check(frame: pd.DataFrame, *, target_ms: float, recent_minutes: int = 15, period_s: int = 60) -> Check:
    """p99 over the last ``recent_minutes``: fail when its median breaches the target (a sustained
    breach), warn when only single periods do."""
    recent = frame["p99_ms"].iloc[-max(1, recent_minutes * 60 // period_s):].dropna()
    if recent.empty:
        return Check.warn("api-latency-p99", f"no p99 latency data in the last {recent_minutes} min", target=target_ms)
    typical, worst = float(recent.median()), float(recent.max())
    text = f"p99 over the last {recent_minutes} min: median {typical:.0f} ms, worst {worst:.0f} ms (target < {target_ms:g} ms)"
    figures = {"p99_median_ms": typical, "p99_worst_ms": worst, "target_ms": target_ms}
    if typical >= target_ms:
        return Check.fail("api-latency-p99", text, **figures)
    return Check("api-latency-p99", "warn" if worst >= target_ms else "ok", text, figures)
