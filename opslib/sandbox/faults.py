"""Named fault scenarios. Each one injects the symptoms the runbook lists for it, in every place a
runbook would look (metrics, alarms, service state, health, logs, records, tables), and returns
what it injected so a drill can check the runbook found exactly that. ``Sandbox.reset`` removes
them all by rebuilding the healthy pipeline.
"""
from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..aws.alarms import alarm_name
from ..aws.arn import short_name
from ..aws.cloudwatch import metric_frame
from ..errors import ParameterError
from ..aws import checkpoints as checkpoint_layouts
from . import metric_history, seed_aws, sql


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    inject: Callable[[Any], dict]


def _alarm(sb: Any, rule_name: str, reason: str) -> None:
    rule = next((r for r in sb.profile.alerts if r.name == rule_name), None)
    if rule is None:            # a profile without that rule has no alarm to set
        return
    name = alarm_name(rule)
    cw = sb.client("cloudwatch")
    if cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)


def _log(sb: Any, group: str, messages: list[str], minutes: int, every_seconds: int = 20) -> None:
    lines = []
    steps = minutes * 60 // every_seconds
    for i in range(steps):
        t = sb.now - timedelta(seconds=every_seconds * (steps - i))
        lines.append((t, messages[i % len(messages)]))
    seed_aws.log_lines(sb, group, lines, stream="ecs/fault/0")


def _requests_per_minute(sb: Any, minutes: int) -> list[float]:
    """The seeded request counts of the last ``minutes`` (oldest first), to derive error counts from."""
    frame = metric_frame(sb.client("cloudwatch"), {"requests": sb.profile.metrics["requests"]},
                         sb.now - timedelta(minutes=minutes), sb.now, 60, stats={"requests": "Sum"})
    values = frame["requests"].dropna().tolist()
    return values or [1000.0] * minutes


def _primary_ecs(sb: Any, names: list[str] | None = None) -> list[tuple[str, str, str]]:
    return [(sb.region("primary"), sb.profile.ecs.cluster, s.name) for s in sb.profile.services
            if s.type == "ecs" and (names is None or s.name in names)]


def _role(sb: Any, role: str) -> list[Any]:
    """The profile's ECS services with ``role`` (faults find services by role, never by a sandbox name);
    a profile without one makes the fault a ParameterError before anything changes."""
    found = [s for s in sb.profile.services_with_role(role) if s.type == "ecs"]
    if not found:
        raise ParameterError("scenario", role, f"a profile with an ECS service of role {role!r}")
    return found


def _service_dims(sb: Any, metric_key: str, service: str) -> dict[str, str] | None:
    """The metric's dimensions for one ECS service (the catalog's per-service metrics: ServiceName)."""
    dims = sb.profile.metrics[metric_key].dimensions
    if "ServiceName" not in dims:
        return None
    return {**dims, "ClusterName": sb.profile.ecs.cluster, "ServiceName": service}


def _log_if(sb: Any, svc: Any, messages: list[str], minutes: int) -> None:
    if svc.log_group and svc.log_group in sb.profile.log_groups:
        _log(sb, svc.log_group, messages, minutes)


def api_down(sb: Any) -> dict:
    ingest = _role(sb, "ingest")
    names = [s.name for s in ingest]
    details = {"ecs_down": _primary_ecs(sb, names), "health_down": names,
               "reason": "OutOfMemoryError: Java heap space (exit code 137)"}
    sb.faults.add("api-down", **details)
    requests = _requests_per_minute(sb, 15)
    metric_history.set_values(sb, "health_check_failures", minutes=15, value=1)
    metric_history.set_values(sb, "http_5xx", minutes=15, value=lambda i: requests[min(i, len(requests) - 1)])
    metric_history.set_values(sb, "incoming_records", minutes=15, value=0)
    for svc in ingest:
        metric_history.set_values(sb, "ecs_memory", minutes=60, value=lambda i: min(99.0, 70 + i * 0.6),
                                  dimensions=_service_dims(sb, "ecs_memory", svc.name))
        _log_if(sb, svc, ["ERROR java.lang.OutOfMemoryError: Java heap space",
                          "ERROR GET /health 503 no healthy upstream",
                          f"WARN container {svc.name} exited with code 137 (OutOfMemory)"], minutes=15)
    _alarm(sb, "API Down", "Threshold Crossed: 3 datapoints were greater than or equal to the threshold (3.0)")
    sb.scheduler.settle()
    return {"service": names[0], "services": names, "since_minutes": 15}


def high_error_rate(sb: Any) -> dict:
    requests = _requests_per_minute(sb, 20)
    metric_history.set_values(sb, "http_5xx", minutes=20, value=lambda i: round(requests[min(i, len(requests) - 1)] * 0.08))
    metric_history.set_values(sb, "http_4xx", minutes=20, value=lambda i: round(requests[min(i, len(requests) - 1)] * 0.04))
    ingest = _role(sb, "ingest")[0]
    rows = sql.error_burst(sb, minutes=20)
    _log_if(sb, ingest, [f"ERROR DatabaseConnectionError: could not connect to {sb.profile.rds.instance}",
                         "ERROR ValidationError: missing field event_type",
                         "INFO POST /v1/events 202 41ms",
                         "ERROR TimeoutError: Kinesis PutRecords timed out after 2000ms"], minutes=20)
    revision = _deploy_new_revision(sb, ingest.name)
    sb.faults.add("high-error-rate", error_rate=0.08, deployed=revision)
    return {"error_rate": 0.08, "since_minutes": 20, "error_logs_rows": rows, "recent_deployment": revision}


def _deploy_new_revision(sb: Any, service: str) -> str:
    """Register and roll out a new revision (the 'bad deployment' a runbook should notice)."""
    ecs = sb.client("ecs")
    current = ecs.describe_services(cluster=sb.profile.ecs.cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn")
    container = dict(td["containerDefinitions"][0])
    container["image"] = container["image"].rsplit(":", 1)[0] + ":1.25.0-rc1"
    new = ecs.register_task_definition(containerDefinitions=[container], **{k: td[k] for k in keep if k in td})
    arn = new["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=sb.profile.ecs.cluster, service=service, taskDefinition=arn)
    sb.scheduler.settle()
    _backdate_deployment(sb, service, arn, sb.now - timedelta(minutes=20, seconds=30))
    return short_name(arn)


def _backdate_deployment(sb: Any, service: str, td_arn: str, when: datetime) -> None:
    """Stamp the deployment of ``td_arn`` with ``when``: the scheduler's clock runs on from the frozen
    ``sb.now``, so without this the deployment would look younger than the errors it caused."""
    svc = sb.backend("ecs").services[f"{sb.profile.ecs.cluster}:{service}"]
    svc.deployments = [{**d, "createdAt": when} if d.get("taskDefinition") == td_arn else d for d in svc.deployments]


def stream_backup(sb: Any) -> dict:
    minutes = 45
    process = _role(sb, "process")
    metric_history.set_values(sb, "iterator_age_ms", minutes=minutes, value=lambda i: 1_000 + i * 20_000)
    for svc in process:
        metric_history.set_values(sb, "ecs_memory", minutes=minutes, value=lambda i: 70 + i * 0.5,
                                  dimensions=_service_dims(sb, "ecs_memory", svc.name)
                                  or {"ClusterName": sb.profile.ecs.cluster, "ServiceName": svc.name})
        _log_if(sb, svc, ["WARN falling behind: MillisBehindLatest={}".format(600_000),
                          "WARN GC pause 2300ms, heap 94%",
                          "INFO processed batch size=1000"], minutes=minutes)
    _alarm(sb, "Stream Backup", "Threshold Crossed: GetRecords.IteratorAgeMilliseconds > 300000")
    stale = _stale_checkpoints(sb, minutes)
    sb.faults.add("stream-backup", lag_minutes=minutes)
    return {"lag_ms": 1_000 + (minutes - 1) * 20_000, "since_minutes": minutes, "stale_checkpoints": stale,
            "service": process[0].name if process else None, "services": [svc.name for svc in process]}


def _stale_checkpoints(sb: Any, minutes: int) -> int:
    """Date every checkpoint ``minutes`` back where the layout records a time (seed: CheckpointedAt); a KCL
    lease table records none, so there it stays as it is. The number of checkpoints changed."""
    lay = checkpoint_layouts.layout(sb.profile.kinesis.checkpoint_layout)
    if lay.written_at is None:
        return 0
    ddb = sb.client("dynamodb")
    table = sb.profile.dynamodb.checkpoint_table
    stale = (sb.now - timedelta(minutes=minutes)).isoformat()
    items = ddb.scan(TableName=table)["Items"]
    for item in items:
        ddb.update_item(TableName=table, Key={lay.key: item[lay.key]},
                        UpdateExpression=f"SET {lay.written_at} = :t", ExpressionAttributeValues={":t": {"S": stale}})
    return len(items)


def poison_messages(sb: Any) -> dict:
    kinesis = sb.client("kinesis")
    stream = sb.profile.kinesis.stream
    shard = "shardId-000000000000"
    process = _role(sb, "process")
    bad = [b"{not json", json.dumps({"event_id": None, "user_id": "user-00001"}).encode(), b"\xff\xfe\x00garbage"]
    sequences = []
    for data in bad:
        # an explicit hash key sends every poison record to the first shard
        resp = kinesis.put_record(StreamName=stream, Data=data, PartitionKey="poison", ExplicitHashKey="0")
        sequences.append(resp["SequenceNumber"])
        shard = resp["ShardId"]
    good = [json.dumps(r).encode() for r in seed_aws.synthetic_records.events(random.Random(7), sb.now, 20)]
    for data in good:
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey="after-poison", ExplicitHashKey="0")
    metric_history.set_values(sb, "iterator_age_ms", minutes=20, value=lambda i: 5_000 + i * 18_000)
    _alarm(sb, "Stream Backup", "Threshold Crossed: GetRecords.IteratorAgeMilliseconds > 300000")
    for svc in process:
        _log_if(sb, svc, [f"ERROR failed to parse record {seq} on {shard}: JSONDecodeError; retrying"
                          for seq in sequences], minutes=20)
    checkpoint = checkpoint_layouts.read_one(sb.client("dynamodb"), sb.profile.dynamodb.checkpoint_table,
                                             sb.profile.kinesis.checkpoint_layout, shard).sequence_number
    sb.faults.add("poison-messages", shard=shard, sequences=sequences, checkpoint=checkpoint)
    return {"shard": shard, "poison_sequence_numbers": sequences, "stuck_checkpoint": checkpoint}


def volume_drop(sb: Any) -> dict:
    hour = sql.volume_drop(sb, hours_ago=3, keep_fraction=0.1)
    minutes_ago = int((sb.now - _utc(hour)).total_seconds() // 60)
    metric_history.scale_values(sb, "incoming_records", minutes=minutes_ago, factor=0.1,
                                until_minutes_ago=minutes_ago - 60)
    metric_history.set_values(sb, "events_dropped", minutes=minutes_ago, value=2500,
                              until_minutes_ago=minutes_ago - 60)
    sb.faults.add("volume-drop", hour=hour.isoformat())
    return {"hour": hour.isoformat()}


def duplicates(sb: Any) -> dict:
    ids = sql.duplicates(sb, count=25)
    sb.faults.add("duplicates", event_ids=ids)
    return {"event_ids": ids}


def region_outage(sb: Any) -> dict:
    services = [s.name for s in sb.profile.services if s.type == "ecs"]
    sb.faults.add("region-outage", region=sb.region("primary"), ecs_down=_primary_ecs(sb), health_down=services)
    for key in ("requests", "incoming_records"):
        metric_history.set_values(sb, key, minutes=10, value=0)
    metric_history.set_values(sb, "health_check_failures", minutes=10, value=1)
    _alarm(sb, "API Down", f"Region {sb.region('primary')} unavailable")
    sb.scheduler.settle()
    return {"region": sb.region("primary"), "since_minutes": 10,
            # what the DR runbook advises: a failover, or (single-region pipeline) that there is nowhere to go
            "failover_advice": "ADVISED" if sb.profile.has_dr else "no DR region to fail over to"}


def stale_backup(sb: Any) -> dict:
    s3 = sb.client("s3")
    bucket = sb.profile.s3.backups_bucket
    removed = []
    for day in range(0, 3):
        prefix = f"daily/{sb.now - timedelta(days=day):%Y/%m/%d}/"
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
                removed.append(v["Key"])
    backend = sb.backend("dynamodb")
    for backup in backend.backups.values():
        backup.creation_date_time -= timedelta(days=3)
    sb.faults.add("stale-backup", removed=sorted(set(removed)))
    return {"removed_s3_keys": sorted(set(removed)), "dynamodb_backups_aged_days": 3}


LEAKED_IP = "203.0.113.50"


def leaked_credential(sb: Any) -> dict:
    iam = sb.client("iam")
    key = iam.create_access_key(UserName="etl-service")["AccessKey"]
    key_id = key["AccessKeyId"]
    lam = sb.client("lambda")
    aggregator = next((s.name for s in sb.profile.services if s.type == "lambda" and s.role == "aggregate"),
                      next((s.name for s in sb.profile.services if s.type == "lambda"), None))
    if aggregator:
        lam.update_function_configuration(FunctionName=aggregator, Environment={"Variables": {
            "LOG_LEVEL": "INFO", "AWS_ACCESS_KEY_ID": key_id}})
    sb.client("s3").put_object(Bucket=sb.profile.s3.lambda_artifacts_bucket, Key="config/etl.env",
                               Body=f"AWS_ACCESS_KEY_ID={key_id}\nREGION={sb.region('primary')}\n".encode())
    events = []
    for minutes, name, source in ((50, "GetCallerIdentity", "sts.amazonaws.com"),
                                  (45, "ListBuckets", "s3.amazonaws.com"),
                                  (40, "CreateAccessKey", "iam.amazonaws.com"),
                                  (35, "PutUserPolicy", "iam.amazonaws.com"),
                                  (30, "DeleteBucket", "s3.amazonaws.com")):
        events.append({"EventName": name, "EventSource": source, "Username": "etl-service", "AccessKeyId": key_id,
                       "EventTime": sb.now - timedelta(minutes=minutes), "SourceIPAddress": LEAKED_IP,
                       "ReadOnly": name in ("GetCallerIdentity", "ListBuckets"),
                       "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": sb.profile.s3.events_bucket}]
                       if name == "DeleteBucket" else []})
    from . import cloudtrail
    cloudtrail.record_events(sb, events)
    sb.faults.add("leaked-credential", access_key_id=key_id, ip=LEAKED_IP)
    return {"access_key_id": key_id, "user": "etl-service", "source_ip": LEAKED_IP,
            "events": [e["EventName"] for e in events]}


def expiring_certificate(sb: Any) -> dict:
    arn = seed_aws.install_certificate(sb, days_left=10)
    sb.faults.add("expiring-certificate", days_left=10)
    return {"certificate_arn": arn, "domain": sb.profile.dns.record, "days_left": 10,
            "pem": str(sb.config.dir / "certs" / "api.crt")}


def slow_queries(sb: Any) -> dict:
    result = sql.slow_queries(sb)
    metric_history.set_values(sb, "latency_ms", minutes=30, value=[150.0] * 15 + [240.0] * 5)
    sb.faults.add("slow-queries")
    return {"statements": result}


def connection_exhaustion(sb: Any) -> dict:
    result = sql.connection_exhaustion(sb)
    # the RDS metric measures the same server: it climbs over 30 min to the connections now held (one source,
    # so the metric's peak and pg_stat_activity agree against the one max_connections)
    metric_history.set_values(sb, "db_connections", minutes=30,
                              value=lambda i: round(result.in_use * (0.6 + 0.4 * i / 29)))
    for svc in sb.profile.services_with_role("ingest")[:1]:
        _log_if(sb, svc, ["ERROR could not obtain connection from pool within 2000ms (pool max 20)",
                          "ERROR FATAL: sorry, too many clients already"], minutes=15)
    sb.faults.add("connection-exhaustion")
    return {"connections": result}


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("api-down", "the ingest service's tasks crash (OOM) and stay down: health 503, 5xx, no events, "
                         "API Down alarm",
             api_down),
    Scenario("high-error-rate", "8% 5xx for 20 min after a fresh deployment; ERROR logs and error_logs rows",
             high_error_rate),
    Scenario("stream-backup", "iterator age climbs to ~15 min over 45 min; stale checkpoints (seed layout); "
                              "memory pressure on the process service",
             stream_backup),
    Scenario("poison-messages", "malformed records on shardId-000000000000 block the process service; parse errors "
                                "in its logs",
             poison_messages),
    Scenario("volume-drop", "90% of the events of the hour 3 h ago are missing; dropped-events metric spikes then",
             volume_drop),
    Scenario("duplicates", "25 events of the last hour are stored twice", duplicates),
    Scenario("region-outage", "the primary region's services are down; the DR region stays healthy", region_outage),
    Scenario("stale-backup", "no S3 backup for the last 3 days; DynamoDB backups 3 days older", stale_backup),
    Scenario("leaked-credential", "an etl-service access key is exposed (Lambda env, S3) and used from 203.0.113.50",
             leaked_credential),
    Scenario("expiring-certificate", "the API certificate (ACM and PEM file) expires in 10 days", expiring_certificate),
    Scenario("slow-queries", "statements averaging over 1 s in pg_stat_statements; p99 latency up", slow_queries),
    Scenario("connection-exhaustion", "idle connections fill PostgreSQL near max_connections; pool timeouts in logs",
             connection_exhaustion),
)}


def inject(sb: Any, name: str) -> dict:
    """Inject scenario ``name``; returns what was injected. Unknown names are a ParameterError."""
    if name not in SCENARIOS:
        raise ParameterError("scenario", name, ", ".join(SCENARIOS))
    return _plain(SCENARIOS[name].inject(sb))


def _plain(value: Any) -> Any:
    """Details as JSON-ready values (the control server returns them over HTTP)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
