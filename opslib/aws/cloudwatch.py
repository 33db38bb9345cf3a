"""CloudWatch reads: metric series as pandas objects (boto3's get_metric_data paginator), alarms."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd


def _query(qid: str, metric: Any, period_s: int, stat: str, dimensions: dict | None = None) -> dict:
    dims = metric.dimensions if dimensions is None else dimensions
    return {"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
        "Period": period_s, "Stat": stat}}


def metric_frame(cw: Any, metrics: dict[str, Any], start: datetime, end: datetime, period_s: int = 60,
                 stats: dict[str, str] | None = None) -> pd.DataFrame:
    """One column per named metric (its profile ``stat`` unless ``stats`` overrides), indexed by UTC
    period start, over [start, end). Periods without data are NaN."""
    stats = stats or {}
    keys = list(metrics)
    queries = [_query(f"m{i}", metrics[k], period_s, stats.get(k, metrics[k].stat)) for i, k in enumerate(keys)]
    series: dict[str, dict] = {k: {} for k in keys}
    for chunk in range(0, len(queries), 500):
        pages = cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries[chunk:chunk + 500], StartTime=start, EndTime=end, ScanBy="TimestampAscending")
        for page in pages:
            for result in page["MetricDataResults"]:
                key = keys[int(result["Id"][1:])]
                series[key].update(zip(result["Timestamps"], result["Values"]))
    # periods start at StartTime (CloudWatch aligns them to it), so the index does too
    index = pd.date_range(pd.Timestamp(start).floor("60s"), pd.Timestamp(end), freq=f"{period_s}s",
                          inclusive="left")
    frame = pd.DataFrame({k: pd.Series(v, dtype="float64") for k, v in series.items()})
    if len(frame):
        frame.index = pd.to_datetime(frame.index, utc=True)
    return frame.reindex(index)


def alarms_in_alarm(cw: Any) -> pd.DataFrame:
    """Alarms currently in ALARM state (the runbook's `describe-alarms --state-value ALARM`)."""
    rows = []
    for page in cw.get_paginator("describe_alarms").paginate(StateValue="ALARM"):
        for a in page["MetricAlarms"]:
            rows.append({"alarm": a["AlarmName"], "metric": f"{a.get('Namespace')}/{a.get('MetricName')}",
                         "since": a.get("StateUpdatedTimestamp"), "reason": a.get("StateReason")})
    return pd.DataFrame(rows, columns=["alarm", "metric", "since", "reason"])


def share(count: pd.Series, total: pd.Series) -> pd.Series:
    """``count / total`` per period (the 5xx share of requests): a period without ``count`` data counts 0,
    one without ``total`` (or a total of 0) is NaN, not a share."""
    return count.fillna(0) / total.where(total > 0)


def window_share(cw: Any, count: Any, total: Any, start: datetime, end: datetime, period_s: int = 60
                 ) -> tuple[float, float, float | None]:
    """(sum of ``count``, sum of ``total``, their ratio or None without a total) over [start, end): the 5xx
    share of requests over a window, with Sum statistics."""
    frame = metric_frame(cw, {"count": count, "total": total}, start, end, period_s,
                         stats={"count": "Sum", "total": "Sum"})
    n, of = float(frame["count"].sum()), float(frame["total"].sum())
    return n, of, (n / of if of else None)
