"""What holds the 5-minute RPO for event data: the RDS read replica's lag, the events arriving on the DR
stream (cross-region replication) and DynamoDB point-in-time recovery. The daily backups (``backups``)
are only the fallback against corruption."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...aws.cloudwatch import metric_frame
from ...config import Metric
from ...findings import Check

if TYPE_CHECKING:
    from ...connection import Ops


def pitr_status(ops: "Ops", table: str | None = None) -> str:
    """DynamoDB point-in-time recovery of ``table`` (default: the events table): ENABLED or DISABLED."""
    table = table or ops.profile.dynamodb.events_table
    desc = ops.client("dynamodb").describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    return desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")


LAG_ROW = "RDS analytics DB (replica lag)"


def replica_lag_metric(ops: "Ops", replica: str | None = None) -> Metric:
    return Metric(namespace="AWS/RDS", name="ReplicaLag", unit="Seconds", stat="Maximum",
                  dimensions={"DBInstanceIdentifier": replica or ops.profile.rds.replica})


def _dr_stream_metric(ops: "Ops") -> Metric:
    """The profile's ``incoming_records`` metric, on the DR stream in the DR region."""
    return ops.profile.metrics["incoming_records"].model_copy(
        update={"dimensions": {"StreamName": ops.profile.kinesis.dr_stream}, "region": "dr"})


def replica_lag(ops: "Ops", *, now: datetime, minutes: int = 60, replica: str | None = None) -> pd.Series:
    """CloudWatch ``ReplicaLag`` (seconds, per-minute maximum) of the read replica."""
    frame = metric_frame(ops.client("cloudwatch"), {"lag": replica_lag_metric(ops, replica)},
                         now - timedelta(minutes=minutes), now, 60)
    return frame["lag"].rename("replica lag (s)")


def _dr_stream_incoming(ops: "Ops", *, now: datetime, minutes: int = 60) -> pd.Series:
    """Records arriving on the DR stream per minute (the cross-region replication of events)."""
    metric = _dr_stream_metric(ops)
    frame = metric_frame(ops.client("cloudwatch", metric.region), {"incoming": metric},
                         now - timedelta(minutes=minutes), now, 60, stats={"incoming": "Sum"})
    return frame["incoming"].rename("DR stream records/min")


@dataclass
class RpoStatus:
    rpo_minutes: float
    now: datetime
    lag: pd.Series | None          # the read replica's lag (s); None: the profile names no read replica
    incoming: pd.Series | None     # records/min on the DR stream; None: a single-region pipeline (no DR stream)
    pitr: str

    def rows(self) -> pd.DataFrame:
        rpo_s = self.rpo_minutes * 60
        rows = []
        if self.lag is not None:
            lag = self.lag.dropna()
            latest = float(lag.iloc[-1]) if len(lag) else None
            worst = float(lag.max()) if len(lag) else None
            rows.append({"data": LAG_ROW, "value": latest, "worst in window": worst, "unit": "s",
                         "limit": rpo_s, "status": _status(latest, rpo_s, worst)})
        if self.incoming is not None:
            flowing = self.incoming[self.incoming.fillna(0) > 0]
            since = ((self.now - flowing.index[-1].to_pydatetime()).total_seconds() - 60) / 60 if len(flowing) else None
            since = max(0.0, since) if since is not None else None
            rows.append({"data": "events, cross-region (DR stream idle for)",
                         "value": None if since is None else round(since, 1), "worst in window": None, "unit": "min",
                         "limit": self.rpo_minutes,
                         "status": "fail" if since is None or since > self.rpo_minutes else "ok"})
        rows.append({"data": "DynamoDB real-time events (PITR)", "value": self.pitr, "worst in window": None,
                     "unit": "", "limit": "ENABLED", "status": "ok" if self.pitr == "ENABLED" else "fail"})
        return pd.DataFrame(rows)

    def check(self) -> Check:
        rows = self.rows()
        worst = "fail" if (rows["status"] == "fail").any() else "warn" if (rows["status"] == "warn").any() else "ok"
        parts = [f"{r['data']}: {_shown(r['value'], r['unit'])} ({r['status']})" for r in rows.to_dict("records")]
        lag = rows.iloc[0]
        idle = rows[rows["data"].str.startswith("events, cross-region")]["value"]
        lag = rows[rows["data"] == LAG_ROW]
        absent = ([] if self.lag is not None else ["no read replica (rds.replica)"]) + \
            ([] if self.incoming is not None else ["no DR region (single-region pipeline)"])
        return Check("rpo", worst, f"RPO {self.rpo_minutes:g} min: " + "; ".join(parts + absent),
                     {"replica_lag_s": lag["value"].iloc[0] if len(lag) else None,
                      "replica_lag_worst_s": lag["worst in window"].iloc[0] if len(lag) else None,
                      "dr_stream_idle_min": idle.iloc[0] if len(idle) else None, "pitr": self.pitr})


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "no data"
    return f"{value:g} {unit}".strip() if isinstance(value, (int, float)) else str(value)


def _status(latest: float | None, limit: float, worst: float | None) -> str:
    if latest is None or latest > limit:
        return "fail"
    return "warn" if worst is not None and worst > limit else "ok"


def rpo_status(ops: "Ops", *, now: datetime, minutes: int = 60) -> RpoStatus:
    """The RPO's data sources against the profile's target: the read replica's lag (where the profile names one),
    the events replicated to the DR stream (a single-region pipeline has none) and DynamoDB's point-in-time recovery."""
    incoming = _dr_stream_incoming(ops, now=now, minutes=minutes) if ops.profile.has_dr else None
    lag = replica_lag(ops, now=now, minutes=minutes) if ops.profile.rds.replica else None
    return RpoStatus(ops.profile.targets.rpo_minutes, now, lag, incoming, pitr_status(ops))
