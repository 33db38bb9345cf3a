"""CloudTrail of the sandbox: the trail, ~200 ordinary management events of the last 24 hours, and
any events a fault scenario records (:func:`record_events`).

Every event goes to two places, as on AWS: the ``LookupEvents`` store (see :mod:`.moto_gaps`) and a
gzipped log file ``{"Records": [...]}`` in the trail's bucket under
``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import ParameterError, SandboxError
from . import moto_gaps

ORDINARY_EVENTS = 200
LEAKED_KEY_IP = "203.0.113.50"
_READ_PREFIXES = ("Get", "Describe", "List", "Lookup", "Head")
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# Who does what on an ordinary day: (username, identity type, source IP, user agent).
_ACTORS = {
    "oncall": ("alice.oncall", "IAMUser", "198.51.100.23", "aws-cli/2.15.30 Python/3.11.8 Linux/6.5"),
    "deploy": ("deploy-role", "AssumedRole", "192.0.2.10", "Boto3/1.34.69 md/Botocore#1.34.69 GitHubActions"),
    "processor": ("stream-processor-task", "AssumedRole", "10.0.12.34", "aws-sdk-java/2.25.16 Linux/5.10 ECS"),
    "api": ("ingestion-api-task", "AssumedRole", "10.0.11.7", "aws-sdk-java/2.25.16 Linux/5.10 ECS"),
    "grafana": ("grafana-readonly", "AssumedRole", "10.0.3.15", "Grafana/10.4.1 aws-sdk-go/1.51.6"),
    "console": ("alice.oncall", "IAMUser", "198.51.100.23",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"),
}


def _ordinary(profile: Any) -> list[tuple[int, str, str, str, list[tuple[str, str]]]]:
    """(weight, actor, event source, event name, resources) of an ordinary day."""
    bucket, archive = profile.s3.events_bucket, profile.s3.archive_bucket
    stream, cluster = profile.kinesis.stream, profile.ecs.cluster
    ecs = [s.name for s in profile.services if s.type == "ecs"] or ["ingestion-api"]
    return [
        (18, "oncall", "ecs.amazonaws.com", "DescribeServices", [("AWS::ECS::Service", ecs[0])]),
        (10, "grafana", "monitoring.amazonaws.com", "GetMetricData", []),
        (12, "processor", "kinesis.amazonaws.com", "GetRecords", [("AWS::Kinesis::Stream", stream)]),
        (8, "processor", "kinesis.amazonaws.com", "GetShardIterator", [("AWS::Kinesis::Stream", stream)]),
        (6, "oncall", "kinesis.amazonaws.com", "DescribeStreamSummary", [("AWS::Kinesis::Stream", stream)]),
        (12, "processor", "s3.amazonaws.com", "PutObject", [("AWS::S3::Object", f"{bucket}/events/")]),
        (4, "processor", "s3.amazonaws.com", "PutObject", [("AWS::S3::Object", f"{archive}/daily/")]),
        (6, "api", "kinesis.amazonaws.com", "DescribeStream", [("AWS::Kinesis::Stream", stream)]),
        (6, "processor", "dynamodb.amazonaws.com", "DescribeTable",
         [("AWS::DynamoDB::Table", profile.dynamodb.checkpoint_table)]),
        (4, "oncall", "rds.amazonaws.com", "DescribeDBInstances", [("AWS::RDS::DBInstance", profile.rds.instance)]),
        (4, "oncall", "lambda.amazonaws.com", "ListFunctions20150331", []),
        (3, "oncall", "logs.amazonaws.com", "FilterLogEvents", []),
        (2, "deploy", "ecs.amazonaws.com", "RegisterTaskDefinition", [("AWS::ECS::TaskDefinition", ecs[0])]),
        (2, "deploy", "ecs.amazonaws.com", "UpdateService", [("AWS::ECS::Cluster", cluster),
                                                               ("AWS::ECS::Service", ecs[0])]),
        (2, "deploy", "sts.amazonaws.com", "AssumeRole", [("AWS::IAM::Role", "deploy-role")]),
        (1, "console", "signin.amazonaws.com", "ConsoleLogin", []),
    ]


# -- public API ---------------------------------------------------------------------------------
def seed(sb: Any) -> int:
    """Create the trail and its bucket, and record the day's ordinary events; returns how many."""
    bucket = sb.profile.s3.cloudtrail_bucket
    _ensure_bucket(sb.client("s3"), bucket, sb.region("primary"))
    _ensure_trail(sb.client("cloudtrail"), sb.profile.security.cloudtrail_trail, bucket)
    return len(record_events(sb, ordinary_events(sb.profile, sb.config.seed, sb.now, sb.account_id)))


def ordinary_events(profile: Any, seed: int, now: datetime, account_id: str,
                    count: int = ORDINARY_EVENTS) -> list[dict]:
    """``count`` ordinary management events spread over the 24 hours before ``now`` (deterministic)."""
    rng = random.Random(f"cloudtrail:{seed}:{now.isoformat()}")
    catalog = _ordinary(profile)
    weights = [c[0] for c in catalog]
    keys = {actor: _access_key(rng, "ASIA" if _ACTORS[actor][1] == "AssumedRole" else "AKIA")
            for actor in _ACTORS}
    keys["console"] = keys["oncall"]
    tasks = {actor: f"{svc.name}-task" for actor, role in (("processor", "process"), ("api", "ingest"))
             if (svc := profile.service_for(role)) is not None}
    events = []
    for _ in range(count):
        _, actor, source, name, resources = rng.choices(catalog, weights)[0]
        username, kind, ip, agent = _ACTORS[actor]
        username = tasks.get(actor, username)
        when = now - timedelta(seconds=rng.randrange(1, 24 * 3600))
        spec: dict[str, Any] = {
            "EventName": name, "EventSource": source, "EventTime": when, "Username": username,
            "UserType": kind, "AccessKeyId": keys[actor], "SourceIPAddress": ip, "UserAgent": agent,
            "Resources": [{"ResourceType": t, "ResourceName": r} for t, r in resources],
            "EventId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        }
        if name == "ConsoleLogin":
            spec.update(AccessKeyId="", ResponseElements={"ConsoleLogin": "Success"},
                        AdditionalEventData={"MFAUsed": "Yes", "LoginTo": "https://console.aws.amazon.com/"})
        if name == "UpdateService":
            spec["RequestParameters"] = {"cluster": profile.ecs.cluster, "service": resources[1][1],
                                         "forceNewDeployment": False}
        events.append(spec)
    events.sort(key=lambda e: e["EventTime"])
    return events


def leaked_credential_events(sb: Any, *, username: str = "ci-deploy-user",
                             access_key_id: str = "AKIAQX7LEAKEDK3Y5ZMB", source_ip: str = LEAKED_KEY_IP,
                             start: datetime | None = None) -> list[dict]:
    """The events a leaked access key typically leaves (for the ``leaked-credential`` fault):
    reconnaissance, a new access key, a user with AdministratorAccess, a deleted bucket."""
    start = start or sb.now - timedelta(minutes=40)
    agent = "aws-cli/2.9.0 Python/3.9.11 Linux/5.4.0-kali3-amd64"
    policy = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    steps = [
        ("sts.amazonaws.com", "GetCallerIdentity", [], {}),
        ("s3.amazonaws.com", "ListBuckets", [], {}),
        ("iam.amazonaws.com", "ListUsers", [], {}),
        ("iam.amazonaws.com", "CreateUser", [("AWS::IAM::User", "support-backup")], {"userName": "support-backup"}),
        ("iam.amazonaws.com", "CreateAccessKey", [("AWS::IAM::User", "support-backup")],
         {"userName": "support-backup"}),
        ("iam.amazonaws.com", "PutUserPolicy", [("AWS::IAM::User", username)],
         {"userName": username, "policyName": "AdministratorAccess", "policyDocument": policy}),
        ("iam.amazonaws.com", "AttachUserPolicy", [("AWS::IAM::User", "support-backup")],
         {"userName": "support-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ("s3.amazonaws.com", "GetBucketPolicy", [("AWS::S3::Bucket", sb.profile.s3.backups_bucket)],
         {"bucketName": sb.profile.s3.backups_bucket}),
        ("s3.amazonaws.com", "DeleteBucket", [("AWS::S3::Bucket", sb.profile.s3.backups_bucket)],
         {"bucketName": sb.profile.s3.backups_bucket}),
    ]
    return [{"EventName": name, "EventSource": source, "EventTime": start + timedelta(minutes=3 * i),
             "Username": username, "UserType": "IAMUser", "AccessKeyId": access_key_id,
             "SourceIPAddress": source_ip, "UserAgent": agent,
             "Resources": [{"ResourceType": t, "ResourceName": r} for t, r in resources],
             "RequestParameters": params or None}
            for i, (source, name, resources, params) in enumerate(steps)]


def record_events(sb: Any, events: list[dict]) -> list[dict]:
    """Record events in LookupEvents and in the trail's S3 log files; returns them in LookupEvents shape.

    Each event: ``EventName``, ``EventSource``, ``Username`` (required); ``EventTime`` (datetime,
    default ``sb.now``), ``UserType`` (IAMUser | AssumedRole | Root), ``AccessKeyId``,
    ``SourceIPAddress``, ``UserAgent``, ``ReadOnly`` (default from the name), ``Resources``
    ([{ResourceType, ResourceName}]), ``RequestParameters``, ``ResponseElements``, ``ErrorCode``,
    ``ErrorMessage``, ``AdditionalEventData``, ``Region`` ('primary' | 'dr' | a region name),
    ``EventId``."""
    by_region: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for spec in events:
        region = sb.region(spec.get("Region", "primary"))
        by_region[region].append(_build(sb, spec, region))
    out = []
    for region, pairs in by_region.items():
        moto_gaps.add_events(sb.backend("cloudtrail", region), [p[0] for p in pairs])
        _deliver(sb, region, [p[1] for p in pairs])
        out.extend(p[0] for p in pairs)
    return out


# -- building records ---------------------------------------------------------------------------
def _access_key(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(_KEY_CHARS) for _ in range(16))


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(account: str, username: str, kind: str, key: str) -> dict:
    pid = "AIDA" + hashlib.sha1(f"{account}:{username}".encode()).hexdigest()[:17].upper()
    if kind == "AssumedRole":
        role_id = "AROA" + pid[4:]
        return {"type": "AssumedRole", "principalId": f"{role_id}:{username}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{username}/{username}", "accountId": account,
                "accessKeyId": key, "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": role_id, "userName": username,
                                      "arn": f"arn:aws:iam::{account}:role/{username}", "accountId": account},
                    "attributes": {"mfaAuthenticated": "false"}}}
    if kind == "Root":
        return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                "accountId": account, "accessKeyId": key}
    return {"type": "IAMUser", "principalId": pid, "arn": f"arn:aws:iam::{account}:user/{username}",
            "accountId": account, "accessKeyId": key, "userName": username}


def _resource_arn(account: str, region: str, rtype: str, name: str) -> str:
    service = rtype.split("::")[1].lower()
    if service == "s3":
        return f"arn:aws:s3:::{name}"
    if service == "iam":
        return f"arn:aws:iam::{account}:{rtype.split('::')[2].lower()}/{name}"
    return f"arn:aws:{service}:{region}:{account}:{rtype.split('::')[2].lower()}/{name}"


def _build(sb: Any, spec: dict, region: str) -> tuple[dict, dict]:
    """One event as (LookupEvents entry, raw CloudTrail record)."""
    for required in ("EventName", "EventSource", "Username"):
        if not spec.get(required):
            raise ParameterError(f"events[].{required}", spec.get(required), "a non-empty string")
    account = sb.account_id
    name, when = spec["EventName"], spec.get("EventTime") or sb.now
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    read_only = spec.get("ReadOnly", name.startswith(_READ_PREFIXES))
    key = spec.get("AccessKeyId", "")
    resources = spec.get("Resources") or []
    event_id = spec.get("EventId") or str(uuid.UUID(bytes=hashlib.md5(
        json.dumps(spec, default=str, sort_keys=True).encode()).digest(), version=4))
    data_event = name in ("GetRecords", "PutObject", "GetObject")
    record = {
        "eventVersion": "1.09",
        "userIdentity": _identity(account, spec["Username"], spec.get("UserType", "IAMUser"), key),
        "eventTime": _iso(when), "eventSource": spec["EventSource"], "eventName": name, "awsRegion": region,
        "sourceIPAddress": spec.get("SourceIPAddress", "198.51.100.23"),
        "userAgent": spec.get("UserAgent", "aws-cli/2.15.30"),
        "requestParameters": spec.get("RequestParameters"),
        "responseElements": spec.get("ResponseElements"),
        "requestID": str(uuid.UUID(hashlib.md5(event_id.encode()).hexdigest())).upper(),
        "eventID": event_id, "readOnly": bool(read_only),
        "resources": [{"ARN": _resource_arn(account, region, r["ResourceType"], r["ResourceName"]),
                       "accountId": account, "type": r["ResourceType"]} for r in resources],
        "eventType": "AwsConsoleSignIn" if name == "ConsoleLogin" else "AwsApiCall",
        "managementEvent": not data_event, "recipientAccountId": account,
        "eventCategory": "Data" if data_event else "Management",
    }
    for opt, field_name in (("ErrorCode", "errorCode"), ("ErrorMessage", "errorMessage"),
                            ("AdditionalEventData", "additionalEventData")):
        if spec.get(opt):
            record[field_name] = spec[opt]
    lookup = {"EventId": event_id, "EventName": name, "ReadOnly": "true" if read_only else "false",
              "EventTime": when, "EventSource": spec["EventSource"], "Username": spec["Username"],
              "Resources": [dict(r) for r in resources], "CloudTrailEvent": json.dumps(record)}
    if key:
        lookup["AccessKeyId"] = key
    return lookup, record


# -- S3 delivery --------------------------------------------------------------------------------
def log_key(account: str, region: str, delivered: datetime, file_id: str) -> str:
    d = delivered.astimezone(timezone.utc)
    return (f"AWSLogs/{account}/CloudTrail/{region}/{d:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{d:%Y%m%dT%H%MZ}_{file_id}.json.gz")


def _deliver(sb: Any, region: str, records: list[dict]) -> list[str]:
    """Write records as log files, one per hour of event time (delivered 5 minutes after its last event)."""
    s3 = sb.client("s3")
    bucket = sb.profile.s3.cloudtrail_bucket
    hours: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        hours[r["eventTime"][:13]].append(r)
    keys = []
    for chunk in hours.values():
        chunk.sort(key=lambda r: r["eventTime"])
        last = datetime.strptime(chunk[-1]["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        delivered = last + timedelta(minutes=5 - last.minute % 5)
        file_id = hashlib.sha256("".join(r["eventID"] for r in chunk).encode()).hexdigest()[:16]
        key = log_key(sb.account_id, region, delivered, file_id)
        body = gzip.compress(json.dumps({"Records": chunk}).encode(), mtime=0)
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json",
                          ContentEncoding="gzip")
        except (ClientError, BotoCoreError) as exc:
            raise SandboxError(f"could not write CloudTrail log s3://{bucket}/{key}: {exc}") from exc
        keys.append(key)
    return keys


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise SandboxError(f"could not create the CloudTrail bucket {bucket}: {exc}") from exc


def _ensure_trail(cloudtrail: Any, name: str, bucket: str) -> None:
    try:
        if not cloudtrail.describe_trails(trailNameList=[name])["trailList"]:
            cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True,
                                    IncludeGlobalServiceEvents=True, EnableLogFileValidation=True)
        cloudtrail.start_logging(Name=name)
    except (ClientError, BotoCoreError) as exc:
        raise SandboxError(f"could not create the CloudTrail trail {name}: {exc}") from exc
