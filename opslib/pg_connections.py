"""PostgreSQL connections in use (``pg_stat_activity``) against ``max_connections``, and the runbook's
"Database connection exhaustion" check on them. Read by Performance Tuning and by Incident Response's
database hint, so it lives below both."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from .errors import QueryError
from .findings import Check


@dataclass(frozen=True)
class ConnectionUsage:
    in_use: int                       # client backends now (pg_stat_activity), not counting this one
    max_connections: int
    reserved: int                     # superuser_reserved_connections
    by_state: pd.DataFrame = field(repr=False)

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved

    @property
    def ratio(self) -> float:
        return self.in_use / self.max_connections


def connection_usage(engine: sa.Engine) -> ConnectionUsage:
    """pg_stat_activity's client backends by application and state, and the server's limits."""
    q = """SELECT coalesce(nullif(application_name, ''), '(none)') AS application, coalesce(state, '?') AS state,
                  count(*) AS connections, max(now() - state_change) AS longest_in_state
           FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
           GROUP BY 1, 2 ORDER BY connections DESC"""
    try:
        with engine.connect() as conn:
            res = conn.execute(sa.text(q))
            frame = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
            max_conn = int(conn.execute(sa.text("SHOW max_connections")).scalar())
            reserved = int(conn.execute(sa.text("SHOW superuser_reserved_connections")).scalar())
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"cannot read pg_stat_activity: {getattr(exc, 'orig', None) or exc}") from exc
    return ConnectionUsage(int(frame["connections"].sum()) if len(frame) else 0, max_conn, reserved, frame)


def connection_check(usage: ConnectionUsage, metric: pd.Series | None = None, *, recent_minutes: int = 15,
                     warn_ratio: float = 0.6, fail_ratio: float = 0.8) -> Check:
    """The runbook's "Database connection exhaustion": connections in use (live, and the RDS metric's
    recent peak) against max_connections."""
    peak = None
    if metric is not None:
        recent = metric.iloc[-recent_minutes:].dropna()
        peak = float(recent.max()) if len(recent) else None
    worst = max(usage.in_use, peak or 0)
    ratio = worst / usage.max_connections
    limit = usage.max_connections
    text = (f"PostgreSQL pg_stat_activity: {usage.in_use} client connections now of max_connections {limit} "
            f"({usage.in_use / limit:.0%})"
            + (f"; CloudWatch DatabaseConnections: peak {peak:.0f} in the last {recent_minutes} min "
               f"({peak / limit:.0%} of the same max_connections)" if peak is not None else ""))
    figures = {"in_use": usage.in_use, "metric_peak": peak, "max_connections": usage.max_connections,
               "ratio": round(ratio, 3)}
    if ratio >= fail_ratio:
        return Check.fail("db-connections", f"connection exhaustion: {text}", **figures)
    return Check("db-connections", "warn" if ratio >= warn_ratio else "ok", text, figures)
