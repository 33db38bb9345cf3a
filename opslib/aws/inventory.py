"""Live inventory of one region (from the AWS APIs, not from the profile) and what the profile
expects there but AWS lacks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import ecs as ecs_reads
from . import kinesis as kinesis_reads
from .arn import short_name
from .access import blind_reason

COLUMNS = ["region", "kind", "name", "state", "detail"]


def _rows_ecs(client: Any, region: str) -> list[dict]:
    rows = []
    clusters = [a for page in client.get_paginator("list_clusters").paginate() for a in page["clusterArns"]]
    for arn in clusters:
        cluster = short_name(arn)
        rows.append({"region": region, "kind": "ecs-cluster", "name": cluster, "state": "ACTIVE", "detail": ""})
        for _, s in ecs_reads.services(client, cluster).iterrows():
            rows.append({"region": region, "kind": "ecs-service", "name": f"{cluster}/{s.service}",
                         "state": "RUNNING" if s.running >= max(1, s.desired) else ("DOWN" if s.running == 0 else "DEGRADED"),
                         "detail": f"{s.running}/{s.desired} running, {s.pending} pending, {s.task_definition}"})
    return rows


def _rows_kinesis(client: Any, region: str) -> list[dict]:
    rows = []
    for page in client.get_paginator("list_streams").paginate():
        for name in page["StreamNames"]:
            s = kinesis_reads.stream_summary(client, name)
            rows.append({"region": region, "kind": "kinesis-stream", "name": name, "state": s["StreamStatus"],
                         "detail": f"{s['OpenShardCount']} shards, retention {s['RetentionPeriodHours']} h, "
                                   f"encryption {s.get('EncryptionType', 'NONE')}"})
    return rows


def _rows_lambda(client: Any, region: str) -> list[dict]:
    rows = []
    for page in client.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            aliases = [a for page in client.get_paginator("list_aliases").paginate(FunctionName=f["FunctionName"])
                       for a in page["Aliases"]]
            alias = ", ".join(f"{a['Name']}->{a['FunctionVersion']}" for a in aliases) or "no alias"
            rows.append({"region": region, "kind": "lambda-function", "name": f["FunctionName"],
                         "state": f.get("State", "Active"), "detail": f"{f['Runtime']}, {alias}"})
    return rows


def _rows_dynamodb(client: Any, region: str) -> list[dict]:
    rows = []
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            t = client.describe_table(TableName=name)["Table"]
            rows.append({"region": region, "kind": "dynamodb-table", "name": name, "state": t["TableStatus"],
                         "detail": f"{t.get('ItemCount', 0)} items"})
    return rows


def _rows_s3(client: Any, region: str) -> list[dict]:
    rows = []
    for b in client.list_buckets().get("Buckets", []):
        loc = client.get_bucket_location(Bucket=b["Name"]).get("LocationConstraint") or "us-east-1"
        if loc == region:
            rows.append({"region": region, "kind": "s3-bucket", "name": b["Name"], "state": "AVAILABLE", "detail": ""})
    return rows


def _rows_rds(client: Any, region: str) -> list[dict]:
    rows = []
    for page in client.get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            source = db.get("ReadReplicaSourceDBInstanceIdentifier")
            rows.append({"region": region, "kind": "rds-instance", "name": db["DBInstanceIdentifier"],
                         "state": db["DBInstanceStatus"].upper(),
                         "detail": f"{db['Engine']} {db['DBInstanceClass']}" + (f", replica of {source}" if source else "")})
    return rows


READERS = {"ecs": _rows_ecs, "kinesis": _rows_kinesis, "lambda": _rows_lambda, "dynamodb": _rows_dynamodb,
           "s3": _rows_s3, "rds": _rows_rds}


def region_inventory(ops: Any, which: str = "primary") -> pd.DataFrame:
    """Every ECS cluster/service, Kinesis stream, Lambda function, DynamoDB table, S3 bucket and RDS
    instance of one region, read live. A service whose API fails is one row with state ERROR, or
    UNREADABLE when the read failed for credentials, access or connectivity (nothing was seen)."""
    region = ops.region(which)
    rows: list[dict] = []
    for service, reader in READERS.items():
        try:
            rows.extend(reader(ops.client(service, which), region))
        except Exception as exc:  # noqa: BLE001 - a region outage is a finding; a refused read is UNREADABLE
            rows.append({"region": region, "kind": service, "name": "*",
                         "state": "UNREADABLE" if blind_reason(exc) else "ERROR",
                         "detail": f"{type(exc).__name__}: {exc}"})
    return pd.DataFrame(rows, columns=COLUMNS)


def expected(profile: Any, which: str) -> list[tuple[str, str]]:
    """(kind, name) pairs the profile says exist in the primary or DR region."""
    p = profile
    if which == "primary":
        cluster, stream = p.ecs.cluster, p.kinesis.stream
        out = [("lambda-function", s.name) for s in p.services if s.type == "lambda"]
        out += [("dynamodb-table", p.dynamodb.checkpoint_table), ("dynamodb-table", p.dynamodb.events_table)]
        out += [("s3-bucket", b) for b in (p.s3.events_bucket, p.s3.archive_bucket, p.s3.backups_bucket,
                                          p.s3.lambda_artifacts_bucket, p.s3.access_logs_bucket)]
        out += [("rds-instance", name) for name in (p.rds.instance, p.rds.replica) if name]
    else:
        cluster, stream = p.ecs.dr_cluster, p.kinesis.dr_stream
        out = []
    out += [("ecs-cluster", cluster), ("kinesis-stream", stream)]
    out += [("ecs-service", f"{cluster}/{s.name}") for s in p.services if s.type == "ecs"]
    return out


@dataclass(frozen=True)
class Gap:
    region: str
    kind: str
    name: str


def missing(profile: Any, inventory: pd.DataFrame, which: str, region: str) -> list[Gap]:
    """What the profile expects in a region but the live inventory lacks."""
    have = set(zip(inventory["kind"], inventory["name"]))
    return [Gap(region, kind, name) for kind, name in expected(profile, which) if (kind, name) not in have]
