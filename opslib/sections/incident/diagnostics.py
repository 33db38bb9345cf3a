"""The procedures' immediate actions as read-only diagnostics: ECS status and recent deployments, ALB
target health, /health checks, logs, the runbook's error_logs query, shard checkpoints and a scan of
the records after them for poison messages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from ... import health_checks as http
from ...aws import arn
from ...aws import checkpoints as checkpoint_reads
from ...aws import ecs as ecs_reads
from ...aws import elb as elb_reads
from ...aws import kinesis as kinesis_reads
from ...errors import QueryError
from ...records import validate_record


def _ecs_services(ops: Any, names: Iterable[str] | None = None) -> list[Any]:
    wanted = set(names) if names is not None else None
    return [s for s in ops.profile.services if s.type == "ecs" and (wanted is None or s.name in wanted)]


def _utc(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def ecs_status(ops: Any, services: Iterable[str] | None = None) -> pd.DataFrame:
    """``aws ecs describe-services``: desired/running/pending, task definition, rollout, last event."""
    names = [s.name for s in _ecs_services(ops, services)]
    return ecs_reads.services(ops.client("ecs"), ops.profile.ecs.cluster, names)


def recent_deployments(ops: Any, *, now: datetime, minutes: int = 120,
                       services: Iterable[str] | None = None) -> pd.DataFrame:
    """Deployments created in ``[now - minutes, now]`` (a new task definition revision rolled out), with
    the newest older ACTIVE revision of the family (what a rollback goes back to). Replaces the
    runbook's ``describe-task-definition`` (which shows the latest revision, not what changed when)."""
    ecs = ops.client("ecs")
    start = now - timedelta(minutes=minutes)
    rows = []
    names = [s.name for s in _ecs_services(ops, services)]
    for svc in ecs_reads.describe_services(ecs, ops.profile.ecs.cluster, names):
        for d in svc.get("deployments", []):
            created = _utc(d.get("createdAt"))
            if created is None or not start <= created <= now:
                continue
            td = arn.task_definition(d.get("taskDefinition"))
            family, rev = arn.family_revision(td)
            older = [r for r in ecs_reads.task_definition_revisions(ecs, family) if r < rev]
            rows.append({"service": svc["serviceName"], "deployment": d.get("id"), "status": d.get("status"),
                         "task_definition": td, "previous": f"{family}:{older[0]}" if older else None,
                         "created": created,
                         "rollout_state": d.get("rolloutState")})
    return pd.DataFrame(rows, columns=["service", "deployment", "status", "task_definition", "previous", "created",
                                       "rollout_state"]).sort_values("created", ascending=False, ignore_index=True)


def stopped_tasks(ops: Any, services: Iterable[str] | None = None) -> pd.DataFrame:
    """Recently stopped tasks and why: the task's stoppedReason ("Essential container in task exited") and
    its containers' exit codes and reasons, where an OutOfMemory kill (exit 137) shows."""
    ecs, cluster = ops.client("ecs"), ops.profile.ecs.cluster
    rows = []
    for svc in _ecs_services(ops, services):
        for t in ecs_reads.describe_tasks(ecs, cluster, svc.name, "STOPPED"):
            containers = t.get("containers", [])
            rows.append({"service": svc.name, "task": arn.short_name(t["taskArn"]),
                         "task_definition": arn.task_definition(t.get("taskDefinitionArn")),
                         "stopped_at": t.get("stoppedAt"), "stopped_reason": t.get("stoppedReason"),
                         "exit_codes": ", ".join(str(c.get("exitCode")) for c in containers),
                         "container_reason": "; ".join(c["reason"] for c in containers if c.get("reason"))})
    return pd.DataFrame(rows, columns=["service", "task", "task_definition", "stopped_at", "stopped_reason",
                                       "exit_codes", "container_reason"])


def target_health(ops: Any, services: Iterable[str] | None = None) -> pd.DataFrame:
    """``aws elbv2 describe-target-health`` for each service's target group, found by its name in the
    profile (the runbook's ``arn:aws:elasticloadbalancing:xxx`` is a placeholder)."""
    elb = ops.client("elbv2")
    by_name = {s.target_group: s.name for s in _ecs_services(ops, services) if s.target_group}
    rows = []
    for tg in elb_reads.target_groups(elb, by_name):
        for t in elb_reads.target_health(elb, tg["TargetGroupArn"]):
            h = t["TargetHealth"]
            rows.append({"service": by_name[tg["TargetGroupName"]], "target_group": tg["TargetGroupName"],
                         "target": t["Target"]["Id"], "port": t["Target"].get("Port"), "state": h.get("State"),
                         "reason": h.get("Reason") or ""})
    return pd.DataFrame(rows, columns=["service", "target_group", "target", "port", "state", "reason"])


def health_checks(ops: Any, services: Iterable[str] | None = None, *, timeout: float = 3.0) -> pd.DataFrame:
    """GET each ECS service's ``/health`` with a timeout."""
    rows = []
    for svc in _ecs_services(ops, services):
        if not svc.health_url:
            continue
        r = http.check(ops.health_url(svc.health_url), timeout)
        rows.append({"service": svc.name, "url": r.url, "ok": r.ok, "status": r.status,
                     "latency_ms": round(r.latency_ms, 1), "error": r.error})
    return pd.DataFrame(rows, columns=["service", "url", "ok", "status", "latency_ms", "error"])


def checkpoints(ops: Any, *, now: datetime, table: str | None = None) -> pd.DataFrame:
    """The consumer's checkpoint per shard (DynamoDB, in the profile's ``kinesis.checkpoint_layout``) and how
    long ago it was written (None where the layout records no time: a KCL lease table)."""
    table = table or ops.profile.dynamodb.checkpoint_table
    frame = checkpoint_reads.read_all(ops.client("dynamodb"), table, ops.profile.kinesis.checkpoint_layout)
    rows = []
    for r in frame.itertuples():
        at = _utc(r.checkpointed_at) if r.checkpointed_at else None
        rows.append({"shard": r.shard_id, "sequence_number": r.sequence_number, "checkpointed_at": at,
                     "age_seconds": (now - at).total_seconds() if at else None, "lease_owner": r.owner,
                     "lease_counter": None if pd.isna(r.counter) else int(r.counter)})
    return pd.DataFrame(rows, columns=["shard", "sequence_number", "checkpointed_at", "age_seconds", "lease_owner",
                                       "lease_counter"]).sort_values("shard", ignore_index=True)


# -- logs -----------------------------------------------------------------------------------------------
def error_events(ops: Any, groups: Iterable[str], *, start: datetime, end: datetime, pattern: str = "ERROR",
                 limit: int = 5000) -> pd.DataFrame:
    """``aws logs filter-log-events --filter-pattern ERROR`` over ``[start, end]`` for each log group,
    paginated, at most ``limit`` events per group."""
    logs = ops.client("logs")
    rows = []
    for group in groups:
        n = 0
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=pattern, startTime=int(start.timestamp() * 1000),
            endTime=int(end.timestamp() * 1000))
        for page in pages:
            for e in page["events"]:
                rows.append({"time": datetime.fromtimestamp(e["timestamp"] / 1000, timezone.utc), "group": group,
                             "stream": e.get("logStreamName"), "message": e["message"]})
                n += 1
            if n >= limit:
                break
    return pd.DataFrame(rows, columns=["time", "group", "stream", "message"])


def error_patterns(events: pd.DataFrame) -> pd.DataFrame:
    """Error lines grouped by their shape (numbers and ids replaced): count, first and last seen."""
    cols = ["group", "pattern", "count", "first_seen", "last_seen"]
    if events.empty:
        return pd.DataFrame(columns=cols)
    shape = events["message"].str.replace(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", regex=True).str.replace(
        r"\d+", "N", regex=True)
    out = (events.assign(pattern=shape).groupby(["group", "pattern"])
           .agg(count=("message", "size"), first_seen=("time", "min"), last_seen=("time", "max")).reset_index())
    return out.sort_values("count", ascending=False, ignore_index=True)[cols]


def error_logs_summary(engine: sa.Engine, *, as_of: datetime, minutes: int = 60) -> pd.DataFrame:
    """The runbook's error_logs query over ``(as_of - minutes, as_of]`` (bound times instead of ``NOW()``,
    so a rerun gives the same answer)."""
    t = sa.table("error_logs", sa.column("error_type"), sa.column("timestamp"))
    end = as_of.astimezone(timezone.utc).replace(tzinfo=None)
    q = (sa.select(t.c.error_type, sa.func.count().label("count"), sa.func.min(t.c.timestamp).label("first_seen"),
                   sa.func.max(t.c.timestamp).label("last_seen"))
         .where(t.c.timestamp > end - timedelta(minutes=minutes), t.c.timestamp <= end)
         .group_by(t.c.error_type).order_by(sa.desc("count")))
    try:
        with engine.connect() as conn:
            res = conn.execute(q)
            return pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"cannot read error_logs: {getattr(exc, 'orig', None) or exc}") from exc


# -- poison messages -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoisonScan:
    shards: pd.DataFrame     # shard, checkpoint, read, invalid, last_invalid, valid_before_last_invalid
    bad: pd.DataFrame        # shard, sequence_number, arrived, error, preview

    @property
    def found(self) -> bool:
        return len(self.bad) > 0

    def sequence_numbers(self) -> dict[str, list[str]]:
        return {s: list(g["sequence_number"]) for s, g in self.bad.groupby("shard", sort=True)}


def scan_poison(ops: Any, checkpoint_frame: pd.DataFrame, *, stream: str | None = None,
                max_records: int = 1000, max_calls: int = 20) -> PoisonScan:
    """Read each shard from its checkpointed position (``AFTER_SEQUENCE_NUMBER``; TRIM_HORIZON for a shard
    without a checkpoint), up to ``max_records`` records, and validate every record as the consumer would."""
    kinesis = ops.client("kinesis")
    stream = stream or ops.profile.kinesis.stream
    positions = dict(zip(checkpoint_frame["shard"], checkpoint_frame["sequence_number"]))
    shard_rows, bad_rows = [], []
    for shard in kinesis_reads.shard_ids(kinesis, stream):
        seq = positions.get(shard)
        position = checkpoint_reads.iterator_args(seq if isinstance(seq, str) else None)
        read, valid_since_bad, last_bad, valid_before_last = 0, 0, None, 0
        records = ([] if position is None else         # SHARD_END: a closed shard, fully processed
                   kinesis_reads.shard_records(kinesis, stream, shard, position=position, limit=max_records,
                                               max_calls=max_calls))
        for r in records:
            read += 1
            error = validate_record(r["Data"])
            if error is None:
                valid_since_bad += 1
                continue
            valid_before_last += valid_since_bad
            valid_since_bad, last_bad = 0, r["SequenceNumber"]
            bad_rows.append({"shard": shard, "sequence_number": r["SequenceNumber"],
                             "arrived": r.get("ApproximateArrivalTimestamp"), "error": error,
                             "preview": repr(bytes(r["Data"][:40]))})
        shard_rows.append({"shard": shard, "checkpoint": seq, "read": read,
                           "invalid": sum(1 for b in bad_rows if b["shard"] == shard), "last_invalid": last_bad,
                           "valid_before_last_invalid": valid_before_last})
    return PoisonScan(
        pd.DataFrame(shard_rows, columns=["shard", "checkpoint", "read", "invalid", "last_invalid",
                                          "valid_before_last_invalid"]),
        pd.DataFrame(bad_rows, columns=["shard", "sequence_number", "arrived", "error", "preview"]))
