"""Database connections: the live usage and its check (:mod:`opslib.pg_connections`), the RDS
``DatabaseConnections`` metric, and the connections the services' pools may open."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ...aws.cloudwatch import metric_frame
from ...pg_connections import ConnectionUsage, connection_check, connection_usage

__all__ = ["ConnectionUsage", "connection_check", "connection_usage", "db_connections_metric", "pool_capacity"]


def db_connections_metric(ops: Any, *, minutes: int = 60, now: datetime | None = None) -> pd.Series:
    """The RDS DatabaseConnections metric (profile metric ``db_connections``), per minute."""
    now = now or ops.now()
    frame = metric_frame(ops.client("cloudwatch"), {"db_connections": ops.profile.metrics["db_connections"]},
                         now - timedelta(minutes=minutes), now, 60)
    return frame["db_connections"]


def pool_capacity(environments: dict[str, dict], *, env: str = "DB_POOL_MAX") -> pd.DataFrame:
    """Connections the services' pools may open: running tasks x pool max, per service."""
    rows = [{"service": s, "running tasks": i["running"], "pool max": int(i["env"][env]),
             "connections at full pools": i["running"] * int(i["env"][env])}
            for s, i in environments.items() if str(i["env"].get(env, "")).isdigit()]
    return pd.DataFrame(rows, columns=["service", "running tasks", "pool max", "connections at full pools"])
