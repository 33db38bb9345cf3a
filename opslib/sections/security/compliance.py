"""Compliance checks: GDPR erasure of one user's data (counted deletes, an action), data retention (S3
lifecycle rules and rows older than the cold tier) and the audit trail (CloudTrail trail, ``audit_logs``).

The runbook's ``DELETE FROM events WHERE event_timestamp < NOW() - INTERVAL '2 years'`` uses ``NOW()``:
the count shown and the rows deleted could differ; here the cut-off is bound from the run's clock."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from ...actions import Plan
from ...actions.sql import plan_delete
from ...aws import cloudtrail as cloudtrail_reads
from ...errors import ParameterError
from ...findings import Check
from ...retention import retention_checks


def trail_status(ops: Any, trail: str | None = None) -> dict:
    """The trail's settings and whether it is logging (``trail``: the profile's ``security.cloudtrail_trail``)."""
    return cloudtrail_reads.trail_status(ops.client("cloudtrail"), trail or ops.profile.security.cloudtrail_trail)


GDPR_TABLES = ("events", "audit_logs")        # the tables holding a user_id, in both stores
STORES = ("database", "warehouse")
TIME_COLUMNS = {"events": "event_timestamp", "error_logs": "timestamp", "audit_logs": "timestamp"}
_USER_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,64}$")


def _naive(now: datetime) -> datetime:
    return pd.Timestamp(now).tz_convert("UTC").tz_localize(None).to_pydatetime()


def check_gdpr(user_id: Any, tables: Any) -> tuple[str | None, list[str]]:
    """Validate the GDPR parameters before any call."""
    if user_id is not None and (not isinstance(user_id, str) or not _USER_ID.match(user_id)):
        raise ParameterError("gdpr_user_id", user_id, "None or a user id (letters, digits, _ . @ : -; up to 64)")
    if isinstance(tables, str) or not isinstance(tables, (list, tuple)) or not tables \
            or any(t not in GDPR_TABLES for t in tables):
        raise ParameterError("gdpr_tables", tables, f"a non-empty list of {', '.join(GDPR_TABLES)}")
    return user_id, list(dict.fromkeys(tables))


def _events_of(ops: Any, store: str, engine: sa.Engine | None = None):
    from ...events_table import for_source
    return for_source(ops, store, engine)


def plan_gdpr_deletion(ops: Any, user_id: str, *, tables: Iterable[str] = GDPR_TABLES,
                       stores: Iterable[str] = STORES) -> Plan:
    """Counted ``DELETE ... WHERE user_id = :user_id`` for each table of each store (the runbook's
    ``./scripts/delete_user_data.sh user_id``). Tables without rows of the user are left out. ``events`` is
    the profile's events table of each store (``databases.<store>.events_table``) with its own user_id
    column; a store whose events table has no user_id column is left out with a note (not measurable)."""
    user_id, tables = check_gdpr(user_id, list(tables))
    if user_id is None:
        raise ParameterError("gdpr_user_id", None, "a user id to erase")
    plan = Plan(f"GDPR erasure of {user_id}", [], ops)
    counts, skipped = [], []
    for store in stores:
        for table in tables:
            name, user_col = table, "user_id"
            if table == "events":
                events = _events_of(ops, store)
                if not events.exists or not events.has("user_id"):
                    skipped.append(f"{store}.{events.display}: not measurable ({events.describe_missing(['user_id'])})")
                    continue
                name, user_col = events.display, events.real("user_id")
            part = plan_delete(ops, name, f"{user_col} = :user_id", {"user_id": user_id}, database=store,
                               reason=f"GDPR erasure of user {user_id}")
            counts.append(f"{store}.{name}: {part.changes[0].meta['count'] if part.changes else 0}")
            plan = plan + part
    plan.title = f"GDPR erasure of {user_id} ({', '.join(counts)})"
    plan.notes = [n for n in plan.notes if "nothing to delete" not in n] + skipped
    return plan


def deletion_counts(plan: Plan) -> pd.DataFrame:
    return pd.DataFrame([{"store": c.params["database"], "table": c.params["table"], "rows": c.meta["count"],
                          "command": c.cli} for c in plan.changes], columns=["store", "table", "rows", "command"])


# -- retention ------------------------------------------------------------------------------------
def data_ages(ops: Any, *, now: datetime, engines: dict[str, sa.Engine] | None = None) -> pd.DataFrame:
    """Per store and table: rows, oldest row and rows older than the cold tier (``targets.retention.cold_days``)."""
    cold = ops.profile.targets.retention.cold_days
    cutoff = _naive(now) - timedelta(days=cold)
    engines = engines or {"database": ops.database, "warehouse": ops.warehouse}
    rows = []
    for store, engine in engines.items():
        events = _events_of(ops, store, engine)
        with engine.connect() as conn:
            for table, col in TIME_COLUMNS.items():
                schema = None
                if table == "events":
                    if not events.exists or not events.has("event_timestamp"):
                        continue          # not measurable: the profile's events table has no time column here
                    table, schema, t, c = str(events.name), events.schema, events.table, events.col("event_timestamp")
                else:
                    t = sa.table(table, sa.column(col))
                    c = t.c[col]
                q = sa.select(sa.func.count(), sa.func.min(c),
                              sa.func.sum(sa.case((c < cutoff, 1), else_=0))).select_from(t)
                total, oldest, older = conn.execute(q).one()
                shown = f"{schema}.{table}" if schema else table
                rows.append({"store": store, "table": shown, "rows": int(total), "oldest": oldest,
                             "older_than_retention": int(older or 0), "cutoff": cutoff})
    return pd.DataFrame(rows, columns=["store", "table", "rows", "oldest", "older_than_retention", "cutoff"])


def retention_compliance(ops: Any, ages: pd.DataFrame) -> list[Check]:
    """The events bucket's lifecycle rules (``retention``, shared with System Overview) and the rows kept
    beyond the cold tier (``retention-data``)."""
    cold = ops.profile.targets.retention.cold_days
    over = ages[ages["older_than_retention"] > 0]
    if over.empty:
        data = Check.ok("retention-data", f"no rows older than {cold} days in "
                        + ", ".join(f"{r.store}.{r.table}" for r in ages.itertuples()), cold_days=cold)
    else:
        data = Check.warn("retention-data", f"rows kept beyond the {cold}-day retention: " + ", ".join(
            f"{r.store}.{r.table} {r.older_than_retention}" for r in over.itertuples()) + "; delete them with "
            "opslib.actions.sql.plan_delete (a bound cut-off)", cold_days=cold,
            rows={f"{r.store}.{r.table}": r.older_than_retention for r in over.itertuples()})
    return retention_checks(ops) + [data]


# -- audit trail ----------------------------------------------------------------------------------
def audit_trail_check(status: dict) -> Check:
    name = status["trail"]
    if not status["exists"]:
        return Check.fail("audit-trail", f"no CloudTrail trail {name!r}: API calls are not recorded")
    wrong = [label for key, label in (("logging", "not logging"), ("multi_region", "single-region"),
                                      ("log_file_validation", "log file validation off"),
                                      ("global_service_events", "no global service events (IAM, STS)"))
             if not status[key]]
    if status["latest_delivery_error"]:
        wrong.append(f"delivery error {status['latest_delivery_error']}")
    figures = {k: v for k, v in status.items() if k != "trail"}
    if not status["logging"]:
        return Check.fail("audit-trail", f"trail {name}: " + ", ".join(wrong), **figures)
    if wrong:
        return Check.warn("audit-trail", f"trail {name}: " + ", ".join(wrong), **figures)
    return Check.ok("audit-trail", f"trail {name} logging, multi-region, log file validation on, to "
                    f"s3://{status['bucket']}", **figures)


def recent_audit_logs(engine: sa.Engine, *, now: datetime, days: int = 90, limit: int = 20) -> tuple[int, pd.DataFrame]:
    """The runbook's audit trail query with a bound time: rows of the last ``days`` days (count, newest rows)."""
    cols = ["action", "user_id", "timestamp", "ip_address"]
    t = sa.table("audit_logs", *(sa.column(c) for c in cols))
    since = _naive(now) - timedelta(days=days)
    where = t.c["timestamp"] > since
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar()
        rows = conn.execute(sa.select(*t.c).where(where).order_by(t.c["timestamp"].desc()).limit(limit)).fetchall()
    return int(total), pd.DataFrame(rows, columns=cols)
